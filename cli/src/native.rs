//! The policy of this very commit, linked into the CLI and called
//! natively: what `scan` and `run` use when no `--policy` is given.
//!
//! It answers the same waPC functions as `policy.wasm` (`validate`,
//! `validate_settings`, `protocol_version`) with the same bytes: the
//! policy crate's own `evaluate`, its host-call code and its error wording
//! ([`dangling_references_policy::host_call::Transport`]), with host calls
//! sent to this process's hosts exactly as the guest would send them.

use std::cell::RefCell;

use dangling_references_policy::host_call::Transport;
use dangling_references_policy::object_lookup::HostObjects;
use dangling_references_policy::service_lookup::HostServices;

/// The name the built-in policy goes by in messages.
pub const NAME: &str = concat!(
    "the built-in policy (dangling-references-policy ",
    env!("CARGO_PKG_VERSION"),
    ")"
);

/// One host call of the guest: binding, namespace, operation, payload; the
/// answer, or the host's error text.
pub type HostCall<'h> = dyn FnMut(&str, &str, &str, &[u8]) -> Result<Vec<u8>, String> + 'h;

/// Host calls of the policy, sent to `host` as waPC would send them; an
/// error reads as the guest reads a waPC host error.
struct Native<'a, 'h>(RefCell<&'a mut HostCall<'h>>);

impl Transport for Native<'_, '_> {
    fn kubernetes(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        let mut host = self.0.borrow_mut();
        (*host)("kubewarden", "kubernetes", operation, payload)
            .map_err(|e| format!("Host error: {e}"))
    }
}

/// Calls the waPC function `operation` of the built-in policy with
/// `payload`, its host calls answered by `host`. A panic of the policy is
/// a guest error, as a trap is on the waPC host.
pub fn call(
    operation: &str,
    payload: &[u8],
    host: &mut HostCall<'_>,
) -> Result<Vec<u8>, wapc::errors::Error> {
    let failure = |e: String| wapc::errors::Error::GuestCallFailure(e);
    let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match operation {
        "validate" => {
            let transport = Native(RefCell::new(host));
            let response = dangling_references_policy::evaluate(
                payload,
                &dangling_references_policy::Host {
                    services: &HostServices(&transport),
                    objects: &HostObjects(&transport),
                },
            );
            serde_json::to_vec(&response).map_err(|e| e.to_string())
        }
        "validate_settings" => {
            dangling_references_policy::validate_settings(payload).map_err(|e| e.to_string())
        }
        "protocol_version" => {
            dangling_references_policy::protocol_version(payload).map_err(|e| e.to_string())
        }
        other => Err(format!("No such function in the built-in policy: {other}")),
    }));
    match answer {
        Ok(answer) => answer.map_err(failure),
        Err(_) => Err(failure("the built-in policy panicked".to_owned())),
    }
}
