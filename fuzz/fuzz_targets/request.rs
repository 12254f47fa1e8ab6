//! The `validate` payload read in one borrowed pass (`admission`, on the
//! pull reader and `json_tree`) against the same bytes read by serde_json
//! alone, on arbitrary bytes (seeds: the payloads of fuzz/corpus/validate).
//! Invariants: the same request fields, objects and settings, or the same
//! error text; and the borrowed tree of any JSON text is serde_json's
//! `Value` of it (keys sorted, the last of repeated keys kept).

#![no_main]

use dangling_references_policy::admission::{AdmissionRequest, Payload};
use dangling_references_policy::json_tree::Value;
use dangling_references_policy::settings::Sent;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert_eq!(
        Payload::from_slice(data).map(parts),
        Payload::via_serde_json(data).map(parts)
    );
    let tree = Value::parse(data).map(|v| v.to_serde());
    let serde = serde_json::from_slice::<serde_json::Value>(data).map_err(|e| e.to_string());
    assert_eq!(tree, serde);
});

/// The request, and the settings as a JSON value: the one pass keeps
/// them as the text sent, serde_json's reading as its value.
fn parts(p: Payload<'_>) -> (AdmissionRequest<'_>, Option<serde_json::Value>) {
    let settings = p.settings.map(|s| match s {
        Sent::Text(text) => serde_json::from_str(text).expect("settings text is JSON"),
        Sent::Value(value) => value,
    });
    (p.request, settings)
}
