//! The `dangling-references` command-line tool and the native waPC host it
//! runs `policy.wasm` on.
//!
//! The host evaluates a Kubewarden policy module the way kwctl and
//! policy-server 1.36 do: `wapc` 2 on `wasmtime-provider` 2.19 (wasmtime 44)
//! with WASI linked in, a fresh instance per evaluation, the
//! `{"request": …, "settings": …}` payload built from policy-evaluator's
//! AdmissionRequest model, and host calls routed like policy-evaluator's
//! callback (`Callback evaluation failure: …` wrapping, access checks).
//!
//! Host calls are answered by a [`HostCapabilities`]: [`NoHost`] (every call
//! is an error), [`ReplaySession`] (a kwctl
//! `--replay-host-capabilities-interactions` file), [`ClusterState`] (an
//! in-memory cluster) or [`scan::ModelHost`] (the model cluster of a
//! manifest set); [`RecordingHost`] turns any of them into a session.
//!
//! ```no_run
//! use dangling_references::{ClusterState, Policy};
//! use serde_json::json;
//!
//! let policy = Policy::load("policy.wasm")?;
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
//! The binary, `dangling-references` (see `--help`):
//!
//! * `run --policy P.wasm --request R.json [--settings S] [--replay
//!   session.yml] [--strict-replay] [--timeout-seconds 2]
//!   [--admission-response]`: one request, like `kwctl run`; exit 0 on a
//!   verdict, 1 on invalid settings, 2 on an evaluation error ([`run`]);
//! * `scan --policy P.wasm [--settings S] [--snapshot cluster.json]
//!   [--secret-names names.txt] [--namespace default] [--output
//!   text|json|sarif] [--warn-only] PATH|-...`: a whole manifest set, every
//!   supported object evaluated as the CREATE the API server would send,
//!   host calls answered from the set (and the snapshot); exit 0 when
//!   nothing is rejected, 1 when something is, 2 on errors ([`scan`]).
//!
//! Build it in the `e2e` profile, which the tests share, so that wasmtime
//! is compiled once: `cargo build --profile e2e -p dangling-references`
//! (`target/e2e/dangling-references`); `cargo install --path cli` installs
//! it.
//!
//! Compiled modules are cached per process (by content) and on disk by
//! wasmtime's cache in `$TMPDIR/e2e-wasmtime-cache` (`E2E_WASMTIME_CACHE=0`
//! disables it, any other value is the cache directory).

#![deny(missing_docs)]

mod artifact;
mod cluster;
mod fuel;
mod host;
mod memory;
mod native;
mod policy;
mod replay;
pub mod run;
pub mod scan;

#[doc(hidden)]
pub use artifact::{policy_wasm, repository_root, skipped};
pub use cluster::ClusterState;
pub use host::{
    AccessControl, GuestCall, HostCall, HostCapabilities, KubernetesRequest, NoHost, Refusal,
};
pub use policy::{
    AdmissionResponse, AdmissionResponseStatus, DEFAULT_TIMEOUT, Evaluation, EvaluationError,
    EvaluationErrorKind, Instance, Policy, SettingsVerdict, ValidationResponse, admission_request,
    normalize_settings, validate_payload,
};
pub use replay::{Exchange, ExchangeResponse, RecordingHost, ReplaySession};

/// Re-export of the `json-patch` crate used for [`Evaluation::patch`].
pub use json_patch;
