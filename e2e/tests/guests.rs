//! Evaluation semantics with tiny WAT guests: traps and guest errors are
//! never verdicts (a), the payload shape the guest receives (d), timeouts,
//! invalid answers, logs; the metered engine (fuel) against the production
//! one, and compiled modules reused.

mod common;

use std::time::Duration;

use common::*;
use e2e::{
    AdmissionResponse, ClusterState, EvaluationError, EvaluationErrorKind, HostCall,
    HostCapabilities, NoHost, Policy, ValidationResponse, admission_request, validate_payload,
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

/// A guest that never returns.
const ENDLESS: &str = "(loop $l (br $l)) (i32.const 1)";

/// The epoch deadline (2 s by default, as policy-server; shortened here)
/// stops a guest that never returns: the error is a timeout, whatever the
/// time it took.
#[test]
fn endless_loop_times_out() {
    let policy = Guest::new(ENDLESS)
        .policy()
        .with_timeout(Some(Duration::from_millis(300)));
    let err = policy
        .validate(&configmap_review(json!({})), &json!({}), &mut NoHost::new())
        .unwrap_err();
    assert_eq!(error_kind(&err), EvaluationErrorKind::Timeout, "{err}");
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

/// 50 fresh instances of two policies loaded from the same bytes compile
/// the module once per engine: counted where modules are compiled.
#[test]
fn many_fresh_evaluations_reuse_the_compiled_module() {
    // a string of its own, so that no other test compiles these bytes
    let wat = Guest::new(ACCEPT).string("reuse", "reuse").wat();
    let policy = Policy::from_bytes(wat.as_bytes(), "a").unwrap();
    let again = Policy::from_bytes(wat.as_bytes(), "b").unwrap();
    let metered = Policy::from_bytes_metered(wat.as_bytes(), "c").unwrap();
    for policy in [&policy, &again, &metered] {
        for _ in 0..50 {
            let eval = policy
                .validate(&configmap_review(json!({})), &json!({}), &mut NoHost::new())
                .unwrap();
            assert!(eval.accepted());
        }
        policy.instantiate(NoHost::new()).unwrap();
    }
    assert_eq!(policy.compilations(), 1, "{policy:?}");
    assert_eq!(again.compilations(), 1, "{again:?}");
    // the metered engine compiles its own code, once
    assert_eq!(metered.compilations(), 1, "{metered:?}");
}

fn metered(guest: &Guest) -> Policy {
    Policy::from_bytes_metered(guest.wat().as_bytes(), "wat-guest").expect("the WAT guest compiles")
}

/// What a guest call came to, comparable across engines.
#[derive(Debug, PartialEq)]
enum Outcome {
    Verdict(ValidationResponse, Vec<HostCall>, Vec<Value>),
    Failed(EvaluationErrorKind, String),
}

/// The metered engine speaks the same waPC as wasmtime-provider: the same
/// verdicts, host calls (with the dispatcher's errors), logs, guest errors
/// and traps, for every kind of guest.
#[test]
fn the_metered_engine_is_faithful() {
    let log = format!(
        "(drop (call $host_call (global.get $kubewarden_ptr) (global.get $kubewarden_len) \
           (global.get $tracing_ptr) (global.get $tracing_len) (global.get $log_ptr) (global.get $log_len) \
           (global.get $event_ptr) (global.get $event_len))) {ACCEPT}"
    );
    let services = list_services_payload("team-a");
    #[rustfmt::skip]
    let cases: Vec<(&str, Guest)> = vec![
        ("accept", Guest::new(ACCEPT)),
        ("trap", Guest::new(TRAP)),
        ("guest error", Guest::new("(call $fail (global.get $boom_ptr) (global.get $boom_len))")
            .string("boom", "cannot parse request: boom")),
        ("invalid answer", Guest::new("(call $respond (global.get $r_ptr) (global.get $r_len))")
            .string("r", "not json")),
        ("echo to an unknown binding", echo_guest()),
        ("log", Guest::new(&log).string("tracing", "tracing").string("log", "log")
            .string("event", r#"{"level":"info","message":"checking"}"#)),
        ("host answer read back", host_call_guest("list_resources_by_namespace", &services, OnHostError::Fail)),
        ("host error read back", host_call_guest("get_resource", &services, OnHostError::Fail)),
    ];
    let mut cluster = ClusterState::new();
    cluster.add_service("team-a", "db", &[5432]);
    let review = configmap_review(json!({"url": "http://db.team-a.svc:5432"}));
    for (name, guest) in &cases {
        let run = |policy: &Policy| {
            let mut host = cluster.clone();
            match policy.validate(&review, &json!({}), &mut host) {
                Ok(eval) => (
                    Outcome::Verdict(eval.response, eval.host_calls, eval.logs),
                    eval.fuel,
                ),
                Err(err) => (Outcome::Failed(error_kind(&err), err.to_string()), None),
            }
        };
        let (production, no_fuel) = run(&guest.policy());
        let (metered_outcome, fuel) = run(&metered(guest));
        assert_eq!(metered_outcome, production, "{name}");
        assert_eq!(no_fuel, None, "{name}: only a metered policy counts fuel");
        if let Outcome::Verdict(..) = production {
            assert!(fuel.is_some_and(|f| f > 0), "{name}: fuel {fuel:?}");
        }
    }
}

/// Fuel counts instructions: a loop of `n` iterations costs a fixed
/// number of units per iteration, exactly, on top of a fixed overhead.
#[test]
fn fuel_counts_instructions() {
    let fuel = |iterations: u32| {
        let body = format!(
            "(local.set $n (i32.const {iterations})) \
             (loop $l (local.set $n (i32.sub (local.get $n) (i32.const 1))) \
                      (br_if $l (local.get $n))) {ACCEPT}"
        );
        metered(&Guest::new(&body))
            .validate(&configmap_review(json!({})), &json!({}), &mut NoHost::new())
            .unwrap()
            .fuel
            .unwrap()
    };
    let (f1, f2, f3) = (fuel(1000), fuel(2000), fuel(3000));
    assert!(f2 > f1, "{f1} {f2}");
    assert_eq!(f3 - f2, f2 - f1, "{f1} {f2} {f3}");
    // local.get, i32.const, i32.sub, local.set, local.get, br_if
    assert_eq!(f2 - f1, 6 * 1000, "{f1} {f2}");
}

/// A metered guest that never returns runs out of fuel (it has no
/// timeout): every unit of the limit is consumed, and the instance
/// survives for the next call.
#[test]
fn endless_loop_runs_out_of_fuel() {
    const LIMIT: u64 = 1_000_000;
    let policy = metered(&Guest::new(ENDLESS)).with_fuel_limit(LIMIT);
    let err = policy
        .validate(&configmap_review(json!({})), &json!({}), &mut NoHost::new())
        .unwrap_err();
    assert_eq!(error_kind(&err), EvaluationErrorKind::OutOfFuel, "{err}");
    assert!(err.to_string().contains("ran out of fuel"), "{err}");
    let mut instance = policy.instantiate(NoHost::new()).unwrap();
    let err = instance.call("validate", b"{}").unwrap_err();
    assert_eq!(error_kind(&err), EvaluationErrorKind::OutOfFuel, "{err}");
    assert_eq!(instance.fuel_consumed(), Some(LIMIT));
    assert_eq!(instance.protocol_version().unwrap(), "v1");
    assert!(instance.fuel_consumed().is_some_and(|f| f < LIMIT));
}
