//! A native waPC host that evaluates a Kubewarden policy module the way
//! kwctl and policy-server 1.36 do: `wapc` 2 on `wasmtime-provider` 2.19
//! (wasmtime 44) with WASI linked in, a fresh instance per evaluation, the
//! `{"request": …, "settings": …}` payload built from policy-evaluator's
//! AdmissionRequest model, and host calls routed like policy-evaluator's
//! callback (`Callback evaluation failure: …` wrapping, access checks).
//!
//! Host calls are answered by a [`HostCapabilities`]: [`NoHost`] (every call
//! is an error), [`ReplaySession`] (a kwctl
//! `--replay-host-capabilities-interactions` file) or [`ClusterState`] (an
//! in-memory cluster); [`RecordingHost`] turns any of them into a session.
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
//! * `kwrun --policy P.wasm --request R.json [--settings S] [--replay
//!   session.yml] [--strict-replay] [--timeout-seconds 2]
//!   [--admission-response]`: like `kwctl run`; exit 0 on a verdict, 1 on
//!   invalid settings, 2 on an evaluation error;
//! * `bench --policy P.wasm --baseline B.wasm [--quick]`: `validate` vs
//!   `parse_request` latency table.
//!
//! Compiled modules are cached per process (by content) and on disk by
//! wasmtime's cache in `$TMPDIR/e2e-wasmtime-cache` (`E2E_WASMTIME_CACHE=0`
//! disables it, any other value is the cache directory).

#![deny(missing_docs)]

mod artifact;
mod cluster;
mod host;
mod policy;
mod replay;

pub use artifact::{policy_wasm, repository_root};
pub use cluster::ClusterState;
pub use host::{AccessControl, HostCall, HostCapabilities, KubernetesRequest, NoHost};
pub use policy::{
    AdmissionResponse, AdmissionResponseStatus, DEFAULT_TIMEOUT, Evaluation, EvaluationError,
    EvaluationErrorKind, Instance, Policy, SettingsVerdict, ValidationResponse, admission_request,
    normalize_settings, validate_payload,
};
pub use replay::{Exchange, ExchangeResponse, RecordingHost, ReplaySession};

/// Re-export of the `json-patch` crate used for [`Evaluation::patch`].
pub use json_patch;
