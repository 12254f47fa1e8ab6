//! `load`: the policy under load on the real policy-server, next to peer
//! policies on the same host, in the same run (`make bench`, through
//! `e2e/real-hosts load`).
//!
//! It starts one policy-server on free loopback ports (no cluster:
//! `--ignore-kubernetes-connection-failure`, every non-loopback HTTP(S)
//! request sent to a closed loopback port) with the policy in protect mode
//! and default settings and, from `--peers`, Kubewarden's
//! environment-variable-policy (settings
//! `{"criteria":"doesNotContainAnyOf","values":["KUBECONFIG"]}`, the closest
//! a generic policy gets to the KUBECONFIG check) and a no-op policy that
//! accepts without reading the request: the host's own cost per request, the
//! floor of any policy. The peers are built without Kubewarden metadata, so
//! they are annotated with `kwctl annotate` first.
//!
//! For each policy in turn, `--clients` connections (HTTP/1.1 keep-alive)
//! POST AdmissionReviews to `/validate/<id>`, alternating the seed
//! Deployment (KUBECONFIG on a host path) and the same Deployment without
//! KUBECONFIG, until `--requests` requests were sent or `--seconds` passed,
//! after `--warmup` requests that are not measured. It prints requests/s,
//! p50, p99 and max latency and errors (transport errors, HTTP statuses
//! other than 200, and verdicts other than expected), then each policy's
//! cost over the no-op floor. Exits 1 when any request failed.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;

/// Load on the real policy-server: this policy and its peers.
#[derive(Parser, Debug)]
#[command(name = "load")]
struct Args {
    /// The annotated policy module (`make annotated-policy.wasm`).
    #[arg(long)]
    policy: PathBuf,
    /// Folder of peer modules: environment_variable_policy.wasm and
    /// noop_accept_policy.wasm (../shared/tools/kubewarden/peers).
    #[arg(long)]
    peers: Option<PathBuf>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Measured requests per policy (at most), over all rounds.
    #[arg(long, default_value_t = 4000)]
    requests: usize,
    /// Measurement time per policy (at most), in seconds, over all rounds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Rounds over the policies; each measures its share of --requests.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Unmeasured requests per policy before the measurement.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// The request that is rejected (KUBECONFIG on a host path).
    #[arg(long, default_value = "test_data/deployment_kubeconfig_host_path.json")]
    seed: PathBuf,
    /// The same Deployment without KUBECONFIG, accepted by every policy.
    #[arg(long, default_value = "test_data/deployment_kubeconfig_removed.json")]
    clean: PathBuf,
    /// The policy-server binary.
    #[arg(long, default_value = "policy-server")]
    policy_server: PathBuf,
    /// The kwctl binary (annotates the peer modules).
    #[arg(long, default_value = "kwctl")]
    kwctl: PathBuf,
}

/// A policy under load: its id in policies.yml and the expected verdicts.
struct Target {
    id: &'static str,
    label: &'static str,
    policies_yml: String,
    seed_allowed: bool,
}

/// What one policy's run measured.
struct Measured {
    label: &'static str,
    requests: usize,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
    /// Latencies of the requests that succeeded, sorted.
    latencies: Vec<Duration>,
}

impl Measured {
    fn empty(label: &'static str) -> Self {
        Self {
            label,
            requests: 0,
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
            latencies: Vec::new(),
        }
    }
    /// Adds a further run of the same policy.
    fn add(&mut self, run: Measured) {
        self.requests += run.requests;
        self.errors += run.errors;
        if self.first_error.is_none() {
            self.first_error = run.first_error;
        }
        self.elapsed += run.elapsed;
        self.latencies.extend(run.latencies);
        self.latencies.sort_unstable();
    }
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p * self.latencies.len() as f64).ceil() as usize).max(1);
        self.latencies[rank.min(self.latencies.len()) - 1]
    }
    fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<bool> {
    let dir = TempDir::new()?;
    let seed = std::fs::read(&args.seed).with_context(|| args.seed.display().to_string())?;
    let clean = std::fs::read(&args.clean).with_context(|| args.clean.display().to_string())?;

    let policy = absolute(&args.policy)?;
    let mut targets = Vec::new();
    let mut peer_note = None;
    match &args.peers {
        Some(peers) => {
            let noop = annotate_peer(
                &args.kwctl,
                &peers.join("noop_accept_policy.wasm"),
                dir.path(),
            )?;
            targets.push(Target {
                id: "noop",
                label: "no-op policy (host floor)",
                policies_yml: module_entry("noop", &noop, "{}"),
                seed_allowed: true,
            });
        }
        None => peer_note = Some("no --peers folder: this policy alone, without the host floor"),
    }
    targets.push(Target {
        id: "dangling-references",
        label: "dangling-references-policy",
        policies_yml: module_entry("dangling-references", &policy, "{}")
            + "  contextAwareResources:\n    - {apiVersion: v1, kind: Service}\n    - {apiVersion: v1, kind: ConfigMap}\n    - {apiVersion: v1, kind: ServiceAccount}\n  hostCapabilities: [kubernetes/get_resource, kubernetes/list_resources_by_namespace]\n",
        seed_allowed: false,
    });
    if let Some(peers) = &args.peers {
        let env = annotate_peer(
            &args.kwctl,
            &peers.join("environment_variable_policy.wasm"),
            dir.path(),
        )?;
        targets.push(Target {
            id: "environment-variable",
            label: "environment-variable-policy",
            policies_yml: module_entry(
                "environment-variable",
                &env,
                r#"{"criteria": "doesNotContainAnyOf", "values": ["KUBECONFIG"]}"#,
            ),
            seed_allowed: false,
        });
    }
    let policies = dir.path().join("policies.yml");
    std::fs::write(
        &policies,
        targets
            .iter()
            .map(|t| t.policies_yml.as_str())
            .collect::<String>(),
    )?;

    let server = PolicyServer::start(&args.policy_server, &policies, dir.path())?;
    println!(
        "== load on {} at 127.0.0.1:{}: {} clients, up to {} requests or {} s per policy in {} rounds, after {} warm-up requests",
        server.version,
        server.port,
        args.clients,
        args.requests,
        args.seconds,
        args.rounds.max(1),
        args.warmup
    );
    println!(
        "   requests alternate {} (KUBECONFIG on a host path: rejected, except by the no-op) and {} (accepted)",
        args.seed.display(),
        args.clean.display()
    );
    if let Some(note) = peer_note {
        println!("   {note}");
    }

    // Rounds interleave the policies, so that a slower phase of the machine
    // does not fall on one policy only.
    let rounds = args.rounds.max(1);
    let mut results: Vec<Measured> = targets.iter().map(|t| Measured::empty(t.label)).collect();
    for round in 0..rounds {
        for (target, total) in targets.iter().zip(results.iter_mut()) {
            let bodies = [
                (seed.as_slice(), target.seed_allowed),
                (clean.as_slice(), true),
            ];
            let path = format!("/validate/{}", target.id);
            let within = Duration::from_secs(args.seconds).div_f64(rounds as f64);
            if round == 0 {
                let warm = drive(
                    server.port,
                    &path,
                    &bodies,
                    args.clients,
                    args.warmup,
                    within,
                )?;
                if warm.errors > 0 {
                    println!(
                        "   {}: {} of {} warm-up requests failed; first: {}",
                        target.label,
                        warm.errors,
                        warm.requests,
                        warm.first_error.as_deref().unwrap_or("?")
                    );
                }
            }
            let share = args.requests / rounds + usize::from(round < args.requests % rounds);
            total.add(drive(
                server.port,
                &path,
                &bodies,
                args.clients,
                share,
                within,
            )?);
        }
    }
    server.stop()?;

    print!("{}", report(&results));
    let failed: Vec<&Measured> = results.iter().filter(|m| m.errors > 0).collect();
    for m in &failed {
        println!(
            "   {}: first error: {}",
            m.label,
            m.first_error.as_deref().unwrap_or("?")
        );
    }
    Ok(failed.is_empty())
}

fn report(results: &[Measured]) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<30} {:>8} {:>7} {:>9} {:>8} {:>8} {:>8}",
        "policy", "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms"
    );
    for m in results {
        let _ = writeln!(
            out,
            "{:<30} {:>8} {:>7} {:>9.0} {:>8.2} {:>8.2} {:>8.2}",
            m.label,
            m.requests,
            m.errors,
            m.per_second(),
            ms(m.percentile(0.50)),
            ms(m.percentile(0.99)),
            ms(m.max())
        );
    }
    if let Some(floor) = results.iter().find(|m| m.label.starts_with("no-op")) {
        let _ = writeln!(
            out,
            "cost over the no-op floor (time per request = 1 / (req/s) with {} cores busy; latency differences):",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        for m in results.iter().filter(|m| !std::ptr::eq(*m, floor)) {
            let per_request = 1e6 / m.per_second() - 1e6 / floor.per_second();
            let _ = writeln!(
                out,
                "{:<30} {:>+8.1} µs/request   p50 {:>+6.2} ms   p99 {:>+6.2} ms",
                m.label,
                per_request,
                ms(m.percentile(0.50)) - ms(floor.percentile(0.50)),
                ms(m.percentile(0.99)) - ms(floor.percentile(0.99)),
            );
        }
    }
    out
}

/// policies.yml entry of a protect-mode policy.
fn module_entry(id: &str, module: &Path, settings: &str) -> String {
    format!(
        "{id}:\n  module: file://{}\n  policyMode: protect\n  allowedToMutate: false\n  settings: {settings}\n",
        module.display()
    )
}

/// The peer module annotated with minimal metadata (policy-server needs
/// the protocol version and execution mode that `kwctl annotate` records).
fn annotate_peer(kwctl: &Path, module: &Path, dir: &Path) -> Result<PathBuf> {
    if !module.is_file() {
        bail!("peer module {} not found", module.display());
    }
    let metadata = dir.join("peer-metadata.yml");
    std::fs::write(
        &metadata,
        "rules:\n  - apiGroups: [\"apps\"]\n    apiVersions: [\"v1\"]\n    resources: [\"deployments\"]\n    operations: [\"CREATE\", \"UPDATE\"]\nmutating: false\nexecutionMode: kubewarden-wapc\n",
    )?;
    let out = dir.join(format!(
        "annotated-{}",
        module
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("peer.wasm")
    ));
    let output = loopback_only(Command::new(kwctl))
        .arg("annotate")
        .arg("-m")
        .arg(&metadata)
        .arg("-o")
        .arg(&out)
        .arg(module)
        .output()
        .with_context(|| format!("cannot run {}", kwctl.display()))?;
    if !output.status.success() {
        bail!(
            "kwctl annotate {} failed: {}",
            module.display(),
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .find(|l| l.starts_with("Error"))
                .unwrap_or("")
        );
    }
    Ok(out)
}

/// Nothing leaves the machine: every non-loopback HTTP(S) request goes to a
/// closed loopback port (the Sigstore trust data download fails at once),
/// and no kubeconfig or in-cluster config is read.
fn loopback_only(mut command: Command) -> Command {
    for var in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"] {
        command.env(var, "http://127.0.0.1:9");
    }
    for var in ["NO_PROXY", "no_proxy"] {
        command.env(var, "127.0.0.1,localhost");
    }
    command
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        // policy-server reads NO_COLOR as --log-no-color and refuses "1"
        .env_remove("NO_COLOR")
        .env_remove("RUST_BACKTRACE");
    command
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(path).with_context(|| format!("{} not found", path.display()))
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// A scratch folder removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .subsec_nanos();
        let path = std::env::temp_dir().join(format!("e2e-load-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running policy-server, killed on drop (also when the run fails).
struct PolicyServer {
    child: Child,
    port: u16,
    version: String,
}

impl PolicyServer {
    fn start(binary: &Path, policies: &Path, dir: &Path) -> Result<Self> {
        let version = Command::new(binary)
            .arg("--version")
            .output()
            .map(|o| {
                let out = String::from_utf8_lossy(&o.stdout);
                out.lines()
                    .next()
                    .unwrap_or("policy-server")
                    .trim()
                    .to_string()
            })
            .with_context(|| format!("cannot run {}", binary.display()))?;
        let log = dir.join("policy-server.log");
        let mut last_error = None;
        for _ in 0..3 {
            let port = free_port()?;
            let readiness = free_port()?;
            if port == readiness {
                continue;
            }
            let child = loopback_only(Command::new(binary))
                .args([
                    "--addr",
                    "127.0.0.1",
                    "--log-level",
                    "warn",
                    "--log-no-color",
                ])
                .args(["--ignore-kubernetes-connection-failure"])
                .arg("--port")
                .arg(port.to_string())
                .arg("--readiness-probe-port")
                .arg(readiness.to_string())
                .arg("--policies")
                .arg(policies)
                .arg("--policies-download-dir")
                .arg(dir)
                .arg("--sigstore-cache-dir")
                .arg(dir.join("sigstore"))
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log)?)
                .stderr(std::fs::File::create(dir.join("policy-server.stderr"))?)
                .spawn()
                .with_context(|| format!("cannot start {}", binary.display()))?;
            let mut server = Self {
                child,
                port,
                version: version.clone(),
            };
            match server.wait_ready(readiness, Duration::from_secs(120)) {
                Ok(()) => return Ok(server),
                Err(e) => {
                    let stderr = std::fs::read_to_string(dir.join("policy-server.stderr"))
                        .unwrap_or_default();
                    let first = stderr
                        .lines()
                        .find(|l| l.starts_with("Error"))
                        .unwrap_or("")
                        .to_string();
                    last_error = Some(anyhow!("{e}: {first}"));
                    if !stderr.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow!("no free loopback ports")))
    }

    fn wait_ready(&mut self, readiness: u16, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("policy-server exited ({status}) before it was ready");
            }
            if let Ok(mut conn) = Connection::open(readiness)
                && let Ok((200, _)) = conn.request("GET", "/readiness", b"")
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("policy-server was not ready within {} s", within.as_secs());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(mut self) -> Result<()> {
        self.kill();
        Ok(())
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PolicyServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `clients` threads POST the bodies in turn to `path` until `count`
/// requests were sent or `within` passed.
fn drive(
    port: u16,
    path: &str,
    bodies: &[(&[u8], bool)],
    clients: usize,
    count: usize,
    within: Duration,
) -> Result<Measured> {
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    let deadline = start + within;
    let per_client: Vec<ClientResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| scope.spawn(|| client(port, path, bodies, &next, count, deadline)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect()
    });
    let elapsed = start.elapsed();
    let mut measured = Measured::empty("");
    measured.elapsed = elapsed;
    for r in per_client {
        measured.requests += r.requests;
        measured.errors += r.errors;
        if measured.first_error.is_none() {
            measured.first_error = r.first_error;
        }
        measured.latencies.extend(r.latencies);
    }
    measured.latencies.sort_unstable();
    Ok(measured)
}

#[derive(Default)]
struct ClientResult {
    requests: usize,
    errors: usize,
    first_error: Option<String>,
    latencies: Vec<Duration>,
}

fn client(
    port: u16,
    path: &str,
    bodies: &[(&[u8], bool)],
    next: &AtomicUsize,
    count: usize,
    deadline: Instant,
) -> ClientResult {
    let mut result = ClientResult::default();
    let mut conn: Option<Connection> = None;
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= count || Instant::now() >= deadline {
            return result;
        }
        let (body, expect_allowed) = bodies[n % bodies.len()];
        result.requests += 1;
        let started = Instant::now();
        let outcome = (|| -> Result<()> {
            if conn.is_none() {
                conn = Some(Connection::open(port)?);
            }
            let c = conn.as_mut().expect("connected");
            let (status, response) = c.request("POST", path, body).inspect_err(|_| {
                conn = None;
            })?;
            if status != 200 {
                bail!("HTTP {status}: {}", String::from_utf8_lossy(&response));
            }
            match allowed(&response) {
                Some(a) if a == expect_allowed => Ok(()),
                Some(a) => bail!(
                    "allowed: {a}, expected {expect_allowed}: {}",
                    String::from_utf8_lossy(&response)
                ),
                None => bail!("no verdict in {}", String::from_utf8_lossy(&response)),
            }
        })();
        match outcome {
            Ok(()) => result.latencies.push(started.elapsed()),
            Err(e) => {
                result.errors += 1;
                if result.first_error.is_none() {
                    result.first_error = Some(format!("{e:#}"));
                }
            }
        }
    }
}

/// `"allowed":true|false` of an AdmissionReview, without parsing the rest.
fn allowed(response: &[u8]) -> Option<bool> {
    let key = b"\"allowed\":";
    let at = response.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = &response[at..];
    if rest.starts_with(b"true") {
        Some(true)
    } else if rest.starts_with(b"false") {
        Some(false)
    } else {
        None
    }
}

/// One HTTP/1.1 keep-alive connection to 127.0.0.1.
struct Connection {
    reader: BufReader<TcpStream>,
    host: String,
}

impl Connection {
    fn open(port: u16) -> Result<Self> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        Ok(Self {
            reader: BufReader::new(stream),
            host: format!("127.0.0.1:{port}"),
        })
    }

    /// Sends a request, reads the whole response: (status, body).
    fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.reader.get_mut().write_all(&request)?;

        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("bad status line {line:?}"))?;
        let mut length = None;
        let mut chunked = false;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("connection closed in the headers");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = Some(value.parse::<usize>()?);
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.eq_ignore_ascii_case("chunked");
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)?;
                if size == 0 {
                    line.clear();
                    self.reader.read_line(&mut line)?;
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                self.reader.read_exact(&mut body[start..])?;
                line.clear();
                self.reader.read_line(&mut line)?;
            }
        } else {
            let length = length.ok_or_else(|| anyhow!("response without Content-Length"))?;
            body.resize(length, 0);
            self.reader.read_exact(&mut body)?;
        }
        Ok((status, body))
    }
}
