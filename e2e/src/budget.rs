//! The resource budgets of the shipped module, in one place: the tests
//! (`e2e/tests/budgets.rs`) fail above them and `make bench` prints the
//! measured values next to them.

/// Largest acceptable size of `policy.wasm`, the module that ships: the
/// release build optimized by `wasm-opt -Oz` (`make policy.wasm`), which
/// every policy-server replica pulls from the registry and compiles.
///
/// 400 KiB is the budget this project's developer guide
/// (docs/development.md, "Performance") sets. Issue #12 asked for 320 KiB,
/// measured when `wasm-opt -Oz` took the module of that time from 379,768 to
/// 317,980 bytes; the workload check (`checkWorkloadReferences`) has landed
/// since, and with it the optimized module is about 375 KiB (383,670 bytes
/// on 2026-11-29; 467,149 before `wasm-opt`), so 320 KiB is not reachable
/// without dropping a check. 400 KiB leaves about 6 % of headroom for fixes
/// and still catches an accidental heavy dependency.
pub const POLICY_WASM_SIZE_BUDGET: u64 = 400 * 1024;

/// Largest acceptable growth of the linear memory of a fresh instance (after
/// `wapc_init`) while it evaluates a ConfigMap of 1 MiB of data, the most a
/// ConfigMap may hold. policy-server evaluates every request on a fresh
/// instance, so this is what each concurrent evaluation costs on top of the
/// module's initial memory; 8 MiB is issue #12's figure.
pub const CONFIGMAP_1MIB_MEMORY_GROWTH_BUDGET: u64 = 8 << 20;
