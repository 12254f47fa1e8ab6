//! The opt-out annotation of a workload: references its owners know to be
//! fine (a Secret an operator writes later, a Service outside the cluster's
//! view) are named there and never looked up nor reported, in the form
//! linters use:
//!
//! ```yaml
//! metadata:
//!   annotations:
//!     dangling-references.kubewarden.io/ignore: "secret/contourcert, service/legacy-db"
//! ```
//!
//! Grammar: a comma-separated list of `<kind>/<name>` entries, blanks
//! around entries allowed; `<kind>` is `secret`, `configmap`,
//! `serviceaccount` or `service`; `<name>` an object name (a DNS-1123
//! subdomain; a DNS label for a Service). `service/<namespace>/<name>`
//! names a Service of another namespace; `service/<name>` a Service of that
//! name in any namespace. The annotation is read from the workload's own
//! metadata and from its Pod template's, so the Pods a controller creates
//! carry it too.

use crate::json_tree::Value;

use crate::settings::is_dns1123_label;
use crate::workload_refs::{ObjectKind, Reference};

/// The annotation's key.
pub const ANNOTATION: &str = "dangling-references.kubewarden.io/ignore";

/// One entry of the annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// A Secret, ConfigMap or ServiceAccount of the workload's namespace.
    Object(ObjectKind, String),
    /// A Service, in `namespace` or (`None`) any namespace.
    Service {
        namespace: Option<String>,
        name: String,
    },
}

/// What a workload's annotations opt out of checking.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IgnoreList(pub Vec<Ignored>);

impl IgnoreList {
    /// Parses the annotation's value. Errors: the first entry that is not
    /// `<kind>/<name>`, quoted, with why.
    pub fn parse(value: &str) -> Result<IgnoreList, String> {
        let mut entries = Vec::new();
        for entry in value.split(',').map(str::trim) {
            entries.push(parse_entry(entry).map_err(|why| {
                format!(
                    "annotation {ANNOTATION}: {:?} {why}; write kind/name entries separated by commas (kinds: secret, configmap, serviceaccount, service)",
                    crate::quote::clip(entry)
                )
            })?);
        }
        Ok(IgnoreList(entries))
    }

    /// The entries of the annotation in the metadata of `object` and of its
    /// Pod template (`pod_spec_pointer`: where its Pod spec is, as
    /// `workload::pod_spec_pointer` gives it). Errors: an annotation that
    /// is not a string, or does not parse.
    pub fn of(object: &Value, pod_spec_pointer: &str) -> Result<IgnoreList, String> {
        let template_metadata = format!(
            "{}/metadata",
            pod_spec_pointer.strip_suffix("/spec").unwrap_or_default()
        );
        let mut list = IgnoreList::default();
        for pointer in ["/metadata", template_metadata.as_str()] {
            match object.pointer(pointer).and_then(|m| m.get("annotations")) {
                None | Some(Value::Null) => {}
                Some(Value::Object(annotations)) => match annotations.get(ANNOTATION) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(value)) => list.0.extend(IgnoreList::parse(value)?.0),
                    Some(_) => return Err(format!("annotation {ANNOTATION} is not a string")),
                },
                Some(_) => {
                    return Err(format!(
                        "{}.annotations is not a map of strings",
                        pointer.trim_start_matches('/').replace('/', ".")
                    ));
                }
            }
            if pointer == template_metadata {
                break;
            }
        }
        Ok(list)
    }

    /// Whether `reference` (of the workload's namespace) is opted out.
    pub fn ignores_reference(&self, reference: &Reference) -> bool {
        self.0.iter().any(|e| {
            matches!(e, Ignored::Object(kind, name) if *kind == reference.kind && *name == reference.name)
        })
    }

    /// Whether Service `name` of `namespace` is opted out.
    pub fn ignores_service(&self, name: &str, namespace: &str) -> bool {
        self.0.iter().any(|e| match e {
            Ignored::Service {
                namespace: ns,
                name: n,
            } => n == name && ns.as_deref().is_none_or(|ns| ns == namespace),
            Ignored::Object(..) => false,
        })
    }
}

/// One `<kind>/<name>` entry; errors say what is wrong with it.
fn parse_entry(entry: &str) -> Result<Ignored, &'static str> {
    let (kind, rest) = entry.split_once('/').ok_or("is not kind/name")?;
    let object = |kind: ObjectKind| {
        if is_dns1123_subdomain(rest) {
            Ok(Ignored::Object(kind, rest.to_string()))
        } else {
            Err("does not name an object (a lower-case DNS-1123 name)")
        }
    };
    match kind {
        "secret" => object(ObjectKind::Secret),
        "configmap" => object(ObjectKind::ConfigMap),
        "serviceaccount" => object(ObjectKind::ServiceAccount),
        "service" => {
            let (namespace, name) = match rest.split_once('/') {
                Some((ns, name)) => (Some(ns), name),
                None => (None, rest),
            };
            if namespace.is_some_and(|ns| !is_dns1123_label(ns)) || !is_dns1123_label(name) {
                return Err(
                    "does not name a Service (service/<name> or service/<namespace>/<name>)",
                );
            }
            Ok(Ignored::Service {
                namespace: namespace.map(str::to_string),
                name: name.to_string(),
            })
        }
        "" => Err("has no kind"),
        _ => Err("has an unknown kind"),
    }
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 bytes (the
/// names of Secrets, ConfigMaps and ServiceAccounts).
fn is_dns1123_subdomain(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(is_dns1123_label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn service(namespace: Option<&str>, name: &str) -> Ignored {
        Ignored::Service {
            namespace: namespace.map(str::to_string),
            name: name.into(),
        }
    }

    #[rstest]
    #[case::issue_example("secret/contourcert, service/legacy-db",
        vec![Ignored::Object(ObjectKind::Secret, "contourcert".into()), service(None, "legacy-db")])]
    #[case::every_kind(" configmap/app-config ,serviceaccount/builder,service/db/postgres ",
        vec![Ignored::Object(ObjectKind::ConfigMap, "app-config".into()),
             Ignored::Object(ObjectKind::ServiceAccount, "builder".into()), service(Some("db"), "postgres")])]
    #[case::dotted_secret_name("secret/tls.example.com", vec![Ignored::Object(ObjectKind::Secret, "tls.example.com".into())])]
    fn valid(#[case] value: &str, #[case] entries: Vec<Ignored>) {
        assert_eq!(IgnoreList::parse(value), Ok(IgnoreList(entries)));
    }

    #[rstest]
    #[case::no_slash("contourcert", r#""contourcert" is not kind/name"#)]
    #[case::unknown_kind("pod/x", r#""pod/x" has an unknown kind"#)]
    #[case::plural_kind("secrets/x", r#""secrets/x" has an unknown kind"#)]
    #[case::empty_entry("secret/a,,secret/b", r#""" is not kind/name"#)]
    #[case::upper_case_name("secret/Contour", r#""secret/Contour" does not name an object"#)]
    #[case::service_with_dots(
        "service/db.example.com",
        r#""service/db.example.com" does not name a Service"#
    )]
    #[case::empty("", r#""" is not kind/name"#)]
    fn malformed(#[case] value: &str, #[case] error: &str) {
        let e = IgnoreList::parse(value).unwrap_err();
        assert!(
            e.starts_with(&format!("annotation {ANNOTATION}: {error}")),
            "{e}"
        );
        assert!(
            e.ends_with("(kinds: secret, configmap, serviceaccount, service)"),
            "{e}"
        );
    }

    #[test]
    fn read_from_the_workload_and_its_pod_template() {
        let object = json!({
            "metadata": {"annotations": {ANNOTATION: "secret/a"}},
            "spec": {"template": {"metadata": {"annotations": {ANNOTATION: "service/b"}}, "spec": {}}}});
        let list = IgnoreList::of(&(&object).into(), "/spec/template/spec").unwrap();
        assert_eq!(
            list.0,
            vec![
                Ignored::Object(ObjectKind::Secret, "a".into()),
                service(None, "b")
            ]
        );
        // a Pod's template is the Pod: read once
        let pod = json!({"metadata": {"annotations": {ANNOTATION: "secret/a"}}, "spec": {}});
        assert_eq!(IgnoreList::of(&(&pod).into(), "/spec").unwrap().0.len(), 1);
        let bad = json!({"metadata": {"annotations": {ANNOTATION: 1}}});
        assert_eq!(
            IgnoreList::of(&(&bad).into(), "/spec"),
            Err(format!("annotation {ANNOTATION} is not a string"))
        );
    }

    #[rstest]
    #[case::any_namespace(service(None, "db"), "db", "other", true)]
    #[case::that_namespace(service(Some("shop"), "db"), "db", "shop", true)]
    #[case::another_namespace(service(Some("shop"), "db"), "db", "other", false)]
    #[case::another_name(service(None, "db"), "cache", "shop", false)]
    fn services(
        #[case] entry: Ignored,
        #[case] name: &str,
        #[case] namespace: &str,
        #[case] ignored: bool,
    ) {
        assert_eq!(
            IgnoreList(vec![entry]).ignores_service(name, namespace),
            ignored
        );
    }
}
