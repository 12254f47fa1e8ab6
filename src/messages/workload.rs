//! The wording of the workload check: missing objects and keys, failed
//! lookups, and where a consumed ConfigMap key is read.

use super::clip;
use crate::workload_check::{Finding, LookupFailure, TextSite};
use crate::workload_refs::{ObjectKind, Reference, Usage};

/// Where a reference is written: `container "app" (Deployment ns/web),
/// env[2].valueFrom.configMapKeyRef`, or `Deployment ns/web,
/// volumes[0].configMap` for Pod-level fields.
pub fn site(reference: &Reference, workload: &str) -> String {
    match &reference.consumer {
        Some(c) => format!(
            "{} {:?} ({workload}), {}",
            c.kind.describe(),
            clip(&c.name),
            reference.field
        ),
        None => format!("{workload}, {}", reference.field),
    }
}

/// Where a container reads a text scanned for Services, as the context of
/// a Service finding: `container "app" (Deployment ns/web), env[3].value
/// (variable "CART_ADDR")` or `…, args[1]`.
pub fn text_site(site: &TextSite, workload: &str) -> String {
    let variable = site
        .variable
        .as_ref()
        .map(|v| format!(" (variable {:?})", clip(v)))
        .unwrap_or_default();
    format!(
        "{} {:?} ({workload}), {}{variable}",
        site.container.kind.describe(),
        clip(&site.container.name),
        site.field
    )
}

/// Where a consumed ConfigMap key is read, as the context of a Service
/// finding: `<site>: ConfigMap "cfg", key "url"`.
pub fn consumed_key(reference: &Reference, config_map: &str, workload: &str) -> String {
    format!(
        "{}: ConfigMap {:?}",
        site(reference, workload),
        clip(config_map)
    )
}

/// What happens to the Pods when the object is missing (kubelet and
/// ServiceAccount admission behaviour).
fn consequence(reference: &Reference) -> &'static str {
    match (&reference.usage, reference.kind) {
        (Usage::PodIdentity, _) => {
            "the API server refuses to create the Pods until it exists; create it, or leave serviceAccountName unset to use \"default\""
        }
        (Usage::ImagePull, _) => {
            "the kubelet pulls without it, so images from a private registry fail with ImagePullBackOff"
        }
        (Usage::Volume { .. }, _) => {
            "the volume cannot be mounted and the Pods stay in ContainerCreating; create it, or mark the source optional: true"
        }
        _ => {
            "the container cannot start (CreateContainerConfigError); create it, or mark the reference optional: true"
        }
    }
}

/// The warning for a Secret that does not exist yet (`missingSecrets:
/// warn`): the kubelet retries a missing Secret until it exists, so the
/// Pods wait, which is what a Secret written at run time (by a Job, an
/// operator, cert-manager) relies on.
pub fn waiting_secret(reference: &Reference, workload: &str, namespace: &str) -> String {
    let wait = match &reference.usage {
        Usage::ImagePull => {
            "the kubelet pulls without it until it exists (images of a private registry fail with ImagePullBackOff and are retried)"
        }
        Usage::Volume { .. } => "the Pods wait in ContainerCreating until it exists",
        _ => "the container waits (CreateContainerConfigError, retried) until it exists",
    };
    format!(
        "{}: Secret {:?} does not exist in namespace {namespace:?} yet: {wait}; if nothing writes it at run time, create it or mark the reference optional: true",
        site(reference, workload),
        clip(&reference.name)
    )
}

/// The sentence for one missing object or key.
pub fn finding(finding: &Finding, workload: &str, namespace: &str) -> String {
    match finding {
        Finding::Missing { reference } => format!(
            "{}: {} {:?} does not exist in namespace {namespace:?}: {}",
            site(reference, workload),
            reference.kind.name(),
            clip(&reference.name),
            consequence(reference)
        ),
        Finding::MissingKey {
            reference,
            key,
            existing,
            total,
            in_binary_data,
        } => {
            let have = if *in_binary_data {
                format!("{:?} is in binaryData, which env cannot read", clip(key))
            } else if existing.is_empty() {
                "it has no keys".to_string()
            } else {
                let listed: Vec<String> =
                    existing.iter().map(|k| format!("{:?}", clip(k))).collect();
                let more = if *total > existing.len() {
                    format!(" and {} more", total - existing.len())
                } else {
                    String::new()
                };
                format!("it has {}{more}", listed.join(", "))
            };
            format!(
                "{}: {} {:?} has no key {:?} ({have}): {}",
                site(reference, workload),
                reference.kind.name(),
                clip(&reference.name),
                clip(key),
                consequence(reference)
            )
        }
    }
}

/// The sentence for a lookup the host could not answer.
pub fn lookup_failure(failure: &LookupFailure, workload: &str, namespace: &str) -> String {
    match failure {
        LookupFailure::Host { kind, name, error } => {
            let what = match kind {
                ObjectKind::Secret => format!("the Secrets it names in namespace {namespace:?}"),
                kind => format!(
                    "{} {:?} in namespace {namespace:?}",
                    kind.name(),
                    clip(name)
                ),
            };
            format!("{workload}: cannot verify {what}: {error}")
        }
        LookupFailure::TooMuchText { bytes } => format!(
            "{workload}: its containers' env values, args and command come to more than {bytes} bytes after $(VAR) expansion, more than the {} the policy scans for one request, so the Services they name were not verified",
            crate::workload_check::MAX_SCANNED_BYTES
        ),
        LookupFailure::TooManyConfigMaps { count } => format!(
            "{workload} names {count} ConfigMaps, more than the {} the policy reads for one request, so none was verified",
            crate::workload_check::MAX_CONFIG_MAPS
        ),
    }
}
