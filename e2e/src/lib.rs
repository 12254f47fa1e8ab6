//! End-to-end tests and benchmarks of the compiled policy on the native waPC
//! host of the `dangling-references` CLI (`cli/`): `wapc` 2 on
//! `wasmtime-provider` 2.19 (wasmtime 44), as in kwctl and policy-server
//! 1.36. The host's types are re-exported here under the paths the tests
//! and benchmarks use (`e2e::Policy`, `e2e::ClusterState`, …); see the
//! `dangling_references` crate for what they do.
//!
//! ```no_run
//! use e2e::{ClusterState, Policy};
//! use serde_json::json;
//!
//! let policy = Policy::load("target/wasm32-wasip1/release/policy.wasm")?;
//! let mut cluster = ClusterState::new();
//! cluster.add_service("ns1", "db", &[5432]);
//! let request = json!({"uid": "1", "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
//!     "resource": {"group": "", "version": "v1", "resource": "configmaps"},
//!     "operation": "CREATE", "userInfo": {}, "object": {}});
//! let eval = policy.validate(&request, &json!({}), &mut cluster)?;
//! assert!(eval.accepted());
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! Build and test only with the `e2e` profile, so wasmtime is compiled once:
//! `cargo test --profile e2e -p e2e`. The binaries land in `target/e2e/`:
//!
//! * `bench --policy P.wasm --baseline B.wasm [--raw R.wasm] [--quick]`:
//!   `validate` vs `parse_request` latency table, module sizes and linear
//!   memory per case against the budgets of `budget.rs`
//!   ([`POLICY_WASM_SIZE_BUDGET`], [`CONFIGMAP_1MIB_MEMORY_GROWTH_BUDGET`]);
//! * `scan-bench --policy P.wasm [--objects 10000]`: throughput of
//!   `dangling-references scan` on a generated manifest set.
//!
//! The `run` subcommand of `dangling-references` (target/e2e/) is what
//! `kwrun` was: one request, like `kwctl run`.

#![deny(missing_docs)]

mod budget;

pub use budget::{CONFIGMAP_1MIB_MEMORY_GROWTH_BUDGET, POLICY_WASM_SIZE_BUDGET};
pub use dangling_references::{
    AccessControl, AdmissionResponse, AdmissionResponseStatus, ClusterState, DEFAULT_TIMEOUT,
    Evaluation, EvaluationError, EvaluationErrorKind, Exchange, ExchangeResponse, GuestCall,
    HostCall, HostCapabilities, Instance, KubernetesRequest, NoHost, Policy, RecordingHost,
    Refusal, ReplaySession, SettingsVerdict, ValidationResponse, admission_request, json_patch,
    normalize_settings, policy_wasm, repository_root, validate_payload,
};

/// The manifest-set check of `dangling-references scan`, which the corpus
/// report runs too.
pub use dangling_references::scan;

/// The skip report of every test suite (see [`dangling_references::skipped`]).
pub use dangling_references::skipped;
