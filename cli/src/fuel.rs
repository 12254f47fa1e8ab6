//! A metered waPC engine provider, for [`crate::Policy::load_metered`]:
//! wasmtime-provider keeps the wasmtime `Store` to itself, so it cannot
//! give a guest fuel or tell how much it burnt. This provider is the same
//! protocol on a `Store` of its own: wasmtime with
//! `Config::consume_fuel`, WASI preview 1 from `wasmtime-wasi`, and the nine
//! `wapc` imports answered through wapc's [`ModuleState`] exactly as
//! wasmtime-provider's callbacks do, so that the host calls reach the same
//! callback (and so the same [`crate::HostCapabilities`] and access checks).
//!
//! Fuel is wasmtime's count of executed WebAssembly instructions (most cost
//! 1, `nop`, `drop`, `block`, `loop` and the like 0); host functions cost
//! nothing but the call. The count depends only on the module and what the
//! guest is given, not on the machine: the WASI random source is a fixed
//! byte sequence (Rust's `HashMap` seeds come from it, and they decide how
//! many probes a lookup takes), and nothing else the guest can observe
//! differs between runs. The engine has no epoch interruption: the fuel
//! limit is the only bound on a metered guest.

use std::error::Error as StdError;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wapc::{HOST_NAMESPACE, ModuleState, WebAssemblyEngineProvider, wapc_functions as names};
use wasmtime_provider::wasmtime::{
    self, Caller, Engine, InstancePre, Linker, Memory, Module, Store, Trap, TypedFunc, format_err,
};
use wasmtime_wasi::p1::WasiP1Ctx;

/// The text of the guest error set when a guest call runs out of fuel
/// (followed by the limit); `crate::policy` maps it to
/// [`crate::EvaluationErrorKind::OutOfFuel`].
pub(crate) const OUT_OF_FUEL_MSG: &str = "guest code ran out of fuel";

type BoxError = Box<dyn StdError + Send + Sync>;

/// What a metered `Store` holds: the WASI context and the waPC state of the
/// `WapcHost` the provider belongs to (set by `init`).
struct GuestState {
    wasi: WasiP1Ctx,
    host: Option<Arc<ModuleState>>,
}

/// Fuel consumed by the latest guest entry of one metered instance: the
/// last `__guest_call`, or `_start` plus `wapc_init` before any call.
/// Shared between the provider (inside the `WapcHost`) and the
/// [`crate::Instance`] or evaluation that reads it.
#[derive(Debug, Clone, Default)]
pub(crate) struct FuelGauge(Arc<AtomicU64>);

impl FuelGauge {
    /// Fuel units of the latest guest entry.
    pub(crate) fn last(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, fuel: u64) {
        self.0.store(fuel, Ordering::Relaxed);
    }
}

/// A module linked against the waPC and WASI imports on a fuel-consuming
/// engine, ready to be instantiated many times (the metered counterpart of
/// `WasmtimeEngineProviderPre`).
pub(crate) struct MeteredPre {
    engine: Engine,
    instance_pre: InstancePre<GuestState>,
}

impl MeteredPre {
    /// Links `module`, compiled for `engine` (which must have
    /// `consume_fuel` on and epoch interruption off). Fails when the module
    /// imports something that is neither waPC nor WASI preview 1.
    pub(crate) fn new(engine: &Engine, module: &Module) -> anyhow::Result<Self> {
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut GuestState| &mut s.wasi)
            .map_err(|e| anyhow::anyhow!("cannot link WASI: {e}"))?;
        link_wapc(&mut linker).map_err(|e| anyhow::anyhow!("cannot link waPC: {e}"))?;
        let instance_pre = linker
            .instantiate_pre(module)
            .map_err(|e| anyhow::anyhow!("cannot link the module: {e}"))?;
        Ok(MeteredPre {
            engine: engine.clone(),
            instance_pre,
        })
    }

    /// A provider for one `WapcHost`, whose every guest entry may consume
    /// at most `fuel_limit` units, and the gauge it reports to.
    pub(crate) fn provider(&self, fuel_limit: u64) -> (MeteredProvider, FuelGauge) {
        let gauge = FuelGauge::default();
        let provider = MeteredProvider {
            engine: self.engine.clone(),
            instance_pre: self.instance_pre.clone(),
            fuel_limit,
            gauge: gauge.clone(),
            live: None,
        };
        (provider, gauge)
    }
}

/// The instance of a metered provider, created by `init`.
struct Live {
    store: Store<GuestState>,
    guest_call: TypedFunc<(i32, i32), i32>,
    host: Arc<ModuleState>,
}

/// The metered [`WebAssemblyEngineProvider`] handed to `WapcHost::new`.
pub(crate) struct MeteredProvider {
    engine: Engine,
    instance_pre: InstancePre<GuestState>,
    fuel_limit: u64,
    gauge: FuelGauge,
    live: Option<Live>,
}

impl MeteredProvider {
    /// Runs `f` on the store with a full tank of `fuel_limit` units and
    /// records what it consumed.
    fn metered<R>(
        store: &mut Store<GuestState>,
        fuel_limit: u64,
        f: impl FnOnce(&mut Store<GuestState>) -> wasmtime::Result<R>,
    ) -> Result<(wasmtime::Result<R>, u64), BoxError> {
        store.set_fuel(fuel_limit)?;
        let result = f(store);
        let consumed = fuel_limit - store.get_fuel()?;
        Ok((result, consumed))
    }

    fn out_of_fuel(&self, err: &wasmtime::Error) -> Option<String> {
        matches!(err.downcast_ref::<Trap>(), Some(Trap::OutOfFuel))
            .then(|| format!("{OUT_OF_FUEL_MSG} (limit: {} units)", self.fuel_limit))
    }
}

impl WebAssemblyEngineProvider for MeteredProvider {
    fn init(&mut self, host: Arc<ModuleState>) -> Result<(), BoxError> {
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .inherit_stdio()
            .secure_random(wasmtime_wasi::Deterministic::new(RANDOM_BYTES.to_vec()))
            .insecure_random(wasmtime_wasi::Deterministic::new(RANDOM_BYTES.to_vec()))
            .insecure_random_seed(0)
            .build_p1();
        let state = GuestState {
            wasi,
            host: Some(host.clone()),
        };
        let mut store = Store::new(&self.engine, state);
        // a wasm `start` function runs while instantiating
        let (instance, mut init_fuel) = Self::metered(&mut store, self.fuel_limit, |s| {
            self.instance_pre.instantiate(s)
        })?;
        self.gauge.set(init_fuel);
        let instance = instance?;
        let guest_call = instance
            .get_typed_func::<(i32, i32), i32>(&mut store, names::GUEST_CALL)
            .map_err(|_| "Guest call function (__guest_call) not exported by wasm module.")?;
        for start in names::REQUIRED_STARTS {
            let Some(func) = instance.get_func(&mut store, start) else {
                continue;
            };
            let func = func.typed::<(), ()>(&store)?;
            let (result, consumed) =
                Self::metered(&mut store, self.fuel_limit, |s| func.call(s, ()))?;
            init_fuel += consumed;
            self.gauge.set(init_fuel);
            if let Err(err) = result {
                // a WASI `proc_exit(0)` at the end of `_start` is a success
                if err
                    .downcast_ref::<wasmtime_wasi::I32Exit>()
                    .is_some_and(|exit| exit.0 == 0)
                {
                    continue;
                }
                let message = self.out_of_fuel(&err).unwrap_or_else(|| err.to_string());
                return Err(format!("Initialization failed: {start}: {message}").into());
            }
        }
        self.live = Some(Live {
            store,
            guest_call,
            host,
        });
        Ok(())
    }

    fn call(&mut self, op_length: i32, msg_length: i32) -> Result<i32, BoxError> {
        let fuel_limit = self.fuel_limit;
        let live = self
            .live
            .as_mut()
            .ok_or("the metered engine was called before init")?;
        let guest_call = &live.guest_call;
        let (result, consumed) = Self::metered(&mut live.store, fuel_limit, |s| {
            guest_call.call(s, (op_length, msg_length))
        })?;
        self.gauge.set(consumed);
        match result {
            Ok(code) => Ok(code),
            // as wasmtime-provider: a trap is a guest error, the call "returns" 0
            Err(err) => {
                let message = self.out_of_fuel(&err).unwrap_or_else(|| err.to_string());
                if let Some(live) = &self.live {
                    live.host.set_guest_error(message);
                }
                Ok(0)
            }
        }
    }

    fn replace(&mut self, _bytes: &[u8]) -> Result<(), BoxError> {
        Err("the metered engine cannot replace its module".into())
    }
}

/// What the guest's `random_get` returns, cycled: fixed, so that hash
/// seeds (and so fuel) are the same on every run.
const RANDOM_BYTES: [u8; 32] = *b"dangling-references fuel meter!!";

fn wapc_state(caller: &Caller<'_, GuestState>) -> wasmtime::Result<Arc<ModuleState>> {
    caller
        .data()
        .host
        .clone()
        .ok_or_else(|| format_err!("host should have been set during the init"))
}

fn guest_memory(caller: &mut Caller<'_, GuestState>) -> wasmtime::Result<Memory> {
    caller
        .get_export("memory")
        .and_then(|export| export.into_memory())
        .ok_or_else(|| format_err!("the guest exports no memory named 'memory'"))
}

/// `len` bytes of guest memory at `ptr` (both read as the unsigned
/// integers wasm means); an error (a trap) when out of bounds.
fn read(caller: &mut Caller<'_, GuestState>, ptr: i32, len: i32) -> wasmtime::Result<Vec<u8>> {
    let memory = guest_memory(caller)?;
    let start = ptr as u32 as usize;
    let end = start + len as u32 as usize;
    memory
        .data(&*caller)
        .get(start..end)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| format_err!("{len} bytes at {start} are outside the guest memory"))
}

fn read_str(
    caller: &mut Caller<'_, GuestState>,
    ptr: i32,
    len: i32,
    what: &str,
) -> wasmtime::Result<String> {
    String::from_utf8(read(caller, ptr, len)?)
        .map_err(|e| format_err!("{what}: cannot convert to UTF8: {e:?}"))
}

fn write(caller: &mut Caller<'_, GuestState>, ptr: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let memory = guest_memory(caller)?;
    memory
        .write(caller, ptr as u32 as usize, bytes)
        .map_err(|e| format_err!("{e}"))
}

fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

/// The waPC host functions (module `wapc`), as wasmtime-provider's
/// callbacks implement them.
fn link_wapc(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        HOST_NAMESPACE,
        names::GUEST_REQUEST_FN,
        |mut caller: Caller<'_, GuestState>, op_ptr: i32, ptr: i32| {
            if let Some(invocation) = wapc_state(&caller)?.get_guest_request() {
                write(&mut caller, ptr, &invocation.msg)?;
                write(&mut caller, op_ptr, invocation.operation.as_bytes())?;
            }
            Ok(())
        },
    )?;
    linker.func_wrap(
        HOST_NAMESPACE,
        names::GUEST_RESPONSE_FN,
        |mut caller: Caller<'_, GuestState>, ptr: i32, len: i32| {
            let response = read(&mut caller, ptr, len)?;
            wapc_state(&caller)?.set_guest_response(response);
            Ok(())
        },
    )?;
    linker.func_wrap(
        HOST_NAMESPACE,
        names::GUEST_ERROR_FN,
        |mut caller: Caller<'_, GuestState>, ptr: i32, len: i32| {
            let error = read_str(&mut caller, ptr, len, "guest_error_func")?;
            wapc_state(&caller)?.set_guest_error(error);
            Ok(())
        },
    )?;
    linker.func_wrap(
        HOST_NAMESPACE,
        names::HOST_CALL,
        |mut caller: Caller<'_, GuestState>,
         binding_ptr: i32,
         binding_len: i32,
         namespace_ptr: i32,
         namespace_len: i32,
         operation_ptr: i32,
         operation_len: i32,
         ptr: i32,
         len: i32| {
            let payload = read(&mut caller, ptr, len)?;
            let binding = read_str(&mut caller, binding_ptr, binding_len, "host_call: bd")?;
            let namespace = read_str(&mut caller, namespace_ptr, namespace_len, "host_call: ns")?;
            let operation = read_str(&mut caller, operation_ptr, operation_len, "host_call: op")?;
            let state = wapc_state(&caller)?;
            // 1: the guest fetches the response, 0: the error
            Ok(state
                .do_host_call(&binding, &namespace, &operation, &payload)
                .unwrap_or(0))
        },
    )?;
    linker.func_wrap(
        HOST_NAMESPACE,
        names::HOST_RESPONSE_LEN_FN,
        |caller: Caller<'_, GuestState>| Ok(len_i32(wapc_state(&caller)?.host_response_len())),
    )?;
    linker.func_wrap(
        HOST_NAMESPACE,
        names::HOST_RESPONSE_FN,
        |mut caller: Caller<'_, GuestState>, ptr: i32| {
            let state = wapc_state(&caller)?;
            state
                .with_host_response(|response| write(&mut caller, ptr, response))
                .unwrap_or(Ok(()))
        },
    )?;
    linker.func_wrap(
        HOST_NAMESPACE,
        names::HOST_ERROR_LEN_FN,
        |caller: Caller<'_, GuestState>| {
            let error = wapc_state(&caller)?.get_host_error();
            Ok(len_i32(error.map_or(0, |e| e.len())))
        },
    )?;
    linker.func_wrap(
        HOST_NAMESPACE,
        names::HOST_ERROR_FN,
        |mut caller: Caller<'_, GuestState>, ptr: i32| {
            if let Some(error) = wapc_state(&caller)?.get_host_error() {
                write(&mut caller, ptr, error.as_bytes())?;
            }
            Ok(())
        },
    )?;
    linker.func_wrap(
        HOST_NAMESPACE,
        names::HOST_CONSOLE_LOG,
        |mut caller: Caller<'_, GuestState>, ptr: i32, len: i32| {
            let message = read_str(&mut caller, ptr, len, "console_log")?;
            wapc_state(&caller)?.do_console_log(&message);
            Ok(())
        },
    )?;
    Ok(())
}
