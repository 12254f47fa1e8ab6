//! The resource budgets of the shipped module, in one place: the tests
//! (`e2e/tests/budgets.rs`) fail above them and `make bench` prints the
//! measured values next to them.

/// Largest acceptable size of `policy.wasm`, the module that ships: the
/// release build optimized by `wasm-opt -Oz` (`make policy.wasm`), which
/// every policy-server replica pulls from the registry and compiles.
///
/// 320 KiB is issue #12's budget, set when `wasm-opt -Oz` took the module
/// of that time (before the workload check) to 317,980 bytes; the
/// developer guide's ceiling is 400 KiB. With the workload check the module
/// first measured 391,706 bytes. It fits because no typed deserializer is
/// left in it: every JSON (request, settings, host answers) is parsed once
/// into a `serde_json::Value` and read by a few hand-written field readers
/// (`json_fields`), and the other cuts listed in docs/development.md
/// ("Module size"). On 2026-11-30 it is 298,974 bytes. A single derived
/// `Deserialize` brings back serde's type-error machinery and the float
/// formatting it needs (about 41 KB with the Service views that were
/// derived), which this budget is meant to catch.
pub const POLICY_WASM_SIZE_BUDGET: u64 = 320 * 1024;

/// Largest acceptable growth of the linear memory of a fresh instance (after
/// `wapc_init`) while it evaluates a ConfigMap of 1 MiB of data, the most a
/// ConfigMap may hold. policy-server evaluates every request on a fresh
/// instance, so this is what each concurrent evaluation costs on top of the
/// module's initial memory; 8 MiB is issue #12's figure.
pub const CONFIGMAP_1MIB_MEMORY_GROWTH_BUDGET: u64 = 8 << 20;
