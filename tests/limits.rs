//! The limits table of docs/limits.md, one test at each bound and just
//! past it. Past a bound the answer is a clear rejection, or what
//! `onLookupError` says, never a silent partial accept. `bounds_are_pinned`
//! holds each bound to the value docs/limits.md gives.

use dangling_references_policy::env_expansion::MAX_EXPANDED;
use dangling_references_policy::graph::MAX_REFERENCES;
use dangling_references_policy::host_call::{MAX_HOST_ERROR, summarize_host_error};
use dangling_references_policy::messages::MAX_LISTED;
use dangling_references_policy::messages::MAX_QUOTED;
use dangling_references_policy::mounts;
use dangling_references_policy::service_check::MAX_SUGGESTED;
use dangling_references_policy::service_refs::{MAX_DNS_NAME, MAX_SCHEME};
use dangling_references_policy::settings::DEFAULT_MAX_NAMESPACES;
use dangling_references_policy::suggest::{MAX_COMPARED, MAX_COMPARED_LEN};
use dangling_references_policy::test_support::FakeHost;
use dangling_references_policy::workload_check::{
    MAX_CONFIG_MAPS, MAX_KEYS_LISTED, MAX_SCANNED_BYTES,
};
use serde_json::{Value, json};

/// Every bound of the limits table of docs/limits.md, by its literal
/// value: a change of a bound is a change of this test and of that table.
#[test]
fn bounds_are_pinned() {
    assert_eq!(
        DEFAULT_MAX_NAMESPACES, 20,
        "maxNamespacesPerRequest by default"
    );
    assert_eq!(MAX_CONFIG_MAPS, 64, "ConfigMaps read for one workload");
    assert_eq!(
        MAX_LISTED, 20,
        "problems spelled out, and warnings in a response"
    );
    assert_eq!(MAX_EXPANDED, 65_536, "$(VAR) expansion");
    assert_eq!(MAX_DNS_NAME, 253, "DNS name length");
    assert_eq!(MAX_SCHEME, 32, "URL scheme length");
    assert_eq!(MAX_QUOTED, 256, "quoted values");
    assert_eq!(MAX_HOST_ERROR, 512, "host errors quoted");
    assert_eq!(MAX_KEYS_LISTED, 10, "keys named in a missing-key message");
    assert_eq!(mounts::MAX_LISTED, 10, "files named in a mount message");
    assert_eq!(
        MAX_SCANNED_BYTES, 2_097_152,
        "bytes of env values, args and command scanned per workload"
    );
    assert_eq!(MAX_COMPARED, 64, "edit distances for one suggestion");
    assert_eq!(
        MAX_COMPARED_LEN, 63,
        "longest name compared for a suggestion"
    );
    assert_eq!(
        MAX_REFERENCES, 4096,
        "references of one object judged by the reference graph"
    );
    assert_eq!(
        MAX_SUGGESTED, 64,
        "distinct missing Service names compared for a close name"
    );
}

/// Up to `MAX_SUGGESTED` distinct missing names are compared with the
/// namespace's Services: each resembles none, so each is only a warning;
/// past the bound a missing Service cannot be told from a typo and is
/// rejected as `action` says.
#[test]
fn missing_names_compared() {
    let host = FakeHost::new().service("shop", "api", &[8080]);
    let env = |n: usize| -> Value {
        (0..n)
            .map(|i| json!({"name": format!("OPT_{i}"), "value": format!("http://optional-{i:03}:80")}))
            .collect()
    };
    let on = json!({"checkWorkloadReferences": true});
    let at = respond(
        &deployment(json!({"containers": [{"name": "app", "env": env(MAX_SUGGESTED)}]})),
        &on,
        &host,
    );
    assert_eq!(at["accepted"], json!(true), "{at}");
    let past = respond(
        &deployment(json!({"containers": [{"name": "app", "env": env(MAX_SUGGESTED + 1)}]})),
        &on,
        &host,
    );
    assert!(
        message(&past).contains(&format!(
            r#"env[{MAX_SUGGESTED}].value (variable "OPT_{MAX_SUGGESTED}"): "http://optional-{MAX_SUGGESTED:03}:80" names Service "optional-{MAX_SUGGESTED:03}" in namespace "shop", which does not exist"#
        )),
        "{past}"
    );
}

fn respond(request: &Value, settings: &Value, host: &FakeHost) -> Value {
    let payload = serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap();
    host.respond(&payload)
}

fn config_map(data: Value) -> Value {
    json!({"uid": "1", "kind": {"kind": "ConfigMap"}, "operation": "CREATE", "namespace": "shop",
        "object": {"metadata": {"name": "cfg", "namespace": "shop"}, "data": data}})
}

fn deployment(spec: Value) -> Value {
    json!({"uid": "1", "kind": {"kind": "Deployment"}, "operation": "CREATE", "namespace": "shop",
        "object": {"metadata": {"name": "web", "namespace": "shop"},
                   "spec": {"template": {"spec": spec}}}})
}

fn message(response: &Value) -> &str {
    assert_eq!(response["accepted"], json!(false), "{response}");
    response["message"].as_str().unwrap()
}

/// `n` references to distinct missing Services of namespace `shop`.
fn dangling(n: usize) -> String {
    (0..n)
        .map(|i| format!("http://gone-{i}.shop.svc:80\n"))
        .collect()
}

#[test]
fn problems_listed() {
    let host = FakeHost::new();
    let at = respond(
        &config_map(json!({"k": dangling(MAX_LISTED)})),
        &json!({}),
        &host,
    );
    assert_eq!(message(&at).matches("does not exist").count(), MAX_LISTED);
    assert!(!message(&at).contains("more problem"));
    let past = respond(
        &config_map(json!({"k": dangling(MAX_LISTED + 1)})),
        &json!({}),
        &host,
    );
    assert_eq!(message(&past).matches("does not exist").count(), MAX_LISTED);
    assert!(
        message(&past).ends_with("; and 1 more problem(s)"),
        "{}",
        message(&past)
    );
}

#[test]
fn warnings() {
    let host = FakeHost::new();
    let warn = json!({"action": "warn"});
    let at = respond(
        &config_map(json!({"k": dangling(MAX_LISTED)})),
        &warn,
        &host,
    );
    assert_eq!(at["warnings"].as_array().unwrap().len(), MAX_LISTED);
    let past = respond(
        &config_map(json!({"k": dangling(MAX_LISTED + 1)})),
        &warn,
        &host,
    );
    let warnings = past["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), MAX_LISTED + 1);
    assert_eq!(warnings[MAX_LISTED], json!("and 1 more warning(s)"));
}

/// One reference in each of `n` namespaces.
fn namespaces(n: usize) -> Value {
    config_map(json!({"k": (0..n).map(|i| format!("api.ns-{i}.svc:80 ")).collect::<String>()}))
}

#[test]
fn namespaces_per_request() {
    let mut host = FakeHost::new();
    for i in 0..=DEFAULT_MAX_NAMESPACES {
        host = host.service(&format!("ns-{i}"), "api", &[80]);
    }
    let at = respond(&namespaces(DEFAULT_MAX_NAMESPACES), &json!({}), &host);
    assert_eq!(at["accepted"], json!(true), "{at}");
    assert_eq!(host.calls().len(), DEFAULT_MAX_NAMESPACES);

    let past = respond(&namespaces(DEFAULT_MAX_NAMESPACES + 1), &json!({}), &host);
    assert!(message(&past).contains(
        "references Services in 21 namespaces, more than maxNamespacesPerRequest (20) allows"
    ));
    assert!(host.calls().is_empty());
    let allow = json!({"onLookupError": "allow"});
    let allowed = respond(&namespaces(DEFAULT_MAX_NAMESPACES + 1), &allow, &host);
    assert_eq!(allowed["accepted"], json!(true));
    assert!(
        allowed["warnings"][0]
            .as_str()
            .unwrap()
            .contains("21 namespaces")
    );

    let two = json!({"maxNamespacesPerRequest": 2});
    assert_eq!(
        respond(&namespaces(2), &two, &host)["accepted"],
        json!(true)
    );
    assert!(message(&respond(&namespaces(3), &two, &host)).contains("(2) allows"));
}

#[test]
fn dns_name_length() {
    // `a.a.….b.shop.svc`: 253 bytes is a name, 254 is not (RFC 1035).
    let name = |len: usize| {
        let tail = "gone.shop.svc";
        let mut head = "a.".repeat((len - tail.len()) / 2);
        if head.len() + tail.len() < len {
            head.insert(0, 'a');
        }
        format!("{head}{tail}")
    };
    assert_eq!(name(MAX_DNS_NAME).len(), MAX_DNS_NAME);
    assert_eq!(name(MAX_DNS_NAME + 1).len(), MAX_DNS_NAME + 1);
    let host = FakeHost::new();
    let at = respond(
        &config_map(json!({"k": name(MAX_DNS_NAME)})),
        &json!({}),
        &host,
    );
    assert!(message(&at).contains(r#"names Service "gone""#));
    // Past it, no resolver accepts the name: nothing to look up.
    let past = respond(
        &config_map(json!({"k": name(MAX_DNS_NAME + 1)})),
        &json!({}),
        &host,
    );
    assert_eq!(past["accepted"], json!(true), "{past}");
    assert!(host.calls().is_empty());
}

#[test]
fn bytes_scanned() {
    // No cut-off: a reference in the last bytes of 1 MiB (the object limit)
    // is found, and so it is one byte further.
    for size in [1 << 20, (1 << 20) + 1] {
        let reference = "http://gone.shop.svc:80";
        let mut text = "x".repeat(size - reference.len() - 1);
        text.push(' ');
        text.push_str(reference);
        assert_eq!(text.len(), size);
        let response = respond(
            &config_map(json!({"k": text})),
            &json!({}),
            &FakeHost::new(),
        );
        assert!(message(&response).contains(r#"names Service "gone""#));
    }
}

#[test]
fn quoted_values() {
    let url = |len: usize| {
        let head = "http://gone.shop.svc:80";
        let path = "/".to_string() + &"p".repeat(len - head.len() - 1);
        (format!("{head}{path}"), head.to_string())
    };
    // Values are quoted up to MAX_QUOTED bytes: a KUBECONFIG path of that
    // length whole, one byte more cut with its length.
    let kubeconfig = |len: usize| {
        let path = format!("/{}", "k".repeat(len - 1));
        deployment(
            json!({"containers": [{"name": "app", "env": [{"name": "KUBECONFIG", "value": path}]}]}),
        )
    };
    let host = FakeHost::new();
    let at = respond(&kubeconfig(MAX_QUOTED), &json!({}), &host);
    assert!(message(&at).contains(&format!("/{}\"", "k".repeat(MAX_QUOTED - 1))));
    let past = respond(&kubeconfig(MAX_QUOTED + 1), &json!({}), &host);
    assert!(message(&past).contains(&format!("/{}… (257 bytes)\"", "k".repeat(MAX_QUOTED - 1))));
    // A URL is quoted as far as its port.
    let (text, written) = url(600);
    let response = respond(&config_map(json!({"k": text})), &json!({}), &host);
    assert!(message(&response).contains(&format!("{written:?}")));
}

#[test]
fn names_in_messages_are_quoted_within_the_bound() {
    // A long container and workload name (a mutating webhook runs before
    // the API server validates names), many offending paths: the answer
    // stays bounded by the limits, not by the names.
    let name = "n".repeat(20_000);
    let paths = vec!["relative"; 2 * MAX_LISTED].join(":");
    let mut request = deployment(json!({"containers": [{"name": name, "env": [
        {"name": "KUBECONFIG", "value": paths}]}]}));
    request["object"]["metadata"]["name"] = json!(name);
    let response = respond(&request, &json!({}), &FakeHost::new());
    let message = message(&response);
    assert!(message.len() < 64 * 1024, "{} bytes", message.len());
    assert!(message.contains("… (20000 bytes)"));
}

#[test]
fn host_errors() {
    let at = "e".repeat(MAX_HOST_ERROR);
    assert_eq!(summarize_host_error(&at), at);
    let past = "e".repeat(MAX_HOST_ERROR + 1);
    assert_eq!(summarize_host_error(&past), format!("{at}…"));
    // Only the first line: policy-server appends a backtrace.
    assert_eq!(
        summarize_host_error("boom\n\nStack backtrace:\n 0: x"),
        "boom"
    );
}

fn env_from(n: usize) -> Value {
    let env_from: Vec<Value> = (0..n)
        .map(|i| json!({"configMapRef": {"name": format!("cm-{i}")}}))
        .collect();
    deployment(json!({"containers": [{"name": "app", "envFrom": env_from}]}))
}

#[test]
fn config_maps_per_request() {
    let mut host = FakeHost::new();
    for i in 0..=MAX_CONFIG_MAPS {
        host = host.config_map("shop", &format!("cm-{i}"), &[("LEVEL", "info")]);
    }
    let on = json!({"checkWorkloadReferences": true});
    let at = respond(&env_from(MAX_CONFIG_MAPS), &on, &host);
    assert_eq!(at["accepted"], json!(true), "{at}");
    assert_eq!(host.calls().len(), MAX_CONFIG_MAPS);

    let past = respond(&env_from(MAX_CONFIG_MAPS + 1), &on, &host);
    assert!(message(&past).contains("names 65 ConfigMaps, more than the 64"));
    assert!(host.calls().is_empty());
    let allow = json!({"checkWorkloadReferences": true, "onLookupError": "allow"});
    let allowed = respond(&env_from(MAX_CONFIG_MAPS + 1), &allow, &host);
    assert_eq!(allowed["accepted"], json!(true));
    assert!(
        allowed["warnings"][0]
            .as_str()
            .unwrap()
            .contains("65 ConfigMaps")
    );
}

#[test]
fn keys_listed() {
    let missing_key = |keys: usize| {
        let data: Vec<(String, String)> = (0..keys)
            .map(|i| (format!("key-{i:02}"), "v".to_string()))
            .collect();
        let mut host = FakeHost::new();
        host.add_config_map("shop", "cfg", data);
        let request = deployment(json!({"containers": [{"name": "app", "env": [
            {"name": "URL", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "url"}}}]}]}));
        let response = respond(&request, &json!({"checkWorkloadReferences": true}), &host);
        message(&response).to_string()
    };
    let at = missing_key(MAX_KEYS_LISTED);
    assert!(at.contains(r#""key-09")"#), "{at}");
    let past = missing_key(MAX_KEYS_LISTED + 1);
    assert!(past.contains(r#""key-09" and 1 more)"#), "{past}");
}

#[test]
fn files_listed() {
    let not_projected = |files: usize| {
        let items: Vec<Value> = (0..files)
            .map(|i| json!({"key": "k", "path": format!("f{i:02}")}))
            .collect();
        let request = deployment(json!({
            "containers": [{"name": "app", "env": [{"name": "KUBECONFIG", "value": "/m/config"}],
                "volumeMounts": [{"name": "v", "mountPath": "/m"}]}],
            "volumes": [{"name": "v", "secret": {"secretName": "s", "items": items}}]}));
        message(&respond(&request, &json!({}), &FakeHost::new())).to_string()
    };
    let at = not_projected(mounts::MAX_LISTED);
    assert!(at.ends_with(r#""/m/f09""#), "{at}");
    let past = not_projected(mounts::MAX_LISTED + 1);
    assert!(past.ends_with(r#""/m/f09" (and 1 more)"#), "{past}");
}

#[test]
fn scheme_length() {
    // A scheme of 32 bytes starts a URL; one of 33 does not, but the
    // qualified name after it is still a reference.
    let host = FakeHost::new();
    for (len, written) in [(MAX_SCHEME, true), (MAX_SCHEME + 1, false)] {
        let scheme = "s".repeat(len);
        let text = format!("{scheme}://gone.shop.svc:80");
        let response = respond(&config_map(json!({"k": text})), &json!({}), &host);
        let quoted = format!("\"{scheme}://gone.shop.svc:80\"");
        assert_eq!(message(&response).contains(&quoted), written, "{response}");
        assert!(message(&response).contains(r#""gone.shop.svc:80" names"#) || written);
    }
}
