//! `service-selects-no-pods`: a Service whose `spec.selector` matches no
//! Pod template of the set (nor a Pod or workload of the snapshot) in its
//! namespace gets a warning that names its selector and the closest labels
//! that do exist.
//!
//! A Service without selector (its Endpoints are written by hand), with an
//! empty one, or of `type: ExternalName` selects no Pods on purpose: it is
//! not judged.

use serde_json::Value;

use super::super::input::{ManifestObject, ManifestSet};
use super::super::report::Finding;
use super::super::yaml::Seg;
use super::{Index, Labels, PodTemplate, Selector, finding, labels_of, nearest, quote, selects};

/// The SARIF rule of the warning.
pub const RULE: &str = "service-selects-no-pods";

/// The selector of a Service whose Pods this rule looks for: `None` for a
/// Service without one (its Endpoints are written by hand), with an empty
/// one, with one that is not a map of strings, or of `type: ExternalName`.
pub fn service_selector(object: &Value) -> Option<Labels> {
    if object.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName") {
        return None;
    }
    labels_of(object.pointer("/spec/selector")?).filter(|s| !s.is_empty())
}

/// The warning on `service`, whose `selector` selects none of `here` (the
/// templates of its namespace), or `None` when it selects some.
/// `elsewhere`: the templates of the other namespaces; `of`: "of the set"
/// or "of the set or the snapshot".
pub fn warning<'a>(
    service: &ManifestObject,
    selector: &Selector,
    here: &[&'a PodTemplate],
    elsewhere: impl IntoIterator<Item = &'a PodTemplate>,
    of: &str,
) -> Option<String> {
    if here.iter().any(|t| selects(selector, *t)) {
        return None;
    }
    let namespace = service.namespace.as_deref().unwrap_or_default();
    Some(format!(
        "{}: its selector {} selects no Pod {of} in namespace \"{}\"{}: the Service has no \
         endpoints until Pods with these labels exist; correct the selector or the Pod labels, \
         unless an operator or controller creates these Pods",
        quote(&service.display_name()),
        super::show_selector(selector),
        quote(namespace),
        nearest(selector, here, elsewhere),
    ))
}

/// The warnings of the rule on `set`: for each Service of the set that
/// selects no Pod of `index`, its index in `set.objects` and the finding,
/// at the line of its selector.
pub fn warnings(set: &ManifestSet, index: &Index) -> Vec<(usize, Finding)> {
    let mut found = Vec::new();
    for (i, service) in set.objects.iter().enumerate() {
        let Some(namespace) = super::namespaced(service, "", "Service") else {
            continue;
        };
        let Some(selector) = service_selector(&service.object) else {
            continue;
        };
        let here: Vec<&PodTemplate> = index.pods_in(namespace).iter().collect();
        // the other namespaces matter only to a Service of a namespace without Pods
        let elsewhere = index.all_pods().filter(|_| here.is_empty());
        if let Some(message) = warning(service, &selector.into(), &here, elsewhere, index.pods_of())
        {
            let path = [Seg::key("spec"), Seg::key("selector")];
            found.push((i, finding(service, &path, message, RULE)));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::super::input::Source;
    use super::super::super::model::Snapshot;
    use super::super::tests::{Pairs, computed, labels, sel, set, template};
    use super::super::{COMPARISONS, MAX_KEY};
    use super::*;
    use serde_json::json;

    fn warnings(set: &ManifestSet, snapshot: &Snapshot) -> Vec<(usize, Finding)> {
        super::warnings(set, &Index::new(set, snapshot))
    }

    const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  ports:\n  - port: 80\n  selector:\n    app: api\n";

    #[test]
    fn warnings_name_the_selector_and_the_closest_labels() {
        let web = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    metadata:\n      labels: {app: web, tier: front}\n";
        let found = warnings(&set(&format!("{SERVICE}{web}")), &Snapshot::new());
        assert_eq!(found.len(), 1);
        let (index, finding) = &found[0];
        assert_eq!(*index, 0);
        assert_eq!(finding.line, Some(8));
        assert_eq!(finding.rule, Some(RULE));
        assert_eq!(
            finding.message,
            "Service shop/api: its selector app=api selects no Pod of the set in namespace \"shop\" \
             (closest: Deployment shop/web, with app=web,tier=front): the Service has no endpoints \
             until Pods with these labels exist; correct the selector or the Pod labels, unless an \
             operator or controller creates these Pods"
        );

        // Pods elsewhere: the namespace is named
        let elsewhere = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: api-0, namespace: other, labels: {app: api}}\n";
        let found = warnings(&set(&format!("{SERVICE}{elsewhere}")), &Snapshot::new());
        assert!(
            found[0].1.message.contains(
                "selects no Pod of the set in namespace \"shop\", which has none (Pod other/api-0, \
                 in namespace \"other\", has these labels):"
            ),
            "{}",
            found[0].1.message
        );

        // a matching Pod of the snapshot: nothing
        let mut snapshot = Snapshot::new();
        snapshot
            .add_cluster_text(
                "pods.json",
                &json!({"kind": "List", "items": [{"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": "api-7d9", "namespace": "shop", "labels": {"app": "api", "pod-template-hash": "7d9"}}}]})
                .to_string(),
            )
            .unwrap();
        assert_eq!(warnings(&set(SERVICE), &snapshot), []);
        assert_eq!(warnings(&set(&format!("{SERVICE}{web}")), &snapshot), []);
        let found = warnings(&set(&SERVICE.replace("app: api", "app: gone")), &snapshot);
        assert!(
            found[0]
                .1
                .message
                .contains("selects no Pod of the set or the snapshot in namespace \"shop\""),
            "{found:?}"
        );
    }

    #[test]
    fn selectors_the_rule_looks_at() {
        let service = |spec: Value| json!({"apiVersion": "v1", "kind": "Service", "spec": spec});
        let cases = [
            (
                json!({"selector": {"app": "a"}}),
                Some(labels(&[("app", "a")])),
            ),
            (json!({"selector": {"v": 1}}), Some(labels(&[("v", "1")]))),
            (json!({"ports": [{"port": 80}]}), None),
            (json!({"selector": {}}), None),
            (json!({"selector": {"app": ["a"]}}), None),
            (
                json!({"type": "ExternalName", "externalName": "db.example.com", "selector": {"app": "a"}}),
                None,
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(service_selector(&service(spec.clone())), expected, "{spec}");
        }
    }

    #[test]
    fn per_pod_services_of_a_statefulset_are_not_reported() {
        let workloads = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    metadata:\n      labels: {name: db-x}\n\
                         ---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  template:\n    metadata:\n      labels: {app: db}\n";
        let service = |name: &str, selector: &str| {
            format!(
                "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  selector: {selector}\n"
            )
        };
        let cases: &[(&str, Option<&str>)] = &[
            ("{statefulset.kubernetes.io/pod-name: db-0}", None),
            ("{statefulset.kubernetes.io/pod-name: db-1, app: db}", None),
            ("{apps.kubernetes.io/pod-index: '2'}", None),
            ("{pod-template-hash: 7d9, name: db-x}", None),
            // the closest is the StatefulSet, whose Pods have that label
            (
                "{statefulset.kubernetes.io/pod-name: db-x}",
                Some("(closest: StatefulSet shop/db, with app=db)"),
            ),
            (
                "{statefulset.kubernetes.io/pod-name: db-0, app: web}",
                Some("(closest: StatefulSet shop/db, with app=db)"),
            ),
        ];
        for (selector, expected) in cases {
            let found = warnings(
                &set(&format!("{workloads}{}", service("db-0", selector))),
                &Snapshot::new(),
            );
            match expected {
                None => assert_eq!(found, [], "{selector}"),
                Some(hint) => {
                    assert_eq!(found.len(), 1, "{selector}");
                    assert!(found[0].1.message.contains(hint), "{selector}: {found:?}");
                }
            }
        }
    }

    #[test]
    fn messages_quote_keys_and_values_clipped() {
        let long = |n: usize| "x".repeat(n);
        let (v200k, k1k, v300) = (long(200_000), long(1000), long(300));
        let e200 = "é".repeat(200);
        // the selector, the labels of the one template, what the message holds
        let cases: &[(Pairs, Pairs, &str)] = &[
            (
                &[("app", &v200k)],
                &[("app", "web")],
                "… (200000 bytes) selects no Pod",
            ),
            (
                &[("app", "api")],
                &[("app", &v300)],
                "… (300 bytes)): the Service",
            ),
            (
                &[(&k1k, "api")],
                &[("app", "web")],
                "… (1000 bytes)=api selects",
            ),
            (&[("app", "api")], &[(&k1k, &v200k)], "… (1000 bytes)=xxx"),
            (
                &[("app", &e200)],
                &[("app", "web")],
                "é… (400 bytes) selects",
            ),
        ];
        for (selector, template_labels, expected) in cases {
            let t = template("Deployment shop/web", template_labels);
            let set = set(SERVICE);
            let message =
                warning(&set.objects[0], &sel(selector), &[&t], [], "of the set").unwrap();
            assert!(message.len() < 2000, "{} bytes", message.len());
            assert!(message.contains(expected), "{expected}: {message}");
        }
    }

    #[test]
    fn many_services_and_workloads_with_huge_labels_are_judged_in_bounded_work() {
        let value = |c: char, i: usize| format!("{i}{}", c.to_string().repeat(100_000));
        let mut sources = Vec::new();
        for i in 0..50 {
            // half the Services with a huge value, half with a huge key;
            // each with a short label too, which is compared
            let selector = if i % 2 == 0 {
                json!({"app": value('s', i), "tier": "api"})
            } else {
                json!({value('k', i): "api", "tier": "api"})
            };
            let service = json!({"apiVersion": "v1", "kind": "Service",
                                 "metadata": {"name": format!("s{i}")}, "spec": {"selector": selector}});
            let labels = json!({"app": value('d', i), value('j', i): "web", "tier": "web"});
            let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                                    "metadata": {"name": format!("d{i}")},
                                    "spec": {"template": {"metadata": {"labels": labels}}}});
            sources.push(Source::new(format!("s{i}.json"), service.to_string()));
            sources.push(Source::new(format!("d{i}.json"), deployment.to_string()));
        }
        let set = ManifestSet::parse(&sources, "shop");
        assert_eq!(set.objects.len(), 100);
        let before = computed();
        let found = warnings(&set, &Snapshot::new());
        let (count, cells) = (computed().0 - before.0, computed().1 - before.1);
        assert_eq!(found.len(), 50);
        for (_, finding) in &found {
            assert!(
                finding.message.len() < 2000,
                "{} bytes",
                finding.message.len()
            );
        }
        // no edit distance between labels longer than Kubernetes allows;
        // in any case at most COMPARISONS for each Service and template
        assert!(count <= 50 * 50 * COMPARISONS, "{count}");
        assert!(cells <= count * MAX_KEY * MAX_KEY, "{cells}");
        assert!(count > 0, "the short labels are compared");
    }
}
