//! Loading a policy module and evaluating it with wapc + wasmtime-provider,
//! the way policy-evaluator (kwctl, policy-server) does; or, for tests that
//! bound the guest's cost, with wapc on the metered engine of `fuel.rs`
//! ([`Policy::load_metered`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use wapc::{WapcHost, WebAssemblyEngineProvider};
use wasmtime_provider::wasmtime::{self, Engine, Module};
use wasmtime_provider::{
    EpochDeadlines, WasmtimeEngineProvider, WasmtimeEngineProviderBuilder,
    WasmtimeEngineProviderPre,
};

use crate::fuel::{FuelGauge, MeteredPre, OUT_OF_FUEL_MSG};
use crate::host::{AccessControl, Dispatched, HostCall, HostCapabilities, NoHost, dispatch};

/// policy-server's default `--policy-timeout` (seconds).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// How often the shared engine's epoch is incremented.
const EPOCH_TICK: Duration = Duration::from_millis(50);

/// The error text wasmtime-provider sets when an epoch deadline interrupts
/// the guest (policy-evaluator looks for the same string).
const EPOCH_INTERRUPTION_MSG: &str = "guest code interrupted, execution deadline exceeded";

/// The kubewarden-policy-sdk 0.17 `ValidationResponse` the guest returns
/// from `validate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationResponse {
    /// Whether the request is accepted.
    pub accepted: bool,
    /// Rejection (or informational) message.
    pub message: Option<String>,
    /// Rejection code.
    pub code: Option<u16>,
    /// The mutated object, for mutating policies.
    pub mutated_object: Option<Value>,
    /// Audit annotations.
    pub audit_annotations: Option<BTreeMap<String, String>>,
    /// Warnings returned to the API client.
    pub warnings: Option<Vec<String>>,
}

/// The answer of the guest's `validate_settings` (the SDK's
/// `SettingsValidationResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsVerdict {
    /// Whether the settings are valid.
    pub valid: bool,
    /// Why they are not.
    pub message: Option<String>,
}

/// The result of one `validate` call that produced a verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// `request.uid` of the evaluated AdmissionRequest.
    pub uid: String,
    /// What the guest returned.
    pub response: ValidationResponse,
    /// Every host call the guest made, in order, except the
    /// `kubewarden/tracing/log` calls of the SDK's logger (see `logs`).
    pub host_calls: Vec<HostCall>,
    /// Payloads of the guest's `kubewarden/tracing/log` calls (log events).
    pub logs: Vec<Value>,
    /// RFC 6902 patch from `request.object` to `response.mutated_object`,
    /// as policy-evaluator computes it (`None` without mutation or when the
    /// mutated object equals the request's object).
    pub patch: Option<json_patch::Patch>,
    /// The AdmissionResponse kwctl prints / policy-server returns for this
    /// verdict (protect mode, mutation allowed, no custom message).
    pub admission_response: AdmissionResponse,
    /// Fuel units (about one per WebAssembly instruction executed, the same
    /// on every machine) the guest's `validate` consumed, host calls
    /// excluded; `Some` only for a policy from [`Policy::load_metered`] or
    /// [`Policy::from_bytes_metered`].
    pub fuel: Option<u64>,
}

impl Evaluation {
    /// Shorthand for `response.accepted`.
    pub fn accepted(&self) -> bool {
        self.response.accepted
    }

    /// The host calls made to the `kubewarden/kubernetes` capabilities.
    pub fn kubernetes_calls(&self) -> impl Iterator<Item = &HostCall> {
        self.host_calls
            .iter()
            .filter(|c| c.binding == "kubewarden" && c.namespace == "kubernetes")
    }
}

/// policy-evaluator's AdmissionResponse (the `response` of the
/// AdmissionReview policy-server returns; what kwctl prints).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    /// Copied from the request.
    pub uid: String,
    /// The verdict.
    pub allowed: bool,
    /// `"JSONPatch"` when `patch` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// Base64 of the JSON patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// Message and code of a rejection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<AdmissionResponseStatus>,
    /// Audit annotations.
    pub audit_annotations: Option<BTreeMap<String, String>>,
    /// Warnings.
    pub warnings: Option<Vec<String>>,
}

/// The `status` of an [`AdmissionResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AdmissionResponseStatus {
    /// Human readable message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// HTTP-like code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

impl AdmissionResponse {
    /// policy-evaluator's `AdmissionResponse::reject`.
    pub fn reject(uid: &str, message: String, code: u16) -> Self {
        AdmissionResponse {
            uid: uid.to_owned(),
            allowed: false,
            status: Some(AdmissionResponseStatus {
                message: Some(message),
                code: Some(code),
            }),
            ..Default::default()
        }
    }

    /// The rejection policy-evaluator produces when the evaluation failed
    /// with `err` (guest error or trap: code 500, `internal server error:
    /// Guest call failure: …`; timeout: code 500, `Policy execution
    /// interrupted because it exceeded the allowed execution time`; invalid
    /// answer: code 500, `internal server error: invalid response from
    /// policy: …`). A [`EvaluationErrorKind::HostViolation`] has no
    /// kwctl/policy-server counterpart (they would return the guest's
    /// verdict); it is rendered as an internal server error too.
    pub fn for_error(uid: &str, err: &anyhow::Error) -> Self {
        match err.downcast_ref::<EvaluationError>() {
            Some(EvaluationError {
                kind: EvaluationErrorKind::Timeout,
                ..
            }) => Self::reject(
                uid,
                "Policy execution interrupted because it exceeded the allowed execution time"
                    .to_owned(),
                500,
            ),
            Some(e) => Self::reject(uid, format!("internal server error: {}", e.message), 500),
            None => Self::reject(uid, format!("internal server error: {err}"), 500),
        }
    }
}

/// What went wrong in an evaluation that produced no verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvaluationErrorKind {
    /// The guest returned an error or trapped (panic, `unreachable`, ...).
    Guest,
    /// The epoch deadline (timeout) interrupted the guest.
    Timeout,
    /// A metered guest (see [`Policy::load_metered`]) consumed all the fuel
    /// one guest call may use ([`Policy::with_fuel_limit`]).
    OutOfFuel,
    /// `wapc_init`/`_start` failed while instantiating the module.
    Init,
    /// The guest's answer is not the expected JSON.
    InvalidResponse,
    /// The host saw a violation of the test set-up (see
    /// [`HostCapabilities::violations`]), whatever the guest answered.
    HostViolation,
}

/// The error inside the `anyhow::Error` of a failed evaluation
/// (`err.downcast_ref::<EvaluationError>()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationError {
    /// The kind of failure.
    pub kind: EvaluationErrorKind,
    /// The message, e.g. `Guest call failure: <guest error text>` (the
    /// text policy-evaluator puts after `internal server error: `).
    pub message: String,
}

impl fmt::Display for EvaluationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvaluationError {}

fn eval_err(kind: EvaluationErrorKind, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(EvaluationError {
        kind,
        message: message.into(),
    })
}

fn guest_call_error(e: wapc::errors::Error) -> anyhow::Error {
    let message = e.to_string();
    let kind = if message.contains(EPOCH_INTERRUPTION_MSG) {
        EvaluationErrorKind::Timeout
    } else if message.contains(OUT_OF_FUEL_MSG) {
        EvaluationErrorKind::OutOfFuel
    } else {
        EvaluationErrorKind::Guest
    };
    eval_err(kind, message)
}

/// The engines of this process: each compiles its own code, so a module is
/// compiled once per engine it runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum EngineKind {
    /// As policy-server: wasmtime-provider, epoch interruption.
    Standard,
    /// Configured the same, with linear memories that report their size
    /// (see [`Policy::load_measuring_memory`]).
    MeasuringMemory,
    /// Fuel instead of epochs, for the metered provider of `fuel.rs` (see
    /// [`Policy::load_metered`]).
    Metered,
}

/// The process-wide engine of `kind`: `wasmtime::Config::new()` plus
/// `wasm_function_references` (as policy-evaluator) and wasmtime's on-disk
/// compilation cache unless `E2E_WASMTIME_CACHE=0`; then epoch interruption
/// with a ticker thread (as policy-server with timeout protection), or, for
/// [`EngineKind::Metered`], fuel consumption and no epochs.
fn engine(kind: EngineKind) -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    static MEASURING_ENGINE: OnceLock<Engine> = OnceLock::new();
    static METERED_ENGINE: OnceLock<Engine> = OnceLock::new();
    let cell = match kind {
        EngineKind::Standard => &ENGINE,
        EngineKind::MeasuringMemory => &MEASURING_ENGINE,
        EngineKind::Metered => &METERED_ENGINE,
    };
    cell.get_or_init(|| {
        let mut config = wasmtime::Config::new();
        if kind == EngineKind::MeasuringMemory {
            // copy-on-write memory images need wasmtime's own memories
            config.memory_init_cow(false);
            config.with_host_memory(Arc::new(crate::memory::SizedMemoryCreator));
        }
        config.wasm_function_references(true);
        let metered = kind == EngineKind::Metered;
        config.consume_fuel(metered);
        config.epoch_interruption(!metered);
        let cache_setting = std::env::var("E2E_WASMTIME_CACHE").unwrap_or_default();
        if cache_setting != "0" && cache_setting != "off" {
            let dir = if cache_setting.is_empty() {
                std::env::temp_dir().join("e2e-wasmtime-cache")
            } else {
                cache_setting.into()
            };
            let mut cache_config = wasmtime::CacheConfig::new();
            cache_config.with_directory(dir);
            if let Ok(cache) = wasmtime::Cache::new(cache_config) {
                config.cache(Some(cache));
            }
        }
        let engine = Engine::new(&config).expect("cannot create the wasmtime engine");
        if !metered {
            let ticker = engine.clone();
            std::thread::Builder::new()
                .name("e2e-epoch-ticker".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(EPOCH_TICK);
                        ticker.increment_epoch();
                    }
                })
                .expect("cannot start the epoch ticker thread");
        }
        engine
    })
}

/// What a compiled module is cached and counted by: a hash of its bytes,
/// their length, and the engine.
type ModuleKey = (u64, usize, EngineKind);

/// How many times [`compile`] compiled each module (see
/// [`Policy::compilations`]).
static COMPILATIONS: OnceLock<Mutex<HashMap<ModuleKey, usize>>> = OnceLock::new();

/// Compiled modules of this process, by content and engine.
fn compile(bytes: &[u8], kind: EngineKind) -> Result<(Module, ModuleKey)> {
    static MODULES: OnceLock<Mutex<HashMap<ModuleKey, Module>>> = OnceLock::new();
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    let key = (h.finish(), bytes.len(), kind);
    // the lock is held while compiling so that parallel tests loading the
    // same module compile it once
    let mut modules = MODULES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(m) = modules.get(&key) {
        return Ok((m.clone(), key));
    }
    *COMPILATIONS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(key)
        .or_default() += 1;
    let module = Module::new(engine(kind), bytes).map_err(|e| anyhow!("{e:?}"))?;
    modules.insert(key, module.clone());
    Ok((module, key))
}

/// How a [`Policy`] makes its instances' engine providers.
enum Pre {
    /// wasmtime-provider, as policy-server.
    Wasmtime(Box<WasmtimeEngineProviderPre>),
    /// The metered provider of `fuel.rs`.
    Metered(MeteredPre),
    /// The policy of this commit, linked in (`native.rs`): no module.
    Native,
}

/// A compiled policy module.
///
/// The module is compiled once (and cached per process by content, and on
/// disk by wasmtime's cache); every evaluation through [`Policy::validate`],
/// [`Policy::validate_settings`] and [`Policy::protocol_version`] gets a
/// fresh instance (`WasmtimeEngineProviderPre::rehydrate` + `WapcHost::new`,
/// which runs `_start`/`wapc_init`), exactly like policy-server's
/// per-request `PolicyEvaluator`. Use [`Policy::instantiate`] for a warm
/// instance that serves many calls.
pub struct Policy {
    name: String,
    pre: Pre,
    key: ModuleKey,
    wasm_size: usize,
    timeout: Option<Duration>,
    fuel_limit: u64,
    access: AccessControl,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .field("wasm_size", &self.wasm_size)
            .field("engine", &self.key.2)
            .field("timeout", &self.timeout)
            .field("fuel_limit", &self.fuel_limit)
            .field("access", &self.access)
            .finish()
    }
}

impl Policy {
    /// The default [`Policy::with_fuel_limit`] of a metered policy: the most
    /// fuel units one guest call may consume: 10^11, over 100 times what
    /// the costliest hostile input of the e2e tests consumes. It only stops
    /// a guest that would run away; the tests bound costs with budgets of
    /// their own.
    pub const DEFAULT_FUEL_LIMIT: u64 = 100_000_000_000;

    /// The policy of this very commit, linked into this program and called
    /// natively (see `native.rs`): the same waPC functions, host calls and
    /// answers as its `policy.wasm`, with no module to load. No timeout or
    /// fuel applies: the policy's cost is linear in its input.
    pub fn builtin() -> Policy {
        Policy {
            name: crate::native::NAME.to_owned(),
            pre: Pre::Native,
            key: (0, 0, EngineKind::Standard),
            wasm_size: 0,
            timeout: None,
            fuel_limit: Self::DEFAULT_FUEL_LIMIT,
            access: AccessControl::default(),
        }
    }

    /// Whether this is the built-in policy ([`Policy::builtin`]).
    pub fn is_builtin(&self) -> bool {
        matches!(self.pre, Pre::Native)
    }

    /// Loads and compiles a `.wasm` (or `.wat`) file.
    pub fn load(path: impl AsRef<Path>) -> Result<Policy> {
        Self::load_on(path.as_ref(), EngineKind::Standard)
    }

    /// Compiles a module from memory: wasm bytes or WebAssembly text.
    /// `name` is only used in messages.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Policy> {
        Self::compiled(bytes, name, EngineKind::Standard)
    }

    /// Like [`Policy::load`], on an engine whose linear memories report
    /// their size, so that [`Instance::memory_size`] tells how far an
    /// instance has grown its memory. Everything else behaves the same; only
    /// instantiation is slower (the memory is created and initialised by
    /// this host instead of wasmtime's copy-on-write images), so timings are
    /// measured on a policy from [`Policy::load`].
    pub fn load_measuring_memory(path: impl AsRef<Path>) -> Result<Policy> {
        Self::load_on(path.as_ref(), EngineKind::MeasuringMemory)
    }

    /// Like [`Policy::load`], on a metered engine that counts the fuel the
    /// guest consumes (wasmtime fuel: about one unit per WebAssembly
    /// instruction executed, the same on every machine and every run): see
    /// [`Evaluation::fuel`] and [`Instance::fuel_consumed`].
    ///
    /// The metered engine is this crate's own waPC engine provider, not
    /// wasmtime-provider (which gives no access to its `Store`): the same
    /// waPC protocol, WASI preview 1 with a fixed random source (so that
    /// hash seeds, and with them the fuel, are the same every time), and
    /// host calls answered through the same dispatcher and access checks.
    /// Its guests are bounded by fuel, not time: [`Policy::with_timeout`]
    /// has no effect, [`Policy::with_fuel_limit`] does.
    pub fn load_metered(path: impl AsRef<Path>) -> Result<Policy> {
        Self::load_on(path.as_ref(), EngineKind::Metered)
    }

    /// [`Policy::from_bytes`] on the metered engine of
    /// [`Policy::load_metered`].
    pub fn from_bytes_metered(bytes: &[u8], name: &str) -> Result<Policy> {
        Self::compiled(bytes, name, EngineKind::Metered)
    }

    fn load_on(path: &Path, kind: EngineKind) -> Result<Policy> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read policy module {}", path.display()))?;
        Self::compiled(&bytes, &path.display().to_string(), kind)
            .with_context(|| format!("cannot load policy module {}", path.display()))
    }

    fn compiled(bytes: &[u8], name: &str, kind: EngineKind) -> Result<Policy> {
        let (module, key) = compile(bytes, kind)?;
        let pre = match kind {
            EngineKind::Metered => Pre::Metered(MeteredPre::new(engine(kind), &module)?),
            EngineKind::Standard | EngineKind::MeasuringMemory => Pre::Wasmtime(Box::new(
                WasmtimeEngineProviderBuilder::new()
                    .engine(engine(kind).clone())
                    .module(module)
                    .build_pre()
                    .map_err(|e| anyhow!("cannot prepare the waPC engine: {e}"))?,
            )),
        };
        Ok(Policy {
            name: name.to_owned(),
            pre,
            key,
            wasm_size: bytes.len(),
            timeout: Some(DEFAULT_TIMEOUT),
            fuel_limit: Self::DEFAULT_FUEL_LIMIT,
            access: AccessControl::default(),
        })
    }

    /// The most fuel units one guest call (`validate`, …, or `_start` plus
    /// `wapc_init` at instantiation) of a metered policy may consume; the
    /// call then fails with [`EvaluationErrorKind::OutOfFuel`]. Default:
    /// [`Policy::DEFAULT_FUEL_LIMIT`]. No effect on a policy that is not
    /// metered.
    pub fn with_fuel_limit(mut self, fuel: u64) -> Policy {
        self.fuel_limit = fuel;
        self
    }

    /// How many times this process has compiled this policy's module (the
    /// same bytes, for the same engine): 1, however many policies were
    /// loaded from them and instances made, as long as compiled modules are
    /// reused. For tests.
    #[doc(hidden)]
    pub fn compilations(&self) -> usize {
        COMPILATIONS
            .get()
            .and_then(|c| {
                c.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&self.key)
                    .copied()
            })
            .unwrap_or(0)
    }

    /// Sets the evaluation timeout (default [`DEFAULT_TIMEOUT`], 2 s like
    /// policy-server; `None` disables it like kwctl). It applies to
    /// `wapc_init` and to each guest call separately; time spent in host
    /// calls counts too. A metered policy ([`Policy::load_metered`]) has
    /// no timeout: [`Policy::with_fuel_limit`] bounds it instead.
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Restricts the capabilities and resources the guest may use (default:
    /// everything allowed, see [`AccessControl`]).
    pub fn with_access(mut self, access: AccessControl) -> Self {
        self.access = access;
        self
    }

    /// The name given at load time (the path for [`Policy::load`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Size of the module in bytes.
    pub fn wasm_size(&self) -> usize {
        self.wasm_size
    }

    fn deadlines(&self) -> EpochDeadlines {
        let ticks = match self.timeout {
            // at least `timeout` elapses before the guest is interrupted
            Some(t) => (t.as_nanos() / EPOCH_TICK.as_nanos()) as u64 + 2,
            // with epoch interruption on, "no deadline" has to be a far one
            None => u64::MAX / 4,
        };
        EpochDeadlines {
            wapc_init: ticks,
            wapc_func: ticks,
        }
    }

    /// A fresh engine provider for one `WapcHost`, and the gauge of its
    /// fuel when the policy is metered.
    fn provider(&self) -> Result<(Box<dyn WebAssemblyEngineProvider + Send>, Option<FuelGauge>)> {
        Ok(match &self.pre {
            Pre::Wasmtime(pre) => {
                let provider: WasmtimeEngineProvider = pre
                    .rehydrate(Some(self.deadlines()))
                    .map_err(|e| anyhow!("cannot rehydrate the waPC engine: {e}"))?;
                (Box::new(provider), None)
            }
            Pre::Metered(pre) => {
                let (provider, gauge) = pre.provider(self.fuel_limit);
                (Box::new(provider), Some(gauge))
            }
            Pre::Native => bail!("the built-in policy has no waPC engine"),
        })
    }

    /// Calls the guest's `protocol_version` on a fresh instance and returns
    /// the version string (`"v1"` for SDK 0.17 policies).
    pub fn protocol_version(&self) -> Result<String> {
        let mut instance = self.instantiate(NoHost::new())?;
        instance.protocol_version()
    }

    /// Calls the guest's `validate_settings` on a fresh instance with the
    /// settings serialised as JSON, as kwctl does (`null` becomes `{}`; a
    /// non-object is an error, as kwctl rejects it).
    ///
    /// A guest error or trap is an `Err` here; kwctl would report it as
    /// invalid settings with the message `Error invoking settings validation
    /// callback: …`.
    pub fn validate_settings(&self, settings: &Value) -> Result<SettingsVerdict> {
        let mut instance = self.instantiate(NoHost::new())?;
        instance.validate_settings(settings)
    }

    /// Evaluates `request` (an AdmissionReview or a bare AdmissionRequest,
    /// as kwctl accepts) with `settings` on a fresh instance, answering host
    /// calls with `host`.
    ///
    /// The guest receives `{"request": <AdmissionRequest>, "settings":
    /// <settings>}`, with the AdmissionRequest re-serialised through
    /// policy-evaluator's model (unknown fields dropped, `null` optional
    /// fields omitted, missing required fields an error; see
    /// [`validate_payload`]).
    ///
    /// `Err` (with an [`EvaluationError`] inside) when the guest returns an
    /// error, traps, times out or answers garbage (policy-evaluator turns
    /// these into a code-500 rejection, see [`AdmissionResponse::for_error`])
    /// and when `host` reports a new violation during the evaluation, even
    /// if the guest produced a verdict.
    ///
    /// The guest runs on a short-lived thread while the calling thread
    /// answers its host calls through a channel (as policy-evaluator's
    /// callback handler does), so `host` need not be `Send`.
    pub fn validate(
        &self,
        request: &Value,
        settings: &Value,
        host: &mut dyn HostCapabilities,
    ) -> Result<Evaluation> {
        let prepared = Prepared::new(request, settings)?;
        let before = host.violations().len();
        let (raw, host_calls, logs, fuel) = self.run_fresh("validate", &prepared.payload, host)?;
        let violations = host.violations().get(before..).unwrap_or_default().to_vec();
        prepared.finish(raw, host_calls, logs, violations, fuel)
    }

    /// A warm instance (one `WapcHost`) whose host calls are answered by
    /// `host`; `wapc_init` has run when this returns.
    pub fn instantiate<H: HostCapabilities + Send + 'static>(
        &self,
        host: H,
    ) -> Result<Instance<H>> {
        let state = Arc::new(Mutex::new(Shared {
            host,
            access: self.access.clone(),
            record: Record::default(),
            host_time: Duration::ZERO,
        }));
        let cb_state = state.clone();
        let callback =
            move |_id: u64, binding: &str, namespace: &str, operation: &str, payload: &[u8]| {
                let started = Instant::now();
                let mut guard = cb_state.lock().unwrap_or_else(|p| p.into_inner());
                let st = &mut *guard;
                let answer = st
                    .record
                    .serve(
                        &mut st.host,
                        &st.access,
                        binding,
                        namespace,
                        operation,
                        payload,
                    )
                    .map_err(Into::into);
                st.host_time += started.elapsed();
                answer
            };
        if self.is_builtin() {
            return Ok(Instance {
                wapc: Guest::Native(Box::new(callback)),
                state,
                memory: Vec::new(),
                fuel: None,
            });
        }
        let (provider, fuel) = self.provider()?;
        let measuring_memory = self.key.2 == EngineKind::MeasuringMemory;
        if measuring_memory {
            crate::memory::forget_created();
        }
        // wasmtime creates the instance's memory here, on this thread
        let wapc = WapcHost::new(provider, Some(Box::new(callback)))
            .map_err(|e| eval_err(EvaluationErrorKind::Init, e.to_string()));
        let memory = if measuring_memory {
            crate::memory::take_created()
        } else {
            Vec::new()
        };
        Ok(Instance {
            wapc: Guest::Wapc(wapc?),
            state,
            memory,
            fuel,
        })
    }

    /// Runs one guest call on a fresh instance, serving host calls on this
    /// thread. Returns the guest's answer, the host calls and logs, and the
    /// fuel the call consumed (metered policies only).
    #[allow(clippy::type_complexity)]
    fn run_fresh(
        &self,
        operation: &str,
        payload: &[u8],
        host: &mut dyn HostCapabilities,
    ) -> Result<(
        Result<Vec<u8>, wapc::errors::Error>,
        Vec<HostCall>,
        Vec<Value>,
        Option<u64>,
    )> {
        struct Request {
            binding: String,
            namespace: String,
            operation: String,
            payload: Vec<u8>,
            reply: mpsc::SyncSender<Result<Vec<u8>, String>>,
        }
        if self.is_builtin() {
            // no guest thread: the policy runs here and calls the host directly
            let mut record = Record::default();
            let mut answer = |binding: &str, namespace: &str, operation: &str, payload: &[u8]| {
                record.serve(host, &self.access, binding, namespace, operation, payload)
            };
            let raw = crate::native::call(operation, payload, &mut answer);
            return Ok((raw, record.calls, record.logs, None));
        }
        let (tx, rx) = mpsc::channel::<Request>();
        let (provider, fuel) = self.provider()?;
        std::thread::scope(|scope| {
            let worker = std::thread::Builder::new()
                .name("e2e-guest".into())
                .stack_size(16 << 20)
                .spawn_scoped(scope, move || {
                    let callback = move |_id: u64,
                                         binding: &str,
                                         namespace: &str,
                                         operation: &str,
                                         payload: &[u8]|
                          -> Result<
                        Vec<u8>,
                        Box<dyn std::error::Error + Send + Sync>,
                    > {
                        let (reply, answer) = mpsc::sync_channel(1);
                        tx.send(Request {
                            binding: binding.to_owned(),
                            namespace: namespace.to_owned(),
                            operation: operation.to_owned(),
                            payload: payload.to_vec(),
                            reply,
                        })
                        .map_err(|_| "the e2e host stopped serving host calls")?;
                        let answer = answer
                            .recv()
                            .map_err(|_| "the e2e host dropped a host call")?;
                        answer.map_err(Into::into)
                    };
                    let wapc = WapcHost::new(provider, Some(Box::new(callback)))
                        .map_err(|e| eval_err(EvaluationErrorKind::Init, e.to_string()))?;
                    Ok::<_, anyhow::Error>(wapc.call(operation, payload))
                })
                .context("cannot spawn the guest thread")?;
            let mut record = Record::default();
            // ends when the worker drops the WapcHost (and so the sender)
            for req in rx {
                let answer = record.serve(
                    host,
                    &self.access,
                    &req.binding,
                    &req.namespace,
                    &req.operation,
                    &req.payload,
                );
                let _ = req.reply.send(answer);
            }
            let raw = worker
                .join()
                .map_err(|_| anyhow!("the guest thread panicked"))??;
            Ok((
                raw,
                record.calls,
                record.logs,
                fuel.map(|gauge| gauge.last()),
            ))
        })
    }
}

/// The host calls and log events of guest calls, in the order they came.
#[derive(Default)]
struct Record {
    calls: Vec<HostCall>,
    logs: Vec<Value>,
}

impl Record {
    /// Answers one host call of the guest through [`dispatch`], keeping the
    /// call (or the log event): what every host of this module does, on
    /// the waPC host's thread, in its callback, and for the built-in policy.
    fn serve(
        &mut self,
        host: &mut dyn HostCapabilities,
        access: &AccessControl,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, String> {
        match dispatch(host, access, binding, namespace, operation, payload) {
            Dispatched::Log(v) => {
                self.logs.push(v);
                Ok(Vec::new())
            }
            Dispatched::Call(call, result) => {
                self.calls.push(call);
                result
            }
        }
    }
}

struct Shared<H> {
    host: H,
    access: AccessControl,
    record: Record,
    /// Time spent inside the host-call callback (the host's share).
    host_time: Duration,
}

/// A warm policy instance: one wasm instance (one `wasmtime::Store`) that
/// serves many guest calls, keeping whatever state the guest keeps between
/// calls. Host calls are answered by the owned host `H`.
pub struct Instance<H> {
    wapc: Guest,
    state: Arc<Mutex<Shared<H>>>,
    /// Sizes of the instance's linear memories (a policy from
    /// [`Policy::load_measuring_memory`] only).
    memory: Vec<Arc<AtomicUsize>>,
    /// The fuel of the latest guest call (a metered policy only).
    fuel: Option<FuelGauge>,
}

/// What an [`Instance`] calls: a waPC guest, or the built-in policy with
/// the host-call callback a `WapcHost` would be given.
enum Guest {
    Wapc(WapcHost),
    Native(Box<HostCallback>),
}

/// The host-call callback of a `WapcHost`.
type HostCallback = dyn Fn(u64, &str, &str, &str, &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>>
    + Send
    + Sync;

impl Guest {
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, wapc::errors::Error> {
        match self {
            Guest::Wapc(wapc) => wapc.call(operation, payload),
            Guest::Native(callback) => {
                let mut host = |binding: &str, namespace: &str, op: &str, payload: &[u8]| {
                    callback(0, binding, namespace, op, payload).map_err(|e| e.to_string())
                };
                crate::native::call(operation, payload, &mut host)
            }
        }
    }
}

impl fmt::Debug for Guest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Guest::Wapc(wapc) => wapc.fmt(f),
            Guest::Native(_) => f.write_str(crate::native::NAME),
        }
    }
}

impl<H> fmt::Debug for Instance<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("wapc", &self.wapc)
            .finish()
    }
}

impl<H: HostCapabilities> Instance<H> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared<H>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The size in bytes of the instance's linear memory now: after
    /// instantiation, what `wapc_init` left; after calls, the most they
    /// needed, since a linear memory never shrinks. `None` unless the policy
    /// was loaded with [`Policy::load_measuring_memory`].
    pub fn memory_size(&self) -> Option<usize> {
        (!self.memory.is_empty())
            .then(|| self.memory.iter().map(|m| m.load(Ordering::Relaxed)).sum())
    }

    /// Fuel units (about one per WebAssembly instruction executed, the same
    /// on every machine) consumed by the latest guest call on this
    /// instance (`call`, `validate`, …; before any, by `_start` and
    /// `wapc_init`), host calls excluded; all of the fuel limit when the
    /// call ran out of it. `None` unless the policy was loaded with
    /// [`Policy::load_metered`] or [`Policy::from_bytes_metered`].
    pub fn fuel_consumed(&self) -> Option<u64> {
        self.fuel.as_ref().map(FuelGauge::last)
    }

    /// Calls the waPC function `operation` with a raw payload and returns
    /// the guest's raw answer (`Err` with an [`EvaluationError`] on a guest
    /// error, trap, timeout or, when metered, exhausted fuel). Host calls made meanwhile are kept for
    /// [`Instance::take_host_calls`].
    pub fn call(&mut self, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
        self.wapc.call(operation, payload).map_err(guest_call_error)
    }

    /// Evaluates like [`Policy::validate`], on this warm instance.
    pub fn validate(&mut self, request: &Value, settings: &Value) -> Result<Evaluation> {
        let prepared = Prepared::new(request, settings)?;
        let before = self.lock().host.violations().len();
        self.take_host_calls();
        self.take_logs();
        let raw = self.wapc.call("validate", &prepared.payload);
        let mut st = self.lock();
        let Record { calls, logs } = std::mem::take(&mut st.record);
        let violations = st
            .host
            .violations()
            .get(before..)
            .unwrap_or_default()
            .to_vec();
        drop(st);
        prepared.finish(raw, calls, logs, violations, self.fuel_consumed())
    }

    /// Calls `validate_settings` (see [`Policy::validate_settings`]).
    pub fn validate_settings(&mut self, settings: &Value) -> Result<SettingsVerdict> {
        let settings = normalize_settings(settings)?;
        let payload = serde_json::to_vec(&settings)?;
        let before = self.lock().host.violations().len();
        let raw = self.call("validate_settings", &payload);
        self.check_violations(before)?;
        let raw = raw?;
        serde_json::from_slice(&raw).map_err(|e| {
            eval_err(
                EvaluationErrorKind::InvalidResponse,
                format!(
                    "invalid response from policy: {e} (validate_settings answered {:?})",
                    String::from_utf8_lossy(&raw)
                ),
            )
        })
    }

    /// Calls `protocol_version` and returns the version string.
    pub fn protocol_version(&mut self) -> Result<String> {
        let raw = self.call("protocol_version", &[])?;
        serde_json::from_slice::<String>(&raw).map_err(|e| {
            eval_err(
                EvaluationErrorKind::InvalidResponse,
                format!(
                    "cannot create ProtocolVersion object from {:?}: {e}",
                    String::from_utf8_lossy(&raw)
                ),
            )
        })
    }

    fn check_violations(&self, before: usize) -> Result<()> {
        let st = self.lock();
        let new = st.host.violations().get(before..).unwrap_or_default();
        if new.is_empty() {
            Ok(())
        } else {
            Err(eval_err(
                EvaluationErrorKind::HostViolation,
                format!("host capability violation: {}", new.join("; ")),
            ))
        }
    }

    /// Host calls recorded since the last `validate` or `take_host_calls`.
    pub fn take_host_calls(&mut self) -> Vec<HostCall> {
        std::mem::take(&mut self.lock().record.calls)
    }

    /// Time the host spent answering host calls since the last call of
    /// this method: the host's share of an evaluation, which the benchmark
    /// subtracts to get the guest's own cost.
    pub fn take_host_time(&mut self) -> Duration {
        std::mem::take(&mut self.lock().host_time)
    }

    /// Log events recorded since the last `validate` or `take_logs`.
    pub fn take_logs(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.lock().record.logs)
    }

    /// Runs `f` on the host (e.g. to inspect a `ReplaySession`).
    pub fn with_host<R>(&self, f: impl FnOnce(&mut H) -> R) -> R {
        f(&mut self.lock().host)
    }
}

/// policy-evaluator's model of an AdmissionRequest: what the guest gets.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdmissionRequest {
    uid: String,
    kind: GroupVersionKind,
    resource: GroupVersionResource,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_kind: Option<GroupVersionKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_resource: Option<GroupVersionResource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    operation: String,
    user_info: UserInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    old_object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<Value>,
}

#[derive(Serialize, Deserialize)]
struct GroupVersionKind {
    group: String,
    version: String,
    kind: String,
}

#[derive(Serialize, Deserialize)]
struct GroupVersionResource {
    group: String,
    version: String,
    resource: String,
}

/// k8s-openapi's authentication/v1 UserInfo (every field optional).
#[derive(Serialize, Deserialize)]
struct UserInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    extra: Option<BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
}

/// Extracts and normalises the AdmissionRequest from kwctl-style input
/// (an AdmissionReview, or a bare AdmissionRequest), returning it as the
/// guest will see it. The error messages are kwctl's.
pub fn admission_request(input: &Value) -> Result<Value> {
    let object = input
        .as_object()
        .ok_or_else(|| anyhow!("Invalid request object"))?;
    let req = if object.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        object
            .get("request")
            .cloned()
            .ok_or_else(|| anyhow!("invalid AdmissionReview object"))?
    } else {
        input.clone()
    };
    let req: AdmissionRequest = serde_json::from_value(req)
        .map_err(|e| anyhow!("cannot build AdmissionRequest object from given input: {e}"))?;
    Ok(serde_json::to_value(req)?)
}

/// kwctl's `PolicySettings`: `null` is `{}`, objects pass, anything else is
/// an error.
pub fn normalize_settings(settings: &Value) -> Result<Map<String, Value>> {
    match settings {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => Ok(m.clone()),
        _ => Err(anyhow!("Invalid settings in CRD, not an object")),
    }
}

/// The exact bytes handed to the guest's `validate`:
/// `{"request": <normalised AdmissionRequest>, "settings": <settings>}`.
pub fn validate_payload(request: &Value, settings: &Value) -> Result<Vec<u8>> {
    Ok(Prepared::new(request, settings)?.payload)
}

struct Prepared {
    uid: String,
    object: Option<Value>,
    payload: Vec<u8>,
}

impl Prepared {
    fn new(request: &Value, settings: &Value) -> Result<Self> {
        let req = admission_request(request)?;
        let settings = normalize_settings(settings)?;
        let payload = serde_json::to_vec(&json!({"request": req, "settings": settings}))?;
        Ok(Prepared {
            uid: req["uid"].as_str().unwrap_or_default().to_owned(),
            object: req.get("object").cloned(),
            payload,
        })
    }

    fn finish(
        self,
        raw: Result<Vec<u8>, wapc::errors::Error>,
        host_calls: Vec<HostCall>,
        logs: Vec<Value>,
        violations: Vec<String>,
        fuel: Option<u64>,
    ) -> Result<Evaluation> {
        if !violations.is_empty() {
            let outcome = match &raw {
                Ok(bytes) => format!("the guest answered {}", String::from_utf8_lossy(bytes)),
                Err(e) => format!("the guest failed: {e}"),
            };
            return Err(eval_err(
                EvaluationErrorKind::HostViolation,
                format!(
                    "host capability violation: {} ({outcome})",
                    violations.join("; ")
                ),
            ));
        }
        let raw = raw.map_err(guest_call_error)?;
        let response: ValidationResponse = serde_json::from_slice(&raw).map_err(|e| {
            eval_err(
                EvaluationErrorKind::InvalidResponse,
                format!(
                    "invalid response from policy: {e} (the guest answered {:?})",
                    String::from_utf8_lossy(&raw)
                ),
            )
        })?;
        let (patch, admission_response) = self.admission_response(&response)?;
        Ok(Evaluation {
            uid: self.uid,
            response,
            host_calls,
            logs,
            patch,
            admission_response,
            fuel,
        })
    }

    /// policy-evaluator's `AdmissionResponse::from_policy_validation_response`.
    fn admission_response(
        &self,
        resp: &ValidationResponse,
    ) -> Result<(Option<json_patch::Patch>, AdmissionResponse)> {
        if resp.mutated_object.is_some() && self.object.is_none() {
            return Ok((
                None,
                AdmissionResponse {
                    uid: self.uid.clone(),
                    allowed: false,
                    status: Some(AdmissionResponseStatus {
                        message: Some("Incoming object is null, which happens only with DELETE operations, but the policy is attempting a mutation. This is not allowed".to_owned()),
                        code: None,
                    }),
                    ..Default::default()
                },
            ));
        }
        let patch = match (&resp.mutated_object, &self.object) {
            (Some(mutated), Some(object)) => {
                let diff = json_patch::diff(object, mutated);
                (!diff.0.is_empty()).then_some(diff)
            }
            _ => None,
        };
        let encoded = match &patch {
            Some(p) => {
                Some(base64::engine::general_purpose::STANDARD.encode(serde_json::to_string(p)?))
            }
            None => None,
        };
        let status =
            (resp.message.is_some() || resp.code.is_some()).then(|| AdmissionResponseStatus {
                message: resp.message.clone(),
                code: resp.code,
            });
        Ok((
            patch,
            AdmissionResponse {
                uid: self.uid.clone(),
                allowed: resp.accepted,
                patch_type: encoded.as_ref().map(|_| "JSONPatch".to_owned()),
                patch: encoded,
                status,
                audit_annotations: resp.audit_annotations.clone(),
                warnings: resp.warnings.clone(),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review() -> Value {
        json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "1299d386-525b-4032-98ae-1949f69f9cfc",
                "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
                "resource": {"group": "", "version": "v1", "resource": "configmaps"},
                "requestKind": {"group": "", "version": "v1", "kind": "ConfigMap"},
                "name": "cm",
                "namespace": "default",
                "operation": "CREATE",
                "userInfo": {"username": "admin", "groups": null},
                "object": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}},
                "oldObject": null,
                "dryRun": false,
                "unknownField": 1,
            }
        })
    }

    #[test]
    fn request_normalisation() {
        let r = admission_request(&review()).unwrap();
        assert_eq!(r, admission_request(&review()["request"]).unwrap());
        assert!(r.get("oldObject").is_none());
        assert!(r.get("unknownField").is_none());
        assert_eq!(r["userInfo"], json!({"username": "admin"}));
        assert_eq!(r["dryRun"], json!(false));
        let mut bad = review();
        bad["request"].as_object_mut().unwrap().remove("userInfo");
        let e = admission_request(&bad).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "cannot build AdmissionRequest object from given input: missing field `userInfo`"
            ),
            "{e}"
        );
        assert!(admission_request(&json!([])).is_err());
        assert!(
            admission_request(&json!({"kind": "AdmissionReview"}))
                .unwrap_err()
                .to_string()
                .contains("invalid AdmissionReview object")
        );
    }

    #[test]
    fn policy_can_be_shared_between_test_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Policy>();
    }

    #[test]
    fn settings_normalisation() {
        assert_eq!(normalize_settings(&Value::Null).unwrap(), Map::new());
        assert!(normalize_settings(&json!([1])).is_err());
    }

    #[test]
    fn admission_response_shapes() {
        let p = Prepared::new(&review(), &Value::Null).unwrap();
        let mut mutated = review()["request"]["object"].clone();
        mutated["metadata"]["labels"] = json!({"a": "b"});
        let resp = ValidationResponse {
            accepted: true,
            message: None,
            code: None,
            mutated_object: Some(mutated),
            audit_annotations: None,
            warnings: None,
        };
        let (patch, ar) = p.admission_response(&resp).unwrap();
        let patch = patch.unwrap();
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            json!([{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}])
        );
        assert_eq!(ar.patch_type.as_deref(), Some("JSONPatch"));
        let text = serde_json::to_value(&ar).unwrap();
        assert_eq!(text["auditAnnotations"], Value::Null);
        assert!(text.get("status").is_none());

        let err = eval_err(EvaluationErrorKind::Guest, "Guest call failure: boom");
        let r = AdmissionResponse::for_error("u", &err);
        assert_eq!(
            r.status.unwrap().message.unwrap(),
            "internal server error: Guest call failure: boom"
        );
    }
}
