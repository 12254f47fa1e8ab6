//! kwctl replay sessions: parsing (e), matching replay (c), unexpected
//! requests (b).

mod common;

use std::collections::BTreeSet;

use common::*;
use e2e::{
    EvaluationError, EvaluationErrorKind, Exchange, ExchangeResponse, KubernetesRequest,
    ReplaySession,
};
use serde_json::{Value, json};

/// The example of /work/shared/kubewarden-host-notes.md, verbatim.
const NOTES_EXAMPLE: &str = r#"- type: Exchange
  request: |
    !KubernetesListResourceNamespace
    api_version: v1
    kind: Service
    namespace: kubernaut-system
    label_selector: null
    field_selector: null
  response:
    type: Success
    payload: '{"apiVersion":"v1","kind":"ServiceList","metadata":{"resourceVersion":"1"},"items":[]}'
"#;

fn kind(err: &anyhow::Error) -> EvaluationErrorKind {
    err.downcast_ref::<EvaluationError>()
        .unwrap_or_else(|| panic!("not an EvaluationError: {err:?}"))
        .kind
}

#[test]
fn parses_the_notes_example() {
    let session = ReplaySession::from_yaml_str(NOTES_EXAMPLE).unwrap();
    assert_eq!(session.remaining(), 1);
    assert_eq!(
        session.exchanges(),
        &[Exchange {
            request: KubernetesRequest::list_namespace("v1", "Service", "kubernaut-system"),
            response: ExchangeResponse::Success {
                payload: r#"{"apiVersion":"v1","kind":"ServiceList","metadata":{"resourceVersion":"1"},"items":[]}"#
                    .to_owned()
            },
        }]
    );
}

#[test]
fn parses_all_tags_masks_and_errors() {
    let text = r#"
- type: Exchange
  request: |
    !KubernetesGetResource
    api_version: v1
    kind: Service
    name: db
    namespace: team-a
    disable_cache: true
    field_masks:
    - spec.ports
    - metadata.name
  response:
    type: Error
    message: Cannot find v1/Service named 'db' inside of namespace 'Some("team-a")'
- type: Exchange
  request: |
    !KubernetesListResourceAll
    api_version: v1
    kind: Namespace
    label_selector: env=prod
    field_selector: null
    field_masks: null
  response:
    type: Success
    payload: '{"apiVersion":"v1","kind":"NamespaceList","metadata":{},"items":[]}'
"#;
    let session = ReplaySession::from_yaml_str(text).unwrap();
    let ex = session.exchanges();
    assert_eq!(ex.len(), 2);
    assert_eq!(
        ex[0].request,
        KubernetesRequest::KubernetesGetResource {
            api_version: "v1".into(),
            kind: "Service".into(),
            name: "db".into(),
            namespace: Some("team-a".into()),
            disable_cache: true,
            field_masks: Some(BTreeSet::from([
                "metadata.name".to_owned(),
                "spec.ports".to_owned()
            ])),
        }
    );
    assert_eq!(
        ex[0].response,
        ExchangeResponse::Error {
            message: r#"Cannot find v1/Service named 'db' inside of namespace 'Some("team-a")'"#
                .into()
        }
    );
    assert!(matches!(
        &ex[1].request,
        KubernetesRequest::KubernetesListResourceAll { label_selector: Some(l), field_masks: None, .. } if l == "env=prod"
    ));
}

#[test]
fn malformed_sessions_are_errors() {
    let cases = [
        // not a list
        "type: Exchange\n",
        // missing the required `kind`
        "- type: Exchange\n  request: |\n    !KubernetesListResourceNamespace\n    api_version: v1\n    namespace: a\n  response:\n    type: Success\n    payload: '{}'\n",
        // missing the required `disable_cache`
        "- type: Exchange\n  request: |\n    !KubernetesGetResource\n    api_version: v1\n    kind: Service\n    name: a\n    namespace: a\n  response:\n    type: Success\n    payload: '{}'\n",
        // unknown tag
        "- type: Exchange\n  request: |\n    !OciManifestDigest\n    image: busybox\n  response:\n    type: Success\n    payload: '{}'\n",
        // untagged request
        "- type: Exchange\n  request: |\n    api_version: v1\n    kind: Service\n    namespace: a\n  response:\n    type: Success\n    payload: '{}'\n",
        // unknown response type
        "- type: Exchange\n  request: |\n    !KubernetesListResourceNamespace\n    api_version: v1\n    kind: Service\n    namespace: a\n  response:\n    type: Maybe\n    payload: '{}'\n",
        // Success without payload
        "- type: Exchange\n  request: |\n    !KubernetesListResourceNamespace\n    api_version: v1\n    kind: Service\n    namespace: a\n  response:\n    type: Success\n",
        // not YAML at all
        "- [unclosed\n",
        // request is not a string
        "- type: Exchange\n  request:\n    api_version: v1\n  response:\n    type: Success\n    payload: '{}'\n",
    ];
    for (i, text) in cases.iter().enumerate() {
        let res = ReplaySession::from_yaml_str(text);
        assert!(res.is_err(), "case {i} should not parse: {res:?}");
    }
    // omitted optional fields are fine (as with kwctl's serde types)
    let omitted = "- type: Exchange\n  request: |\n    !KubernetesListResourceNamespace\n    api_version: v1\n    kind: Service\n    namespace: a\n  response:\n    type: Success\n    payload: '{}'\n";
    let s = ReplaySession::from_yaml_str(omitted).unwrap();
    assert_eq!(
        s.exchanges()[0].request,
        KubernetesRequest::list_namespace("v1", "Service", "a")
    );
}

#[test]
fn to_yaml_roundtrips_through_a_file() {
    let session = ReplaySession::new(vec![
        Exchange::success(
            KubernetesRequest::list_namespace("v1", "Service", "b"),
            &json!({"apiVersion": "v1", "kind": "ServiceList", "metadata": {"resourceVersion": "1"}, "items": []}),
        ),
        Exchange::error(
            KubernetesRequest::get("v1", "Service", Some("a"), "x"),
            "Cannot find v1/Service named 'x' inside of namespace 'Some(\"a\")'",
        ),
    ]);
    let path = temp_path("session.yml");
    session.write_file(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("- type: Exchange\n  request: |"), "{text}");
    assert!(
        text.contains("    !KubernetesListResourceNamespace\n"),
        "{text}"
    );
    let back = ReplaySession::from_file(&path).unwrap();
    assert_eq!(back.exchanges(), session.exchanges());
}

#[test]
fn matching_session_hands_the_exact_payload_to_the_guest() {
    let payload = r#"{"apiVersion":"v1","kind":"ServiceList","metadata":{"resourceVersion":"1"},"items":[{"apiVersion":"v1","kind":"Service","metadata":{"name":"db","namespace":"kubernaut-system"}}]}"#;
    let text = NOTES_EXAMPLE.replace(
        r#"'{"apiVersion":"v1","kind":"ServiceList","metadata":{"resourceVersion":"1"},"items":[]}'"#,
        &format!("'{payload}'"),
    );
    let mut session = ReplaySession::from_yaml_str(&text).unwrap();
    let policy = host_call_guest(
        "list_resources_by_namespace",
        &list_services_payload("kubernaut-system"),
        OnHostError::Fail,
    )
    .policy();
    let review = configmap_review(json!({}));
    let eval = policy.validate(&review, &json!({}), &mut session).unwrap();
    assert!(eval.accepted());
    // the guest put what it received into mutated_object
    assert_eq!(
        eval.response.mutated_object,
        Some(serde_json::from_str::<Value>(payload).unwrap())
    );
    assert_eq!(eval.host_calls.len(), 1);
    let call = &eval.host_calls[0];
    assert_eq!(
        call.path(),
        "kubewarden/kubernetes/list_resources_by_namespace"
    );
    assert_eq!(call.payload, list_services_payload("kubernaut-system"));
    assert_eq!(call.error, None);
    assert_eq!(
        call.kubernetes_request(),
        Some(KubernetesRequest::list_namespace(
            "v1",
            "Service",
            "kubernaut-system"
        ))
    );
    assert_eq!(session.remaining(), 0);
    assert!(session.errors().is_empty());
    // the patch from request.object to mutated_object is computed
    assert!(eval.patch.is_some());

    // byte-exact: the raw answer of the guest embeds the payload verbatim
    let mut session = ReplaySession::from_yaml_str(&text).unwrap();
    session.rewind();
    let mut instance = policy.instantiate(session).unwrap();
    let raw = instance
        .call(
            "validate",
            &e2e::validate_payload(&review, &json!({})).unwrap(),
        )
        .unwrap();
    assert_eq!(
        String::from_utf8(raw).unwrap(),
        format!(r#"{{"accepted":true,"mutated_object":{payload}}}"#)
    );
    assert_eq!(instance.with_host(|s| s.remaining()), 0);
}

#[test]
fn field_masks_compare_as_a_set() {
    let recorded = "- type: Exchange\n  request: |\n    !KubernetesListResourceNamespace\n    api_version: v1\n    kind: Service\n    namespace: a\n    label_selector: null\n    field_selector: null\n    field_masks:\n    - spec.ports\n    - metadata.name\n  response:\n    type: Success\n    payload: '{\"items\":[]}'\n";
    let mut payload = list_services_payload("a");
    payload["field_masks"] = json!(["metadata.name", "spec.ports", "spec.ports"]);
    let policy =
        host_call_guest("list_resources_by_namespace", &payload, OnHostError::Fail).policy();
    let mut session = ReplaySession::from_yaml_str(recorded).unwrap();
    let eval = policy
        .validate(&configmap_review(json!({})), &json!({}), &mut session)
        .unwrap();
    assert_eq!(eval.response.mutated_object, Some(json!({"items": []})));
    assert!(session.errors().is_empty());
}

#[test]
fn recorded_error_reaches_the_guest_wrapped() {
    let mut session = ReplaySession::new(vec![Exchange::error(
        KubernetesRequest::get("v1", "Service", Some("team-a"), "db"),
        "Cannot find v1/Service named 'db' inside of namespace 'Some(\"team-a\")'",
    )]);
    let strict = host_call_guest(
        "get_resource",
        &get_service_payload("team-a", "db"),
        OnHostError::Fail,
    )
    .policy();
    let err = strict
        .validate(&configmap_review(json!({})), &json!({}), &mut session)
        .unwrap_err();
    // a legitimate host error is not a violation; the guest chose to fail
    assert_eq!(kind(&err), EvaluationErrorKind::Guest);
    assert_eq!(
        err.to_string(),
        "Guest call failure: Callback evaluation failure: Cannot find v1/Service named 'db' inside of namespace 'Some(\"team-a\")'"
    );
    assert!(session.errors().is_empty());
    assert_eq!(session.remaining(), 0);

    session.rewind();
    let lenient = host_call_guest(
        "get_resource",
        &get_service_payload("team-a", "db"),
        OnHostError::Accept,
    )
    .policy();
    let eval = lenient
        .validate(&configmap_review(json!({})), &json!({}), &mut session)
        .unwrap();
    assert!(eval.accepted());
    assert_eq!(
        eval.host_calls[0].error.as_deref(),
        Some(
            "Callback evaluation failure: Cannot find v1/Service named 'db' inside of namespace 'Some(\"team-a\")'"
        )
    );
}

#[test]
fn unexpected_request_fails_the_evaluation_and_is_reported() {
    // the session expects kubernaut-system, the guest lists other-ns
    for on_error in [OnHostError::Fail, OnHostError::Accept] {
        let mut session = ReplaySession::from_yaml_str(NOTES_EXAMPLE).unwrap();
        let policy = host_call_guest(
            "list_resources_by_namespace",
            &list_services_payload("other-ns"),
            on_error,
        )
        .policy();
        let err = policy
            .validate(&configmap_review(json!({})), &json!({}), &mut session)
            .expect_err("a replay mismatch must fail the evaluation, even if the guest accepts");
        assert_eq!(kind(&err), EvaluationErrorKind::HostViolation);
        assert_eq!(session.errors().len(), 1);
        let replay_err = &session.errors()[0];
        assert!(
            replay_err.starts_with("Replay error: unexpected request. Was expecting KubernetesListResourceNamespace { api_version: \"v1\", kind: \"Service\", namespace: \"kubernaut-system\""),
            "{replay_err}"
        );
        assert!(
            replay_err.contains("got KubernetesListResourceNamespace { api_version: \"v1\", kind: \"Service\", namespace: \"other-ns\""),
            "{replay_err}"
        );
        assert!(err.to_string().contains(replay_err.as_str()), "{err}");
        // like kwctl, the mismatched exchange is consumed
        assert_eq!(session.remaining(), 0);
    }
}

#[test]
fn call_past_the_end_of_the_session_fails() {
    let mut session = ReplaySession::new(vec![]);
    let policy = host_call_guest(
        "get_resource",
        &get_service_payload("a", "b"),
        OnHostError::Accept,
    )
    .policy();
    let err = policy
        .validate(&configmap_review(json!({})), &json!({}), &mut session)
        .unwrap_err();
    assert_eq!(kind(&err), EvaluationErrorKind::HostViolation);
    assert_eq!(session.errors().len(), 1);
    assert!(
        session.errors()[0].starts_with("Replay error: unexpected request. Was expecting nothing"),
        "{}",
        session.errors()[0]
    );
}

#[test]
fn leftover_exchanges_are_visible() {
    let mut session = ReplaySession::from_yaml_str(NOTES_EXAMPLE).unwrap();
    let policy = Guest::new(ACCEPT).policy();
    let eval = policy
        .validate(&configmap_review(json!({})), &json!({}), &mut session)
        .unwrap();
    assert!(eval.accepted());
    assert_eq!(session.remaining(), 1);
}

/// Every recorded session of `test_data/sessions/` (subdirectories
/// included) parses, and its exchanges survive a write and a read. The
/// reference graph's sessions (`graph/`) are, comment lines aside, byte
/// for byte what kwctl writes (serde_yaml), `!KubernetesListResourceAll`
/// and recorded errors included.
#[test]
fn recorded_sessions_roundtrip() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yml") {
                out.push(path);
            }
        }
    }
    let root = e2e::repository_root().join("test_data/sessions");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut graph = 0;
    let mut list_all = 0;
    for path in &files {
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let session =
            ReplaySession::from_yaml_str(&text).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let written = session.to_yaml().unwrap();
        let back = ReplaySession::from_yaml_str(&written).unwrap();
        assert_eq!(back.exchanges(), session.exchanges(), "{name}");
        list_all += session
            .exchanges()
            .iter()
            .filter(|ex| {
                matches!(
                    ex.request,
                    KubernetesRequest::KubernetesListResourceAll { .. }
                )
            })
            .count();
        if name.starts_with("graph/") {
            graph += 1;
            let body: String = text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(written, body, "{name}: not what kwctl writes");
        }
    }
    assert!(graph > 0, "no session in test_data/sessions/graph/");
    assert!(list_all > 0, "no session records a list_resources_all");
}
