//! Evaluation semantics with tiny WAT guests: traps and guest errors are
//! never verdicts (a), the payload shape the guest receives (d), timeouts,
//! invalid answers, logs.

mod common;

use std::time::{Duration, Instant};

use common::*;
use e2e::{
    AdmissionResponse, EvaluationError, EvaluationErrorKind, HostCapabilities, NoHost, Policy,
    admission_request, validate_payload,
};
use serde_json::{Value, json};

fn error_kind(err: &anyhow::Error) -> EvaluationErrorKind {
    err.downcast_ref::<EvaluationError>()
        .unwrap_or_else(|| panic!("not an EvaluationError: {err:?}"))
        .kind
}

#[test]
fn trap_is_an_error_never_a_verdict() {
    let policy = Guest::new(TRAP).policy();
    let review = configmap_review(json!({"a": "b"}));
    let err = policy
        .validate(&review, &json!({}), &mut NoHost::new())
        .expect_err("a trapping guest must not produce a verdict");
    assert_eq!(error_kind(&err), EvaluationErrorKind::Guest);
    let msg = err.to_string();
    assert!(msg.starts_with("Guest call failure: "), "{msg}");

    // what policy-server would answer
    let rejection = AdmissionResponse::for_error("uid-1", &err);
    assert!(!rejection.allowed);
    let status = rejection.status.unwrap();
    assert_eq!(status.code, Some(500));
    assert_eq!(
        status.message.unwrap(),
        format!("internal server error: {msg}")
    );

    // same on a warm instance, and the instance survives the trap
    let mut instance = policy.instantiate(NoHost::new()).unwrap();
    let err = instance.validate(&review, &json!({})).unwrap_err();
    assert_eq!(error_kind(&err), EvaluationErrorKind::Guest);
    assert_eq!(instance.protocol_version().unwrap(), "v1");
}

#[test]
fn guest_error_text_is_kept() {
    let policy = Guest::new("(call $fail (global.get $boom_ptr) (global.get $boom_len))")
        .string("boom", "cannot parse request: boom")
        .policy();
    let err = policy
        .validate(
            &configmap_review(json!({})),
            &Value::Null,
            &mut NoHost::new(),
        )
        .unwrap_err();
    assert_eq!(error_kind(&err), EvaluationErrorKind::Guest);
    assert_eq!(
        err.to_string(),
        "Guest call failure: cannot parse request: boom"
    );
}

#[test]
fn rejection_is_a_verdict() {
    let policy = Guest::new("(call $respond (global.get $r_ptr) (global.get $r_len))")
        .string(
            "r",
            r#"{"accepted":false,"message":"nope","code":403,"warnings":["w"]}"#,
        )
        .policy();
    let eval = policy
        .validate(&configmap_review(json!({})), &json!({}), &mut NoHost::new())
        .unwrap();
    assert!(!eval.accepted());
    assert_eq!(eval.response.message.as_deref(), Some("nope"));
    assert_eq!(eval.response.code, Some(403));
    assert!(eval.host_calls.is_empty());
    assert!(eval.patch.is_none());
    assert_eq!(
        serde_json::to_value(&eval.admission_response).unwrap(),
        json!({
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "allowed": false,
            "status": {"message": "nope", "code": 403},
            "auditAnnotations": null,
            "warnings": ["w"],
        })
    );
}

#[test]
fn invalid_answer_is_an_error() {
    let policy = Guest::new("(call $respond (global.get $r_ptr) (global.get $r_len))")
        .string("r", "not json")
        .policy();
    let err = policy
        .validate(&configmap_review(json!({})), &json!({}), &mut NoHost::new())
        .unwrap_err();
    assert_eq!(error_kind(&err), EvaluationErrorKind::InvalidResponse);
    assert!(
        err.to_string()
            .starts_with("invalid response from policy: "),
        "{err}"
    );
}

#[test]
fn endless_loop_times_out() {
    let policy = Guest::new("(loop $l (br $l)) (i32.const 1)")
        .policy()
        .with_timeout(Some(Duration::from_millis(300)));
    let start = Instant::now();
    let err = policy
        .validate(&configmap_review(json!({})), &json!({}), &mut NoHost::new())
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(error_kind(&err), EvaluationErrorKind::Timeout, "{err}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let rejection = AdmissionResponse::for_error("u", &err);
    assert_eq!(
        rejection.status.unwrap().message.unwrap(),
        "Policy execution interrupted because it exceeded the allowed execution time"
    );
}

#[test]
fn payload_shape_for_review_and_bare_request() {
    let policy = echo_guest().policy();
    let review = configmap_review(json!({"url": "http://db.team-a.svc:5432"}));
    let settings = json!({"ignoredNamespaces": ["kube-system"]});
    let expected = json!({
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
            "resource": {"group": "", "version": "v1", "resource": "configmaps"},
            "requestKind": {"group": "", "version": "v1", "kind": "ConfigMap"},
            "requestResource": {"group": "", "version": "v1", "resource": "configmaps"},
            "name": "app-config",
            "namespace": "team-a",
            "operation": "CREATE",
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
            "object": {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "app-config", "namespace": "team-a"},
                "data": {"url": "http://db.team-a.svc:5432"},
            },
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
        "settings": settings,
    });
    for input in [review.clone(), review["request"].clone()] {
        let eval = policy
            .validate(&input, &settings, &mut NoHost::new())
            .unwrap();
        assert!(eval.accepted());
        assert_eq!(eval.host_calls.len(), 1);
        let call = &eval.host_calls[0];
        assert_eq!(call.path(), "e2e/echo/echo");
        assert_eq!(call.error.as_deref(), Some("unknown binding: e2e"));
        // the exact JSON the guest received
        assert_eq!(call.payload, expected);
        let bytes = validate_payload(&input, &settings).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), expected);
    }
    // `null` settings are sent as `{}`
    let eval = policy
        .validate(&review, &Value::Null, &mut NoHost::new())
        .unwrap();
    assert_eq!(eval.host_calls[0].payload["settings"], json!({}));
    assert_eq!(
        eval.host_calls[0].payload["request"],
        admission_request(&review).unwrap()
    );
}

#[test]
fn incomplete_requests_are_refused_like_kwctl() {
    let policy = Guest::new(ACCEPT).policy();
    let mut review = configmap_review(json!({}));
    review["request"]
        .as_object_mut()
        .unwrap()
        .remove("operation");
    let err = policy
        .validate(&review, &json!({}), &mut NoHost::new())
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "cannot build AdmissionRequest object from given input: missing field `operation`"
        ),
        "{err}"
    );
    let err = policy
        .validate(
            &configmap_review(json!({})),
            &json!([1]),
            &mut NoHost::new(),
        )
        .unwrap_err();
    assert_eq!(err.to_string(), "Invalid settings in CRD, not an object");
}

#[test]
fn settings_and_protocol_version() {
    let policy = echo_guest().policy();
    assert_eq!(policy.protocol_version().unwrap(), "v1");
    let verdict = policy.validate_settings(&json!({"a": 1})).unwrap();
    assert!(verdict.valid);
    assert_eq!(verdict.message, None);
    let mut instance = policy.instantiate(NoHost::new()).unwrap();
    instance.validate_settings(&Value::Null).unwrap();
    let calls = instance.take_host_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].payload, json!({}));

    let picky = Guest::new(ACCEPT)
        .string("bad", r#"{"valid":false,"message":"bad settings"}"#)
        .settings_body("(call $respond (global.get $bad_ptr) (global.get $bad_len))")
        .policy();
    let verdict = picky.validate_settings(&json!({})).unwrap();
    assert!(!verdict.valid);
    assert_eq!(verdict.message.as_deref(), Some("bad settings"));

    let trapping = Guest::new(ACCEPT).settings_body(TRAP).policy();
    assert!(trapping.validate_settings(&json!({})).is_err());
}

#[test]
fn unknown_wapc_function_is_an_error() {
    let policy = Guest::new(ACCEPT).policy();
    let mut instance = policy.instantiate(NoHost::new()).unwrap();
    let err = instance.call("parse_request", b"{}").unwrap_err();
    assert!(err.to_string().contains("unknown operation"), "{err}");
}

#[test]
fn log_calls_are_not_host_calls() {
    let policy = Guest::new(&format!(
        "(drop (call $host_call (global.get $kubewarden_ptr) (global.get $kubewarden_len) \
           (global.get $tracing_ptr) (global.get $tracing_len) (global.get $log_ptr) (global.get $log_len) \
           (global.get $event_ptr) (global.get $event_len))) {ACCEPT}"
    ))
    .string("tracing", "tracing")
    .string("log", "log")
    .string("event", r#"{"level":"info","message":"checking"}"#)
    .policy();
    let mut host = NoHost::new();
    let eval = policy
        .validate(&configmap_review(json!({})), &json!({}), &mut host)
        .unwrap();
    assert!(eval.host_calls.is_empty());
    assert_eq!(
        eval.logs,
        vec![json!({"level":"info","message":"checking"})]
    );
    assert!(host.violations().is_empty());
}

#[test]
fn many_fresh_evaluations_reuse_the_compiled_module() {
    let wat = Guest::new(ACCEPT).wat();
    let start = Instant::now();
    let policy = Policy::from_bytes(wat.as_bytes(), "a").unwrap();
    let _again = Policy::from_bytes(wat.as_bytes(), "b").unwrap();
    for _ in 0..50 {
        assert!(
            policy
                .validate(&configmap_review(json!({})), &json!({}), &mut NoHost::new())
                .unwrap()
                .accepted()
        );
    }
    assert!(start.elapsed() < Duration::from_secs(10));
}
