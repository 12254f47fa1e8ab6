//! `service-target-port-not-declared`: a Service's `spec.ports[].targetPort`
//! given by name that no container of any Pod template the Service selects
//! declares as a `ports[].name`. The Service has no endpoint on that port:
//! connections to it are refused.
//!
//! Not judged: a Service that selects no template (`service-selects-no-pods`
//! warns about it), one that selects a custom resource's template (its
//! operator decides the containers), a numeric `targetPort`.

use std::collections::BTreeSet;

use serde_json::Value;

use super::super::input::ManifestSet;
use super::super::report::Finding;
use super::super::yaml::Seg;
use super::service::service_selector;
use super::{Index, PodTemplate, Selector, closest_name, finding, quote, selects, show_names};

/// The SARIF rule of the warning.
pub const RULE: &str = "service-target-port-not-declared";

/// The named `targetPort`s of a Service's `spec.ports`: index and name
/// (a string that is not all digits).
fn named_target_ports(service: &Value) -> Vec<(usize, &str)> {
    service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, p)| Some((i, p.get("targetPort")?.as_str()?)))
        .filter(|(_, name)| !name.is_empty() && !name.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

/// The message for the port `name` that none of `selected` (the templates
/// the Service selects, every one with known ports) declares.
fn message(service: &str, at: usize, name: &str, selected: &[&PodTemplate]) -> String {
    let declared: BTreeSet<&str> = selected
        .iter()
        .flat_map(|t| t.ports.iter().flatten())
        .map(String::as_str)
        .collect();
    let first = selected.first().map_or("", |t| t.owner.as_str());
    let (more, verb) = match selected.len() {
        0 | 1 => (String::new(), "declares"),
        n => (format!(" and {} more", n - 1), "declare"),
    };
    let what = match closest_name(name, declared.iter().copied()) {
        Some(closest) => format!(
            "{}{more} {verb} {}; closest: \"{}\"",
            quote(first),
            show_names(declared.iter().copied()),
            quote(closest)
        ),
        None => format!("{}{more} {verb} no named port", quote(first)),
    };
    format!(
        "{}: its spec.ports[{at}].targetPort \"{}\" is declared by no container of the Pods it selects \
         ({what}): the Service has no endpoint on that port, so connections to it are refused; \
         name a container port \"{}\" or correct the targetPort",
        quote(service),
        quote(name),
        quote(name)
    )
}

/// The warnings of the rule on `set`: for each named `targetPort` of a
/// Service of the set that no template it selects in `index` declares,
/// the Service's index in `set.objects` and the finding, at the line of
/// the `targetPort`.
pub fn warnings(set: &ManifestSet, index: &Index) -> Vec<(usize, Finding)> {
    let mut found = Vec::new();
    for (i, service) in set.objects.iter().enumerate() {
        let Some(namespace) = super::namespaced(service, "", "Service") else {
            continue;
        };
        let ports = named_target_ports(&service.object);
        if ports.is_empty() {
            continue;
        }
        let Some(selector) = service_selector(&service.object) else {
            continue;
        };
        let selector: Selector = selector.into();
        let selected: Vec<&PodTemplate> = index
            .pods_in(namespace)
            .iter()
            .filter(|t| selects(&selector, *t))
            .collect();
        // none: service-selects-no-pods warns; a custom resource's: unknown
        if selected.is_empty() || selected.iter().any(|t| t.ports.is_none()) {
            continue;
        }
        for (at, name) in ports {
            if selected
                .iter()
                .any(|t| t.ports.as_ref().is_some_and(|p| p.contains(name)))
            {
                continue;
            }
            let path = [
                Seg::key("spec"),
                Seg::key("ports"),
                Seg::Index(at),
                Seg::key("targetPort"),
            ];
            let text = message(&service.display_name(), at, name, &selected);
            found.push((i, finding(service, &path, text, RULE)));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::super::model::Snapshot;
    use super::super::tests::{messages, set};
    use super::*;
    use rstest::rstest;

    const API: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    metadata:\n      labels: {app: api}\n    spec:\n      containers:\n      - name: api\n        ports:\n        - {name: http, containerPort: 8080}\n        - {name: metrics, containerPort: 9090}\n";

    fn service(ports: &str) -> String {
        format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: api}}\nspec:\n  selector: {{app: api}}\n  ports:\n{ports}"
        )
    }

    /// A set, and the warnings the rule gives on it.
    #[rstest]
    #[case::a_declared_name(format!("{API}{}", service("  - {port: 80, targetPort: http}\n")), vec![])]
    #[case::a_number(format!("{API}{}", service("  - {port: 80, targetPort: 8080}\n")), vec![])]
    #[case::digits_as_text(format!("{API}{}", service("  - {port: 80, targetPort: '8080'}\n")), vec![])]
    #[case::no_target_port(format!("{API}{}", service("  - {port: 80}\n")), vec![])]
    #[case::an_undeclared_name(
        format!("{API}{}", service("  - {port: 80, targetPort: http}\n  - {port: 9090, targetPort: metric}\n")),
        vec!["Service shop/api: its spec.ports[1].targetPort \"metric\" is declared by no container of the Pods it selects \
              (Deployment shop/api declares \"http\", \"metrics\"; closest: \"metrics\"): the Service has no endpoint on \
              that port, so connections to it are refused; name a container port \"metric\" or correct the targetPort"]
    )]
    #[case::a_template_without_named_ports(
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: api-0, labels: {{app: api}}}}\nspec: {{containers: [{{name: a}}]}}\n{}",
                service("  - {port: 80, targetPort: http}\n")),
        vec!["Service shop/api: its spec.ports[0].targetPort \"http\" is declared by no container of the Pods it selects \
              (Pod shop/api-0 declares no named port): the Service has no endpoint on that port, so connections to it \
              are refused; name a container port \"http\" or correct the targetPort"]
    )]
    // one selected template declares it: endpoints exist for those Pods
    #[case::one_of_two_declares_it(
        format!("{API}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: api-0, labels: {{app: api}}}}\n{}",
                service("  - {port: 80, targetPort: http}\n")),
        vec![]
    )]
    // selects nothing: service-selects-no-pods warns, not this rule
    #[case::selects_nothing(service("  - {port: 80, targetPort: http}\n"), vec![])]
    // a custom resource's Pods: its operator decides the containers
    #[case::a_custom_resource(
        format!("apiVersion: monitoring.coreos.com/v1\nkind: Alertmanager\nmetadata: {{name: main}}\nspec:\n  podMetadata:\n    labels: {{app: api}}\n{}",
                service("  - {port: 9093, targetPort: web}\n")),
        vec![]
    )]
    fn named_target_ports_must_be_declared(#[case] text: String, #[case] expected: Vec<&str>) {
        let set = set(&text);
        let found = warnings(&set, &Index::new(&set, &Snapshot::new()));
        assert_eq!(messages(&found), expected);
        for (_, f) in &found {
            assert_eq!(f.rule, Some(RULE));
        }
    }

    #[test]
    fn the_warning_is_at_the_target_port() {
        let set = set(&format!(
            "{API}{}",
            service("  - port: 80\n    targetPort: web\n")
        ));
        let found = warnings(&set, &Index::new(&set, &Snapshot::new()));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, 1);
        // line 22 of the stream: the `targetPort` of the Service
        assert_eq!(found[0].1.line, Some(22));
    }
}
