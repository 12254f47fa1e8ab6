//! Replay of kwctl host-capability sessions
//! (`kwctl run --replay-host-capabilities-interactions FILE`) and recording
//! of new ones.

use std::collections::VecDeque;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::host::{GuestCall, HostCapabilities, KubernetesRequest, Refusal};

/// One recorded host call: the request the guest must make and the answer
/// it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The request the guest must make at this point of the session.
    pub request: KubernetesRequest,
    /// The answer handed to the guest.
    pub response: ExchangeResponse,
}

impl Exchange {
    /// An exchange whose answer is `payload` serialised as compact JSON.
    pub fn success(request: KubernetesRequest, payload: &serde_json::Value) -> Self {
        Exchange {
            request,
            response: ExchangeResponse::Success {
                payload: payload.to_string(),
            },
        }
    }

    /// An exchange whose host call fails with `message`.
    pub fn error(request: KubernetesRequest, message: impl Into<String>) -> Self {
        Exchange {
            request,
            response: ExchangeResponse::Error {
                message: message.into(),
            },
        }
    }
}

/// The recorded answer of an [`Exchange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExchangeResponse {
    /// `type: Success`: `payload` (JSON text) is handed to the guest verbatim.
    Success {
        /// The JSON text the guest receives.
        payload: String,
    },
    /// `type: Error`: the host call fails with `message`.
    Error {
        /// The error message.
        message: String,
    },
}

// The file format, as kwctl's proxy (de)serialises it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type")]
enum RawResponse {
    Success { payload: String },
    Error { message: String },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename = "Exchange")]
struct RawExchange {
    request: String,
    response: RawResponse,
}

/// A kwctl host-capability session replayed in order.
///
/// Like kwctl, each host call pops the next exchange; if the guest's request
/// equals the recorded one (compared as typed values, `field_masks` as a
/// set) the recorded response is returned, otherwise the call fails with
/// `Replay error: unexpected request. Was expecting …, got … instead` (the
/// mismatched exchange is consumed, as in kwctl). A call past the end of
/// the session fails with `Replay error: unexpected request. Was expecting
/// nothing (the list of recorded responses is empty), got … instead` (kwctl
/// says only `the list of recorded responses is empty`). Both are recorded
/// in [`ReplaySession::errors`] and reported as violations.
///
/// Only the three Kubernetes requests of [`KubernetesRequest`] are
/// supported; a session holding other kwctl tags (OCI, Sigstore, DNS, ...)
/// is rejected when it is parsed.
#[derive(Debug, Clone, Default)]
pub struct ReplaySession {
    exchanges: Vec<Exchange>,
    queue: VecDeque<Exchange>,
    errors: Vec<String>,
}

impl ReplaySession {
    /// A session replaying `exchanges` in order.
    pub fn new(exchanges: Vec<Exchange>) -> Self {
        ReplaySession {
            queue: exchanges.iter().cloned().collect(),
            exchanges,
            errors: Vec::new(),
        }
    }

    /// Loads a session file written by kwctl (or by [`ReplaySession::to_yaml`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read replay session {}", path.display()))?;
        Self::from_yaml_str(&text)
            .with_context(|| format!("cannot parse replay session {}", path.display()))
    }

    /// Parses a session: a YAML list of `type: Exchange` entries whose
    /// `request` is a YAML string holding a tagged [`KubernetesRequest`].
    ///
    /// As with kwctl's serde types, `Option` fields (`label_selector`,
    /// `field_selector`, `field_masks`, `namespace` of `get_resource`) may
    /// be omitted and unknown fields are ignored; the other fields are
    /// required; the `type:` of an entry is not checked either (serde
    /// ignores the value of a struct's tag, in kwctl too). Unlike kwctl,
    /// which only fails (panics) when it reaches a bad entry while
    /// replaying, every entry is checked here.
    pub fn from_yaml_str(text: &str) -> Result<Self> {
        let options = || crate::scan::yaml::compat_options(serde_saphyr::DuplicateKeyPolicy::Error);
        let raw: Vec<RawExchange> = serde_saphyr::from_str_with_options(text, options())
            .context("the session is not a list of `type: Exchange`")?;
        let mut exchanges = Vec::with_capacity(raw.len());
        for (i, ex) in raw.into_iter().enumerate() {
            let request: KubernetesRequest = serde_saphyr::from_str_with_options(&ex.request, options())
                .with_context(|| {
                format!(
                    "exchange #{i}: cannot parse the recorded request {:?} as one of \
                     !KubernetesListResourceNamespace, !KubernetesListResourceAll, !KubernetesGetResource",
                    ex.request
                )
            })?;
            let response = match ex.response {
                RawResponse::Success { payload } => ExchangeResponse::Success { payload },
                RawResponse::Error { message } => ExchangeResponse::Error { message },
            };
            exchanges.push(Exchange { request, response });
        }
        Ok(Self::new(exchanges))
    }

    /// Serialises all the exchanges of the session (consumed or not) in the
    /// format kwctl writes (`field_masks: null` included).
    ///
    /// Still written with `serde_yaml` (kwctl's own serialiser), byte for
    /// byte what kwctl records: serde-saphyr 2.2 writes the same `request`
    /// blocks and tags, but double-quotes the `payload`/`message` strings
    /// that serde_yaml (libyaml) single-quotes (25 of the 26 sessions of
    /// test_data/sessions differ), and has no option for libyaml's choice
    /// of scalar style. Reading is serde-saphyr's (see `from_yaml_str`).
    pub fn to_yaml(&self) -> Result<String> {
        let raw = self
            .exchanges
            .iter()
            .map(|ex| {
                Ok(RawExchange {
                    request: serde_yaml::to_string(&ex.request)?,
                    response: match &ex.response {
                        ExchangeResponse::Success { payload } => RawResponse::Success {
                            payload: payload.clone(),
                        },
                        ExchangeResponse::Error { message } => RawResponse::Error {
                            message: message.clone(),
                        },
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(serde_yaml::to_string(&raw)?)
    }

    /// Writes [`ReplaySession::to_yaml`] to `path`.
    pub fn write_file(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_yaml()?)
            .with_context(|| format!("cannot write replay session {}", path.display()))
    }

    /// All the exchanges of the session, consumed or not.
    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }

    /// How many exchanges have not been consumed yet (kwctl warns about
    /// these: "Some of the recorded exchanges have not been replayed").
    pub fn remaining(&self) -> usize {
        self.queue.len()
    }

    /// Replay errors so far (unexpected requests, calls past the end,
    /// unsupported calls), oldest first.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// Starts the replay again from the first exchange and forgets errors.
    pub fn rewind(&mut self) {
        self.queue = self.exchanges.iter().cloned().collect();
        self.errors.clear();
    }
}

impl HostCapabilities for ReplaySession {
    fn respond(&mut self, call: &GuestCall<'_>) -> Result<Vec<u8>, Refusal> {
        let got = match call.kubernetes_request() {
            Ok(Some(req)) => req,
            Ok(None) => {
                return Err(Refusal::Violation(format!(
                    "Replay error: unexpected request. This replay session only supports the \
                     Kubernetes requests, got {} with payload {}",
                    call.path(),
                    call.payload_text()
                )));
            }
            Err(e) => {
                return Err(Refusal::Violation(format!(
                    "Replay error: unexpected request. Cannot parse the payload of {}: {e}",
                    call.path()
                )));
            }
        };
        match self.queue.pop_front() {
            None => Err(Refusal::Violation(format!(
                "Replay error: unexpected request. Was expecting nothing (the list of recorded \
                 responses is empty), got {got:?} instead"
            ))),
            Some(expected) if expected.request != got => Err(Refusal::Violation(format!(
                "Replay error: unexpected request. Was expecting {:?}, got {got:?} instead",
                expected.request
            ))),
            Some(expected) => match expected.response {
                ExchangeResponse::Success { payload } => Ok(payload.into_bytes()),
                ExchangeResponse::Error { message } => Err(Refusal::Host(message)),
            },
        }
    }

    fn record_violation(&mut self, violation: String) {
        self.errors.push(violation);
    }

    fn violations(&self) -> &[String] {
        &self.errors
    }
}

/// Wraps another host and records every Kubernetes call it answers as an
/// [`Exchange`], like `kwctl run --record-host-capabilities-interactions`;
/// [`RecordingHost::session`] turns the recording into a replayable session.
#[derive(Debug, Clone)]
pub struct RecordingHost<H> {
    inner: H,
    exchanges: Vec<Exchange>,
}

impl<H: HostCapabilities> RecordingHost<H> {
    /// Records the calls answered by `inner`.
    pub fn new(inner: H) -> Self {
        RecordingHost {
            inner,
            exchanges: Vec::new(),
        }
    }

    /// The exchanges recorded so far.
    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }

    /// A replay session of the recorded exchanges.
    pub fn session(&self) -> ReplaySession {
        ReplaySession::new(self.exchanges.clone())
    }

    /// The wrapped host.
    pub fn inner(&self) -> &H {
        &self.inner
    }

    /// The wrapped host, mutably.
    pub fn inner_mut(&mut self) -> &mut H {
        &mut self.inner
    }
}

impl<H: HostCapabilities> HostCapabilities for RecordingHost<H> {
    fn respond(&mut self, call: &GuestCall<'_>) -> Result<Vec<u8>, Refusal> {
        let result = self.inner.respond(call);
        if let Ok(Some(request)) = call.kubernetes_request() {
            let response = match &result {
                Ok(bytes) => ExchangeResponse::Success {
                    payload: String::from_utf8_lossy(bytes).into_owned(),
                },
                Err(refusal) => ExchangeResponse::Error {
                    message: refusal.message().to_owned(),
                },
            };
            self.exchanges.push(Exchange { request, response });
        }
        result
    }

    fn record_violation(&mut self, violation: String) {
        self.inner.record_violation(violation);
    }

    fn violations(&self) -> &[String] {
        self.inner.violations()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let s = ReplaySession::new(vec![
            Exchange::success(
                KubernetesRequest::list_namespace("v1", "Service", "a"),
                &serde_json::json!({"kind": "ServiceList", "items": []}),
            ),
            Exchange::error(
                KubernetesRequest::get("v1", "Service", Some("a"), "b"),
                "Cannot find",
            ),
        ]);
        let text = s.to_yaml().unwrap();
        assert!(text.contains("!KubernetesListResourceNamespace"), "{text}");
        assert!(text.contains("type: Exchange"), "{text}");
        let back = ReplaySession::from_yaml_str(&text).unwrap();
        assert_eq!(back.exchanges(), s.exchanges());
    }
}
