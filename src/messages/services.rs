//! The wording of the Service check's findings and lookup failures, for
//! ConfigMaps and for the ConfigMap keys a workload consumes.

use super::clip;
use crate::service_check::{Finding, LookupFailure, Problem, Severity};
use crate::service_refs::Port;
use crate::settings::Compiled;

/// The sentence for one finding; `context` says where the text was read
/// (the key is added here).
pub fn finding(context: &str, f: &Finding, compiled: &Compiled) -> String {
    described(&format!("{context}, key {:?}", clip(&f.key)), f, compiled)
}

/// The sentence for one finding in a text `context` names completely (a
/// container's `env[3].value`, `args[1]`).
pub fn described(context: &str, f: &Finding, compiled: &Compiled) -> String {
    let written = clip(&f.written);
    let subject = format!(
        "{context}: {written:?} names Service {:?} in namespace {:?}",
        f.service, f.namespace
    );
    match &f.problem {
        Problem::Missing { .. } if f.severity == Severity::Absent => format!(
            "{subject}, which does not exist: the Pods' connections to it will fail until it is created (an optional component installed separately?); create the Service or correct the name"
        ),
        Problem::Missing { suggestion } => {
            let hint = suggestion
                .as_ref()
                .map(|s| format!("; did you mean {s:?}?"))
                .unwrap_or_else(|| "; create the Service or correct the name".to_string());
            format!("{subject}, which does not exist{hint}")
        }
        Problem::PortNotExposed { port, exposed } => {
            let implied = match port {
                Port::SchemeDefault(_) => " (implied by the URL scheme)",
                _ => "",
            };
            let exposed = if exposed.is_empty() {
                "no ports".to_string()
            } else {
                let list: Vec<String> = exposed.iter().map(i32::to_string).collect();
                format!("only port(s) {}", list.join(", "))
            };
            format!(
                "{subject}, but port {}{implied} is not exposed: the Service exposes {exposed}",
                port.number().unwrap_or_default()
            )
        }
        Problem::NotHeadless { hostname } => format!(
            "{subject}, but the Service is not headless: per-pod names such as {:?} exist only behind a headless Service (clusterIP: None); use \"{}.{}.svc\" to reach the Service, or make it headless",
            clip(hostname),
            f.service,
            f.namespace
        ),
        Problem::NoSuchSrv {
            port_name,
            protocol,
            named_ports,
        } => {
            let named = if named_ports.is_empty() {
                "it has no named ports".to_string()
            } else {
                let list: Vec<String> = named_ports
                    .iter()
                    .take(10)
                    .map(|p| format!("{}/{}", p.name, p.protocol.to_ascii_uppercase()))
                    .collect();
                format!("its named ports are {}", list.join(", "))
            };
            format!(
                "{subject}, but the Service has no port named {:?} with protocol {}: SRV records exist only for named ports; {named}",
                clip(port_name),
                protocol.to_ascii_uppercase()
            )
        }
        Problem::ForeignZone { zone } => {
            let served = if compiled.qualified_suffixes.len() > 1 {
                " (and the additionalClusterDomains)"
            } else {
                ""
            };
            format!(
                "{context}: {written:?} uses the cluster domain {zone:?}, but this cluster's domain is {:?}{served}: the query leaves cluster DNS and gets NXDOMAIN; write {:?} (or end the name at \".svc\"), or list {zone:?} in additionalClusterDomains if the cluster's DNS serves it",
                compiled.cluster_domain,
                in_zone(&written, zone, &compiled.cluster_domain)
            )
        }
    }
}

/// `written` with its `.svc.<zone>` moved to `.svc.<domain>`, every other
/// label (a Pod's hostname, SRV labels), scheme and port kept.
fn in_zone(written: &str, zone: &str, domain: &str) -> String {
    let foreign = format!(".svc.{zone}");
    match written.to_ascii_lowercase().find(&foreign) {
        Some(at) => format!(
            "{}.svc.{domain}{}",
            &written[..at],
            &written[at + foreign.len()..]
        ),
        None => written.to_string(),
    }
}

/// The sentence for a lookup that failed; `object` reads like "ConfigMap ns/name".
pub fn lookup_failure(object: &str, failure: &LookupFailure) -> String {
    match failure {
        LookupFailure::TooManyNamespaces { count, max } => format!(
            "{object} references Services in {count} namespaces, more than maxNamespacesPerRequest ({max}) allows, so they were not looked up"
        ),
        LookupFailure::Host {
            namespace,
            written,
            total,
            error,
        } => {
            let mut list = written
                .iter()
                .map(|w| clip(w))
                .collect::<Vec<_>>()
                .join(", ");
            if *total > written.len() {
                list.push_str(&format!(" and {} more", total - written.len()));
            }
            format!(
                "{object}: cannot verify the Services referenced in namespace {namespace:?} ({list}): {error}"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::pod_name(
        "kafka-0.kafka-headless.kafka.svc.cluster.local:9092",
        "kafka-0.kafka-headless.kafka.svc.corp.internal:9092"
    )]
    #[case::url_case(
        "HTTP://Api.Shop.SVC.Cluster.Local/x",
        "HTTP://Api.Shop.svc.corp.internal/x"
    )]
    #[case::srv(
        "_http._tcp.api.shop.svc.cluster.local",
        "_http._tcp.api.shop.svc.corp.internal"
    )]
    fn names_move_to_the_cluster_domain(#[case] written: &str, #[case] expected: &str) {
        assert_eq!(in_zone(written, "cluster.local", "corp.internal"), expected);
    }
}
