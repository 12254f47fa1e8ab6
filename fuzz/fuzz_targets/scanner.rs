//! The Service-reference scanner on arbitrary bytes. The first byte picks
//! the options (short names, cluster domains, an ignored-host pattern); the
//! rest is the text (lossily UTF-8). Invariants: every reference is a valid
//! Service name in a valid namespace, with a non-zero port when one is
//! written, quoted as it is written (credentials never); the scan is
//! deterministic; and a known reference appended on its own line, or
//! prepended on its own line to a text that is not JSON, is found whatever
//! the text around it, without changing what the text itself yields.

#![no_main]

use dangling_references_policy::service_refs::{Form, Port, ScanOptions, ServiceRef, scan};
use dangling_references_policy::settings::{Glob, is_dns1123_label};
use libfuzzer_sys::fuzz_target;

const NEEDLE: &str = "http://needle-svc.haystack.svc.cluster.local:8443";

fn key<'t>(r: &ServiceRef<'t>) -> (String, String, Port, Form) {
    (
        r.service.to_string(),
        r.namespace.to_string(),
        r.port,
        r.form,
    )
}

fn check_one(text: &str, r: &ServiceRef) {
    assert!(is_dns1123_label(&r.service), "service {:?}", r.service);
    assert!(r.service.as_bytes()[0].is_ascii_lowercase());
    assert!(
        is_dns1123_label(&r.namespace),
        "namespace {:?}",
        r.namespace
    );
    if let Port::Explicit(p) | Port::SchemeDefault(p) = r.port {
        assert!(p > 0);
    }
    let written = r.written.as_ref();
    assert!(!written.is_empty());
    match written.split_once("://***@") {
        // Credentials are replaced: what follows is the host as written.
        Some((scheme, host)) => {
            assert!(text.contains(&format!("{scheme}://")) && text.contains(host));
            assert!(!host.contains('@'));
        }
        None => assert!(text.contains(written), "{written:?} is not in the text"),
    }
    assert!(written.len() <= text.len() + 3);
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let suffixes: Vec<String> = match flags & 0b11 {
        0 => vec![".svc.cluster.local".into()],
        1 => vec![".svc.corp.internal".into(), ".svc.cluster.local".into()],
        2 => vec![".svc.corp.internal".into()],
        _ => vec![],
    };
    let ignored = if flags & 0b1000 != 0 {
        vec![Glob::new("*.legacy.svc*")]
    } else {
        vec![]
    };
    let options = ScanOptions {
        qualified_suffixes: &suffixes,
        default_namespace: "home",
        short_names: flags & 0b100 != 0,
        ignored_hosts: &ignored,
    };
    let found = scan(&text, &options);
    for r in &found {
        check_one(&text, r);
    }
    // At most one reference per 5 bytes ("a.b.svc" shares no byte with the next).
    assert!(found.len() <= text.len() / 5 + 1);
    assert_eq!(scan(&text, &options), found, "not deterministic");

    let is_needle = |r: &ServiceRef| {
        key(r)
            == (
                "needle-svc".into(),
                "haystack".into(),
                Port::Explicit(8443),
                Form::Qualified,
            )
    };
    if suffixes.iter().any(|s| s == ".svc.cluster.local") {
        let after = format!("{text}\n{NEEDLE}\n");
        let with = scan(&after, &options);
        assert!(
            with.last().is_some_and(is_needle),
            "appended needle lost: {with:?}"
        );
        let before: Vec<_> = with[..with.len() - 1].iter().map(key).collect();
        let alone: Vec<_> = found.iter().map(key).collect();
        assert_eq!(
            before, alone,
            "appending a line changed the text's references"
        );

        let trimmed = text.trim_start();
        if !trimmed.starts_with('{') && !trimmed.starts_with('[') {
            let first = format!("{NEEDLE}\n{text}");
            let with = scan(&first, &options);
            assert!(
                with.first().is_some_and(is_needle),
                "prepended needle lost: {with:?}"
            );
            let rest: Vec<_> = with[1..].iter().map(key).collect();
            assert_eq!(
                rest, alone,
                "prepending a line changed the text's references"
            );
        }
    }
});
