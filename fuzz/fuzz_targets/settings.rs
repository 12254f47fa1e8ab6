//! The settings parser and `validate_settings`, on arbitrary bytes (seeds:
//! test_data/settings_*.json). Invariants: `validate_settings` always
//! answers a SettingsValidationResponse, valid exactly when
//! `Settings::parse_valid` accepts the text, with a message exactly when
//! invalid; valid settings round-trip through their JSON form and compile;
//! `validate` with invalid settings is a 500 rejection, with valid ones never.

#![no_main]

use dangling_references_policy::settings::Settings;
use dangling_references_policy::test_support::FakeHost;
use dangling_references_policy::validate_settings;
use dangling_references_policy_fuzz::assert_well_formed;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let answer = validate_settings(data).expect("validate_settings never fails the call");
    let answer: Value = serde_json::from_slice(&answer).expect("the answer is JSON");
    let valid = answer["valid"].as_bool().expect("a valid flag");
    let parsed = std::str::from_utf8(data)
        .map_err(|e| e.to_string())
        .and_then(Settings::parse_valid);
    assert_eq!(valid, parsed.is_ok(), "{answer}");
    let message = answer.get("message").and_then(Value::as_str);
    assert_eq!(message.is_some_and(|m| !m.is_empty()), !valid, "{answer}");

    if let Ok(settings) = &parsed {
        let again = serde_json::to_string(settings).expect("settings serialize");
        assert_eq!(Settings::parse_valid(&again).as_ref(), Ok(settings));
        let compiled = settings.compile();
        assert!(!compiled.qualified_suffixes.is_empty());
        assert!(
            compiled
                .qualified_suffixes
                .iter()
                .all(|s| s.starts_with(".svc."))
        );
    }

    // The same text as `validate`'s settings (when it is JSON at all).
    let Ok(raw) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let request = json!({"operation": "CREATE", "kind": {"kind": "Pod"}, "namespace": "shop",
        "object": {"metadata": {"name": "p", "namespace": "shop"}, "spec": {"containers": [
            {"name": "app", "env": [{"name": "KUBECONFIG", "value": "/etc/kube/config"}],
             "envFrom": [{"configMapRef": {"name": "cfg"}}]}]}}});
    let payload = serde_json::to_vec(&json!({"request": request, "settings": raw})).unwrap();
    let host = FakeHost::new();
    let response = host.respond(&payload);
    assert_well_formed(&response);
    let misconfigured = response["code"] == json!(500);
    let raw_valid = Settings::parse_valid(&raw.to_string()).is_ok();
    assert_eq!(misconfigured, !raw_valid, "{response}");
});
