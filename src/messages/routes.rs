//! The wording of the route check: Ingress and Gateway API backends that
//! name a Service or a port that does not exist.

use super::clip;
use crate::route_check::{Finding, Problem};

/// What the cluster does with a backend that does not resolve, by the
/// kind of the route object: ingress-nginx answers 503; Gateway API
/// implementations set `ResolvedRefs=False` and answer 500.
fn consequence(kind: &str) -> &'static str {
    if kind == "Ingress" {
        "requests routed to this backend get 503"
    } else {
        "the route's ResolvedRefs condition turns False and its requests get 500"
    }
}

/// The sentence for one backend of `object` ("HTTPRoute ns/name"), a
/// `kind` of route.
pub fn finding(f: &Finding, object: &str, kind: &str) -> String {
    let b = &f.backend;
    let site = format!("{object}, {}", b.field);
    let service = clip(&b.service);
    let namespace = clip(&b.namespace);
    match &f.problem {
        Problem::Missing { suggestion } => {
            // "…; did you mean "x"? Requests get 503…" or "…; requests get 503…"
            let (hint, then) = match suggestion {
                Some(s) => {
                    let mut then = consequence(kind).to_string();
                    if let Some(first) = then.get_mut(..1) {
                        first.make_ascii_uppercase();
                    }
                    (format!("; did you mean {:?}?", clip(s)), then)
                }
                None => (";".to_string(), consequence(kind).to_string()),
            };
            format!(
                "{site}: Service {service:?} does not exist in namespace {namespace:?}{hint} {then} until it exists; create the Service or correct the name"
            )
        }
        Problem::PortNotExposed { port, exposed } => {
            let ports: Vec<String> = exposed.iter().map(i32::to_string).collect();
            let ports = if ports.is_empty() {
                "it has no ports".to_string()
            } else {
                format!("it exposes {}", ports.join(", "))
            };
            format!(
                "{site}: Service {service:?} in namespace {namespace:?} has no port {port} ({ports}); {}",
                consequence(kind)
            )
        }
        Problem::PortNameNotExposed { name, names } => {
            let names = if names.is_empty() {
                "it has no named ports".to_string()
            } else {
                let quoted: Vec<String> = names.iter().map(|n| format!("{:?}", clip(n))).collect();
                format!("its named ports: {}", quoted.join(", "))
            };
            format!(
                "{site}: Service {service:?} in namespace {namespace:?} has no port named {:?} ({names}); {}",
                clip(name),
                consequence(kind)
            )
        }
    }
}
