//! The wording of the reference graph: each message names the object,
//! the field, the reference and what exists instead, then what the
//! cluster does about it.

use super::{MAX_LISTED, clip};
use crate::graph::{Failure, Finding, MAX_REFERENCES, Problem, Reference, Target, Via};

/// What the cluster does with a reference of this field that does not
/// resolve.
fn consequence(reference: &Reference) -> &'static str {
    match reference.via {
        Via::WebhookService => {
            "the API server cannot call the webhook, so every request it matches fails (or skips the webhook with failurePolicy Ignore)"
        }
        Via::ApiService => {
            "the aggregated API is unavailable, and API discovery fails for every client"
        }
        Via::ConversionService => {
            "the API server cannot convert the custom resources between versions, so requests for another version fail"
        }
        Via::GoverningService => {
            "its Pods run, but their per-Pod DNS names (<pod>.<serviceName>) never resolve"
        }
        Via::ClaimName => "its Pods stay Pending until the claim exists",
        Via::ProbePort if reference.field.contains(".lifecycle.postStart.") => {
            "the kubelet cannot run the hook, so it kills the container and restarts it"
        }
        Via::ProbePort if reference.field.contains(".lifecycle.") => {
            "the kubelet cannot run the hook, so the container stops without it"
        }
        Via::ProbePort => "the kubelet cannot run the probe, so it always fails",
        Via::ScaleTarget => {
            "the autoscaler cannot read its scale (FailedGetScale) and never scales it"
        }
        Via::RoleRef => "the binding grants nothing until it exists",
        Via::Subject => "the binding grants that ServiceAccount nothing until it exists",
    }
}

/// What to do about it.
fn remedy(reference: &Reference) -> String {
    match reference.target {
        Target::ContainerPort => "declare the port or correct the name".to_string(),
        target => format!("create the {} or correct the name", target.kind()),
    }
}

/// `"x"` when something close exists.
fn hint(closest: &Option<String>) -> String {
    closest
        .as_ref()
        .map(|c| format!(" (did you mean {:?}?)", clip(c)))
        .unwrap_or_default()
}

/// The sentence for one dangling reference of `object` ("RoleBinding ns/name").
pub fn finding(f: &Finding, object: &str) -> String {
    let r = &f.reference;
    let site = format!("{object}, {}", r.field);
    let name = clip(&r.name);
    let (consequence, remedy) = (consequence(r), remedy(r));
    match &f.problem {
        Problem::Missing { closest } => {
            let hint = hint(closest);
            match (&r.container, r.target.is_cluster_scoped()) {
                (Some(c), _) => {
                    let declared = if c.declared.is_empty() {
                        "it declares no named ports".to_string()
                    } else {
                        let names = c.declared.iter().map(|n| format!("{:?}", clip(n)));
                        format!("it declares {}", listed(names, c.declared.len()))
                    };
                    // inside the parenthesis: one aside, not two
                    let hint = closest
                        .as_ref()
                        .map(|c| format!("; did you mean {:?}?", clip(c)))
                        .unwrap_or_default();
                    format!(
                        "{site}: container {:?} has no port named {name:?} ({declared}{hint}); {consequence}; {remedy}",
                        clip(&c.container)
                    )
                }
                (None, true) => format!(
                    "{site}: {} {name:?} does not exist{hint}; {consequence}; {remedy}",
                    r.target.kind()
                ),
                (None, false) => format!(
                    "{site}: {} {name:?} does not exist in namespace {:?}{hint}; {consequence}; {remedy}",
                    r.target.kind(),
                    clip(&r.namespace)
                ),
            }
        }
        Problem::MissingPort { ports } => {
            let ports = if ports.is_empty() {
                "it has no ports".to_string()
            } else {
                let listed = listed(ports.iter().map(i32::to_string), ports.len());
                format!("it exposes {listed}")
            };
            format!(
                "{site}: Service {name:?} in namespace {:?} has no port {} ({ports}); {consequence}; correct the port or add it to the Service",
                clip(&r.namespace),
                r.port.unwrap_or_default()
            )
        }
        Problem::Headless => format!(
            "{site}: Service {name:?} in namespace {:?} is headless (clusterIP: None): the API server routes to a Service's cluster IP unless it runs with --enable-aggregator-routing, so {consequence}; give the Service a cluster IP",
            clip(&r.namespace)
        ),
    }
}

/// At most [`MAX_LISTED`] of `total` items, comma-separated, then how
/// many more: a message stays bounded whatever the object declares.
fn listed(items: impl Iterator<Item = String>, total: usize) -> String {
    let mut text = items.take(MAX_LISTED).collect::<Vec<_>>().join(", ");
    if total > MAX_LISTED {
        text.push_str(&format!(" and {} more", total - MAX_LISTED));
    }
    text
}

/// The sentence for a lookup the graph could not make.
pub fn failure(f: &Failure, object: &str) -> String {
    match f {
        Failure::Lookup {
            target,
            namespace,
            error,
            ..
        } if target.is_cluster_scoped() => format!(
            "{object}: cannot verify the {} it references: {error}",
            plural(*target)
        ),
        Failure::Lookup {
            target,
            namespace,
            error,
            ..
        } => format!(
            "{object}: cannot verify the {} it references in namespace {:?}: {error}",
            plural(*target),
            clip(namespace)
        ),
        Failure::TooManyReferences { count, .. } => format!(
            "{object} names {count} objects, more than the {MAX_REFERENCES} this policy verifies for one object, so none was looked up"
        ),
        Failure::TooManyNamespaces { count, max, .. } => format!(
            "{object} references objects in {count} namespaces, more than maxNamespacesPerRequest ({max}) allows, so they were not looked up"
        ),
    }
}

/// `Services`, `PersistentVolumeClaims`, ...
fn plural(target: Target) -> String {
    format!("{}s", target.kind())
}
