//! `dangling-references scan`: check a whole manifest set before it is
//! applied.
//!
//! 1. [`input`] reads files, folders and stdin: YAML streams, JSON and
//!    `kind: List`, each object with its file, document, item and line;
//!    unreadable documents and duplicates become errors, and the others are
//!    read on.
//! 2. [`model`] builds the cluster the set is judged against: the union of
//!    the set, an optional snapshot of a real cluster and what every
//!    cluster has.
//! 3. [`evaluate`] turns every object of a kind the policy checks into the
//!    CREATE AdmissionRequest the API server would send and evaluates it
//!    with the compiled policy: the module is compiled once, every object
//!    gets a fresh instance (as policy-server does), on every core.
//! 4. [`selectors`], rules of `scan` alone, on the whole set: a Service,
//!    PodDisruptionBudget, NetworkPolicy, ServiceMonitor or PodMonitor
//!    whose selector matches nothing of the set (or of the snapshot), and
//!    a named port that nothing selected declares, get a warning, attached
//!    to the object in the report.
//! 5. [`report`] renders the verdicts as text, JSON or SARIF; the exit code
//!    is 0 when nothing is rejected, 1 when something is, 2 on errors.
//!
//! The corpus report of `e2e/` runs the same steps ([`ManifestSet::parse`],
//! [`evaluate`]).

pub mod input;
pub mod locate;
pub mod model;
pub mod report;
pub mod selectors;
pub mod yaml;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

pub use input::{InputError, ManifestObject, ManifestSet, Origin, Source, read_inputs};
pub use model::{ModelCluster, ModelHost, Placement, Snapshot};
pub use report::{Finding, ObjectReport, Report, Verdict};

use crate::{Evaluation, EvaluationError, EvaluationErrorKind, HostCapabilities, Policy};

/// The kinds the policy checks, by API group, with their resource: what
/// its rules send it.
const CHECKED_KINDS: &[(&str, &str, &str)] = &[
    ("", "ConfigMap", "configmaps"),
    ("", "Pod", "pods"),
    ("", "ReplicationController", "replicationcontrollers"),
    ("apps", "Deployment", "deployments"),
    ("apps", "ReplicaSet", "replicasets"),
    ("apps", "StatefulSet", "statefulsets"),
    ("apps", "DaemonSet", "daemonsets"),
    ("batch", "Job", "jobs"),
    ("batch", "CronJob", "cronjobs"),
    ("networking.k8s.io", "Ingress", "ingresses"),
    ("gateway.networking.k8s.io", "HTTPRoute", "httproutes"),
    ("gateway.networking.k8s.io", "GRPCRoute", "grpcroutes"),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
    ),
    ("apiregistration.k8s.io", "APIService", "apiservices"),
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "customresourcedefinitions",
    ),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
    ),
    ("rbac.authorization.k8s.io", "RoleBinding", "rolebindings"),
    (
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        "clusterrolebindings",
    ),
];

/// The resource of an object the policy checks; `None` for the kinds it
/// does not check (which are only part of the model).
pub fn checked_resource(object: &ManifestObject) -> Option<&'static str> {
    CHECKED_KINDS
        .iter()
        .find(|(g, k, _)| *g == object.group && *k == object.kind)
        .map(|(_, _, r)| *r)
}

/// The AdmissionReview the API server sends for creating `object`.
pub fn admission_review(object: &ManifestObject, uid: &str) -> Value {
    let (group, version) = object
        .api_version
        .split_once('/')
        .unwrap_or(("", &object.api_version));
    let resource = checked_resource(object).unwrap_or_default();
    let gvk = json!({"group": group, "version": version, "kind": object.kind});
    let gvr = json!({"group": group, "version": version, "resource": resource});
    let name = if object.generated_name {
        ""
    } else {
        &object.name
    };
    let mut request = json!({
        "uid": uid,
        "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "name": name, "operation": "CREATE",
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:authenticated"]},
        "object": object.object, "oldObject": null, "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
    });
    if let Some(ns) = &object.namespace {
        request["namespace"] = json!(ns);
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
}

/// Evaluates every checked object of `set` (in input order) with
/// `settings`, host calls answered by `model`, on `jobs` threads: one
/// fresh instance of the compiled `policy` per object. Returns the index
/// of each checked object in `set.objects` and its evaluation, or why it
/// could not be evaluated (one line).
pub fn evaluate(
    policy: &Policy,
    set: &ManifestSet,
    model: &Arc<ModelCluster>,
    settings: &Value,
    jobs: usize,
    progress: Option<&ProgressBar>,
) -> Vec<(usize, Result<Evaluation, String>)> {
    let checked: Vec<usize> = (0..set.objects.len())
        .filter(|&i| checked_resource(&set.objects[i]).is_some())
        .collect();
    if let Some(bar) = progress {
        bar.set_length(checked.len() as u64);
    }
    let next = AtomicUsize::new(0);
    let jobs = jobs.clamp(1, checked.len().max(1));
    let mut results: Vec<(usize, Result<Evaluation, String>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                std::thread::Builder::new()
                    .name("scan".into())
                    // as the guest thread of Policy::validate
                    .stack_size(16 << 20)
                    .spawn_scoped(scope, || {
                        let mut done = Vec::new();
                        loop {
                            let n = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&i) = checked.get(n) else { break };
                            let uid = format!("00000000-0000-4000-8000-{:012x}", i + 1);
                            let outcome =
                                evaluate_one(policy, &set.objects[i], &uid, model, settings);
                            done.push((i, outcome));
                            if let Some(bar) = progress {
                                bar.inc(1);
                            }
                        }
                        done
                    })
                    .expect("cannot start a scan thread")
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a scan thread panicked"))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results
}

fn evaluate_one(
    policy: &Policy,
    object: &ManifestObject,
    uid: &str,
    model: &Arc<ModelCluster>,
    settings: &Value,
) -> Result<Evaluation, String> {
    let review = admission_review(object, uid);
    let mut instance = policy
        .instantiate(model.host(object.namespace.as_deref()))
        .map_err(|e| format!("cannot instantiate the policy: {}", first_line(&e)))?;
    match instance.validate(&review, settings) {
        Ok(evaluation) => Ok(evaluation),
        Err(e) => {
            let unanswerable = instance.with_host(|h| h.violations().to_vec());
            if !unanswerable.is_empty() {
                return Err(format!(
                    "cannot evaluate against the model cluster: {}",
                    unanswerable.join("; ")
                ));
            }
            Err(evaluation_error(&e))
        }
    }
}

fn evaluation_error(e: &anyhow::Error) -> String {
    match e.downcast_ref::<EvaluationError>() {
        Some(EvaluationError {
            kind: EvaluationErrorKind::Timeout,
            ..
        }) => "the evaluation took longer than the timeout (--timeout-seconds)".to_owned(),
        Some(err) => format!("the policy failed: {}", one_line(&err.message)),
        None => format!("the evaluation failed: {}", first_line(e)),
    }
}

fn one_line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first line of an error chain (`a: b: c`), for one-line messages.
fn first_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Loads the policy for `scan`: a Kubewarden waPC module (`.wasm`; a
/// `.wat` text module is accepted too), compiled once. Every failure is
/// one line naming the file.
pub fn load_policy(path: &std::path::Path, timeout: Option<Duration>) -> Result<Policy> {
    let name = path.display();
    let bytes = std::fs::read(path).map_err(|e| {
        anyhow!(
            "cannot read policy {name}: {}",
            match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_owned(),
                _ => e.to_string(),
            }
        )
    })?;
    let text_module = std::str::from_utf8(&bytes)
        .map(|t| t.trim_start().starts_with("(module"))
        .unwrap_or(false);
    if !bytes.starts_with(b"\0asm") && !text_module {
        bail!("policy {name} is not a WebAssembly module (a Kubewarden policy is a .wasm file)");
    }
    let policy = Policy::from_bytes(&bytes, &name.to_string())
        .map_err(|e| {
            anyhow!(
                "policy {name} is not a valid WebAssembly module: {}",
                first_line(&e)
            )
        })?
        .with_timeout(timeout);
    policy.protocol_version().map_err(|e| {
        anyhow!(
            "policy {name} is not a Kubewarden policy (it does not answer waPC's protocol_version): {}",
            first_line(&e)
        )
    })?;
    Ok(policy)
}

/// Output formats of `scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Grouped by file and object, for people.
    Text,
    /// One JSON document.
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
}

/// The flags of `scan`.
#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Manifests: files, folders (every .yaml, .yml and .json below them)
    /// or `-` for stdin; YAML streams, JSON and `kind: List`.
    #[arg(required = true, value_name = "PATH")]
    inputs: Vec<String>,
    /// Another build of the policy to judge with (a policy.wasm of a
    /// release, or of `make policy.wasm`); without it, the policy built
    /// into this program, of the same commit.
    #[arg(long, value_name = "FILE", env = "DANGLING_REFERENCES_POLICY")]
    policy: Option<PathBuf>,
    /// Policy settings, as for `run`: a JSON/YAML file, or inline JSON/YAML.
    #[arg(long, value_name = "FILE|JSON")]
    settings: Option<String>,
    /// A real cluster's objects (repeatable): every kind scan reads comes
    /// from `kubectl get
    /// services,configmaps,serviceaccounts,persistentvolumeclaims,pods,replicationcontrollers,deployments,statefulsets,replicasets,daemonsets,jobs,cronjobs,roles,clusterroles
    /// -A -o json > cluster.json`. Any subset of these kinds works too; the
    /// labels and container ports of its Pods and workloads count for the
    /// selectors and named ports of the set.
    #[arg(long, value_name = "FILE")]
    snapshot: Vec<PathBuf>,
    /// The names of the cluster's Secrets, one `<namespace> <name>` per
    /// line (`kubectl get secrets -A --no-headers -o
    /// custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name`);
    /// repeatable.
    #[arg(long, value_name = "FILE")]
    secret_names: Vec<PathBuf>,
    /// The namespace of objects that name none, as `kubectl apply -n`.
    #[arg(short, long, default_value = "default")]
    namespace: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Report rejections without failing: exit 0 unless there are errors.
    #[arg(long)]
    warn_only: bool,
    /// Evaluation timeout per object in seconds (policy-server's default
    /// is 2); 0 disables it.
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    timeout_seconds: f64,
    /// Objects evaluated in parallel (default: the number of CPUs).
    #[arg(short, long)]
    jobs: Option<usize>,
    /// Text output: list accepted objects too.
    #[arg(short, long)]
    verbose: bool,
    /// Never show the progress bar (it is shown on a terminal only).
    #[arg(long)]
    no_progress: bool,
}

/// Runs `scan` with `args`: prints the report and returns the exit code.
pub fn main(args: &ScanArgs) -> ExitCode {
    match scan(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", first_line(&e));
            ExitCode::from(2)
        }
    }
}

fn scan(args: &ScanArgs) -> Result<u8> {
    if let Some(arg) = args.settings.as_deref() {
        // `run` takes any other text as inline settings; a path-like one
        // that is not a file is a mistyped path
        let path = std::path::Path::new(arg);
        let path_like = [".json", ".yaml", ".yml"].iter().any(|x| arg.ends_with(x))
            && !arg.trim_start().starts_with(['{', '['])
            && !arg.contains('\n');
        if path_like && !path.is_file() {
            bail!("cannot read settings file {arg}: no such file");
        }
    }
    let settings = crate::run::read_settings(args.settings.as_deref())
        .map_err(|e| anyhow!("{}", first_line(&e)))?;
    let mut snapshot = Snapshot::new();
    for path in &args.snapshot {
        snapshot.add_cluster_file(path)?;
    }
    for path in &args.secret_names {
        snapshot.add_secret_names_file(path)?;
    }
    let sources = read_inputs(&args.inputs)?;
    let timeout =
        (args.timeout_seconds > 0.0).then(|| Duration::from_secs_f64(args.timeout_seconds));
    let policy = match &args.policy {
        Some(path) => load_policy(path, timeout)?,
        None => Policy::builtin(),
    };
    match policy.validate_settings(&settings) {
        Ok(v) if v.valid => {}
        Ok(v) => bail!(
            "the settings are not valid: {}",
            one_line(v.message.as_deref().unwrap_or_default())
        ),
        Err(e) => bail!(
            "the policy cannot validate the settings: {}",
            first_line(&e)
        ),
    }

    let set = ManifestSet::parse(&sources, &args.namespace);
    let model = Arc::new(ModelCluster::new(&set, &snapshot));
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let progress = (!args.no_progress && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("scanning {bar:30} {pos}/{len} objects ({eta} left)")
                .expect("a valid template"),
        );
        bar
    });
    let outcomes = evaluate(&policy, &set, &model, &settings, jobs, progress.as_ref());
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let mut report = Report::new(&set, &outcomes, args.warn_only);
    report.add_warnings(&set, selectors::warnings(&set, &snapshot));
    let out = match args.output {
        Output::Text => report.text(args.verbose),
        Output::Json => format!("{:#}\n", report.json()),
        Output::Sarif => format!(
            "{}\n",
            serde_json::to_string_pretty(&report.sarif()).expect("SARIF serialises")
        ),
    };
    let mut stdout = std::io::stdout().lock();
    // a closed pipe (`| head`) is not an error of the scan
    let _ = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush());
    Ok(report.exit_code())
}
