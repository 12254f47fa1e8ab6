//! `validate` (natively: `evaluate`) on AdmissionRequests for Pods, every
//! workload kind, ConfigMaps, routes and the reference graph's kinds
//! (webhook configurations, bindings, HPAs), against a fake host
//! answering Service lists, ConfigMaps, ServiceAccounts, Secret names,
//! name listings and errors. Input that
//! starts with `{` is a raw `validate` payload (seeds: the test_data
//! fixtures, which libFuzzer mutates); anything else is decoded with
//! `arbitrary` into a structured request, settings and cluster.
//!
//! Invariants, beyond "no panic": every answer is a well-formed response;
//! host calls stay within their bounds (each object and namespace asked
//! once, at most `maxNamespacesPerRequest` Service listings, at most
//! `MAX_CONFIG_MAPS` ConfigMap reads); a failed host call is a rejection or
//! a warning as `onLookupError` says, never a silent accept; a mutation
//! only removes `env` entries of watched variables, and evaluating its
//! result again changes nothing; an UPDATE that adds nothing makes no host
//! call and is judged exactly as the object itself is without any lookup;
//! a ConfigMap's verdict does not depend on the order of its keys.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
// the kinds only the reference graph judges: their listings are not
// Service listings
use dangling_references_policy::graph::extract::SOURCE_KINDS as GRAPH_KINDS;
use dangling_references_policy::object_lookup::ConfigMapData;
use dangling_references_policy::service_lookup::{NamedPort, ServiceInfo};
use dangling_references_policy::settings::Settings;
use dangling_references_policy::test_support::{Call, FakeHost};
use dangling_references_policy::workload::pod_spec_pointer;
use dangling_references_policy::workload_check::MAX_CONFIG_MAPS;
use dangling_references_policy_fuzz::assert_well_formed;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------- inputs

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Kind {
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ReplicationController,
    ConfigMap,
    ConfigMap2,
    Service,
    Ingress,
    HttpRoute,
    WebhookConfiguration,
    RoleBinding,
    ClusterRoleBinding,
    Autoscaler,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Deployment => "Deployment",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::Job => "Job",
            Kind::CronJob => "CronJob",
            Kind::ReplicationController => "ReplicationController",
            Kind::ConfigMap | Kind::ConfigMap2 => "ConfigMap",
            Kind::Service => "Service",
            Kind::Ingress => "Ingress",
            Kind::HttpRoute => "HTTPRoute",
            Kind::WebhookConfiguration => "ValidatingWebhookConfiguration",
            Kind::RoleBinding => "RoleBinding",
            Kind::ClusterRoleBinding => "ClusterRoleBinding",
            Kind::Autoscaler => "HorizontalPodAutoscaler",
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Create,
    Update,
    Update2,
    Delete,
    Connect,
}

#[derive(Arbitrary, Debug)]
enum Old {
    None,
    Same,
    Same2,
    Other(Box<Object>),
    Null,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum SubResource {
    None,
    None2,
    Status,
    Ephemeral,
}

#[derive(Arbitrary, Debug, Clone)]
enum Ns {
    Shop,
    Other,
    Default,
    Kafka,
    Raw(String),
}

impl Ns {
    fn text(&self) -> String {
        match self {
            Ns::Shop => "shop".into(),
            Ns::Other => "other".into(),
            Ns::Default => "default".into(),
            Ns::Kafka => "kafka".into(),
            Ns::Raw(s) => s.chars().take(16).collect(),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum ObjName {
    Cfg,
    AppConfig,
    Gone,
    KubePaths,
    Tls,
    Builder,
    Default,
    Empty,
    Raw(String),
}

impl ObjName {
    fn text(&self) -> String {
        match self {
            ObjName::Cfg => "cfg".into(),
            ObjName::AppConfig => "app-config".into(),
            ObjName::Gone => "gone".into(),
            ObjName::KubePaths => "kube-paths".into(),
            ObjName::Tls => "tls".into(),
            ObjName::Builder => "builder".into(),
            ObjName::Default => "default".into(),
            ObjName::Empty => String::new(),
            ObjName::Raw(s) => s.chars().take(16).collect(),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum Key {
    Backend,
    Url,
    Kubeconfig,
    Level,
    Example,
    Raw(String),
}

impl Key {
    fn text(&self) -> String {
        match self {
            Key::Backend => "backend".into(),
            Key::Url => "url".into(),
            Key::Kubeconfig => "KUBECONFIG".into(),
            Key::Level => "level".into(),
            Key::Example => "_example".into(),
            Key::Raw(s) => s.chars().take(12).collect(),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum Var {
    Kubeconfig,
    Home,
    A,
    Raw(String),
}

impl Var {
    fn text(&self) -> String {
        match self {
            Var::Kubeconfig => "KUBECONFIG".into(),
            Var::Home => "HOME".into(),
            Var::A => "A".into(),
            Var::Raw(s) => s.chars().take(12).collect(),
        }
    }
}

const WORDS: &[&str] = &[
    "etc", "kube", "config", "var", "run", "..data", "root", ".kube", "k",
];

#[derive(Arbitrary, Debug, Clone)]
enum Piece {
    Slash,
    Word(u8),
    Ref(Var),
    Escaped,
    Colon,
    Semicolon,
    DotDot,
    Raw(String),
}

fn path(pieces: &[Piece]) -> String {
    let mut s = String::new();
    for p in pieces.iter().take(16) {
        match p {
            Piece::Slash => s.push('/'),
            Piece::Word(w) => s.push_str(WORDS[*w as usize % WORDS.len()]),
            Piece::Ref(v) => s.push_str(&format!("$({})", v.text())),
            Piece::Escaped => s.push_str("$$"),
            Piece::Colon => s.push(':'),
            Piece::Semicolon => s.push(';'),
            Piece::DotDot => s.push_str(".."),
            Piece::Raw(r) => s.extend(r.chars().take(8)),
        }
    }
    s
}

#[derive(Arbitrary, Debug, Clone)]
enum Svc {
    Api,
    Apii,
    Web,
    Kafka,
    Kubernetes,
    Raw(String),
}

impl Svc {
    fn text(&self) -> String {
        match self {
            Svc::Api => "api".into(),
            Svc::Apii => "apii".into(),
            Svc::Web => "web".into(),
            Svc::Kafka => "kafka-headless".into(),
            Svc::Kubernetes => "kubernetes".into(),
            Svc::Raw(s) => s.chars().take(12).collect(),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
struct Ref {
    form: u8,
    svc: Svc,
    ns: Ns,
    port: Option<u16>,
    upper: bool,
    domain: u8,
}

const DOMAINS: &[&str] = &[
    "",
    ".cluster.local",
    ".corp.internal",
    ".example.com",
    ".cluster.local.",
];

impl Ref {
    fn text(&self) -> String {
        let (svc, ns) = (self.svc.text(), self.ns.text());
        let domain = DOMAINS[self.domain as usize % DOMAINS.len()];
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        let text = match self.form % 7 {
            0 => format!("http://{svc}.{ns}.svc{domain}{port}/x"),
            1 => format!("{svc}.{ns}.svc{domain}{port}"),
            2 => format!("pod-0.{svc}.{ns}.svc{domain}{port}"),
            3 => format!("_http._tcp.{svc}.{ns}.svc{domain}"),
            4 => format!("http://{svc}{port}"),
            5 => format!("grpc://{svc}.{ns}{port}"),
            _ => format!("amqp://user:pw@{svc}.{ns}.svc{port}"),
        };
        if self.upper {
            text.to_ascii_uppercase()
        } else {
            text
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum TextPiece {
    Ref(Ref),
    Newline,
    Hash,
    Slashes,
    Quote,
    Space,
    Brace,
    Placeholder,
    Raw(String),
}

fn text(pieces: &[TextPiece]) -> String {
    let mut s = String::new();
    for p in pieces.iter().take(24) {
        match p {
            TextPiece::Ref(r) => s.push_str(&r.text()),
            TextPiece::Newline => s.push('\n'),
            TextPiece::Hash => s.push('#'),
            TextPiece::Slashes => s.push_str("//"),
            TextPiece::Quote => s.push('"'),
            TextPiece::Space => s.push(' '),
            TextPiece::Brace => s.push('{'),
            TextPiece::Placeholder => s.push_str("${X}"),
            TextPiece::Raw(r) => s.extend(r.chars().take(12)),
        }
    }
    s
}

#[derive(Arbitrary, Debug)]
enum Source {
    Value(Vec<Piece>),
    Empty,
    ConfigMapKey(ObjName, Key, Option<bool>),
    SecretKey(ObjName, Key, Option<bool>),
    FieldRef,
}

#[derive(Arbitrary, Debug)]
struct Env {
    name: Var,
    source: Source,
}

#[derive(Arbitrary, Debug)]
struct EnvFrom {
    prefix: Option<Var>,
    config_map: bool,
    name: ObjName,
    optional: Option<bool>,
}

#[derive(Arbitrary, Debug)]
struct Mount {
    volume: u8,
    path: Vec<Piece>,
    sub_path: bool,
}

#[derive(Arbitrary, Debug)]
struct Container {
    name: Option<String>,
    env: Vec<Env>,
    env_from: Vec<EnvFrom>,
    mounts: Vec<Mount>,
}

#[derive(Arbitrary, Debug)]
enum Volume {
    Secret(ObjName, Option<Vec<(Key, Vec<Piece>)>>, Option<bool>),
    ConfigMap(ObjName, Option<Vec<(Key, Vec<Piece>)>>, Option<bool>),
    HostPath(Vec<Piece>, u8),
    EmptyDir,
    Projected(Vec<(ObjName, Option<Vec<(Key, Vec<Piece>)>>)>, bool),
    DownwardApi(Vec<Vec<Piece>>),
}

#[derive(Arbitrary, Debug)]
enum Junk {
    SpecString,
    ContainersObject,
    EnvNumber,
    DataList,
    DataValueNumber,
    NoSpec,
    UnknownFields,
    OptionalString,
}

#[derive(Arbitrary, Debug)]
struct Object {
    name: Option<String>,
    containers: Vec<Container>,
    init_containers: Vec<Container>,
    ephemeral_containers: Vec<Container>,
    volumes: Vec<Volume>,
    service_account: Option<ObjName>,
    image_pull_secrets: Vec<ObjName>,
    windows: bool,
    replicas: u8,
    data: Vec<(Key, Vec<TextPiece>)>,
    binary_data: Vec<Key>,
    junk: Option<Junk>,
    /// The Service backends of an Ingress or HTTPRoute.
    backends: Vec<Ref>,
}

#[derive(Arbitrary, Debug)]
struct SettingsIn {
    variables: u8,
    remove: bool,
    warn_unresolved: bool,
    warn: bool,
    domain: u8,
    additional: bool,
    short_names: bool,
    check_ports: bool,
    ignored_hosts: bool,
    no_ignored_keys: bool,
    allow: bool,
    max_namespaces: u8,
    workload: bool,
    secrets: bool,
    allowed_path: Option<Vec<Piece>>,
    allow_host_path: bool,
}

#[derive(Arbitrary, Debug)]
struct ServiceIn {
    ns: Ns,
    name: Svc,
    ports: Vec<u16>,
    headless: bool,
    external: bool,
    named: Option<(Key, bool)>,
}

#[derive(Arbitrary, Debug)]
struct HostIn {
    services: Vec<ServiceIn>,
    config_maps: Vec<(ObjName, Vec<(Key, Vec<TextPiece>)>)>,
    accounts: Vec<ObjName>,
    secrets: Vec<ObjName>,
    failing: Vec<Ns>,
    fail_all: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    kind: Kind,
    op: Op,
    sub: SubResource,
    namespace: Ns,
    settings: SettingsIn,
    object: Object,
    old: Old,
    host: HostIn,
}

// ------------------------------------------------------------- builders

fn container(c: &Container) -> Value {
    let env: Vec<Value> = c
        .env
        .iter()
        .take(8)
        .map(|e| {
            let name = e.name.text();
            match &e.source {
                Source::Value(p) => json!({"name": name, "value": path(p)}),
                Source::Empty => json!({"name": name}),
                Source::ConfigMapKey(n, k, o) => json!({"name": name, "valueFrom":
                    {"configMapKeyRef": {"name": n.text(), "key": k.text(), "optional": o}}}),
                Source::SecretKey(n, k, o) => json!({"name": name, "valueFrom":
                    {"secretKeyRef": {"name": n.text(), "key": k.text(), "optional": o}}}),
                Source::FieldRef => {
                    json!({"name": name, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
                }
            }
        })
        .collect();
    let env_from: Vec<Value> = c
        .env_from
        .iter()
        .take(4)
        .map(|f| {
            let source = json!({"name": f.name.text(), "optional": f.optional});
            let mut entry = if f.config_map {
                json!({"configMapRef": source})
            } else {
                json!({"secretRef": source})
            };
            if let Some(p) = &f.prefix {
                entry["prefix"] = json!(p.text());
            }
            entry
        })
        .collect();
    let mounts: Vec<Value> = c
        .mounts
        .iter()
        .take(4)
        .map(|m| {
            let mut mount =
                json!({"name": format!("v{}", m.volume % 6), "mountPath": path(&m.path)});
            if m.sub_path {
                mount["subPath"] = json!("config");
            }
            mount
        })
        .collect();
    json!({"name": c.name.clone().unwrap_or_else(|| "app".into()), "image": "app:1",
           "env": env, "envFrom": env_from, "volumeMounts": mounts, "futureField": {"keep": [1, 2]}})
}

fn items(items: &Option<Vec<(Key, Vec<Piece>)>>) -> Value {
    match items {
        None => Value::Null,
        Some(list) => list
            .iter()
            .take(4)
            .map(|(k, p)| json!({"key": k.text(), "path": path(p)}))
            .collect(),
    }
}

fn volume(i: usize, v: &Volume) -> Value {
    let name = format!("v{i}");
    match v {
        Volume::Secret(n, it, o) => {
            json!({"name": name, "secret": {"secretName": n.text(), "items": items(it), "optional": o}})
        }
        Volume::ConfigMap(n, it, o) => {
            json!({"name": name, "configMap": {"name": n.text(), "items": items(it), "optional": o}})
        }
        Volume::HostPath(p, t) => {
            let t = ["", "File", "Directory", "FileOrCreate"][*t as usize % 4];
            json!({"name": name, "hostPath": {"path": path(p), "type": t}})
        }
        Volume::EmptyDir => json!({"name": name, "emptyDir": {}}),
        Volume::Projected(sources, token) => {
            let mut list: Vec<Value> = sources
                .iter()
                .take(3)
                .map(|(n, it)| json!({"configMap": {"name": n.text(), "items": items(it)}}))
                .collect();
            if *token {
                list.push(json!({"serviceAccountToken": {"path": "token"}}));
            }
            json!({"name": name, "projected": {"sources": list}})
        }
        Volume::DownwardApi(paths) => json!({"name": name, "downwardAPI": {"items":
            paths.iter().take(3).map(|p| json!({"path": path(p)})).collect::<Vec<_>>()}}),
    }
}

fn data_map(data: &[(Key, Vec<TextPiece>)]) -> Map<String, Value> {
    data.iter()
        .take(8)
        .map(|(k, t)| (k.text(), Value::String(text(t))))
        .collect()
}

fn object(kind: Kind, namespace: &str, o: &Object) -> Value {
    let mut meta = json!({"namespace": namespace, "labels": {"app": "x"}});
    if let Some(name) = &o.name {
        meta["name"] = json!(name.chars().take(24).collect::<String>());
    }
    let mut object = json!({"apiVersion": "v1", "kind": kind.name(), "metadata": meta});
    match kind {
        Kind::ConfigMap | Kind::ConfigMap2 => {
            object["data"] = Value::Object(data_map(&o.data));
            if !o.binary_data.is_empty() {
                object["binaryData"] = o
                    .binary_data
                    .iter()
                    .take(3)
                    .map(|k| (k.text(), json!("AAE=")))
                    .collect::<Map<_, _>>()
                    .into();
            }
            match o.junk {
                Some(Junk::DataList) => object["data"] = json!(["x"]),
                Some(Junk::DataValueNumber) => object["data"]["n"] = json!(1),
                Some(Junk::UnknownFields) => object["futureField"] = json!({"x": 1}),
                _ => {}
            }
        }
        Kind::Service => object["spec"] = json!({"ports": [{"port": 80}]}),
        Kind::Ingress => {
            let backend = |r: &Ref| {
                let port = match r.port {
                    Some(p) if r.form % 2 == 0 => json!({"number": p}),
                    Some(_) => json!({"name": "http"}),
                    None => Value::Null,
                };
                json!({"service": {"name": r.svc.text(), "port": port}})
            };
            let paths: Vec<Value> = o
                .backends
                .iter()
                .take(4)
                .map(|r| json!({"path": "/", "pathType": "Prefix", "backend": backend(r)}))
                .collect();
            object["spec"] = json!({"rules": [{"host": "a.example", "http": {"paths": paths}}]});
            if let Some(first) = o.backends.first().filter(|r| r.upper) {
                object["spec"]["defaultBackend"] = backend(first);
            }
            if matches!(o.junk, Some(Junk::SpecString)) {
                object["spec"]["rules"] = json!("x");
            }
        }
        Kind::HttpRoute => {
            let refs: Vec<Value> = o
                .backends
                .iter()
                .take(4)
                .map(|r| {
                    let mut b = json!({"name": r.svc.text()});
                    if let Some(p) = r.port {
                        b["port"] = json!(p);
                    }
                    match r.form % 4 {
                        0 => b["namespace"] = json!(r.ns.text()),
                        1 => b["kind"] = json!("Service"),
                        2 if r.upper => {
                            b["group"] = json!("storage.example");
                            b["kind"] = json!("Bucket");
                        }
                        _ => {}
                    }
                    b
                })
                .collect();
            object["spec"] =
                json!({"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": refs}]});
            if matches!(o.junk, Some(Junk::SpecString)) {
                object["spec"]["rules"][0]["backendRefs"] = json!({"a": 1});
            }
        }
        // The reference graph: the backends' names become webhook
        // Services, binding subjects and roles, and scale targets.
        Kind::WebhookConfiguration => {
            let hooks: Vec<Value> = o
                .backends
                .iter()
                .take(6)
                .map(|r| {
                    let mut service = json!({"namespace": r.ns.text(), "name": r.svc.text()});
                    if let Some(p) = r.port {
                        service["port"] = json!(p);
                    }
                    if r.form % 5 == 4 {
                        json!({"name": "w.example.com", "clientConfig": {"url": "https://x"}})
                    } else {
                        json!({"name": "w.example.com", "clientConfig": {"service": service}})
                    }
                })
                .collect();
            object["webhooks"] = json!(hooks);
            if matches!(o.junk, Some(Junk::SpecString)) {
                object["webhooks"] = json!([{"clientConfig": "x"}]);
            }
        }
        Kind::RoleBinding | Kind::ClusterRoleBinding => {
            let role = o.backends.first().map(|r| {
                let kind = if r.upper { "ClusterRole" } else { "Role" };
                json!({"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": r.svc.text()})
            });
            if let Some(role) = role {
                object["roleRef"] = role;
            }
            object["subjects"] = o
                .backends
                .iter()
                .skip(1)
                .take(6)
                .map(|r| match r.form % 4 {
                    0 => json!({"kind": "ServiceAccount", "name": r.svc.text()}),
                    1 => json!({"kind": "User", "name": r.svc.text()}),
                    _ => json!({"kind": "ServiceAccount", "name": r.svc.text(), "namespace": r.ns.text()}),
                })
                .collect();
            if matches!(o.junk, Some(Junk::SpecString)) {
                object["subjects"] = json!("x");
            }
        }
        Kind::Autoscaler => {
            if let Some(r) = o.backends.first() {
                let (api_version, target_kind) = [
                    ("apps/v1", "Deployment"),
                    ("apps/v1", "StatefulSet"),
                    ("v1", "ReplicationController"),
                    ("argoproj.io/v1alpha1", "Rollout"),
                ][r.form as usize % 4];
                object["spec"] = json!({"scaleTargetRef":
                    {"apiVersion": api_version, "kind": target_kind, "name": r.svc.text()}});
            }
            if matches!(o.junk, Some(Junk::SpecString)) {
                object["spec"] = json!({"scaleTargetRef": 1});
            }
        }
        _ => {
            let mut spec = json!({
                "containers": o.containers.iter().take(3).map(container).collect::<Vec<_>>(),
                "volumes": o.volumes.iter().take(6).enumerate().map(|(i, v)| volume(i, v)).collect::<Vec<_>>(),
                "futurePodField": {"enabled": true},
            });
            if !o.init_containers.is_empty() {
                spec["initContainers"] = o.init_containers.iter().take(2).map(container).collect();
            }
            if !o.ephemeral_containers.is_empty() {
                spec["ephemeralContainers"] = o
                    .ephemeral_containers
                    .iter()
                    .take(2)
                    .map(container)
                    .collect();
            }
            if let Some(sa) = &o.service_account {
                spec["serviceAccountName"] = json!(sa.text());
            }
            if !o.image_pull_secrets.is_empty() {
                spec["imagePullSecrets"] = o
                    .image_pull_secrets
                    .iter()
                    .take(3)
                    .map(|n| json!({"name": n.text()}))
                    .collect();
            }
            if o.windows {
                spec["os"] = json!({"name": "windows"});
            }
            match o.junk {
                Some(Junk::SpecString) => spec = json!("x"),
                Some(Junk::ContainersObject) => spec["containers"] = json!({"a": 1}),
                Some(Junk::EnvNumber) if !o.containers.is_empty() => {
                    spec["containers"][0]["env"] = json!(5)
                }
                Some(Junk::OptionalString) if !o.volumes.is_empty() => {
                    spec["volumes"][0]["secret"] = json!({"optional": "yes"})
                }
                _ => {}
            }
            let pointer = pod_spec_pointer(kind.name()).unwrap();
            let mut at = &mut object;
            for part in pointer.trim_start_matches('/').split('/') {
                at = &mut at[part];
            }
            *at = spec;
            if !matches!(kind, Kind::Pod) {
                object["spec"]["replicas"] = json!(o.replicas);
            }
            if matches!(o.junk, Some(Junk::NoSpec)) {
                object.as_object_mut().unwrap().remove("spec");
            }
        }
    }
    object
}

fn settings(s: &SettingsIn) -> Value {
    let mut variables = Vec::new();
    for (bit, name) in [(1, "KUBECONFIG"), (2, "A"), (4, "HOME")] {
        if s.variables & bit != 0 {
            variables.push(name);
        }
    }
    if variables.is_empty() {
        variables.push("KUBECONFIG");
    }
    let domain = ["cluster.local", "corp.internal", "cluster.local."][s.domain as usize % 3];
    let mut settings = json!({
        "variables": variables,
        "removeOffendingVariables": s.remove,
        "warnOnUnresolvedValues": s.warn_unresolved,
        "action": if s.warn { "warn" } else { "deny" },
        "clusterDomain": domain,
        "checkShortNames": s.short_names,
        "checkPorts": s.check_ports,
        "onLookupError": if s.allow { "allow" } else { "deny" },
        "maxNamespacesPerRequest": s.max_namespaces % 6,
        "checkWorkloadReferences": s.workload,
        "checkSecretReferences": s.secrets,
        "allowHostPathVolumes": s.allow_host_path,
    });
    if s.additional {
        settings["additionalClusterDomains"] = json!(["cluster.local"]);
    }
    if s.ignored_hosts {
        settings["ignoredHosts"] = json!(["*.other.svc*"]);
    }
    if s.no_ignored_keys {
        settings["ignoredKeys"] = json!([]);
    }
    if let Some(p) = &s.allowed_path {
        settings["allowedPaths"] = json!([format!("/{}", path(p))]);
    }
    settings
}

fn host(h: &HostIn, namespace: &str) -> FakeHost {
    let mut host = FakeHost::new();
    for s in h.services.iter().take(12) {
        host.add_service(
            &s.ns.text(),
            ServiceInfo {
                name: s.name.text(),
                headless: s.headless,
                external_name: s.external,
                ports: s.ports.iter().take(4).map(|p| i32::from(*p)).collect(),
                named_ports: s
                    .named
                    .iter()
                    .map(|(k, udp)| NamedPort {
                        name: k.text().to_ascii_lowercase(),
                        protocol: if *udp { "udp" } else { "tcp" }.into(),
                    })
                    .collect(),
            },
        );
    }
    for (name, data) in h.config_maps.iter().take(6) {
        host.config_maps.insert(
            (namespace.to_string(), name.text()),
            ConfigMapData::from_data(
                data_map(data)
                    .into_iter()
                    .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string())),
            ),
        );
    }
    for a in h.accounts.iter().take(3) {
        host.accounts.insert((namespace.to_string(), a.text()));
    }
    // the reference graph's listings: the same names as roles and workloads
    for a in h.accounts.iter().take(3) {
        for kind in ["Role", "Deployment", "StatefulSet", "PersistentVolumeClaim"] {
            host.named
                .insert((kind.to_string(), namespace.to_string(), a.text()));
        }
        host.named
            .insert(("ClusterRole".to_string(), String::new(), a.text()));
    }
    for s in h.secrets.iter().take(3) {
        host.secrets.insert((namespace.to_string(), s.text()));
    }
    for ns in h.failing.iter().take(3) {
        host.failing.insert(
            ns.text(),
            format!("error invoking host capability: forbidden in {}", ns.text()),
        );
    }
    if h.fail_all {
        host.fail_all = Some("error invoking host capability kubernetes.get_resource: kube::Client was not initialized properly".into());
    }
    host
}

// ----------------------------------------------------------- invariants

fn run(payload: &[u8], host: &FakeHost) -> Value {
    let response = host.respond(payload);
    assert_well_formed(&response);
    response
}

/// Checks every invariant of one evaluation of `payload`; returns the
/// response and the host calls it made.
fn check(payload: &[u8], host: &FakeHost) -> (Value, Vec<Call>) {
    let response = run(payload, host);
    let calls = host.calls();
    // The policy skips the fields it does not read without checking their
    // UTF-8; so does this reading.
    let doc: Option<Value> = serde_json::from_slice(payload)
        .ok()
        .or_else(|| serde_json::from_str(&String::from_utf8_lossy(payload)).ok());
    let settings = doc
        .as_ref()
        .and_then(|d| d.get("settings"))
        .filter(|s| !s.is_null())
        .map(|s| Settings::parse_valid(&s.to_string()))
        .unwrap_or_else(|| Ok(Settings::default()));

    // Host calls: each object and namespace once, within the bounds.
    let mut seen: Vec<&str> = calls.iter().map(|c| c.what.as_str()).collect();
    seen.sort_unstable();
    let total = seen.len();
    seen.dedup();
    assert_eq!(seen.len(), total, "a host call repeated: {calls:?}");
    let count = |prefix: &str| calls.iter().filter(|c| c.what.starts_with(prefix)).count();
    assert!(count("get ConfigMap") <= MAX_CONFIG_MAPS);
    assert!(count("get ServiceAccount") <= 1 && count("list Secret") <= 1);
    if let Ok(s) = &settings {
        assert!(
            count("list Service") <= s.max_namespaces_per_request,
            "{calls:?}"
        );
        let kind = doc
            .as_ref()
            .and_then(|d| d["request"]["kind"]["kind"].as_str())
            .unwrap_or_default();
        if !s.check_workload_references && !GRAPH_KINDS.contains(&kind) {
            assert_eq!(count("list Service"), total, "{calls:?}");
        }
    }

    // A failed lookup is never a silent accept.
    if calls.iter().any(|c| c.failed) {
        let s = settings.as_ref().expect("lookups only with valid settings");
        let accepted = response["accepted"] == json!(true);
        let kind = doc
            .as_ref()
            .and_then(|d| d["request"]["kind"]["kind"].as_str())
            .unwrap_or_default();
        if s.on_lookup_error == dangling_references_policy::settings::OnLookupError::Deny {
            // a lookup that leaves only warn-class references of the
            // reference graph unjudged (bindings, scale targets, a
            // governing Service) warns
            let warn_class = matches!(
                kind,
                "RoleBinding" | "ClusterRoleBinding" | "HorizontalPodAutoscaler" | "StatefulSet"
            );
            assert!(
                !accepted || (warn_class && response["warnings"].is_array()),
                "lookup failed, onLookupError deny, accepted: {response}"
            );
        } else {
            assert!(
                !accepted || response["warnings"].is_array(),
                "lookup failed, accepted without a warning: {response}"
            );
        }
    }

    // Mutation: only watched `env` entries go; doing it again changes nothing.
    if let Some(mutated) = response.get("mutated_object").filter(|m| !m.is_null()) {
        let s = settings
            .as_ref()
            .expect("mutation only with valid settings");
        assert!(s.remove_offending_variables);
        let doc = doc.as_ref().unwrap();
        let kind = doc["request"]["kind"]["kind"].as_str().unwrap();
        let pointer = pod_spec_pointer(kind).expect("only workloads are mutated");
        let original = &doc["request"]["object"];
        assert_only_watched_env_removed(original, mutated, pointer, &s.variables);
        let mut again = doc.clone();
        again["request"]["object"] = mutated.clone();
        let again_payload = serde_json::to_vec(&again).unwrap();
        let again = run(&again_payload, host);

        assert!(
            again["accepted"] == json!(true)
                && again.get("mutated_object").is_none_or(Value::is_null),
            "the mutated object is not final: {again}\n{}",
            String::from_utf8_lossy(&again_payload)
        );
    }
    (response, calls)
}

/// `mutated` is `original` without some `env` entries, all of them named
/// in `variables`.
fn assert_only_watched_env_removed(
    original: &Value,
    mutated: &Value,
    pointer: &str,
    variables: &[String],
) {
    let strip = |object: &Value| {
        let mut object = object.clone();
        if let Some(spec) = object.pointer_mut(pointer) {
            for list in ["containers", "initContainers", "ephemeralContainers"] {
                for c in spec
                    .get_mut(list)
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
                        env.retain(|e| {
                            !e.get("name")
                                .and_then(Value::as_str)
                                .is_some_and(|n| variables.iter().any(|v| v == n))
                        });
                    }
                }
            }
        }
        object
    };
    assert_eq!(
        strip(original),
        strip(mutated),
        "the mutation changed more than watched env entries"
    );
    let (Some(before), Some(after)) = (original.pointer(pointer), mutated.pointer(pointer)) else {
        panic!("no Pod spec");
    };
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let (b, a) = (&before[list], &after[list]);
        for (cb, ca) in b
            .as_array()
            .into_iter()
            .flatten()
            .zip(a.as_array().into_iter().flatten())
        {
            let eb: Vec<&Value> = cb["env"].as_array().into_iter().flatten().collect();
            let ea: Vec<&Value> = ca["env"].as_array().into_iter().flatten().collect();
            let mut it = eb.iter();
            for e in &ea {
                assert!(it.any(|x| x == e), "env entries reordered or changed");
            }
        }
    }
}

fn structured(input: Input) {
    let namespace = input.namespace.text();
    let kind = input.kind.name();
    let object = object(input.kind, &namespace, &input.object);
    let operation = match input.op {
        Op::Create => "CREATE",
        Op::Update | Op::Update2 => "UPDATE",
        Op::Delete => "DELETE",
        Op::Connect => "CONNECT",
    };
    let sub_resource = match input.sub {
        SubResource::None | SubResource::None2 => "",
        SubResource::Status => "status",
        SubResource::Ephemeral => "ephemeralcontainers",
    };
    let same = matches!(input.old, Old::Same | Old::Same2);
    let old = match &input.old {
        Old::None => None,
        Old::Same | Old::Same2 => Some(object.clone()),
        Old::Other(o) => Some(self::object(input.kind, &namespace, o)),
        Old::Null => Some(Value::Null),
    };
    let mut request = json!({"uid": "fuzz", "kind": {"group": "", "version": "v1", "kind": kind},
        "operation": operation, "subResource": sub_resource, "namespace": namespace,
        "name": object["metadata"]["name"], "object": object,
        "userInfo": {"username": "fuzz"}});
    if let Some(old) = old {
        request["oldObject"] = old;
    }
    let settings = settings(&input.settings);
    let host = host(&input.host, &namespace);
    let payload = serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap();
    let (response, calls) = check(&payload, &host);

    // An UPDATE that adds nothing: no host call, and the verdict of the
    // object itself, as judged without any lookup. (A mutation changes the
    // object, which the policy then judges as the API server would store it.)
    if operation == "UPDATE" && same && !input.settings.remove {
        assert!(
            calls.is_empty(),
            "UPDATE adding nothing made host calls: {calls:?}\n{}",
            String::from_utf8_lossy(&payload)
        );
        // ConfigMaps and route objects are judged only by what they name:
        // an edit that adds no name is never rejected for its references.
        if matches!(
            kind,
            "ConfigMap"
                | "Ingress"
                | "HTTPRoute"
                | "ValidatingWebhookConfiguration"
                | "RoleBinding"
                | "ClusterRoleBinding"
                | "HorizontalPodAutoscaler"
        ) {
            assert!(
                response["accepted"] == json!(true)
                    || response["code"] == json!(400)
                    || response["code"] == json!(500),
                "UPDATE adding nothing rejected: {response}"
            );
        } else if Settings::parse_valid(&settings.to_string()).is_ok() {
            let mut alone = settings.clone();
            alone["checkWorkloadReferences"] = json!(false);
            alone["checkSecretReferences"] = json!(false);
            let mut create = request.clone();
            create["operation"] = json!("CREATE");
            create.as_object_mut().unwrap().remove("oldObject");
            let nothing = FakeHost::new();
            let itself = run(
                &serde_json::to_vec(&json!({"request": create, "settings": alone})).unwrap(),
                &nothing,
            );
            assert!(nothing.calls().is_empty());
            assert_eq!(
                response, itself,
                "UPDATE adding nothing judged differently from the object itself"
            );
        }
    }

    // The order of a ConfigMap's keys does not matter.
    if kind == "ConfigMap"
        && let Some(data) = request["object"]["data"].as_object()
        && data.len() > 1
    {
        let reversed: Vec<String> = data
            .iter()
            .rev()
            .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v))
            .collect();
        let mut marked = request.clone();
        marked["object"]["data"] = json!("@@DATA@@");
        let text =
            serde_json::to_string(&json!({"request": marked, "settings": settings})).unwrap();
        let text = text.replacen("\"@@DATA@@\"", &format!("{{{}}}", reversed.join(",")), 1);
        let again = run(text.as_bytes(), &host);
        assert_eq!(
            response, again,
            "the verdict depends on the order of the keys"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    if data.first() == Some(&b'{') {
        let host = FakeHost::new()
            .service("kubernaut-system", "data-storage-service", &[8081, 9181])
            .service("shop", "api", &[8080])
            .config_map(
                "kubernaut-system",
                "app-config",
                &[("backend", "http://api.shop.svc:8080")],
            )
            .account("kubernaut-system", "builder")
            .secret("kubernaut-system", "tls")
            .failing_in("broken", "error invoking host capability: forbidden");
        check(data, &host);
        return;
    }
    if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) {
        structured(input);
    }
});
