//! `dangling-references run` (what `kwrun` was) on tiny guests: output and
//! exit codes.

// The guests of e2e/tests/common are written against the host's API under
// the name `e2e`.
extern crate dangling_references as e2e;

#[path = "../../e2e/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use e2e::{Exchange, KubernetesRequest, ReplaySession};
use serde_json::{Value, json};

fn run_cli(policy: &Path, request: &Value, extra: &[&str]) -> Output {
    let req_path = temp_path("request.json");
    std::fs::write(&req_path, request.to_string()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_dangling-references"))
        .arg("run")
        .arg("--policy")
        .arg(policy)
        .arg("--request")
        .arg(&req_path)
        .args(extra)
        .output()
        .expect("dangling-references runs")
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn accepted_and_rejected_verdicts_exit_zero() {
    let accept = Guest::new(ACCEPT).write();
    let out = run_cli(&accept, &configmap_review(json!({})), &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout_json(&out)["accepted"], true);

    let reject = Guest::new("(call $respond (global.get $r_ptr) (global.get $r_len))")
        .string("r", r#"{"accepted":false,"message":"nope"}"#)
        .write();
    let out = run_cli(&reject, &configmap_review(json!({}))["request"], &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = stdout_json(&out);
    assert_eq!(v["accepted"], false);
    assert_eq!(v["message"], "nope");

    let out = run_cli(
        &reject,
        &configmap_review(json!({})),
        &["--admission-response"],
    );
    assert_eq!(
        stdout_json(&out),
        json!({"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": false,
               "status": {"message": "nope"}, "auditAnnotations": null, "warnings": null})
    );
}

#[test]
fn invalid_settings_exit_one() {
    let picky = Guest::new(ACCEPT)
        .string("bad", r#"{"valid":false,"message":"bad settings"}"#)
        .settings_body("(call $respond (global.get $bad_ptr) (global.get $bad_len))")
        .write();
    let out = run_cli(
        &picky,
        &configmap_review(json!({})),
        &["--settings", r#"{"a": 1}"#],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Provided settings are not valid: bad settings"),
        "{stderr}"
    );
}

/// `--settings` takes a file or inline JSON/YAML; kwctl's `--settings-path`
/// and `--settings-json` are names for it.
#[test]
fn settings_from_yaml_file_reach_the_guest() {
    let echo = echo_guest().write();
    let settings = temp_path("settings.yaml");
    std::fs::write(&settings, "ignoredNamespaces:\n- kube-system\n").unwrap();
    let path = settings.to_str().unwrap();
    let inline = r#"{"ignoredNamespaces":["kube-system"]}"#;
    for (flag, value) in [
        ("--settings", path),
        ("--settings-path", path),
        ("--settings-json", inline),
    ] {
        let out = run_cli(&echo, &configmap_review(json!({})), &[flag, value]);
        assert_eq!(out.status.code(), Some(0), "{flag}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(r#""settings":{"ignoredNamespaces":["kube-system"]}"#),
            "{flag}: {stderr}"
        );
    }
}

#[test]
fn trap_and_unexpected_host_call_exit_non_zero() {
    let trap = Guest::new(TRAP).write();
    let out = run_cli(&trap, &configmap_review(json!({})), &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("internal server error: Guest call failure"),
        "{stderr}"
    );

    let lister = host_call_guest(
        "list_resources_by_namespace",
        &list_services_payload("team-a"),
        OnHostError::Accept,
    )
    .write();
    let out = run_cli(&lister, &configmap_review(json!({})), &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unexpected host call"), "{stderr}");

    let out = run_cli(
        Path::new("/nonexistent.wasm"),
        &configmap_review(json!({})),
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn replay_session() {
    let lister = host_call_guest(
        "list_resources_by_namespace",
        &list_services_payload("team-a"),
        OnHostError::Fail,
    )
    .write();
    let list = json!({"apiVersion": "v1", "kind": "ServiceList", "metadata": {"resourceVersion": "1"}, "items": []});
    let good = temp_path("good.yml");
    ReplaySession::new(vec![Exchange::success(
        KubernetesRequest::list_namespace("v1", "Service", "team-a"),
        &list,
    )])
    .write_file(&good)
    .unwrap();
    let out = run_cli(
        &lister,
        &configmap_review(json!({})),
        &["--replay", good.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout_json(&out)["mutated_object"], list);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("host call: kubewarden/kubernetes/list_resources_by_namespace"),
        "{stderr}"
    );

    let wrong = temp_path("wrong.yml");
    ReplaySession::new(vec![
        Exchange::success(
            KubernetesRequest::list_namespace("v1", "Service", "team-b"),
            &list,
        ),
        Exchange::success(
            KubernetesRequest::list_namespace("v1", "Service", "team-c"),
            &list,
        ),
    ])
    .write_file(&wrong)
    .unwrap();
    let out = run_cli(
        &lister,
        &configmap_review(json!({})),
        &["--replay", wrong.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Replay error: unexpected request"),
        "{stderr}"
    );

    // leftovers: warning, or an error with --strict-replay
    let two = temp_path("two.yml");
    ReplaySession::new(vec![
        Exchange::success(
            KubernetesRequest::list_namespace("v1", "Service", "team-a"),
            &list,
        ),
        Exchange::success(
            KubernetesRequest::list_namespace("v1", "Service", "team-c"),
            &list,
        ),
    ])
    .write_file(&two)
    .unwrap();
    let out = run_cli(
        &lister,
        &configmap_review(json!({})),
        &["--replay", two.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: 1 of the recorded exchanges"));
    let out = run_cli(
        &lister,
        &configmap_review(json!({})),
        &["--replay", two.to_str().unwrap(), "--strict-replay"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    let broken = temp_path("broken.yml");
    std::fs::write(&broken, "- type: Exchange\n  request: nope\n").unwrap();
    let out = run_cli(
        &lister,
        &configmap_review(json!({})),
        &["--replay", broken.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
