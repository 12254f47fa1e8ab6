//! The compiled policy on real manifests other people wrote
//! (`../shared/corpus/`, see its SOURCES.md): every ConfigMap and every
//! Pod-template workload, under default settings and `checkShortNames`, each
//! against the Services of its own repository snapshot. The verdicts and
//! messages are kept in `e2e/corpus-report.md`; this test fails when they
//! change (`make corpus-report` regenerates the file after a deliberate
//! change), when a rejection is not explained, and when a verdict differs
//! from the person's reading in EXPECTED.json without an explanation.
//!
//! Each repository snapshot is one manifest set, checked the way
//! `dangling-references scan` checks one ([`e2e::scan`]): the same reading
//! of the files, the same CREATE requests, the same model cluster answering
//! the host calls. What is particular to the corpus is only its input: which
//! files form a snapshot, the namespace each file is applied to, the Services
//! a snapshot creates outside its files, and where objects that name no
//! namespace are ([`Placement::WithEvaluatedObject`]: in the namespace of
//! the object that refers to them).
//!
//! Explanations live in `e2e/corpus-explanations.yml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use e2e::scan::{self, ManifestObject, ManifestSet, ModelCluster, Placement, Snapshot, Source};
use e2e::{ClusterState, Evaluation, Policy, policy_wasm, repository_root};
use serde::Deserialize;
use serde_json::{Value, json};

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

/// One corpus file: a scan source named `<repo>/<file>`, applied to the
/// namespace of its first object that names one, else `default` (as
/// `kubectl apply -f` of the file would).
fn source(dir: &Path, path: &Path) -> Source {
    let rel = path
        .strip_prefix(dir)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/");
    let text = std::fs::read_to_string(path).unwrap();
    let mut file_namespace = None;
    let documents: Vec<Value> = serde_saphyr::from_multiple_with_options(&text, yaml_options())
        .unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"));
    for value in documents {
        if let Some(ns) = value["metadata"]["namespace"].as_str() {
            file_namespace = Some(ns.to_string());
            break;
        }
    }
    let mut source = Source::new(rel, text);
    source.default_namespace = Some(file_namespace.unwrap_or_else(|| "default".to_string()));
    source
}

fn load_corpus(dir: &Path) -> Vec<Source> {
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
    files.iter().map(|path| source(dir, path)).collect()
}

/// One checked object of the corpus, with its evaluation under each of
/// [`settings_variants`].
struct Doc {
    snapshot: String,
    object: ManifestObject,
    evaluations: Vec<Evaluation>,
}

impl Doc {
    fn file(&self) -> &str {
        &self.object.origin.file
    }
    fn kind(&self) -> &str {
        &self.object.kind
    }
    fn name(&self) -> &str {
        &self.object.name
    }
    fn namespace(&self) -> &str {
        self.object.namespace.as_deref().unwrap_or("")
    }
    fn id(&self) -> String {
        format!(
            "{}::{} {}/{}",
            self.file(),
            self.kind(),
            self.namespace(),
            self.name()
        )
    }
}

/// Scans each repository snapshot as one manifest set, under every
/// setting; the checked objects in file order.
fn scan_corpus(policy: &Policy, sources: &[Source]) -> Vec<Doc> {
    let mut snapshots: BTreeMap<String, Vec<Source>> = BTreeMap::new();
    for s in sources {
        snapshots
            .entry(snapshot(&s.name))
            .or_default()
            .push(s.clone());
    }
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut docs = Vec::new();
    for (name, files) in &snapshots {
        let set = ManifestSet::parse(files, "default");
        assert!(set.errors.is_empty(), "{name}: {:?}", set.errors);
        let mut extra = Snapshot::new();
        extra.add_objects(services_outside_corpus(name));
        let shared: Vec<Source> = sources
            .iter()
            .filter(|s| shared_service_files(name).contains(&s.name.as_str()))
            .cloned()
            .collect();
        let shared = ManifestSet::parse(&shared, "default");
        extra.add_objects(
            shared
                .objects
                .iter()
                .filter(|o| o.kind == "Service")
                .map(|o| o.object.clone()),
        );
        // files applied with `kubectl apply -n` name no namespace: their
        // objects are wherever the object that refers to them is
        let model = Arc::new(ModelCluster::with_placement(
            &set,
            &extra,
            Placement::WithEvaluatedObject,
        ));
        let mut evaluations: BTreeMap<usize, Vec<Evaluation>> = BTreeMap::new();
        for (label, settings) in settings_variants() {
            for (i, outcome) in scan::evaluate(policy, &set, &model, &settings, jobs, None) {
                let object = &set.objects[i];
                let evaluation = outcome.unwrap_or_else(|e| {
                    panic!(
                        "{}: evaluation error under {label}: {e}",
                        object.display_name()
                    )
                });
                evaluations.entry(i).or_default().push(evaluation);
            }
        }
        for (i, evaluations) in evaluations {
            docs.push(Doc {
                snapshot: name.clone(),
                object: set.objects[i].clone(),
                evaluations,
            });
        }
    }
    // the order of the files, then of the objects in each file
    let rank = |file: &str| sources.iter().position(|s| s.name == file);
    docs.sort_by_key(|d| {
        (
            rank(d.file()),
            d.object.origin.document,
            d.object.origin.item,
        )
    });
    docs
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

/// How the corpus and its explanations are read: as the CLI reads cluster
/// files (`scan::yaml::compat_options`).
fn yaml_options() -> serde_saphyr::Options {
    scan::yaml::compat_options(serde_saphyr::DuplicateKeyPolicy::LastWins)
}

fn explanations() -> BTreeMap<String, Explanation> {
    let path = repository_root().join("e2e/corpus-explanations.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    serde_saphyr::from_str_with_options(&text, yaml_options())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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
        e2e::skipped(&format!(
            "corpus test: {} not found (set CORPUS_DIR to the shared corpus)",
            dir.display()
        ));
        return;
    }
    let policy = Policy::load(policy_wasm().unwrap()).unwrap();
    let sources = load_corpus(&dir);
    let checked = scan_corpus(&policy, &sources);
    let expected = expected_verdicts(&dir);
    let explanations = explanations();

    let mut report = String::new();
    let mut problems = Vec::new();
    let mut used_explanations = Vec::new();
    let mut rejected = 0;
    let mut evaluations = 0;
    let mut sections = String::new();
    let mut summary = String::from(
        "| object | file | snapshot | default | checkShortNames | EXPECTED.json |\n|---|---|---|---|---|---|\n",
    );
    for doc in &checked {
        let mut outcomes = Vec::new();
        for ((label, _), evaluation) in settings_variants().into_iter().zip(&doc.evaluations) {
            evaluations += 1;
            let calls = evaluation.kubernetes_calls().count();
            // one call per kind and namespace (the reference graph lists
            // several kinds of one namespace)
            let lookups: std::collections::BTreeSet<(String, String)> = evaluation
                .kubernetes_calls()
                .map(|c| {
                    let field = |f: &str| c.payload[f].as_str().unwrap_or("").to_string();
                    (field("kind"), field("namespace"))
                })
                .collect();
            assert_eq!(
                calls,
                lookups.len(),
                "{}: more than one host call per kind and namespace",
                doc.id()
            );
            let response = &evaluation.response;
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
            .get(&(doc.file().to_string(), doc.name().to_string()))
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
        let short_file = doc.file().rsplit('/').next().unwrap_or(doc.file());
        summary.push_str(&format!(
            "| {} {}/{} | {} | {} | {} | {} | {} |\n",
            doc.kind(),
            doc.namespace(),
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
                doc.namespace(),
                doc.name(),
                doc.file(),
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
