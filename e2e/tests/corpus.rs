//! The compiled policy on real manifests other people wrote
//! (`../shared/corpus/`, see its SOURCES.md): every ConfigMap and every
//! Pod-template workload, under default settings and `checkShortNames`, each
//! against the Services of its own repository snapshot. The verdicts and
//! messages are kept in `e2e/corpus-report.md`; this test fails when they
//! change (`make corpus-report` regenerates the file after a deliberate
//! change), when a rejection is not explained, and when a verdict differs
//! from the person's reading in EXPECTED.json without an explanation.
//!
//! Explanations live in `e2e/corpus-explanations.yml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use e2e::{ClusterState, Policy, policy_wasm, repository_root};
use serde::Deserialize;
use serde_json::{Value, json};

const WORKLOAD_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

/// The two settings every object is evaluated under.
fn settings_variants() -> Vec<(&'static str, Value)> {
    vec![
        ("default", json!({})),
        ("checkShortNames", json!({"checkShortNames": true})),
    ]
}

fn corpus_dir() -> PathBuf {
    std::env::var_os("CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository_root().join("../shared/corpus"))
}

/// The repository snapshot a corpus file belongs to: references resolve
/// only against the Services of the same snapshot (SOURCES.md).
fn snapshot(file: &str) -> String {
    let (repo, name) = file.split_once('/').expect("<repo>/<file>");
    if repo != "jordigilh__kubernaut" {
        return repo.to_string();
    }
    const AT_1D96B4B: &[&str] = &[
        "test__e2e__gateway__gateway-deployment.yaml",
        "test__e2e__gateway__redis-simple-ha.yaml",
        "test__e2e__notification__manifests__notification-configmap.yaml",
        "deploy__redis-ha__redis-sentinel-configmap.yaml",
        "deploy__redis-ha__redis-statefulset.yaml",
    ];
    if name.contains("@1d96b4b") || AT_1D96B4B.contains(&name) {
        "kubernaut@1d96b4b".into()
    } else if name.contains("@5753309") {
        "kubernaut@5753309".into()
    } else if name == "deploy__dynamic-toolset__deployment.yaml" {
        "kubernaut@515ecb5".into()
    } else if name.contains("@d5a4a87") {
        // The Go e2e harness builds its own Kind cluster from Go code; the
        // deploy/ and test/manifests/ trees are applied to other clusters.
        "kubernaut@d5a4a87 (Go e2e harness)".into()
    } else {
        "kubernaut@d5a4a87".into()
    }
}

/// Services that exist in a snapshot's cluster but come from files outside
/// the corpus, as SOURCES.md records and the repository shows.
fn services_outside_corpus(snapshot: &str) -> Vec<Value> {
    match snapshot {
        // test/infrastructure/datastorage.go at d5a4a87:
        // deployPostgreSQLInNamespace and deployRedisInNamespace create
        // these before the DataStorage ConfigMap (not transcribed).
        "kubernaut@d5a4a87 (Go e2e harness)" => vec![
            ClusterState::service("kubernaut-system", "postgresql", &[5432]),
            ClusterState::service("kubernaut-system", "redis", &[6379]),
        ],
        _ => Vec::new(),
    }
}

/// Files whose Services also belong to another snapshot: datastorage.go is
/// identical at 1d96b4b and 5753309 apart from the KUBECONFIG env
/// (SOURCES.md, file 7).
fn shared_service_files(snapshot: &str) -> &'static [&'static str] {
    match snapshot {
        "kubernaut@1d96b4b" => &[
            "jordigilh__kubernaut/test__infrastructure__datastorage.go@5753309.structs.transcribed.yaml",
        ],
        _ => &[],
    }
}

/// One object of the corpus.
#[derive(Debug, Clone)]
struct Doc {
    file: String,
    snapshot: String,
    object: Value,
    /// The namespace it is applied to: its own, else the file's, else
    /// `default` (as `kubectl apply -f` would).
    namespace: String,
}

impl Doc {
    fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or("")
    }
    fn name(&self) -> &str {
        self.object["metadata"]["name"]
            .as_str()
            .unwrap_or("<unnamed>")
    }
    fn has_own_namespace(&self) -> bool {
        self.object["metadata"]["namespace"].is_string()
    }
    fn id(&self) -> String {
        format!(
            "{}::{} {}/{}",
            self.file,
            self.kind(),
            self.namespace,
            self.name()
        )
    }
}

fn load_corpus(dir: &Path) -> Vec<Doc> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .flat_map(|repo| {
            std::fs::read_dir(repo)
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect::<Vec<_>>()
        })
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for path in files {
        let rel = path
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut objects = Vec::new();
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"));
            if value.is_object() {
                objects.push(value);
            }
        }
        let file_namespace = objects
            .iter()
            .find_map(|o| o["metadata"]["namespace"].as_str())
            .unwrap_or("default")
            .to_string();
        for object in objects {
            let namespace = object["metadata"]["namespace"]
                .as_str()
                .unwrap_or(&file_namespace)
                .to_string();
            docs.push(Doc {
                snapshot: snapshot(&rel),
                file: rel.clone(),
                object,
                namespace,
            });
        }
    }
    docs
}

/// The cluster a ConfigMap of `doc`'s snapshot sees: the snapshot's
/// Services, those without a namespace applied into the referencing
/// object's namespace (`kubectl apply -n`), and the API server's own
/// `kubernetes` Service.
fn cluster_for(doc: &Doc, all: &[Doc]) -> ClusterState {
    let mut cluster = ClusterState::new();
    cluster.add(ClusterState::service("default", "kubernetes", &[443]));
    let shared = shared_service_files(&doc.snapshot);
    for other in all {
        let same_snapshot = other.snapshot == doc.snapshot || shared.contains(&other.file.as_str());
        if !same_snapshot || other.kind() != "Service" {
            continue;
        }
        let mut service = other.object.clone();
        if !other.has_own_namespace() {
            service["metadata"]["namespace"] = json!(doc.namespace);
        }
        cluster.add(service);
    }
    for service in services_outside_corpus(&doc.snapshot) {
        cluster.add(service);
    }
    cluster
}

fn resource_of(kind: &str) -> String {
    format!("{}s", kind.to_ascii_lowercase())
}

/// The AdmissionReview the API server would send for creating `doc`.
fn admission_review(doc: &Doc) -> Value {
    let api_version = doc.object["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let mut object = doc.object.clone();
    object["metadata"]["namespace"] = json!(doc.namespace);
    let gvk = json!({"group": group, "version": version, "kind": doc.kind()});
    let gvr = json!({"group": group, "version": version, "resource": resource_of(doc.kind())});
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "00000000-0000-4000-8000-000000000044",
            "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
            "name": doc.name(), "namespace": doc.namespace, "operation": "CREATE",
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:authenticated"]},
            "object": object, "oldObject": null, "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    })
}

/// One verdict for the report.
#[derive(Debug, Clone)]
struct Outcome {
    settings: &'static str,
    accepted: bool,
    text: String,
    host_calls: usize,
}

/// What EXPECTED.json says, keyed like `Doc::id` without the namespace.
fn expected_verdicts(dir: &Path) -> BTreeMap<(String, String), String> {
    let text = std::fs::read_to_string(dir.join("EXPECTED.json")).unwrap();
    let expected: Value = serde_json::from_str(&text).unwrap();
    let mut map = BTreeMap::new();
    for section in ["configmaps", "kubeconfig_workloads"] {
        for entry in expected[section].as_array().into_iter().flatten() {
            map.insert(
                (
                    entry["file"].as_str().unwrap().to_string(),
                    entry["name"].as_str().unwrap().to_string(),
                ),
                entry["expected"].as_str().unwrap().to_string(),
            );
        }
    }
    map
}

/// Hand-written explanations, keyed by `Doc::id`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Explanation {
    /// Why the object really is broken (required for every rejection).
    #[serde(default)]
    broken: Option<String>,
    /// Why the verdict differs from EXPECTED.json.
    #[serde(default)]
    differs: Option<String>,
}

fn explanations() -> BTreeMap<String, Explanation> {
    let path = repository_root().join("e2e/corpus-explanations.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn verdict_word(accepted: bool) -> &'static str {
    if accepted { "ALLOW" } else { "REJECT" }
}

fn one_line(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[test]
fn corpus_report_is_up_to_date() {
    let dir = corpus_dir();
    if !dir.join("SOURCES.md").is_file() {
        println!(
            "SKIPPED corpus test: {} not found (set CORPUS_DIR to the shared corpus)",
            dir.display()
        );
        return;
    }
    let policy = Policy::load(policy_wasm().unwrap()).unwrap();
    let docs = load_corpus(&dir);
    let expected = expected_verdicts(&dir);
    let explanations = explanations();

    let mut report = String::new();
    let mut problems = Vec::new();
    let mut used_explanations = Vec::new();
    let checked: Vec<&Doc> = docs
        .iter()
        .filter(|d| d.kind() == "ConfigMap" || WORKLOAD_KINDS.contains(&d.kind()))
        .collect();
    let mut rejected = 0;
    let mut evaluations = 0;
    let mut sections = String::new();
    let mut summary = String::from(
        "| object | file | snapshot | default | checkShortNames | EXPECTED.json |\n|---|---|---|---|---|---|\n",
    );
    for doc in &checked {
        let review = admission_review(doc);
        let mut outcomes = Vec::new();
        for (label, settings) in settings_variants() {
            let mut cluster = cluster_for(doc, &docs);
            let evaluation = policy
                .validate(&review, &settings, &mut cluster)
                .unwrap_or_else(|e| panic!("{}: evaluation error under {label}: {e:#}", doc.id()));
            evaluations += 1;
            let calls = evaluation.kubernetes_calls().count();
            let namespaces: std::collections::BTreeSet<String> = evaluation
                .kubernetes_calls()
                .map(|c| c.payload["namespace"].as_str().unwrap_or("").to_string())
                .collect();
            assert_eq!(
                calls,
                namespaces.len(),
                "{}: more than one host call per namespace",
                doc.id()
            );
            let response = evaluation.response;
            let text = match (&response.message, &response.warnings) {
                (Some(m), _) => m.clone(),
                (None, Some(w)) => format!("warnings: {}", w.join("; ")),
                (None, None) => String::new(),
            };
            outcomes.push(Outcome {
                settings: label,
                accepted: response.accepted,
                text,
                host_calls: calls,
            });
        }
        let person = expected
            .get(&(doc.file.clone(), doc.name().to_string()))
            .cloned()
            .unwrap_or_else(|| "ALLOW".to_string());
        let explanation = explanations.get(&doc.id());
        if explanation.is_some() {
            used_explanations.push(doc.id());
        }
        let any_reject = outcomes.iter().any(|o| !o.accepted);
        let differs = outcomes.iter().any(|o| verdict_word(o.accepted) != person);
        if any_reject {
            rejected += 1;
            if explanation.and_then(|e| e.broken.as_ref()).is_none() {
                problems.push(format!(
                    "{}: rejected without a `broken` explanation",
                    doc.id()
                ));
            }
        }
        if differs && explanation.and_then(|e| e.differs.as_ref()).is_none() {
            problems.push(format!(
                "{}: differs from EXPECTED.json ({person}) without a `differs` explanation",
                doc.id()
            ));
        }
        let short_file = doc.file.rsplit('/').next().unwrap_or(&doc.file);
        summary.push_str(&format!(
            "| {} {}/{} | {} | {} | {} | {} | {} |\n",
            doc.kind(),
            doc.namespace,
            doc.name(),
            short_file,
            doc.snapshot,
            verdict_word(outcomes[0].accepted),
            verdict_word(outcomes[1].accepted),
            person
        ));
        if any_reject || differs || outcomes.iter().any(|o| !o.text.is_empty()) {
            sections.push_str(&format!(
                "\n### {} {}/{}\n\n`{}` ({}); EXPECTED.json: {person}\n\n| settings | verdict | host calls | message |\n|---|---|---|---|\n",
                doc.kind(),
                doc.namespace,
                doc.name(),
                doc.file,
                doc.snapshot
            ));
            for o in &outcomes {
                sections.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    o.settings,
                    verdict_word(o.accepted),
                    o.host_calls,
                    one_line(&o.text)
                ));
            }
            if let Some(e) = explanation {
                if let Some(b) = &e.broken {
                    sections.push_str(&format!("\n**Why it is broken:** {}\n", b.trim()));
                }
                if let Some(d) = &e.differs {
                    sections.push_str(&format!(
                        "\n**Why this differs from EXPECTED.json:** {}\n",
                        d.trim()
                    ));
                }
            }
        }
    }
    for key in explanations.keys() {
        if !used_explanations.contains(key) {
            problems.push(format!(
                "corpus-explanations.yml: {key} names no evaluated object"
            ));
        }
    }

    report.push_str(&format!(
        "# Corpus report\n\nGenerated by `make corpus-report` (e2e/tests/corpus.rs) from `../shared/corpus/`: \
         every ConfigMap and Pod-template workload evaluated by the compiled `policy.wasm` on the waPC host, \
         under default settings and under `checkShortNames: true`, against the Services of its repository \
         snapshot (Services without a namespace applied into the namespace of the object that references \
         them; `kubernetes.default` always present). Do not edit by hand; explanations come from \
         `e2e/corpus-explanations.yml`.\n\n\
         Cluster model: one snapshot per repository and commit (SOURCES.md); kubernaut's files at \
         1d96b4b also see the Services of `datastorage.go@5753309` (identical at both commits apart \
         from env, SOURCES.md file 7); the transcribed Go e2e harness at d5a4a87 is its own cluster \
         (it builds a Kind cluster from Go code, never together with deploy/), which also holds the \
         Services `postgresql` (5432) and `redis` (6379) that `deployPostgreSQLInNamespace` and \
         `deployRedisInNamespace` in `test/infrastructure/datastorage.go` create and that were not \
         transcribed.\n\n\
         {} objects ({} ConfigMaps, {} workloads), {} evaluations, {} objects rejected under at least one setting.\n\n\
         ## Verdicts\n\n{}\n## Rejections, warnings and differences from EXPECTED.json\n{}",
        checked.len(),
        checked.iter().filter(|d| d.kind() == "ConfigMap").count(),
        checked.iter().filter(|d| d.kind() != "ConfigMap").count(),
        evaluations,
        rejected,
        summary,
        sections
    ));

    let path = repository_root().join("e2e/corpus-report.md");
    if std::env::var_os("UPDATE_CORPUS_REPORT").is_some() {
        std::fs::write(&path, &report).unwrap();
    } else {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != report {
            let first_diff = committed
                .lines()
                .zip(report.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(committed.lines().count().min(report.lines().count()));
            problems.push(format!(
                "e2e/corpus-report.md is out of date (first difference at line {}: now {:?}); \
                 review the change and run `make corpus-report`",
                first_diff + 1,
                report.lines().nth(first_diff).unwrap_or("<end>")
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "corpus problems:\n{}",
        problems.join("\n")
    );
}
