//! `bench`: latency of the policy's `validate` against the cost of merely
//! parsing the same payload (`parse_request` of the `parse-baseline`
//! build), for requests of growing size.
//!
//! For each generated request (ConfigMaps of 1 KiB .. 1 MiB of data holding
//! in-cluster Service URLs plus filler, densely (one URL per 256 bytes,
//! over 16 namespaces: `cm/256B`) and sparsely (one per 16 KiB, 4
//! namespaces: `cm/16384B`), Deployments with 1 .. 500 containers setting
//! KUBECONFIG) it measures on warm instances the median and p90 of
//! `validate` (host calls answered by a ClusterState holding exactly the
//! referenced Services) and of `parse_request`, their ratio, one
//! fresh-instance `validate` (instantiation + `wapc_init` + call), the host
//! calls made, and how far `validate` grows the linear memory of a fresh
//! instance (on a second engine whose memories report their size, see
//! `Policy::load_measuring_memory`). Repetitions adapt to a per-measurement
//! time budget so that the whole run stays around a minute on 2 cores.
//!
//! It also prints the module's size, before (`--raw`) and after `wasm-opt`,
//! against `e2e::POLICY_WASM_SIZE_BUDGET`, and fails when a 1 MiB ConfigMap
//! grows the linear memory by `e2e::CONFIGMAP_1MIB_MEMORY_GROWTH_BUDGET` or
//! more.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use e2e::{
    CONFIGMAP_1MIB_MEMORY_GROWTH_BUDGET, ClusterState, HostCapabilities, Instance, NoHost,
    POLICY_WASM_SIZE_BUDGET, Policy, validate_payload,
};
use serde_json::{Value, json};

/// Benchmark `validate` against `parse_request`.
#[derive(Parser, Debug)]
#[command(name = "bench")]
struct Args {
    /// The policy module (release build optimized by wasm-opt).
    #[arg(long)]
    policy: PathBuf,
    /// The same release build before wasm-opt, for its size.
    #[arg(long)]
    raw: Option<PathBuf>,
    /// The same policy built with `--features parse-baseline` (exports the
    /// waPC function `parse_request`).
    #[arg(long)]
    baseline: PathBuf,
    /// Policy settings (inline JSON).
    #[arg(long, default_value = "{}")]
    settings: String,
    /// Maximum repetitions per measurement.
    #[arg(long, default_value_t = 40)]
    reps: usize,
    /// Minimum repetitions per measurement.
    #[arg(long, default_value_t = 5)]
    min_reps: usize,
    /// Time budget per measurement, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    budget_ms: u64,
    /// Number of namespaces the Service URLs are spread over.
    #[arg(long, default_value_t = 16)]
    namespaces: usize,
    /// One in-cluster URL per this many bytes of ConfigMap data.
    #[arg(long, default_value_t = 256)]
    bytes_per_url: usize,
    /// A second ConfigMap series: one URL per this many bytes.
    #[arg(long, default_value_t = 16384)]
    sparse_bytes_per_url: usize,
    /// Namespaces of the second series.
    #[arg(long, default_value_t = 4)]
    sparse_namespaces: usize,
    /// Only the smallest and largest case of each kind.
    #[arg(long)]
    quick: bool,
    /// Kubewarden's peer policies: `noop_accept_policy.wasm` (the host's
    /// floor) and, where present, `environment_variable_policy.wasm` and
    /// `volumemounts_policy.wasm`. With
    /// it the bench ends with each policy's own cost over the floor.
    #[arg(long)]
    peers: Option<PathBuf>,
}

struct Case {
    name: String,
    request: Value,
    cluster: ClusterState,
    /// URLs (ConfigMaps) or containers (Deployments).
    count: usize,
    /// Bytes of ConfigMap data (ConfigMap cases only).
    configmap_bytes: Option<usize>,
    /// Settings for this case instead of `--settings`.
    settings: Option<Value>,
}

fn url(i: usize, namespaces: usize) -> String {
    format!(
        "http://svc-{i}.ns-{}.svc.cluster.local:8080",
        i % namespaces
    )
}

const FILLER: &str = "lorem ipsum dolor sit amet, consectetur adipiscing elit; sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. ";

fn review(kind: &str, group: &str, version: &str, resource: &str, object: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "bench-0000",
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": resource},
            "requestKind": {"group": group, "version": version, "kind": kind},
            "requestResource": {"group": group, "version": version, "resource": resource},
            "name": object["metadata"]["name"],
            "namespace": "bench",
            "operation": "CREATE",
            "userInfo": {"username": "bench", "groups": ["system:authenticated"]},
            "object": object,
            "dryRun": false,
        }
    })
}

/// The AdmissionReview of Deployment `bench/bench-deploy` whose Pod
/// template has `pod_spec`.
fn deployment_review(pod_spec: Value) -> Value {
    review(
        "Deployment",
        "apps",
        "v1",
        "deployments",
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "bench-deploy", "namespace": "bench"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "bench"}},
                "template": {"metadata": {"labels": {"app": "bench"}}, "spec": pod_spec},
            },
        }),
    )
}

/// A ConfigMap with about `size` bytes of data and one URL per
/// `bytes_per_url` bytes.
fn configmap_case(size: usize, namespaces: usize, bytes_per_url: usize) -> Case {
    let urls = (size / bytes_per_url).max(1);
    let entries = (size / 1024).max(1);
    let per_entry = size / entries;
    let mut data = serde_json::Map::new();
    let mut next_url = 0;
    for e in 0..entries {
        let mut value = String::with_capacity(per_entry + 64);
        // spread the URLs evenly over the entries
        let until = urls * (e + 1) / entries;
        while next_url < until {
            value.push_str(&url(next_url, namespaces));
            value.push('\n');
            next_url += 1;
        }
        while value.len() < per_entry {
            let take = (per_entry - value.len()).min(FILLER.len());
            value.push_str(&FILLER[..take]);
        }
        data.insert(format!("entry-{e:05}.txt"), Value::String(value));
    }
    let mut cluster = ClusterState::new();
    for i in 0..urls {
        cluster.add_service(
            &format!("ns-{}", i % namespaces),
            &format!("svc-{i}"),
            &[8080],
        );
    }
    let size_name = if size >= 1 << 20 {
        format!("{} MiB", size >> 20)
    } else {
        format!("{} KiB", size >> 10)
    };
    let name = format!("cm/{bytes_per_url}B {size_name}");
    Case {
        name,
        request: review(
            "ConfigMap",
            "",
            "v1",
            "configmaps",
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "bench-config", "namespace": "bench"},
                "data": data,
            }),
        ),
        cluster,
        count: urls,
        configmap_bytes: Some(size),
        settings: None,
    }
}

/// A Deployment whose `containers` each set KUBECONFIG to a file of a
/// Secret volume.
fn deployment_case(containers: usize) -> Case {
    let cs: Vec<Value> = (0..containers)
        .map(|i| {
            json!({
                "name": format!("c-{i}"),
                "image": "registry.example.com/team/app:1.2.3",
                "env": [
                    {"name": "KUBECONFIG", "value": "/var/run/kube/config"},
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "volumeMounts": [{"name": "kubeconfig", "mountPath": "/var/run/kube", "readOnly": true}],
                "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
            })
        })
        .collect();
    Case {
        name: format!("deployment {containers} ctr"),
        request: deployment_review(json!({
            "containers": cs,
            "volumes": [{"name": "kubeconfig", "secret": {"secretName": "kubeconfig"}}],
        })),
        cluster: ClusterState::new(),
        count: containers,
        configmap_bytes: None,
        settings: None,
    }
}

/// The workload check (`checkWorkloadReferences`): a Deployment whose
/// `containers` each read one of 8 ConfigMaps through `envFrom` (each
/// about 4 KiB with 16 Service URLs over 4 namespaces), a ServiceAccount,
/// and KUBECONFIG from a `configMapKeyRef`.
fn workload_case(containers: usize) -> Case {
    const CONFIG_MAPS: usize = 8;
    let mut objects = vec![json!({"apiVersion": "v1", "kind": "ServiceAccount",
                                  "metadata": {"name": "bench-sa", "namespace": "bench"}})];
    for c in 0..CONFIG_MAPS {
        let mut data = serde_json::Map::new();
        for k in 0..16 {
            let i = c * 16 + k;
            data.insert(
                format!("URL_{k}"),
                Value::String(format!(
                    "{}\n{}",
                    url(i, 4),
                    &FILLER[..FILLER.len().min(200)]
                )),
            );
        }
        data.insert("KUBECONFIG_PATH".into(), json!("/var/run/kube/config"));
        objects.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": format!("cfg-{c}"), "namespace": "bench"}, "data": data}));
    }
    let mut cluster = ClusterState::with_objects(objects);
    for i in 0..CONFIG_MAPS * 16 {
        cluster.add_service(&format!("ns-{}", i % 4), &format!("svc-{i}"), &[8080]);
    }
    let cs: Vec<Value> = (0..containers)
        .map(|i| {
            json!({
                "name": format!("c-{i}"),
                "image": "registry.example.com/team/app:1.2.3",
                "envFrom": [{"configMapRef": {"name": format!("cfg-{}", i % CONFIG_MAPS)}}],
                "env": [{"name": "KUBECONFIG", "valueFrom": {"configMapKeyRef": {"name": "cfg-0", "key": "KUBECONFIG_PATH"}}}],
                "volumeMounts": [{"name": "kubeconfig", "mountPath": "/var/run/kube", "readOnly": true}],
            })
        })
        .collect();
    Case {
        name: format!("workload {containers} ctr"),
        request: deployment_review(json!({
            "serviceAccountName": "bench-sa",
            "containers": cs,
            "volumes": [{"name": "kubeconfig", "secret": {"secretName": "kubeconfig"}}],
        })),
        cluster,
        count: containers,
        configmap_bytes: None,
        settings: Some(json!({"checkWorkloadReferences": true})),
    }
}

/// Services named in env values and args (`checkWorkloadReferences`):
/// a Deployment with `containers` containers of `per_container` env
/// entries each, every value a bare `host:port` or a URL of a Service of
/// namespace `bench` (one in 50 a typo of its name), and as many
/// `--flag=value` args.
fn text_dense_case(containers: usize, per_container: usize) -> Case {
    let mut cluster = ClusterState::new();
    for s in 0..per_container {
        cluster.add_service("bench", &format!("backend-{s}"), &[8080]);
    }
    let value = |c: usize, e: usize| {
        // a typo the policy suggests the right name for: a rejection
        let name = if (c * per_container + e) % 50 == 49 {
            format!("backnd-{e}")
        } else {
            format!("backend-{e}")
        };
        if e.is_multiple_of(2) {
            format!("{name}:8080")
        } else {
            format!("http://{name}:8080/api")
        }
    };
    let cs: Vec<Value> = (0..containers)
        .map(|c| {
            json!({
                "name": format!("c-{c}"),
                "image": "registry.example.com/team/app:1.2.3",
                "env": (0..per_container)
                    .map(|e| json!({"name": format!("SVC_{e}_ADDR"), "value": value(c, e)}))
                    .collect::<Vec<_>>(),
                "args": (0..per_container)
                    .map(|e| format!("--upstream-{e}={}", value(c, e)))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    Case {
        name: format!("env+args {containers}x{per_container}"),
        request: deployment_review(json!({"containers": cs})),
        cluster,
        count: containers,
        configmap_bytes: None,
        settings: Some(json!({"checkWorkloadReferences": true})),
    }
}

/// A ConfigMap in namespace `bench` whose data is `data`.
/// The reference graph: a ValidatingWebhookConfiguration of `webhooks`
/// webhooks calling Services of 2 namespaces (on ports 443 and 8443, all
/// existing), and a ClusterRoleBinding of `subjects` ServiceAccounts over
/// 3 namespaces (all existing) bound to a ClusterRole: the cost of issue
/// 28's references, one listing per kind and namespace.
fn graph_cases(webhooks: usize, subjects: usize) -> Vec<Case> {
    let mut objects = Vec::new();
    let hooks: Vec<Value> = (0..webhooks)
        .map(|i| {
            let ns = format!("hooks-{}", i % 2);
            let name = format!("hook-{i}");
            objects.push(ClusterState::service(&ns, &name, &[443, 8443]));
            json!({"name": format!("w{i}.example.com"), "admissionReviewVersions": ["v1"],
                   "sideEffects": "None", "failurePolicy": "Fail",
                   "clientConfig": {"service": {"namespace": ns, "name": name,
                                                "port": if i % 2 == 0 { 443 } else { 8443 }}},
                   "rules": [{"apiGroups": [""], "apiVersions": ["v1"],
                              "operations": ["CREATE"], "resources": ["pods"]}]})
        })
        .collect();
    let accounts: Vec<Value> = (0..subjects)
        .map(|i| {
            let ns = format!("team-{}", i % 3);
            let name = format!("sa-{i}");
            objects.push(json!({"apiVersion": "v1", "kind": "ServiceAccount",
                                "metadata": {"name": name, "namespace": ns}}));
            json!({"kind": "ServiceAccount", "name": name, "namespace": ns})
        })
        .collect();
    objects.push(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                        "metadata": {"name": "operator"}}),
    );
    let cluster = ClusterState::with_objects(objects);
    vec![
        Case {
            name: format!("webhooks {webhooks}"),
            request: review(
                "ValidatingWebhookConfiguration",
                "admissionregistration.k8s.io",
                "v1",
                "validatingwebhookconfigurations",
                json!({"apiVersion": "admissionregistration.k8s.io/v1",
                       "kind": "ValidatingWebhookConfiguration",
                       "metadata": {"name": "hooks"}, "webhooks": hooks}),
            ),
            cluster: cluster.clone(),
            count: webhooks,
            configmap_bytes: None,
            settings: None,
        },
        Case {
            name: format!("binding {subjects} subj"),
            request: review(
                "ClusterRoleBinding",
                "rbac.authorization.k8s.io",
                "v1",
                "clusterrolebindings",
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                       "metadata": {"name": "operators"},
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                   "name": "operator"},
                       "subjects": accounts}),
            ),
            cluster,
            count: subjects,
            configmap_bytes: None,
            settings: None,
        },
    ]
}

fn configmap_of(name: String, data: serde_json::Map<String, Value>, count: usize) -> Case {
    Case {
        name,
        request: review(
            "ConfigMap",
            "",
            "v1",
            "configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "worst", "namespace": "bench"}, "data": data}),
        ),
        cluster: ClusterState::new(),
        count,
        configmap_bytes: None,
        settings: None,
    }
}

/// `unit` repeated to `size` bytes.
fn repeated(unit: &str, size: usize) -> String {
    let mut text = unit.repeat(size / unit.len() + 1);
    text.truncate(size);
    text
}

/// The worst inputs (issue 10), each at a quarter of its size and at full
/// size, so that the table shows whether time stays linear: 1 MiB of
/// `a.a.a.…` (one dotted run far past a DNS name), of `.svc`, of `://`;
/// one 1 MiB line mixing quotes, comment markers and references; 10,000
/// keys; a Pod whose 1,000 env entries chain `$(VAR)` into KUBECONFIG.
/// (The Deployment with 500 containers is `deployment 500 ctr`.)
fn worst_cases(quick: bool) -> Vec<Case> {
    let scales: &[usize] = if quick { &[4] } else { &[1, 4] };
    let mut cases = Vec::new();
    for &scale in scales {
        let size = scale * (256 << 10);
        let label = if scale == 4 { "1M" } else { "256K" };
        for (what, unit) in [("a.a", "a."), (".svc", ".svc"), ("://", "://")] {
            let data = [("k".to_string(), Value::String(repeated(unit, size)))]
                .into_iter()
                .collect();
            cases.push(configmap_of(format!("worst {what} {label}"), data, 0));
        }
        // One line: quotes, `#` that are and are not comments, references.
        let unit = "'#' \"a # b\" http://a.b.svc/#/x x.y.svc:1 ";
        let data = [("k".to_string(), Value::String(repeated(unit, size)))]
            .into_iter()
            .collect();
        let mut line = configmap_of(format!("worst line {label}"), data, size / unit.len());
        line.cluster.add_service("b", "a", &[80]);
        line.cluster.add_service("y", "x", &[1]);
        cases.push(line);

        let keys = scale * 2500;
        let data = (0..keys)
            .map(|i| {
                let value = format!("endpoint: http://api.ns-0.svc:8080/{i}");
                (format!("key-{i:05}"), Value::String(value))
            })
            .collect();
        let mut many = configmap_of(format!("worst {keys} keys"), data, keys);
        many.cluster.add_service("ns-0", "api", &[8080]);
        cases.push(many);

        let entries = scale * 250;
        let mut env = vec![json!({"name": "V0", "value": "/x"})];
        env.extend(
            (1..entries)
                .map(|i| json!({"name": format!("V{i}"), "value": format!("$(V{})/x", i - 1)})),
        );
        env.push(json!({"name": "KUBECONFIG", "value": format!("$(V{})", entries - 1)}));
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "worst-env", "namespace": "bench"},
            "spec": {"containers": [{"name": "app", "image": "app:1", "env": env,
                "volumeMounts": [{"name": "scratch", "mountPath": "/x"}]}],
                "volumes": [{"name": "scratch", "emptyDir": {}}]}});
        cases.push(Case {
            name: format!("worst {entries} env"),
            request: review("Pod", "", "v1", "pods", pod),
            cluster: ClusterState::new(),
            count: entries,
            configmap_bytes: None,
            settings: None,
        });
    }
    cases
}

struct Stats {
    median: Duration,
    p90: Duration,
    reps: usize,
}

/// Times `f` adaptively: one warm-up call, then between `min_reps` and
/// `max_reps` calls within about `budget`.
fn measure(args: &Args, mut f: impl FnMut() -> Result<Duration>) -> Result<Stats> {
    let first = f()?.max(Duration::from_micros(1)); // warm-up
    let budget = Duration::from_millis(args.budget_ms);
    let reps = ((budget.as_nanos() / first.as_nanos()) as usize).clamp(args.min_reps, args.reps);
    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps {
        samples.push(f()?);
    }
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Ok(Stats {
        median: pick(0.5),
        p90: pick(0.9),
        reps,
    })
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn kib(bytes: usize) -> String {
    format!("{}", bytes / 1024)
}

fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        "n/a".to_owned()
    } else {
        format!("{:.2}", a.as_secs_f64() / b.as_secs_f64())
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `Ok(false)` when a budget is exceeded or a case fails.
fn run(args: &Args) -> Result<bool> {
    let settings: Value = serde_json::from_str(&args.settings).context("--settings is not JSON")?;
    let load_start = Instant::now();
    // no timeout: the bench reports slow evaluations instead of failing them
    let policy = Policy::load(&args.policy)?.with_timeout(None);
    let baseline = Policy::load(&args.baseline)?.with_timeout(None);
    let load_time = load_start.elapsed();
    let measuring = Policy::load_measuring_memory(&args.policy)?.with_timeout(None);

    // fail early and clearly when the baseline lacks parse_request
    {
        let probe = validate_payload(&deployment_case(1).request, &settings)?;
        let mut instance = baseline.instantiate(NoHost::new())?;
        instance.call("parse_request", &probe).map_err(|e| {
            anyhow!(
                "{} does not provide the waPC function `parse_request` (build the policy with \
                 `--features parse-baseline`): {e}",
                args.baseline.display()
            )
        })?;
    }

    let mut within_budgets = true;
    println!(
        "policy   {:>10} bytes  {}",
        policy.wasm_size(),
        args.policy.display()
    );
    if let Some(raw) = &args.raw {
        let raw_size = std::fs::metadata(raw)
            .with_context(|| format!("cannot read {}", raw.display()))?
            .len();
        println!(
            "raw      {:>10} bytes  {} (before wasm-opt; wasm-opt saves {:.1} %)",
            raw_size,
            raw.display(),
            100.0 * (1.0 - policy.wasm_size() as f64 / raw_size as f64)
        );
    }
    let size_ok = policy.wasm_size() as u64 <= POLICY_WASM_SIZE_BUDGET;
    within_budgets &= size_ok;
    println!(
        "budget   {:>10} bytes  (e2e::POLICY_WASM_SIZE_BUDGET): {}",
        POLICY_WASM_SIZE_BUDGET,
        if size_ok { "ok" } else { "EXCEEDED" }
    );
    println!(
        "baseline {:>10} bytes  {}",
        baseline.wasm_size(),
        args.baseline.display()
    );
    println!(
        "compile (both, cached per content) {} ms; times in ms; warm = one instance reused, \
         guest = warm validate minus the host's time answering host calls, \
         ratio = guest / parse, fresh = instantiate + wapc_init + validate once; \
         mem = linear memory of a fresh instance after validate, grown = how much validate \
         added to what wapc_init left (KiB)",
        ms(load_time)
    );
    println!();

    let mut sizes = vec![1 << 10, 8 << 10, 64 << 10, 256 << 10, 1 << 20];
    let mut containers = vec![1, 10, 100, 500];
    if args.quick {
        sizes = vec![1 << 10, 1 << 20];
        containers = vec![1, 500];
    }
    let mut cases: Vec<Case> = sizes
        .iter()
        .map(|s| configmap_case(*s, args.namespaces, args.bytes_per_url))
        .collect();
    // Realistic density: a few URLs in mostly other text.
    cases.extend(
        sizes
            .iter()
            .map(|s| configmap_case(*s, args.sparse_namespaces, args.sparse_bytes_per_url)),
    );
    cases.extend(containers.iter().map(|c| deployment_case(*c)));
    cases.extend(containers.iter().map(|c| workload_case(*c)));
    // 500 containers x 50 env values and 50 args naming Services, and a
    // quarter of it: the cost of issue 18's references, linear in size
    let text_dense = if args.quick {
        vec![500]
    } else {
        vec![125, 500]
    };
    cases.extend(text_dense.iter().map(|c| text_dense_case(*c, 50)));
    cases.extend(graph_cases(50, 500));
    cases.extend(worst_cases(args.quick));

    println!(
        "{:<20} {:>9} {:>6} {:>8} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7} {:>10} {:>7} {:>7} {:>5}",
        "case",
        "req bytes",
        "items",
        "verdict",
        "calls",
        "valid med",
        "valid p90",
        "guest med",
        "parse med",
        "parse p90",
        "ratio",
        "fresh",
        "mem",
        "grown",
        "reps"
    );
    let mut notes = Vec::new();
    for case in &cases {
        match bench_case(
            args,
            &policy,
            &baseline,
            &measuring,
            case,
            case.settings.as_ref().unwrap_or(&settings),
        ) {
            Ok(row) => {
                println!(
                    "{:<20} {:>9} {:>6} {:>8} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7} {:>10} {:>7} {:>7} {:>5}",
                    case.name,
                    row.payload_len,
                    case.count,
                    if row.accepted { "accept" } else { "reject" },
                    row.host_calls,
                    ms(row.validate.median),
                    ms(row.validate.p90),
                    ms(row.guest.median),
                    ms(row.parse.median),
                    ms(row.parse.p90),
                    ratio(row.guest.median, row.parse.median),
                    ms(row.fresh),
                    kib(row.memory),
                    kib(row.memory_growth),
                    row.validate.reps.min(row.parse.reps),
                );
                if case.configmap_bytes == Some(1 << 20) {
                    let ok = (row.memory_growth as u64) < CONFIGMAP_1MIB_MEMORY_GROWTH_BUDGET;
                    within_budgets &= ok;
                    notes.push(format!(
                        "{}: linear memory grew by {} KiB, budget {} KiB \
                         (e2e::CONFIGMAP_1MIB_MEMORY_GROWTH_BUDGET): {}",
                        case.name,
                        row.memory_growth / 1024,
                        CONFIGMAP_1MIB_MEMORY_GROWTH_BUDGET / 1024,
                        if ok { "ok" } else { "EXCEEDED" }
                    ));
                }
                if let Some(msg) = row.message {
                    notes.push(format!("{}: {msg}", case.name));
                }
                if row.validate.p90 > e2e::DEFAULT_TIMEOUT / 2 {
                    notes.push(format!(
                        "{}: p90 is more than half of policy-server's default 2 s timeout",
                        case.name
                    ));
                }
            }
            Err(e) => {
                println!("{:<20} ERROR: {e:#}", case.name);
                notes.push(format!("{}: {e:#}", case.name));
                within_budgets = false;
            }
        }
    }
    if let Some(peers) = &args.peers {
        own_costs(args, &policy, peers)?;
    }
    if !notes.is_empty() {
        println!();
        for n in notes {
            let short: String = n.chars().take(300).collect();
            println!("note: {short}");
        }
    }
    Ok(within_budgets)
}

/// A peer policy of `--peers`: file, name, and the settings it runs with
/// (those of the load run, `e2e/src/bin/load.rs`).
const PEERS: &[(&str, &str, &str)] = &[
    (
        "environment_variable_policy.wasm",
        "environment-variable-policy",
        r#"{"criteria": "doesNotContainAnyOf", "values": ["KUBECONFIG"]}"#,
    ),
    (
        "volumemounts_policy.wasm",
        "volumemounts-policy",
        r#"{"reject": "anyIn", "volumeMountsNames": ["kubeconfig"]}"#,
    ),
];

/// Each policy's own cost on two requests, as `kwctl bench` reports it
/// (issue #21): the median of a warm `validate` minus that of the no-op
/// policy, which accepts without reading the request, in this run and on
/// this host, over [`OWN_COST_ROUNDS`] interleaved rounds. This policy's host calls are answered by the case's cluster,
/// and that time is taken out, as a replay session would answer them.
fn own_costs(args: &Args, policy: &Policy, peers: &Path) -> Result<()> {
    let seed = e2e::repository_root().join("test_data/deployment_kubeconfig_host_path.json");
    let seed: Value = serde_json::from_slice(
        &std::fs::read(&seed).with_context(|| format!("cannot read {}", seed.display()))?,
    )?;
    let requests = [
        (
            "Deployment, KUBECONFIG on a hostPath (test_data)",
            Case {
                name: String::new(),
                request: seed,
                cluster: ClusterState::new(),
                count: 1,
                configmap_bytes: None,
                settings: None,
            },
        ),
        (
            "ConfigMap, 32 Service URLs",
            configmap_case(8 << 10, args.namespaces, args.bytes_per_url),
        ),
    ];
    let noop_path = peers.join("noop_accept_policy.wasm");
    if !noop_path.exists() {
        println!("\nown cost: SKIPPED, no {}", noop_path.display());
        return Ok(());
    }
    let noop = Policy::load(&noop_path)?.with_timeout(None);
    let present: Vec<_> = PEERS
        .iter()
        .filter(|(file, _, _)| peers.join(file).exists())
        .map(|(file, name, settings)| -> Result<_> {
            let settings: Value = serde_json::from_str(settings)?;
            Ok((
                *name,
                Policy::load(peers.join(file))?.with_timeout(None),
                settings,
            ))
        })
        .collect::<Result<_>>()?;
    println!(
        "\nown cost = warm validate median minus the no-op policy's, in ms, on this host, the median of {OWN_COST_ROUNDS} interleaved rounds{}",
        if present.is_empty() {
            format!(
                " (no peer policies in {}: Kubewarden's releases have them)",
                peers.display()
            )
        } else {
            String::new()
        }
    );
    for (label, case) in &requests {
        let floor_payload = validate_payload(&case.request, &json!({}))?;
        let settings = case.settings.clone().unwrap_or_else(|| json!({}));
        let payload = validate_payload(&case.request, &settings)?;
        let mut noop = noop.instantiate(NoHost::new())?;
        let mut ours = policy.instantiate(case.cluster.clone())?;
        let mut line = String::new();
        // volumemounts-policy fails the call on a kind it does not judge
        // (a ConfigMap): a peer that cannot evaluate the request is named,
        // and left out of the ratio.
        let mut peers = Vec::new();
        for (name, peer, settings) in &present {
            let payload = validate_payload(&case.request, settings)?;
            let mut instance = peer.instantiate(NoHost::new())?;
            match instance.call("validate", &payload) {
                Ok(_) => peers.push((*name, instance, payload, Vec::new())),
                Err(e) => write!(line, ", {name} fails on it ({e:#})")?,
            }
        }
        // Rounds that take every policy in turn, each cost against the
        // floor of its own round: a slow spell of the machine then weighs
        // on all of them alike, where one policy timed after another took
        // it alone (the ratio moved from 0.56 to 0.73 between two runs).
        let mut own = Vec::new();
        for _ in 0..OWN_COST_ROUNDS {
            let floor = guest_median(args, &mut noop, &floor_payload)?;
            own.push(guest_median(args, &mut ours, &payload)?.saturating_sub(floor));
            for (_, instance, payload, costs) in &mut peers {
                costs.push(guest_median(args, instance, payload)?.saturating_sub(floor));
            }
        }
        let floor = guest_median(args, &mut noop, &floor_payload)?;
        let ours = median(own);
        let mut shown = format!("{label}: floor {}, this policy +{}", ms(floor), ms(ours));
        let mut fastest: Option<Duration> = None;
        for (name, _, _, costs) in peers {
            let cost = median(costs);
            write!(shown, ", {name} +{}", ms(cost))?;
            fastest = Some(fastest.map_or(cost, |f| f.min(cost)));
        }
        shown.push_str(&line);
        if let Some(fastest) = fastest {
            write!(
                shown,
                "; ratio to the fastest peer {}",
                ratio(ours, fastest)
            )?;
        }
        println!("{shown}");
    }
    Ok(())
}

/// Rounds of the own-cost comparison: each policy's own cost is the median
/// of its rounds.
const OWN_COST_ROUNDS: usize = 9;

/// The middle of `values` (the upper one of an even count).
fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// The median of a warm `validate` of `payload` on `instance`, less the
/// time its host spends answering host calls.
fn guest_median<H: HostCapabilities>(
    args: &Args,
    instance: &mut Instance<H>,
    payload: &[u8],
) -> Result<Duration> {
    Ok(measure(args, || {
        instance.take_host_time();
        let t = Instant::now();
        instance.call("validate", payload)?;
        Ok(t.elapsed().saturating_sub(instance.take_host_time()))
    })?
    .median)
}

struct Row {
    payload_len: usize,
    accepted: bool,
    message: Option<String>,
    host_calls: usize,
    validate: Stats,
    guest: Stats,
    parse: Stats,
    fresh: Duration,
    /// Linear memory of a fresh instance after `validate`, in bytes.
    memory: usize,
    /// What `validate` added to the memory `wapc_init` left.
    memory_growth: usize,
}

fn bench_case(
    args: &Args,
    policy: &Policy,
    baseline: &Policy,
    measuring: &Policy,
    case: &Case,
    settings: &Value,
) -> Result<Row> {
    let payload = validate_payload(&case.request, settings)?;

    // fresh instance, once: instantiate + wapc_init + validate (the
    // cluster is cloned and the payload built beforehand)
    let cluster = case.cluster.clone();
    let t = Instant::now();
    let mut fresh = policy.instantiate(cluster)?;
    fresh.call("validate", &payload)?;
    let fresh_time = t.elapsed();

    // the same on the engine whose memories report their size
    let mut sized = measuring.instantiate(case.cluster.clone())?;
    let initial = sized.memory_size().context("no linear memory measured")?;
    sized.call("validate", &payload)?;
    let memory = sized.memory_size().context("no linear memory measured")?;

    // the verdict and host calls, from the warm instance's first call
    let mut warm = policy.instantiate(case.cluster.clone())?;
    let eval = warm.validate(&case.request, settings)?;
    if let Some(err) = eval.host_calls.iter().find_map(|c| c.error.as_ref()) {
        bail!("host call failed: {err}");
    }
    let validate = measure(args, || {
        let t = Instant::now();
        warm.call("validate", &payload)?;
        Ok(t.elapsed())
    })?;
    // The same, without the time the host spends answering host calls
    // (policy-server's reflector cache in production, not the policy).
    let guest = measure(args, || {
        warm.take_host_time();
        let t = Instant::now();
        warm.call("validate", &payload)?;
        Ok(t.elapsed().saturating_sub(warm.take_host_time()))
    })?;
    let mut base = baseline.instantiate(NoHost::new())?;
    let parse = measure(args, || {
        let t = Instant::now();
        base.call("parse_request", &payload)?;
        Ok(t.elapsed())
    })?;
    Ok(Row {
        payload_len: payload.len(),
        accepted: eval.response.accepted,
        message: eval.response.message.clone(),
        host_calls: eval.host_calls.len(),
        validate,
        guest,
        parse,
        fresh: fresh_time,
        memory,
        memory_growth: memory - initial,
    })
}
