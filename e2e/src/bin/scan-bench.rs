//! `scan-bench`: throughput of `dangling-references scan` on a generated
//! manifest set the size of a large platform repository (10,000 objects by
//! default, as `helm template` prints them: one multi-document stream).
//!
//! Per namespace the set holds Services, ServiceAccounts and Secrets, and
//! ConfigMaps and Deployments, the two kinds the policy checks: every
//! ConfigMap names Services of its own and of another namespace (one in
//! 50 a Service that does not exist), every Deployment consumes a
//! ConfigMap, runs as a ServiceAccount, mounts a Secret and sets KUBECONFIG
//! (one in 50 to a path no volume creates).
//!
//! It measures the scan in process, phase by phase (reading, model,
//! evaluation, report), under default settings and with the workload check
//! (`checkWorkloadReferences` and `checkSecretReferences`: every lookup a
//! workload can make), then with `--cli` the binary end to end on the file
//! (process start, module compilation from wasmtime's cache, scan, SARIF),
//! once with `--policy` and once with the policy built into the binary.
//! Exit 1 when the binary takes `--target-seconds` (10) or more.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use e2e::scan::{self, ManifestSet, ModelCluster, Report, Snapshot, Source};
use serde_json::{Value, json};

/// Throughput of `dangling-references scan`.
#[derive(Parser, Debug)]
#[command(name = "scan-bench")]
struct Args {
    /// The policy module (release build optimized by wasm-opt).
    #[arg(long)]
    policy: PathBuf,
    /// The `dangling-references` binary, to time end to end.
    #[arg(long)]
    cli: Option<PathBuf>,
    /// Objects in the generated set.
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
    /// Namespaces they are spread over.
    #[arg(long, default_value_t = 20)]
    namespaces: usize,
    /// Evaluation threads (default: the number of CPUs, as the CLI).
    #[arg(long)]
    jobs: Option<usize>,
    /// The binary must scan the set in less than this.
    #[arg(long, default_value_t = 10.0)]
    target_seconds: f64,
}

/// The generated set: a `helm template`-like YAML stream.
fn generate(objects: usize, namespaces: usize) -> String {
    let per_namespace = objects.div_ceil(namespaces.max(1));
    let mut docs: Vec<Value> = Vec::with_capacity(objects);
    'outer: for n in 0..namespaces {
        let ns = format!("team-{n:02}");
        let other = format!("team-{:02}", (n + 1) % namespaces);
        // of every 25 objects: 3 Services, 1 ServiceAccount, 1 Secret,
        // 10 ConfigMaps, 10 Deployments
        for i in 0..per_namespace {
            if docs.len() == objects {
                break 'outer;
            }
            let group = i / 25;
            let doc = match i % 25 {
                0..=2 => json!({
                    "apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": format!("svc-{group}-{}", i % 25), "namespace": ns,
                                 "labels": {"app.kubernetes.io/name": format!("app-{group}")}},
                    "spec": {"selector": {"app": format!("app-{group}")},
                             "ports": [{"name": "http", "port": 8080, "targetPort": 8080},
                                       {"name": "grpc", "port": 9090, "targetPort": 9090}]},
                }),
                3 => json!({
                    "apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": format!("sa-{group}"), "namespace": ns},
                }),
                4 => json!({
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": format!("kubeconfig-{group}"), "namespace": ns},
                    "type": "Opaque", "data": {"config": "YXBpVmVyc2lvbjogdjEK"},
                }),
                5..=14 => {
                    let c = i % 25 - 5;
                    let broken = (group * 10 + c) % 50 == 49;
                    let own = if broken {
                        "svc-gone".to_owned()
                    } else {
                        format!("svc-{group}-{}", c % 3)
                    };
                    let mut config = format!(
                        "server:\n  port: 8080\nbackend: http://{own}.{ns}.svc.cluster.local:8080/api\n\
                         grpc: svc-{group}-1.{ns}.svc:9090\nshared: http://svc-0-0.{other}.svc.cluster.local:8080\n"
                    );
                    // filler, as real configuration files have
                    for k in 0..24 {
                        config.push_str(&format!("option_{k}: value number {k} for {ns}\n"));
                    }
                    json!({
                        "apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": format!("config-{group}-{c}"), "namespace": ns},
                        "data": {"app.yaml": config, "LOG_LEVEL": "info"},
                    })
                }
                _ => {
                    let d = i % 25 - 15;
                    let broken = (group * 10 + d) % 50 == 49;
                    let kubeconfig = if broken {
                        "/home/dev/.kube/config"
                    } else {
                        "/etc/kube/config"
                    };
                    json!({
                        "apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": format!("app-{group}-{d}"), "namespace": ns},
                        "spec": {
                            "replicas": 2,
                            "selector": {"matchLabels": {"app": format!("app-{group}")}},
                            "template": {
                                "metadata": {"labels": {"app": format!("app-{group}")}},
                                "spec": {
                                    "serviceAccountName": format!("sa-{group}"),
                                    "containers": [{
                                        "name": "app",
                                        "image": "registry.example.com/app:1.0",
                                        "envFrom": [{"configMapRef": {"name": format!("config-{group}-{d}")}}],
                                        "env": [{"name": "KUBECONFIG", "value": kubeconfig}],
                                        "volumeMounts": [{"name": "kube", "mountPath": "/etc/kube"}],
                                    }, {
                                        "name": "sidecar",
                                        "image": "registry.example.com/proxy:1.0",
                                        "env": [{"name": "UPSTREAM", "value": "http://localhost:8080"}],
                                    }],
                                    "volumes": [{"name": "kube", "secret": {"secretName": format!("kubeconfig-{group}")}}],
                                },
                            },
                        },
                    })
                }
            };
            docs.push(doc);
        }
    }
    let mut out = String::new();
    for (i, d) in docs.iter().enumerate() {
        out.push_str(&format!(
            "---\n# Source: platform/templates/object-{i}.yaml\n"
        ));
        out.push_str(&serde_saphyr::to_string(d).expect("a Value serialises"));
    }
    out
}

struct Phases {
    read: Duration,
    model: Duration,
    evaluate: Duration,
    report: Duration,
    checked: usize,
    rejected: usize,
    host_calls: usize,
}

fn in_process(policy: &e2e::Policy, text: &str, settings: &Value, jobs: usize) -> Result<Phases> {
    let started = Instant::now();
    let set = ManifestSet::parse(&[Source::new("set.yaml", text)], "default");
    if !set.errors.is_empty() {
        bail!("the generated set does not read: {}", set.errors[0]);
    }
    let read = started.elapsed();
    let started = Instant::now();
    let model = Arc::new(ModelCluster::new(&set, &Snapshot::new()));
    let model_time = started.elapsed();
    let started = Instant::now();
    let outcomes = scan::evaluate(policy, &set, &model, settings, jobs, None);
    let evaluate = started.elapsed();
    let started = Instant::now();
    let report = Report::new(&set, &outcomes, false);
    let sarif = serde_json::to_string(&report.sarif())?;
    let report_time = started.elapsed();
    std::hint::black_box(sarif);
    if report.errors() > 0 {
        bail!("evaluation errors: {}", report.text(false));
    }
    Ok(Phases {
        read,
        model: model_time,
        evaluate,
        report: report_time,
        checked: report.checked.len(),
        rejected: report
            .checked
            .iter()
            .filter(|o| o.verdict == scan::Verdict::Rejected)
            .count(),
        host_calls: report.checked.iter().map(|o| o.host_calls).sum(),
    })
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn run() -> Result<bool> {
    let args = Args::parse();
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let text = generate(args.objects, args.namespaces);
    let dir = std::env::temp_dir().join(format!("scan-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join(format!("set-{}.yaml", args.objects));
    std::fs::write(&file, &text)?;

    let started = Instant::now();
    let policy = scan::load_policy(&args.policy, Some(e2e::DEFAULT_TIMEOUT))?;
    let load = started.elapsed();
    println!(
        "scan of {} objects in {} namespaces ({} KiB of YAML), {jobs} thread(s); policy loaded in {}",
        args.objects,
        args.namespaces,
        text.len() / 1024,
        secs(load)
    );
    let variants = [
        ("default settings", json!({})),
        (
            "workload check",
            json!({"checkWorkloadReferences": true, "checkSecretReferences": true}),
        ),
    ];
    println!(
        "{:<18} {:>8} {:>9} {:>10} {:>8} {:>8} {:>10} {:>8} {:>8} {:>12}",
        "in process",
        "checked",
        "rejected",
        "host calls",
        "read",
        "model",
        "evaluate",
        "report",
        "total",
        "objects/s"
    );
    for (label, settings) in &variants {
        let p = in_process(&policy, &text, settings, jobs)?;
        let total = p.read + p.model + p.evaluate + p.report;
        println!(
            "{label:<18} {:>8} {:>9} {:>10} {:>8} {:>8} {:>10} {:>8} {:>8} {:>12.0}",
            p.checked,
            p.rejected,
            p.host_calls,
            secs(p.read),
            secs(p.model),
            secs(p.evaluate),
            secs(p.report),
            secs(total),
            args.objects as f64 / total.as_secs_f64()
        );
    }

    let mut within_target = true;
    if let Some(cli) = &args.cli {
        println!(
            "{:<18} {:<10} {:>8} {:>12}  (target: < {} s)",
            "binary", "policy", "exit", "objects/s", args.target_seconds
        );
        for (label, settings) in &variants {
            // the module on wasmtime, as kwctl runs it, and the policy
            // linked into the binary, as `scan` runs without --policy
            for module in [Some(&args.policy), None] {
                let mut command = Command::new(cli);
                command.args(["scan", "--no-progress", "--output", "sarif"]);
                if let Some(module) = module {
                    command.arg("--policy").arg(module);
                }
                let started = Instant::now();
                let status = command
                    .env_remove("DANGLING_REFERENCES_POLICY")
                    .arg("--settings")
                    .arg(settings.to_string())
                    .arg(&file)
                    .stdout(Stdio::null())
                    .status()
                    .with_context(|| format!("cannot run {}", cli.display()))?;
                let took = started.elapsed();
                // the generated set holds rejected objects on purpose
                if status.code() != Some(1) {
                    bail!("{} scan exited with {status}, expected 1", cli.display());
                }
                let ok = took.as_secs_f64() < args.target_seconds;
                within_target &= ok;
                println!(
                    "{label:<18} {:<10} {:>8} {:>12.0}  {} {}",
                    if module.is_some() {
                        "--policy"
                    } else {
                        "built in"
                    },
                    status.code().unwrap_or(-1),
                    args.objects as f64 / took.as_secs_f64(),
                    secs(took),
                    if ok { "ok" } else { "OVER TARGET" }
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(within_target)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("scan-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}
