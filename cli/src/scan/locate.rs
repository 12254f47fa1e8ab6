//! Where a finding is: the field its message names, resolved to the
//! position of that field's node in the document (never a search of the
//! file's text).
//!
//! The policy's messages name the field that holds the fault in stable
//! forms (worded in `src/messages/`):
//!
//! - `Deployment ns/web, volumes[0].secret: …` (a Pod-level field, below
//!   the kind's Pod spec), `Ingress ns/web, spec.rules[0].http.paths[1].backend.service: …`
//!   and `HTTPRoute ns/web, spec.rules[0].backendRefs[0]: …` (from the
//!   object's root);
//! - the reference graph's (`src/messages/graph.rs`), always from the
//!   object's root, workloads too: `Deployment ns/web,
//!   spec.template.spec.volumes[0].persistentVolumeClaim.claimName: …`,
//!   `StatefulSet ns/db, spec.serviceName: …`, `RoleBinding ns/b,
//!   roleRef: …` (at its `name`), `ClusterRoleBinding b, subjects[1]: …`,
//!   `HorizontalPodAutoscaler ns/h, spec.scaleTargetRef: …` (at its
//!   `name`), `APIService v1.x, spec.service: …` (at its `name`, or at
//!   its `port` when the Service lacks that port);
//! - `container "app" (Deployment ns/web), env[2].valueFrom.configMapKeyRef: …`,
//!   `…, env[3].value (variable "CART_ADDR"): …`, `…, args[1]: …` (below the
//!   container, `init container` and `ephemeral container` alike);
//! - `container "c" (Pod ns/p): KUBECONFIG path …` (and `: removed
//!   KUBECONFIG, …`, `: KUBECONFIG comes from …`): the env entry of the
//!   variable;
//! - `ConfigMap ns/cfg, key "app.yaml": "http://…" names Service …`: the
//!   line inside the key's value where the quoted text is.
//!
//! [`parse`] reads these forms into a [`Site`]; [`position`] resolves it.

use serde_json::Value;

use super::input::{ManifestObject, Position};
use super::yaml::Seg;

/// What a message says about where its fault is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Site {
    /// The container (`containers`, `initContainers` or
    /// `ephemeralContainers`) and its name.
    pub container: Option<(&'static str, String)>,
    /// The field, below the container, the Pod spec, or the object.
    pub field: Vec<Seg>,
    /// A ConfigMap's key and the text quoted from its value.
    pub key: Option<(String, Option<String>)>,
    /// The environment variable of a KUBECONFIG message.
    pub variable: Option<String>,
    /// What the message says after the site.
    pub rest: String,
}

const CONTAINERS: &[(&str, &str)] = &[
    ("init container ", "initContainers"),
    ("ephemeral container ", "ephemeralContainers"),
    ("container ", "containers"),
];

/// The Pod spec of each workload kind (as `pod_spec_pointer` of the
/// policy's `src/workload.rs`).
fn pod_spec(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pod" => &["spec"],
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

/// A Rust `{:?}` string at the start of `text` (as the policy quotes):
/// its value and the text after it.
pub fn debug_string(text: &str) -> Option<(String, &str)> {
    let mut chars = text.strip_prefix('"')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &text[i + 2..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                'u' => {
                    let (_, open) = chars.next()?;
                    if open != '{' {
                        return None;
                    }
                    let mut hex = String::new();
                    for (_, h) in chars.by_ref() {
                        if h == '}' {
                            break;
                        }
                        hex.push(h);
                    }
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// `env[2].valueFrom.configMapKeyRef` as steps; `None` when it is not a
/// field path.
pub fn field_path(text: &str) -> Option<Vec<Seg>> {
    let mut path = Vec::new();
    for part in text.split('.') {
        let (name, mut indices) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        path.push(Seg::key(name));
        while !indices.is_empty() {
            let close = indices.find(']')?;
            path.push(Seg::Index(
                indices.strip_prefix('[')?[..close - 1].parse().ok()?,
            ));
            indices = &indices[close + 1..];
        }
    }
    Some(path)
}

/// The field text at the start of `text`, up to a blank or a colon.
fn field_at(text: &str) -> Option<(Vec<Seg>, &str)> {
    let end = text.find([' ', ':']).unwrap_or(text.len());
    Some((field_path(&text[..end])?, &text[end..]))
}

/// Reads where `message` (about the object named `identity`) says its
/// fault is; `None` when it names no field (a lookup failure, `and 2 more
/// problem(s)`).
pub fn parse(message: &str, identity: &str) -> Option<Site> {
    let mut site = Site::default();
    let after = if let Some(rest) = message.strip_prefix(identity) {
        let rest = rest.strip_prefix(", ")?;
        if let Some(keyed) = rest.strip_prefix("key ") {
            let (key, rest) = debug_string(keyed)?;
            let rest = rest.strip_prefix(": ")?;
            let written = debug_string(rest).map(|(w, _)| w);
            site.key = Some((key, written));
            rest
        } else {
            let (field, rest) = field_at(rest)?;
            site.field = field;
            rest.strip_prefix(": ")?
        }
    } else {
        let (prefix, list) = CONTAINERS.iter().find(|(p, _)| message.starts_with(p))?;
        let (name, rest) = debug_string(&message[prefix.len()..])?;
        let rest = rest.strip_prefix(&format!(" ({identity})"))?;
        site.container = Some((list, name));
        if let Some(rest) = rest.strip_prefix(", ") {
            let (field, mut rest) = field_at(rest)?;
            site.field = field;
            if let Some(variable) = rest.strip_prefix(" (variable ") {
                rest = debug_string(variable)?.1.strip_prefix(')')?;
            }
            rest.strip_prefix(": ")?
        } else {
            let rest = rest.strip_prefix(": ")?;
            let words = rest.strip_prefix("removed ").unwrap_or(rest);
            let end = words.find([' ', ',']).unwrap_or(words.len());
            site.variable = Some(words[..end].to_owned());
            rest
        }
    };
    site.rest = after.to_owned();
    Some(site)
}

/// The fields below the one a message names that hold the value at fault,
/// tried in order (the named field itself last).
fn refinements(field: &[Seg], rest: &str) -> Vec<Vec<Seg>> {
    let last = match field.last() {
        Some(Seg::Key(k)) => k.as_str(),
        Some(Seg::Index(_)) => match field.iter().rev().nth(1) {
            Some(Seg::Key(k)) if k == "imagePullSecrets" => "imagePullSecret",
            Some(Seg::Key(k)) if k == "backendRefs" => "service",
            _ => "",
        },
        None => "",
    };
    let port = rest.contains("has no port");
    let keys: &[&[&str]] = match last {
        "secret" => &[&["secretName"], &["name"]],
        // the name of the Role, ClusterRole or workload
        "roleRef" | "scaleTargetRef" => &[&["name"]],
        "configMapKeyRef" | "secretKeyRef" if rest.contains("has no key") => &[&["key"]],
        "configMap" | "configMapKeyRef" | "secretKeyRef" | "configMapRef" | "secretRef"
        | "imagePullSecret" => &[&["name"]],
        "service" if port => &[&["port", "number"], &["port", "name"], &["port"]],
        "service" => &[&["name"]],
        _ => &[],
    };
    let mut out: Vec<Vec<Seg>> = keys
        .iter()
        .map(|sub| sub.iter().map(|k| Seg::key(k)).collect())
        .collect();
    out.push(Vec::new());
    out
}

/// Whether a workload's field path is from the object's root (the
/// reference graph's `spec.template.spec.volumes[0]…`, `spec.serviceName`)
/// rather than below its Pod spec (`volumes[0].secret`): a Pod spec has no
/// field `spec`, so a path that starts with it starts at the root.
fn from_root(field: &[Seg]) -> bool {
    matches!(field.first(), Some(Seg::Key(k)) if k == "spec")
}

fn value_at<'a>(mut value: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    for seg in path {
        value = match seg {
            Seg::Key(k) => value.get(k)?,
            Seg::Index(i) => value.get(i)?,
        };
    }
    Some(value)
}

/// The index in `list` of the entry whose `name` is `name`.
fn named(object: &Value, list: &[Seg], name: &str) -> Option<usize> {
    value_at(object, list)?
        .as_array()?
        .iter()
        .position(|e| e.get("name").and_then(Value::as_str) == Some(name))
}

/// The position of the field a finding's `message` names in `object`;
/// `None` when the message names none, or the field is not in the text.
pub fn position(object: &ManifestObject, message: &str) -> Option<Position> {
    let site = parse(message, &object.display_name())?;
    let span = &object.span;
    if let Some((key, written)) = &site.key {
        let place = span.place(&[Seg::key("data"), Seg::Key(key.clone())])?;
        let found = written.as_deref().filter(|_| place.scalar).and_then(|w| {
            let value = span.text().get(place.start..place.end)?;
            let w = w.strip_suffix("...").unwrap_or(w);
            (!w.is_empty()).then(|| value.find(w)).flatten()
        });
        return Some(span.position(place.start + found.unwrap_or(0)));
    }
    let mut base: Vec<Seg> = Vec::new();
    let workload = pod_spec(&object.kind);
    if let Some((list, name)) = &site.container {
        base.extend(workload?.iter().map(|k| Seg::key(k)));
        base.push(Seg::key(list));
        let index = named(&object.object, &base, name)?;
        base.push(Seg::Index(index));
    } else if let Some(spec) = workload
        && !from_root(&site.field)
    {
        base.extend(spec.iter().map(|k| Seg::key(k)));
    }
    if let Some(variable) = &site.variable {
        let mut env = base.clone();
        env.push(Seg::key("env"));
        if let Some(i) = named(&object.object, &env, variable) {
            env.push(Seg::Index(i));
            return span
                .position_of(&[env.as_slice(), &[Seg::key("value")]].concat())
                .or_else(|| span.position_of(&env));
        }
        // from a ConfigMap of envFrom: `(from ConfigMap "c", key "k", envFrom[0])`
        let from = site.rest.find("envFrom[").and_then(|i| {
            let text = &site.rest[i..];
            field_at(&text[..text.find(')').unwrap_or(text.len())])
        });
        if let Some((field, _)) = from {
            return span
                .position_of(&[base.as_slice(), &field].concat())
                .or_else(|| span.position_of(&base));
        }
        return span.position_of(&base);
    }
    let mut path = base.clone();
    path.extend(site.field.iter().cloned());
    refinements(&site.field, &site.rest)
        .iter()
        .find_map(|sub| span.position_of(&[path.as_slice(), sub].concat()))
        .or_else(|| span.position_of(&base))
}

#[cfg(test)]
mod tests {
    use super::super::input::{ManifestSet, Source};
    use super::*;

    fn k(key: &str) -> Seg {
        Seg::key(key)
    }

    #[test]
    fn reads_the_forms_of_the_policys_messages() {
        let d = "Deployment ns/web";
        let s = parse(
            "Deployment ns/web, volumes[0].secret: Secret \"x\" does not exist",
            d,
        )
        .unwrap();
        assert_eq!(s.field, [k("volumes"), Seg::Index(0), k("secret")]);
        assert_eq!(s.container, None);
        let s = parse(
            "container \"app\" (Deployment ns/web), env[2].valueFrom.configMapKeyRef: ConfigMap \"c\" has no key \"k\"",
            d,
        )
        .unwrap();
        assert_eq!(s.container, Some(("containers", "app".to_owned())));
        assert_eq!(
            s.field,
            [
                k("env"),
                Seg::Index(2),
                k("valueFrom"),
                k("configMapKeyRef")
            ]
        );
        assert!(s.rest.starts_with("ConfigMap \"c\" has no key"));
        let s = parse(
            "init container \"i\\\"x\" (Deployment ns/web), env[3].value (variable \"CART_ADDR\"): \"http://a\" names Service",
            d,
        )
        .unwrap();
        assert_eq!(s.container, Some(("initContainers", "i\"x".to_owned())));
        assert_eq!(s.field, [k("env"), Seg::Index(3), k("value")]);
        let s = parse(
            "ephemeral container \"e\" (Deployment ns/web), args[1]: \"x\"",
            d,
        )
        .unwrap();
        assert_eq!(s.container, Some(("ephemeralContainers", "e".to_owned())));
        assert_eq!(s.field, [k("args"), Seg::Index(1)]);
        let s = parse(
            "container \"c\" (Deployment ns/web): KUBECONFIG path \"/x\" is not",
            d,
        )
        .unwrap();
        assert_eq!(s.variable.as_deref(), Some("KUBECONFIG"));
        let s = parse(
            "container \"c\" (Deployment ns/web): removed KUBECONFIG, whose path",
            d,
        )
        .unwrap();
        assert_eq!(s.variable.as_deref(), Some("KUBECONFIG"));
        let s = parse(
            "ConfigMap ns/cfg, key \"app.yaml\": \"http://api:80\" names Service \"api\"",
            "ConfigMap ns/cfg",
        )
        .unwrap();
        assert_eq!(
            s.key,
            Some(("app.yaml".to_owned(), Some("http://api:80".to_owned())))
        );
        let s = parse(
            "Ingress ns/web, spec.rules[0].http.paths[1].backend.service: Service \"x\" in namespace \"ns\" has no port 80",
            "Ingress ns/web",
        )
        .unwrap();
        assert_eq!(refinements(&s.field, &s.rest)[0], [k("port"), k("number")]);
        assert_eq!(
            parse("Deployment ns/web: cannot verify the Secrets", d),
            None
        );
        assert_eq!(parse("and 2 more problem(s)", d), None);
        assert_eq!(
            parse("container \"c\" (Deployment ns/other), args[0]: x", d),
            None
        );
        assert_eq!(field_path("a.b[x]"), None);
        assert_eq!(
            field_path("a[1][2]"),
            Some(vec![k("a"), Seg::Index(1), Seg::Index(2)])
        );
    }

    fn object(text: &str) -> ManifestObject {
        ManifestSet::parse(&[Source::new("m.yaml", text)], "shop")
            .objects
            .remove(0)
    }

    /// (line, column) of the field `message` names in `text`.
    fn at(text: &str, message: &str) -> Option<(usize, usize)> {
        position(&object(text), message).map(|p| (p.line, p.column))
    }

    const STATEFULSET: &str = "\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  template:
    spec:
      serviceAccountName: db
      containers:
      - name: app
        readinessProbe:
          httpGet:
            port: healthz
        lifecycle:
          preStop:
            tcpSocket:
              port: admin
      volumes:
      - name: data
        persistentVolumeClaim:
          claimName: date
";

    /// The reference graph names fields from the object's root, workloads
    /// too; the workload check names Pod-level fields below the Pod spec.
    #[test]
    fn graph_messages_are_at_their_fields_from_the_root() {
        let sts = |m: &str| at(STATEFULSET, m);
        assert_eq!(
            sts("StatefulSet shop/db, spec.serviceName: Service \"db\" does not exist"),
            Some((6, 16))
        );
        assert_eq!(
            sts(
                "StatefulSet shop/db, spec.template.spec.volumes[0].persistentVolumeClaim.claimName: PersistentVolumeClaim \"date\" does not exist in namespace \"shop\""
            ),
            Some((22, 22))
        );
        assert_eq!(
            sts(
                "StatefulSet shop/db, spec.template.spec.containers[0].readinessProbe.httpGet.port: container \"app\" has no port named \"healthz\" (it declares no named ports)"
            ),
            Some((14, 19))
        );
        assert_eq!(
            sts(
                "StatefulSet shop/db, spec.template.spec.containers[0].lifecycle.preStop.tcpSocket.port: container \"app\" has no port named \"admin\""
            ),
            Some((18, 21))
        );
        // the workload check's Pod-level field, below the Pod spec
        assert_eq!(
            sts("StatefulSet shop/db, serviceAccountName: ServiceAccount \"db\" does not exist"),
            Some((9, 27))
        );
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  volumes:\n  - persistentVolumeClaim:\n      claimName: x\n";
        assert_eq!(
            at(
                pod,
                "Pod shop/p, spec.volumes[0].persistentVolumeClaim.claimName: PersistentVolumeClaim \"x\" does not exist"
            ),
            Some((7, 18))
        );
        assert_eq!(
            at(
                pod,
                "Pod shop/p, volumes[0].persistentVolumeClaim: PersistentVolumeClaim \"x\" does not exist"
            ),
            Some((6, 5))
        );
    }

    #[test]
    fn graph_references_are_at_the_name_they_give() {
        let binding = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: b\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: writer\nsubjects:\n- kind: User\n  name: alice\n- kind: ServiceAccount\n  name: readr\n";
        assert_eq!(
            at(
                binding,
                "RoleBinding shop/b, roleRef: Role \"writer\" does not exist"
            ),
            Some((8, 9))
        );
        assert_eq!(
            at(
                binding,
                "RoleBinding shop/b, subjects[1]: ServiceAccount \"readr\" does not exist"
            ),
            Some((12, 3))
        );
        let hpa = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: h\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: api\n";
        assert_eq!(
            at(
                hpa,
                "HorizontalPodAutoscaler shop/h, spec.scaleTargetRef: Deployment \"api\" does not exist"
            ),
            Some((9, 11))
        );
        let api = "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata:\n  name: v1.x\nspec:\n  service:\n    namespace: shop\n    name: metrics\n    port: 8443\n";
        assert_eq!(
            at(
                api,
                "APIService v1.x, spec.service: Service \"metrics\" does not exist"
            ),
            Some((8, 11))
        );
        assert_eq!(
            at(
                api,
                "APIService v1.x, spec.service: Service \"metrics\" in namespace \"shop\" has no port 8443 (it exposes 443)"
            ),
            Some((9, 11))
        );
        let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: a.example.com\nspec:\n  conversion:\n    strategy: Webhook\n    webhook:\n      clientConfig:\n        service:\n          namespace: shop\n          name: conv\n";
        assert_eq!(
            at(
                crd,
                "CustomResourceDefinition a.example.com, spec.conversion.webhook.clientConfig.service: Service \"conv\" does not exist"
            ),
            Some((12, 17))
        );
    }
}
