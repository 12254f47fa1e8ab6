//! The one place where the checks' typed reports become a verdict: which
//! findings reject and which only warn (`action`, `onLookupError`,
//! `warnOnUnresolvedValues`), in what order they are listed, worded by
//! `messages`. The checks never import this module nor `messages`, so
//! data flows one way: request → check → report → verdict.

use crate::graph::{self, Class};
use crate::kubeconfig_check;
use crate::messages;
use crate::route_check;
use crate::service_check::{self, Severity};
use crate::settings::{Action, Compiled, MissingSecrets, OnLookupError, Settings};
use crate::verdict::Verdict;
use crate::workload_check::{self, Unverified};
use crate::workload_refs::ObjectKind;

/// Splits worded reference `problems` and `lookup_errors` into reasons to
/// reject and warnings, as `action` and `onLookupError` say.
fn by_settings(
    problems: Vec<String>,
    lookup_errors: Vec<String>,
    settings: &Settings,
) -> (Vec<String>, Vec<String>) {
    let mut reasons = Vec::new();
    let mut warnings = Vec::new();
    if settings.action == Action::Deny {
        reasons.extend(problems);
    } else {
        warnings.extend(problems);
    }
    if settings.on_lookup_error == OnLookupError::Deny {
        reasons.extend(lookup_errors);
    } else {
        warnings.extend(lookup_errors);
    }
    (reasons, warnings)
}

/// The verdict on ConfigMap `config_map` ("ConfigMap ns/name"): its
/// dangling references as `action` says, its failed lookups as
/// `onLookupError` says; a ConfigMap that cannot be read is a 400.
pub fn config_map(
    report: Result<service_check::Report, String>,
    config_map: &str,
    compiled: &Compiled,
) -> Verdict {
    let report = match report {
        Ok(report) => report,
        Err(e) => return Verdict::malformed(messages::malformed(config_map, &e)),
    };
    let (problems, absent): (Vec<_>, Vec<_>) = report
        .findings
        .iter()
        .partition(|f| f.severity == Severity::Broken);
    let word = |f: &service_check::Finding| messages::services::finding(config_map, f, compiled);
    let failures = report
        .failures
        .iter()
        .map(|f| messages::services::lookup_failure(config_map, f))
        .collect();
    let problems = problems.into_iter().map(word).collect();
    let (reasons, mut warnings) = by_settings(problems, failures, &compiled.settings);
    warnings.extend(absent.into_iter().map(word));
    Verdict::from_parts(reasons, warnings, None)
}

/// The verdict on route object `object` ("Ingress ns/name") of `kind`:
/// backends that name a missing Service or port as `action` says, failed
/// lookups as `onLookupError` says; a route that cannot be read is a 400.
pub fn route(
    report: Result<route_check::Report, String>,
    object: &str,
    kind: &str,
    compiled: &Compiled,
) -> Verdict {
    let report = match report {
        Ok(report) => report,
        Err(e) => return Verdict::malformed(messages::malformed(object, &e)),
    };
    let problems = report
        .findings
        .iter()
        .map(|f| messages::routes::finding(f, object, kind))
        .collect();
    let failures = report
        .failures
        .iter()
        .map(|f| messages::services::lookup_failure(object, f))
        .collect();
    let (reasons, warnings) = by_settings(problems, failures, &compiled.settings);
    Verdict::from_parts(reasons, warnings, None)
}

/// The verdict on `workload` ("Deployment ns/name") of `namespace`:
/// KUBECONFIG findings always reject and come first; missing objects,
/// keys and Services follow `action`, what could not be verified
/// `onLookupError`; unresolved variables are warned with
/// `warnOnUnresolvedValues`; removed variables are warned and the
/// mutated object returned. A Pod template that cannot be read is a 400.
pub fn workload(
    report: Result<workload_check::Report, String>,
    graph: Result<graph::Report, String>,
    workload: &str,
    namespace: &str,
    compiled: &Compiled,
) -> Verdict {
    let (report, graph) = match (report, graph) {
        (Ok(report), Ok(graph)) => (report, graph),
        (Err(e), _) | (_, Err(e)) => {
            return Verdict::malformed(messages::malformed(workload, &e));
        }
    };
    let settings = &compiled.settings;
    // Service findings in the order of the request: consumed keys, then
    // the containers' texts; an absent Service only ever warns.
    let mut absent = Vec::new();
    // A missing Secret only warns with `missingSecrets: warn` (the
    // default): the Pods wait for it.
    let mut waiting = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for f in &report.findings {
        match f {
            workload_check::Finding::Missing { reference }
                if reference.kind == ObjectKind::Secret
                    && settings.missing_secrets == MissingSecrets::Warn =>
            {
                waiting.push(messages::workload::waiting_secret(
                    reference, workload, namespace,
                ));
            }
            f => problems.push(messages::workload::finding(f, workload, namespace)),
        }
    }
    let services = report
        .key_findings
        .iter()
        .map(|k| {
            let context = messages::workload::consumed_key(&k.reference, &k.config_map, workload);
            (
                k.finding.severity,
                messages::services::finding(&context, &k.finding, compiled),
            )
        })
        .chain(report.text_findings.iter().map(|t| {
            let context = messages::workload::text_site(&t.site, workload);
            (
                t.finding.severity,
                messages::services::described(&context, &t.finding, compiled),
            )
        }));
    for (severity, message) in services {
        match severity {
            Severity::Broken => problems.push(message),
            Severity::Absent => absent.push(message),
        }
    }
    let (graph_problems, graph_errors, graph_warnings) = graph_parts(&graph, workload);
    problems.extend(graph_problems);
    let mut lookup_errors: Vec<String> = report
        .unverified
        .iter()
        .map(|u| match u {
            Unverified::Object(f) => messages::workload::lookup_failure(f, workload, namespace),
            Unverified::Services(f) => messages::services::lookup_failure(workload, f),
            Unverified::TooLong(u) => messages::kubeconfig::describe_unresolved(u, workload),
        })
        .collect();
    lookup_errors.extend(graph_errors);
    let mut warnings: Vec<String> = if settings.warn_on_unresolved_values {
        report
            .unresolved
            .iter()
            .map(|u| messages::kubeconfig::describe_unresolved(u, workload))
            .collect()
    } else {
        Vec::new()
    };
    warnings.extend(
        report
            .removed
            .iter()
            .map(|r| messages::kubeconfig::removed(r, workload)),
    );
    let (mut reasons, reference_warnings) = by_settings(problems, lookup_errors, settings);
    reasons.splice(
        0..0,
        report
            .kubeconfig
            .iter()
            .map(|f: &kubeconfig_check::Finding| messages::kubeconfig::describe(f, workload)),
    );
    warnings.extend(reference_warnings);
    warnings.extend(absent);
    warnings.extend(waiting);
    warnings.extend(graph_warnings);
    Verdict::from_parts(reasons, warnings, report.mutated)
}

/// The reference graph's findings and failures of `object`, worded and
/// sorted: (problems that follow `action`, lookup failures that follow
/// `onLookupError`, warnings whatever the settings).
fn graph_parts(report: &graph::Report, object: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut problems, mut errors, mut warnings) = (Vec::new(), Vec::new(), Vec::new());
    for f in &report.findings {
        let message = messages::graph::finding(f, object);
        match f.class {
            Class::Deny => problems.push(message),
            Class::Warn => warnings.push(message),
        }
    }
    for f in &report.failures {
        let message = messages::graph::failure(f, object);
        match f.class() {
            Class::Deny => errors.push(message),
            Class::Warn => warnings.push(message),
        }
    }
    (problems, errors, warnings)
}

/// The verdict on `object` ("RoleBinding ns/name") from its reference
/// graph alone: dangling references of the deny class as `action` says,
/// the rest warned; failed lookups as `onLookupError` says (warned when
/// they only leave warn-class references unjudged). An object that
/// cannot be read is a 400.
pub fn graph(report: Result<graph::Report, String>, object: &str, compiled: &Compiled) -> Verdict {
    let report = match report {
        Ok(report) => report,
        Err(e) => return Verdict::malformed(messages::malformed(object, &e)),
    };
    let (problems, errors, mut warnings) = graph_parts(&report, object);
    let (reasons, settings_warnings) = by_settings(problems, errors, &compiled.settings);
    warnings.splice(0..0, settings_warnings);
    Verdict::from_parts(reasons, warnings, None)
}
