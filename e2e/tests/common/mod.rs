//! Tiny waPC guests written in WebAssembly text, generated here so that
//! string lengths and offsets are always right.
//!
//! Every guest implements the waPC guest ABI the way wapc-guest 1.x does:
//! it exports `memory`, `wapc_init` and `__guest_call(op_len, msg_len)`,
//! which fetches the operation name and payload with `__guest_request` and
//! answers with `__guest_response` (returning 1) or `__guest_error`
//! (returning 0). Operations are told apart by the length of their name:
//! `validate` (8), `protocol_version` (16, answers `"v1"`),
//! `validate_settings` (17); anything else is a guest error.
//!
//! Inside a body, `$req_len` is the payload length, the payload starts at
//! `(global.get $req)`, `$out`/`$n` are scratch locals, `$out_start` is a
//! free address after the payload, and every string `NAME` given to
//! [`Guest::string`] is at `(global.get $NAME_ptr)` with length
//! `(global.get $NAME_len)`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use e2e::Policy;
use serde_json::{Value, json};

/// Builder of a WAT guest.
pub struct Guest {
    strings: Vec<(String, Vec<u8>)>,
    validate: String,
    validate_settings: String,
}

impl Guest {
    /// A guest whose `validate` runs `body` (which must leave an i32 on the
    /// stack: 1 after `__guest_response`, 0 after `__guest_error`).
    pub fn new(validate_body: &str) -> Self {
        Guest {
            strings: Vec::new(),
            validate: validate_body.to_owned(),
            validate_settings: "(call $respond (global.get $valid_ptr) (global.get $valid_len))"
                .to_owned(),
        }
        .string("v1", "\"v1\"")
        .string("unknown", "unknown operation")
        .string("accepted", r#"{"accepted":true}"#)
        .string("valid", r#"{"valid":true,"message":null}"#)
        .string("prefix", r#"{"accepted":true,"mutated_object":"#)
        .string("kubewarden", "kubewarden")
        .string("kubernetes", "kubernetes")
        .string("e2e", "e2e")
        .string("echo", "echo")
    }

    /// Adds a string constant.
    pub fn string(mut self, name: &str, value: &str) -> Self {
        self.strings
            .push((name.to_owned(), value.as_bytes().to_vec()));
        self
    }

    /// Replaces the body of `validate_settings`.
    pub fn settings_body(mut self, body: &str) -> Self {
        self.validate_settings = body.to_owned();
        self
    }

    /// The module text.
    pub fn wat(&self) -> String {
        let mut globals = String::new();
        let mut offset = 1024usize;
        for (name, bytes) in &self.strings {
            let escaped: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
            globals.push_str(&format!(
                "  (global ${name}_ptr i32 (i32.const {offset}))\n  (global ${name}_len i32 (i32.const {}))\n  (data (i32.const {offset}) \"{escaped}\")\n",
                bytes.len()
            ));
            offset += bytes.len() + 1;
        }
        assert!(offset < 1 << 20, "string constants overflow the data area");
        format!(
            r#"(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__guest_error" (func $guest_error (param i32 i32)))
  (import "wapc" "__host_call" (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_response_len" (func $host_response_len (result i32)))
  (import "wapc" "__host_response" (func $host_response (param i32)))
  (import "wapc" "__host_error_len" (func $host_error_len (result i32)))
  (import "wapc" "__host_error" (func $host_error (param i32)))
  (import "wapc" "__console_log" (func $console_log (param i32 i32)))
  (memory (export "memory") 32)
  (global $req i32 (i32.const 1048576))
{globals}
  ;; grows the memory until address $end is inside it
  (func $ensure (param $end i32)
    (block $done
      (loop $grow
        (br_if $done (i32.le_u (local.get $end) (i32.mul (memory.size) (i32.const 65536))))
        (drop (memory.grow (i32.const 16)))
        (br $grow))))
  (func $respond (param $ptr i32) (param $len i32) (result i32)
    (call $guest_response (local.get $ptr) (local.get $len))
    (i32.const 1))
  (func $fail (param $ptr i32) (param $len i32) (result i32)
    (call $guest_error (local.get $ptr) (local.get $len))
    (i32.const 0))
  (func (export "wapc_init"))
  (func $validate (param $req_len i32) (result i32) (local $out i32) (local $n i32) (local $out_start i32)
    (local.set $out_start (i32.and (i32.add (i32.add (global.get $req) (local.get $req_len)) (i32.const 15)) (i32.const -16)))
    {validate})
  (func $validate_settings (param $req_len i32) (result i32) (local $out i32) (local $n i32) (local $out_start i32)
    (local.set $out_start (i32.and (i32.add (i32.add (global.get $req) (local.get $req_len)) (i32.const 15)) (i32.const -16)))
    {settings})
  (func (export "__guest_call") (param $op_len i32) (param $req_len i32) (result i32)
    (call $ensure (i32.add (i32.add (global.get $req) (local.get $req_len)) (i32.const 65536)))
    (call $guest_request (i32.const 64) (global.get $req))
    (if (i32.eq (local.get $op_len) (i32.const 8))
      (then (return (call $validate (local.get $req_len)))))
    (if (i32.eq (local.get $op_len) (i32.const 17))
      (then (return (call $validate_settings (local.get $req_len)))))
    (if (i32.eq (local.get $op_len) (i32.const 16))
      (then (return (call $respond (global.get $v1_ptr) (global.get $v1_len)))))
    (call $fail (global.get $unknown_ptr) (global.get $unknown_len)))
)
"#,
            validate = self.validate,
            settings = self.validate_settings,
        )
    }

    /// Compiles the guest into a [`Policy`].
    pub fn policy(&self) -> Policy {
        Policy::from_bytes(self.wat().as_bytes(), "wat-guest").expect("the WAT guest compiles")
    }

    /// Writes the guest to a fresh `.wat` file and returns its path.
    pub fn write(&self) -> PathBuf {
        let path = temp_path("guest.wat");
        std::fs::write(&path, self.wat()).unwrap();
        path
    }
}

/// `validate` answers `{"accepted":true}`.
pub const ACCEPT: &str = "(call $respond (global.get $accepted_ptr) (global.get $accepted_len))";

/// `validate` traps.
pub const TRAP: &str = "unreachable";

/// `validate` sends the payload it received to the host
/// (`e2e/echo/payload`, which the dispatcher refuses as an unknown binding
/// but records) and accepts.
pub fn echo_guest() -> Guest {
    Guest::new(&format!(
        "(drop (call $host_call (global.get $e2e_ptr) (global.get $e2e_len) \
           (global.get $echo_ptr) (global.get $echo_len) (global.get $echo_ptr) (global.get $echo_len) \
           (global.get $req) (local.get $req_len))) {ACCEPT}"
    ))
    .settings_body(
        "(drop (call $host_call (global.get $e2e_ptr) (global.get $e2e_len) \
           (global.get $echo_ptr) (global.get $echo_len) (global.get $echo_ptr) (global.get $echo_len) \
           (global.get $req) (local.get $req_len))) \
         (call $respond (global.get $valid_ptr) (global.get $valid_len))",
    )
}

/// What a [`host_call_guest`] does when its host call fails.
#[derive(Clone, Copy)]
pub enum OnHostError {
    /// Return the host error text as the guest error.
    Fail,
    /// Ignore it and accept (a sloppy policy).
    Accept,
}

/// `validate` makes one `kubewarden/kubernetes/<operation>` host call with
/// `payload`; on success it accepts with `mutated_object` = the host's
/// answer (so the test sees exactly what the guest got), on failure it
/// does what `on_error` says.
pub fn host_call_guest(operation: &str, payload: &Value, on_error: OnHostError) -> Guest {
    let on_error = match on_error {
        OnHostError::Fail => "(return (call $fail (local.get $out) (local.get $n)))",
        OnHostError::Accept => {
            "(return (call $respond (global.get $accepted_ptr) (global.get $accepted_len)))"
        }
    };
    Guest::new(&format!(
        r#"
    (local.set $out (local.get $out_start))
    (local.set $n (call $host_call
      (global.get $kubewarden_ptr) (global.get $kubewarden_len)
      (global.get $kubernetes_ptr) (global.get $kubernetes_len)
      (global.get $op_ptr) (global.get $op_len)
      (global.get $payload_ptr) (global.get $payload_len)))
    (if (i32.eqz (local.get $n))
      (then
        (local.set $n (call $host_error_len))
        (call $ensure (i32.add (local.get $out) (local.get $n)))
        (call $host_error (local.get $out))
        {on_error}))
    (local.set $n (call $host_response_len))
    (call $ensure (i32.add (i32.add (local.get $out) (local.get $n)) (i32.add (global.get $prefix_len) (i32.const 1))))
    (memory.copy (local.get $out) (global.get $prefix_ptr) (global.get $prefix_len))
    (call $host_response (i32.add (local.get $out) (global.get $prefix_len)))
    (i32.store8 (i32.add (i32.add (local.get $out) (global.get $prefix_len)) (local.get $n)) (i32.const 125))
    (call $respond (local.get $out) (i32.add (i32.add (global.get $prefix_len) (local.get $n)) (i32.const 1)))"#
    ))
    .string("op", operation)
    .string("payload", &payload.to_string())
}

/// The payload the SDK sends for `list_resources_by_namespace` of Services.
pub fn list_services_payload(namespace: &str) -> Value {
    json!({
        "api_version": "v1",
        "kind": "Service",
        "namespace": namespace,
        "label_selector": null,
        "field_selector": null,
        "field_masks": null,
    })
}

/// The payload the SDK sends for `get_resource` of a Service.
pub fn get_service_payload(namespace: &str, name: &str) -> Value {
    json!({
        "api_version": "v1",
        "kind": "Service",
        "name": name,
        "namespace": namespace,
        "disable_cache": false,
        "field_masks": null,
    })
}

/// A complete AdmissionReview for a ConfigMap.
pub fn configmap_review(data: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
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
                "data": data,
            },
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        }
    })
}

/// A fresh path under cargo's per-target temporary directory.
pub fn temp_path(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "e2e-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}
