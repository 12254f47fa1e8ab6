//! Turns each reference and the host's answer into a typed finding with
//! its verdict class. What the cluster does decides the class: a webhook
//! or conversion Service that cannot be called, a claim that keeps Pods
//! Pending and a probe port the kubelet cannot find fail at once
//! ([`Class::Deny`]); an APIService's or CRD conversion's Service, a
//! governing Service, a scale target or a binding's role or subject is
//! tolerated by the API server or created next by installers
//! ([`Class::Warn`] unless a setting says deny).

use super::resolve::{Listing, Resolution, is_built_in};
use super::{Class, ContainerPorts, Failure, Finding, Problem, Reference, Report, Target, Via};
use crate::quote::MAX_LISTED;
use crate::service_lookup::ServiceInfo;
use crate::settings::{Settings, WarnOrDeny};
use crate::suggest;

/// The class of a reference held by `via`, as `settings` say.
pub fn class(via: Via, settings: &Settings) -> Class {
    let setting = match via {
        Via::WebhookService | Via::ClaimName | Via::ProbePort => return Class::Deny,
        // installers create CRDs (Helm, kustomize) and, by file name,
        // APIServices (kubectl apply -f dir/) before the Services they call
        Via::ApiService | Via::ConversionService => settings.missing_extension_services,
        Via::GoverningService => settings.missing_governing_services,
        Via::ScaleTarget => settings.missing_scale_targets,
        Via::RoleRef | Via::Subject => settings.missing_binding_references,
    };
    match setting {
        WarnOrDeny::Warn => Class::Warn,
        WarnOrDeny::Deny => Class::Deny,
    }
}

/// The strictest class of `references` (deny before warn; warn for none):
/// what a failure that leaves them unjudged weighs.
pub fn strictest<'r>(
    references: impl Iterator<Item = &'r Reference>,
    settings: &Settings,
) -> Class {
    references
        .map(|r| class(r.via, settings))
        .min()
        .unwrap_or(Class::Warn)
}

/// Whether the container declares a port named `name`.
pub fn declares(container: &ContainerPorts, name: &str) -> bool {
    container.declared.iter().any(|d| d == name)
}

/// Judges `references` (in order) against `resolution`: a finding for
/// each dangling one, a failure for each lookup that could not be made.
pub fn judge(references: &[Reference], resolution: &Resolution, settings: &Settings) -> Report {
    let mut report = Report::default();
    let mut failed: Vec<(Target, &str)> = Vec::new();
    let looked_up = |r: &&Reference| r.target != Target::ContainerPort && !is_built_in(r);
    if let Some((count, max)) = resolution.too_many_namespaces {
        let class = strictest(references.iter().filter(looked_up), settings);
        report
            .failures
            .push(Failure::TooManyNamespaces { count, max, class });
    }
    // Only the first MAX_LISTED findings are worded: past them no name is
    // suggested, so that the edit distances stay bounded.
    let mut suggest = MAX_LISTED;
    for reference in references {
        let budget = suggest > 0;
        let problem = if let Some(container) = &reference.container {
            (!declares(container, &reference.name)).then(|| Problem::Missing {
                closest: closest(
                    budget,
                    &reference.name,
                    container.declared.iter().map(String::as_str),
                ),
            })
        } else if is_built_in(reference) {
            None
        } else {
            match resolution.answer(reference) {
                None => None,
                Some(Err(error)) => {
                    let key = (reference.target, reference.namespace.as_str());
                    if !failed.contains(&key) {
                        failed.push(key);
                        let same_lookup = references.iter().filter(|r| {
                            (r.target, &r.namespace) == (reference.target, &reference.namespace)
                        });
                        let class = strictest(same_lookup, settings);
                        report.failures.push(Failure::Lookup {
                            target: reference.target,
                            namespace: reference.namespace.clone(),
                            error: error.clone(),
                            class,
                        });
                    }
                    None
                }
                Some(Ok(Listing::Services(services))) => service(budget, reference, services),
                Some(Ok(Listing::Names(names))) => (names.binary_search(&reference.name).is_err())
                    .then(|| Problem::Missing {
                        closest: closest(budget, &reference.name, names.iter().map(String::as_str)),
                    }),
            }
        };
        if let Some(problem) = problem {
            suggest = suggest.saturating_sub(1);
            // a headless webhook Service works where the API server routes
            // to endpoints (--enable-aggregator-routing): only a warning
            let class = match problem {
                Problem::Headless => Class::Warn,
                _ => class(reference.via, settings),
            };
            report.findings.push(Finding {
                reference: reference.clone(),
                problem,
                class,
            });
        }
    }
    report
}

/// A Service reference against the Services of its namespace: the
/// Service must exist, and serve the port when one is named. The API
/// server resolves a webhook or APIService port among `spec.ports`, and
/// by default routes to the Service's cluster IP, so a headless Service
/// fails there (only warned: `--enable-aggregator-routing` routes to its
/// endpoints); an ExternalName Service is a CNAME and serves whatever its
/// target does.
fn service(suggest: bool, reference: &Reference, services: &[ServiceInfo]) -> Option<Problem> {
    match services.iter().find(|s| s.name == reference.name) {
        None => Some(Problem::Missing {
            closest: suggest
                .then(|| {
                    suggest::closest(
                        &reference.name,
                        &mut services.iter().map(|s| {
                            let serves = reference.port.is_none_or(|p| s.ports.contains(&p));
                            (s.name.as_str(), serves)
                        }),
                    )
                })
                .flatten()
                .map(str::to_string),
        }),
        Some(found) if found.external_name => None,
        Some(found) => match reference.port {
            Some(port) if !found.ports.contains(&port) => Some(Problem::MissingPort {
                ports: found.ports.clone(),
            }),
            // the API server's default resolver (ResolveCluster) refuses
            // `ClusterIP "None"`
            Some(_) if found.headless => Some(Problem::Headless),
            // A governing Service with a cluster IP gives no per-Pod
            // names either, but real installs (bank-of-anthos) do this
            // and nothing uses those names: not worth a warning.
            _ => None,
        },
    }
}

/// The name of `candidates` closest to `missing`, if one is close and
/// the suggestion budget is not spent.
fn closest<'a>(
    budget: bool,
    missing: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<String> {
    if !budget {
        return None;
    }
    suggest::closest(missing, &mut candidates.map(|c| (c, false))).map(str::to_string)
}
