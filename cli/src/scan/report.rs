//! What a scan found, and its three renderings: text grouped by file and
//! object, JSON, and SARIF 2.1.0 (with the file and, where it can be
//! found, the line of the offending value).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::{Value, json};
use serde_sarif::sarif;

use super::input::{
    InputError, ManifestObject, ManifestSet, Origin, Position, STDIN_NAME, SkipReason, Skipped,
};
use super::selectors;
use crate::Evaluation;

/// The verdict on one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted without comment.
    Accepted,
    /// Accepted, with warnings (`action: warn`, lookup errors under
    /// `onLookupError: allow`, removed variables).
    Warned,
    /// Rejected.
    Rejected,
    /// Not evaluated: the evaluation failed.
    Error,
}

impl Verdict {
    /// `accepted`, `warned`, `rejected` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Warned => "warned",
            Verdict::Rejected => "rejected",
            Verdict::Error => "error",
        }
    }
}

/// One problem or warning, and the line of the value it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The policy's text (or that of a rule of `scan`'s own).
    pub message: String,
    /// The line of the field that holds the offending value (of the object
    /// when the message names no field).
    pub line: Option<usize>,
    /// The column (1-based, in characters) of that field.
    pub column: Option<usize>,
    /// The SARIF rule, for a finding of a rule of `scan`'s own (see
    /// [`super::selectors`]); `None` for the policy's, whose rule is told
    /// from the message.
    pub rule: Option<&'static str>,
    /// For a workload, the ConfigMap (`ConfigMap ns/name`) whose findings,
    /// about keys the workload consumes, are reported once, on the
    /// ConfigMap: this finding only points at it (and is no SARIF result).
    pub reported_on: Option<String>,
}

/// The outcome for one checked object, or the warnings of `scan`'s own
/// rules on an object of another kind.
#[derive(Debug, Clone)]
pub struct ObjectReport {
    /// Where it is.
    pub origin: Origin,
    /// Evaluated by the policy; `false` for an object of a kind it does
    /// not check, reported for the warnings of `scan`'s own rules.
    pub checked: bool,
    /// `kind`.
    pub kind: String,
    /// Its namespace.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// The `# Source: <template>` comment `helm template` puts above it.
    pub helm_source: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why it is rejected, one entry per problem.
    pub problems: Vec<Finding>,
    /// Warnings.
    pub warnings: Vec<Finding>,
    /// Why it could not be evaluated.
    pub error: Option<String>,
    /// How many Kubernetes host calls the evaluation made.
    pub host_calls: usize,
}

impl ObjectReport {
    fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// A scan's findings, in input order.
#[derive(Debug, Clone)]
pub struct Report {
    /// The sources, in input order.
    pub files: Vec<String>,
    /// Documents read.
    pub documents: usize,
    /// Objects read (duplicates left out).
    pub objects: usize,
    /// Objects of kinds the policy does not check (they still count as
    /// part of the cluster).
    pub ignored: usize,
    /// The checked objects.
    pub checked: Vec<ObjectReport>,
    /// Objects of kinds the policy does not check that `scan`'s own rules
    /// warn about (a Service that selects no Pod), in input order.
    pub others: Vec<ObjectReport>,
    /// Documents that could not be read, and duplicates.
    pub input_errors: Vec<InputError>,
    /// Documents that are not Kubernetes objects, and Helm templates: not
    /// errors.
    pub skipped: Vec<Skipped>,
    /// `--warn-only`: rejections do not fail.
    pub warn_only: bool,
}

impl Report {
    /// The report for `set`, whose checked objects (`indices` into
    /// `set.objects`) had `outcomes`.
    pub fn new(
        set: &ManifestSet,
        outcomes: &[(usize, Result<Evaluation, String>)],
        warn_only: bool,
    ) -> Report {
        let mut checked = outcomes
            .iter()
            .map(|(i, outcome)| object_report(&set.objects[*i], outcome))
            .collect::<Vec<_>>();
        report_consumed_keys_once(&mut checked);
        Report {
            files: set.files.clone(),
            documents: set.documents,
            objects: set.objects.len(),
            ignored: set.objects.len() - checked.len(),
            checked,
            others: Vec::new(),
            input_errors: set.errors.clone(),
            skipped: set.skipped.clone(),
            warn_only,
        }
    }

    /// Adds the findings of `scan`'s own rules on the whole set (see
    /// [`super::selectors`]), as warnings: each is `(index of the object in
    /// set.objects, finding)`. A checked object gets them besides the
    /// policy's (and is warned if it was accepted); an object of another
    /// kind is reported for them in [`Report::others`].
    pub fn add_warnings(&mut self, set: &ManifestSet, warnings: Vec<(usize, Finding)>) {
        if warnings.is_empty() {
            return;
        }
        let key = |o: &Origin| (o.file.clone(), o.document, o.item);
        let checked: HashMap<_, usize> = self
            .checked
            .iter()
            .enumerate()
            .map(|(i, o)| (key(&o.origin), i))
            .collect();
        let mut others: HashMap<_, usize> = self
            .others
            .iter()
            .enumerate()
            .map(|(i, o)| (key(&o.origin), i))
            .collect();
        for (index, finding) in warnings {
            let object = &set.objects[index];
            let at = key(&object.origin);
            if let Some(&i) = checked.get(&at) {
                let report = &mut self.checked[i];
                if report.verdict == Verdict::Accepted {
                    report.verdict = Verdict::Warned;
                }
                report.warnings.push(finding);
                continue;
            }
            let i = *others.entry(at).or_insert_with(|| {
                self.others.push(unchecked_report(object));
                self.others.len() - 1
            });
            self.others[i].warnings.push(finding);
        }
        let files = file_positions(&self.files);
        self.others
            .sort_by_cached_key(|o| input_order(&files, &o.origin));
    }

    /// The checked objects and the others with warnings, in input order.
    pub fn objects(&self) -> Vec<&ObjectReport> {
        let mut all: Vec<&ObjectReport> = self.checked.iter().chain(&self.others).collect();
        if !self.others.is_empty() {
            let files = file_positions(&self.files);
            all.sort_by_cached_key(|o| input_order(&files, &o.origin));
        }
        all
    }

    /// Documents skipped as not Kubernetes objects.
    pub fn not_objects(&self) -> usize {
        self.skipped
            .iter()
            .filter(|s| matches!(s.reason, SkipReason::NotAnObject(_)))
            .count()
    }

    /// Files skipped as Helm templates.
    pub fn helm_templates(&self) -> usize {
        self.skipped
            .iter()
            .filter(|s| s.reason == SkipReason::HelmTemplate)
            .count()
    }

    /// Kustomize folders whose files were skipped.
    pub fn kustomize_folders(&self) -> usize {
        self.skipped
            .iter()
            .filter(|s| matches!(s.reason, SkipReason::Kustomize(_)))
            .count()
    }

    fn count(&self, verdict: Verdict) -> usize {
        self.checked.iter().filter(|o| o.verdict == verdict).count()
    }

    /// Input errors and evaluation errors.
    pub fn errors(&self) -> usize {
        self.input_errors.len() + self.count(Verdict::Error)
    }

    /// 2 when anything could not be read or evaluated, else 1 when
    /// something is rejected (never with `--warn-only`), else 0.
    pub fn exit_code(&self) -> u8 {
        if self.errors() > 0 {
            2
        } else if self.count(Verdict::Rejected) > 0 && !self.warn_only {
            1
        } else {
            0
        }
    }

    /// One line: what was scanned and what was found.
    pub fn summary(&self) -> String {
        let checked = self.checked.len();
        let mut s = format!(
            "{checked} object{} checked in {} file{}: {} rejected, {} with warnings, {} accepted",
            plural(checked),
            self.files.len(),
            plural(self.files.len()),
            self.count(Verdict::Rejected),
            self.count(Verdict::Warned),
            self.count(Verdict::Accepted),
        );
        let errors = self.errors();
        if errors > 0 {
            let _ = write!(s, "; {errors} error{}", plural(errors));
        }
        if self.ignored > 0 {
            let _ = write!(
                s,
                "; {} object{} of other kinds not judged by the policy",
                self.ignored,
                plural(self.ignored)
            );
            // the warnings are of scan's own rules (selectors, named ports)
            if !self.others.is_empty() {
                let _ = write!(
                    s,
                    " ({} with warnings of scan's own rules)",
                    self.others.len()
                );
            }
        }
        let not_objects = self.not_objects();
        if not_objects > 0 {
            let _ = write!(
                s,
                "; {not_objects} {} skipped",
                if not_objects == 1 {
                    "document that is not a Kubernetes object"
                } else {
                    "documents that are not Kubernetes objects"
                }
            );
        }
        let templates = self.helm_templates();
        if templates > 0 {
            let _ = write!(
                s,
                "; {templates} Helm template{} skipped (render {} first)",
                plural(templates),
                if templates == 1 { "it" } else { "them" }
            );
        }
        let folders = self.kustomize_folders();
        if folders > 0 {
            let _ = write!(
                s,
                "; {folders} kustomize folder{} skipped (render {} first)",
                plural(folders),
                if folders == 1 { "it" } else { "them" }
            );
        }
        if self.warn_only && self.count(Verdict::Rejected) > 0 {
            s.push_str(" (--warn-only: rejections do not fail)");
        }
        s
    }

    /// Text grouped by file, then object: every rejected, warned and failed
    /// object (and with `verbose` every accepted one) with its findings,
    /// every input error, every Helm template (and with `verbose` every
    /// document that is not a Kubernetes object), and the summary.
    pub fn text(&self, verbose: bool) -> String {
        let mut by_file: BTreeMap<usize, Vec<(Option<usize>, usize, String)>> = BTreeMap::new();
        let file_index = |name: &str| self.files.iter().position(|f| f == name).unwrap_or(0);
        for o in self.checked.iter().chain(&self.others) {
            if o.verdict == Verdict::Accepted && !verbose {
                continue;
            }
            let mut entry = format!(
                "  {} ({}): {}\n",
                o.display_name(),
                position(&o.origin),
                o.verdict.as_str()
            );
            if let Some(source) = &o.helm_source {
                let _ = writeln!(entry, "    from {source}");
            }
            if let Some(e) = &o.error {
                let _ = writeln!(entry, "    {e}");
            }
            for (label, findings) in [("", &o.problems), ("warning: ", &o.warnings)] {
                for f in findings {
                    match f.line {
                        Some(l) => {
                            let _ = writeln!(entry, "    {label}line {l}: {}", f.message);
                        }
                        None => {
                            let _ = writeln!(entry, "    {label}{}", f.message);
                        }
                    }
                }
            }
            by_file
                .entry(file_index(&o.origin.file))
                .or_default()
                .push((o.origin.document, o.origin.item.unwrap_or(0), entry));
        }
        for e in &self.input_errors {
            let entry = if e.origin.document.is_some() {
                format!("  {}: error: {}\n", position(&e.origin), e.message)
            } else {
                format!("  error: {}\n", e.message)
            };
            by_file
                .entry(file_index(&e.origin.file))
                .or_default()
                .push((e.origin.document, e.origin.item.unwrap_or(0), entry));
        }
        for skipped in &self.skipped {
            if !verbose && matches!(skipped.reason, SkipReason::NotAnObject(_)) {
                continue;
            }
            let at = position(&skipped.origin);
            let entry = if at.is_empty() {
                format!("  skipped: {}\n", skipped.message())
            } else {
                format!("  {at}: skipped: {}\n", skipped.message())
            };
            by_file
                .entry(file_index(&skipped.origin.file))
                .or_default()
                .push((skipped.origin.document, 0, entry));
        }
        let mut out = String::new();
        for (file, mut entries) in by_file {
            entries.sort_by_key(|(d, i, _)| (*d, *i));
            let _ = writeln!(out, "{}", self.files.get(file).map_or("", String::as_str));
            for (_, _, entry) in entries {
                out.push_str(&entry);
            }
            out.push('\n');
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// The report as JSON: `summary`, `objects` (every checked object, and
    /// the objects of other kinds with warnings, `checked: false`, in input
    /// order), `errors` (input errors) and `skipped` (documents that are
    /// not Kubernetes objects, `reason: notAnObject`, and Helm templates,
    /// `reason: helmTemplate`).
    pub fn json(&self) -> Value {
        let findings = |fs: &[Finding]| -> Value {
            fs.iter()
                .map(|f| {
                    let mut finding =
                        json!({"message": f.message, "line": f.line, "column": f.column});
                    if let Some(on) = &f.reported_on {
                        finding["reportedOn"] = json!(on);
                    }
                    finding
                })
                .collect()
        };
        json!({
            "summary": {
                "files": self.files.len(),
                "documents": self.documents,
                "objects": self.objects,
                "checked": self.checked.len(),
                "accepted": self.count(Verdict::Accepted),
                "warned": self.count(Verdict::Warned),
                "rejected": self.count(Verdict::Rejected),
                "errors": self.errors(),
                "ignored": self.ignored,
                "ignoredWithWarnings": self.others.len(),
                "notObjects": self.not_objects(),
                "helmTemplates": self.helm_templates(),
                "kustomizeFolders": self.kustomize_folders(),
                "exitCode": self.exit_code(),
            },
            "objects": self.objects().into_iter().map(|o| json!({
                "file": o.origin.file,
                "document": o.origin.document,
                "item": o.origin.item,
                "line": o.origin.line,
                "helmSource": o.helm_source,
                "kind": o.kind,
                "namespace": o.namespace,
                "name": o.name,
                "checked": o.checked,
                "verdict": o.verdict.as_str(),
                "problems": findings(&o.problems),
                "warnings": findings(&o.warnings),
                "error": o.error,
                "hostCalls": o.host_calls,
            })).collect::<Vec<_>>(),
            "errors": self.input_errors.iter().map(|e| json!({
                "file": e.origin.file,
                "document": e.origin.document,
                "item": e.origin.item,
                "line": e.origin.line,
                "message": e.message,
            })).collect::<Vec<_>>(),
            "skipped": self.skipped.iter().map(|s| json!({
                "file": s.origin.file,
                "document": s.origin.document,
                "line": s.origin.line,
                "reason": match s.reason {
                    SkipReason::NotAnObject(_) => "notAnObject",
                    SkipReason::HelmTemplate => "helmTemplate",
                    SkipReason::Kustomize(_) => "kustomize",
                },
                "message": s.message(),
            })).collect::<Vec<_>>(),
        })
    }

    /// The report as a SARIF 2.1.0 log: one result per problem, warning,
    /// evaluation error and input error, located at the file and line of
    /// the offending value (else of the object).
    pub fn sarif(&self) -> sarif::Sarif {
        let mut results = Vec::new();
        for o in self.objects() {
            let level = |warning: bool| {
                if warning || self.warn_only {
                    sarif::ResultLevel::Warning
                } else {
                    sarif::ResultLevel::Error
                }
            };
            for (findings, warning) in [(&o.problems, false), (&o.warnings, true)] {
                // the fault is a result of the ConfigMap, which names this object
                for f in findings.iter().filter(|f| f.reported_on.is_none()) {
                    results.push(sarif_result(
                        f.rule.unwrap_or_else(|| rule_for(&o.kind, &f.message)),
                        level(warning),
                        f.message.clone(),
                        &o.origin,
                        f.line.map(|l| (l, f.column)),
                        o.helm_source.as_deref(),
                        Some(o),
                    ));
                }
            }
            if let Some(e) = &o.error {
                results.push(sarif_result(
                    "evaluation-error",
                    sarif::ResultLevel::Error,
                    format!("{}: {e}", o.display_name()),
                    &o.origin,
                    None,
                    o.helm_source.as_deref(),
                    Some(o),
                ));
            }
        }
        for e in &self.input_errors {
            results.push(sarif_result(
                "invalid-input",
                sarif::ResultLevel::Error,
                e.message.clone(),
                &e.origin,
                None,
                None,
                None,
            ));
        }
        let rules = POLICY_RULES
            .iter()
            .chain(selectors::RULES)
            .chain(OTHER_RULES)
            .map(|(id, text)| {
                // the rules of scan's own are documented with scan
                let anchor = if selectors::RULES.iter().any(|(rule, _)| rule == id) {
                    "scan"
                } else {
                    "what-it-checks"
                };
                sarif::ReportingDescriptor::builder()
                    .id(*id)
                    .short_description(
                        sarif::MultiformatMessageString::builder()
                            .text(*text)
                            .build(),
                    )
                    .help_uri(format!("{REPOSITORY}#{anchor}"))
                    .build()
            })
            .collect::<Vec<_>>();
        let driver = sarif::ToolComponent::builder()
            .name("dangling-references")
            .version(env!("CARGO_PKG_VERSION"))
            .information_uri(REPOSITORY)
            .rules(rules)
            .build();
        let invocation = sarif::Invocation::builder()
            .execution_successful(self.errors() == 0)
            .build();
        let run = sarif::Run::builder()
            .tool(sarif::Tool::builder().driver(driver).build())
            .invocations(vec![invocation])
            .results(results)
            .build();
        sarif::Sarif::builder()
            .schema(sarif::SCHEMA_URL)
            .version(json!("2.1.0"))
            .runs(vec![run])
            .build()
    }
}

const REPOSITORY: &str = "https://github.com/dangling-references/dangling-references-policy";

/// The SARIF rules of the policy's findings: what kind of finding a
/// result is. Then come the rules of `scan`'s own ([`selectors::RULES`]),
/// then [`OTHER_RULES`].
const POLICY_RULES: &[(&str, &str)] = &[
    (
        "kubeconfig-path",
        "KUBECONFIG points at a path that will not exist in the container, or at a hostPath volume",
    ),
    (
        "service-reference",
        "An in-cluster Service, port or DNS name that does not exist",
    ),
    (
        "workload-reference",
        "A ConfigMap, key, ServiceAccount or Secret a workload names that does not exist",
    ),
    (
        "route-backend",
        "An Ingress, HTTPRoute or GRPCRoute backend Service or port that does not exist",
    ),
    (
        "webhook-service",
        "The Service of a webhook configuration, an APIService or a CRD conversion webhook, or its port, does not exist",
    ),
    (
        "probe-port",
        "A probe or lifecycle hook names a port its container does not declare",
    ),
    (
        "governing-service",
        "A StatefulSet's serviceName names no Service",
    ),
    ("scale-target", "An HPA's scaleTargetRef names no workload"),
    (
        "binding-reference",
        "A RoleBinding's or ClusterRoleBinding's role or ServiceAccount does not exist",
    ),
    ("lookup-error", "The references could not be verified"),
];

/// The SARIF rules of other rejections, of evaluation errors and of input
/// errors.
const OTHER_RULES: &[(&str, &str)] = &[
    (
        "policy-rejection",
        "Rejected by the policy for another reason",
    ),
    ("evaluation-error", "The object could not be evaluated"),
    (
        "invalid-input",
        "A document that cannot be read, or a duplicate object",
    ),
];

fn rule_for(kind: &str, message: &str) -> &'static str {
    if message.contains("KUBECONFIG") {
        "kubeconfig-path"
    } else if message.contains("cannot verify")
        || message.contains("were not looked up")
        || message.contains("none was verified")
        || message.contains("none was looked up")
    {
        "lookup-error"
    } else if matches!(
        kind,
        "ValidatingWebhookConfiguration"
            | "MutatingWebhookConfiguration"
            | "APIService"
            | "CustomResourceDefinition"
    ) {
        "webhook-service"
    } else if matches!(kind, "RoleBinding" | "ClusterRoleBinding") {
        "binding-reference"
    } else if kind == "HorizontalPodAutoscaler" {
        "scale-target"
    } else if matches!(kind, "Ingress" | "HTTPRoute" | "GRPCRoute") {
        "route-backend"
    } else if message.contains(".spec.serviceName:") || message.contains(", spec.serviceName:") {
        "governing-service"
    } else if message.contains("has no port named")
        && (message.contains("Probe.") || message.contains(".lifecycle."))
    {
        "probe-port"
    } else if message.contains("names Service")
        || message.contains("cluster DNS")
        || message.contains("is not exposed")
        || message.contains("cluster domain")
    {
        "service-reference"
    } else if (kind != "ConfigMap" && message.contains("does not exist"))
        || message.contains("has no key")
    {
        "workload-reference"
    } else {
        "policy-rejection"
    }
}

fn sarif_result(
    rule: &str,
    level: sarif::ResultLevel,
    text: String,
    origin: &Origin,
    line: Option<(usize, Option<usize>)>,
    helm_source: Option<&str>,
    object: Option<&ObjectReport>,
) -> sarif::Result {
    // stdin has no file to annotate; `helm template` names the template
    let (uri, region) = match (origin.file.as_str(), helm_source) {
        (STDIN_NAME, Some(source)) => (source.to_owned(), None),
        (STDIN_NAME, None) => ("stdin".to_owned(), line.or(origin.line.map(|l| (l, None)))),
        (file, _) => (sarif_uri(file), line.or(origin.line.map(|l| (l, None)))),
    };
    let artifact = sarif::ArtifactLocation::builder().uri(uri).build();
    let physical = match region {
        Some((l, column)) => sarif::PhysicalLocation::builder()
            .artifact_location(artifact)
            .region(match column {
                Some(c) => sarif::Region::builder()
                    .start_line(l as i64)
                    .start_column(c as i64)
                    .build(),
                None => sarif::Region::builder().start_line(l as i64).build(),
            })
            .build(),
        None => sarif::PhysicalLocation::builder()
            .artifact_location(artifact)
            .build(),
    };
    let location = sarif::Location::builder()
        .physical_location(physical)
        .build();
    let mut properties = BTreeMap::new();
    if let Some(d) = origin.document {
        properties.insert("document".to_owned(), json!(d));
    }
    if let Some(o) = object {
        properties.insert("kind".to_owned(), json!(o.kind));
        properties.insert("namespace".to_owned(), json!(o.namespace));
        properties.insert("name".to_owned(), json!(o.name));
    }
    sarif::Result::builder()
        .rule_id(rule)
        .level(level)
        .message(sarif::Message::builder().text(text).build())
        .locations(vec![location])
        .properties(
            sarif::PropertyBag::builder()
                .additional_properties(properties)
                .build(),
        )
        .build()
}

/// A relative path as a relative URI (`/` separators, no `./`); an absolute
/// one as a `file://` URI.
fn sarif_uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    if path.starts_with('/') {
        format!("file://{path}")
    } else {
        path.trim_start_matches("./").to_owned()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `document 2, line 14` (and the List item).
fn position(origin: &Origin) -> String {
    let mut parts = Vec::new();
    if let Some(d) = origin.document {
        parts.push(format!("document {d}"));
    }
    if let Some(i) = origin.item {
        parts.push(format!("item {i}"));
    }
    if let Some(l) = origin.line {
        parts.push(format!("line {l}"));
    }
    parts.join(", ")
}

/// The position of each file in the input.
fn file_positions(files: &[String]) -> HashMap<&str, usize> {
    files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.as_str(), i))
        .collect()
}

/// Where an object is in the input: (file, document, List item).
fn input_order(
    files: &HashMap<&str, usize>,
    origin: &Origin,
) -> (usize, Option<usize>, Option<usize>) {
    (
        files
            .get(origin.file.as_str())
            .copied()
            .unwrap_or(usize::MAX),
        origin.document,
        origin.item,
    )
}

/// The report of an object the policy does not check, before the warnings
/// of `scan`'s own rules are added.
fn unchecked_report(object: &ManifestObject) -> ObjectReport {
    ObjectReport {
        origin: object.origin.clone(),
        checked: false,
        kind: object.kind.clone(),
        namespace: object.namespace.clone(),
        name: object.name.clone(),
        helm_source: helm_source(object),
        verdict: Verdict::Warned,
        problems: Vec::new(),
        warnings: Vec::new(),
        error: None,
        host_calls: 0,
    }
}

fn object_report(object: &ManifestObject, outcome: &Result<Evaluation, String>) -> ObjectReport {
    let mut report = ObjectReport {
        origin: object.origin.clone(),
        checked: true,
        kind: object.kind.clone(),
        namespace: object.namespace.clone(),
        name: object.name.clone(),
        helm_source: helm_source(object),
        verdict: Verdict::Error,
        problems: Vec::new(),
        warnings: Vec::new(),
        error: None,
        host_calls: 0,
    };
    let evaluation = match outcome {
        Ok(e) => e,
        Err(e) => {
            report.error = Some(e.clone());
            return report;
        }
    };
    report.host_calls = evaluation.kubernetes_calls().count();
    let response = &evaluation.response;
    let locate = |message: &str| {
        let at = super::locate::position(object, message).or_else(|| object_position(object));
        Finding {
            message: message.to_owned(),
            line: at.map(|p| p.line),
            column: at.map(|p| p.column),
            rule: None,
            reported_on: None,
        }
    };
    if !response.accepted {
        let message = response
            .message
            .as_deref()
            .unwrap_or("rejected without a message");
        report.problems = split_problems(message, object)
            .iter()
            .map(|p| locate(p))
            .collect();
    }
    report.warnings = response
        .warnings
        .iter()
        .flatten()
        .map(|w| locate(w))
        .collect();
    report.verdict = if !response.accepted {
        Verdict::Rejected
    } else if report.warnings.is_empty() {
        Verdict::Accepted
    } else {
        Verdict::Warned
    };
    report
}

/// A workload's finding about a ConfigMap key it consumes
/// (`container "app" (Deployment ns/web), envFrom[1].configMapRef:
/// ConfigMap "cfg", key "k": "http://…" names Service …`): the ConfigMap's
/// name, the key's part (`"k"`) and the message the ConfigMap's own check
/// gives for the same fault (`ConfigMap ns/cfg, key "k": "http://…" names
/// Service …`).
fn consumed_key_finding(message: &str, namespace: &str) -> Option<(String, String, String)> {
    const MARK: &str = ": ConfigMap \"";
    let at = message.find(MARK)?;
    let (name, rest) = super::locate::debug_string(&message[at + MARK.len() - 1..])?;
    let tail = rest.strip_prefix(", key ")?;
    let (key, after) = super::locate::debug_string(tail)?;
    after.strip_prefix(": ")?;
    let quoted_key = &tail[..tail.len() - after.len()];
    Some((
        name.clone(),
        quoted_key.to_owned(),
        format!("ConfigMap {namespace}/{name}, key {tail}"),
    ))
    .filter(|_| !key.is_empty() || quoted_key == "\"\"")
}

/// One report per fault: a workload's finding about a ConfigMap key it
/// consumes that the ConfigMap's own report has too is dropped from the
/// workload; the ConfigMap's finding lists the workloads that consume it
/// (`… (consumed by Deployment ns/a, Deployment ns/b)`), and each workload
/// keeps its verdict and one line per ConfigMap pointing at it. Findings
/// the ConfigMap does not have (a ConfigMap of a snapshot, another
/// setting) stay on the workload.
fn report_consumed_keys_once(checked: &mut [ObjectReport]) {
    /// (ConfigMap name, its keys, the first copy's line and column, a
    /// problem among the copies)
    type Pointer = (String, Vec<String>, Option<usize>, Option<usize>, bool);
    // the ConfigMaps' findings: message -> (report, problem?, index)
    let mut on_config_maps: HashMap<String, (usize, bool, usize)> = HashMap::new();
    for (r, o) in checked.iter().enumerate() {
        if o.kind != "ConfigMap" {
            continue;
        }
        for (problem, list) in [(true, &o.problems), (false, &o.warnings)] {
            for (i, f) in list.iter().enumerate() {
                on_config_maps.insert(f.message.clone(), (r, problem, i));
            }
        }
    }
    if on_config_maps.is_empty() {
        return;
    }
    let mut consumers: BTreeMap<(usize, bool, usize), Vec<String>> = BTreeMap::new();
    for o in checked.iter_mut().filter(|o| o.kind != "ConfigMap") {
        let namespace = o.namespace.clone().unwrap_or_default();
        let identity = o.display_name();
        let mut pointers: Vec<Pointer> = Vec::new();
        for problem in [true, false] {
            let list = if problem {
                &mut o.problems
            } else {
                &mut o.warnings
            };
            list.retain(|f| {
                let Some((name, key, message)) = consumed_key_finding(&f.message, &namespace)
                else {
                    return true;
                };
                let Some(&at) = on_config_maps.get(&message) else {
                    return true;
                };
                let names = consumers.entry(at).or_default();
                if !names.contains(&identity) {
                    names.push(identity.clone());
                }
                match pointers.iter_mut().find(|p| p.0 == name) {
                    Some(p) => {
                        if !p.1.contains(&key) {
                            p.1.push(key);
                        }
                        p.4 |= problem;
                    }
                    None => pointers.push((name, vec![key], f.line, f.column, problem)),
                }
                false
            });
        }
        for (name, keys, line, column, problem) in pointers {
            let finding = Finding {
                message: format!(
                    "because of ConfigMap {namespace}/{name}, key{} {} (read here; reported once, on the ConfigMap)",
                    plural(keys.len()),
                    keys.join(", ")
                ),
                line,
                column,
                rule: None,
                reported_on: Some(format!("ConfigMap {namespace}/{name}")),
            };
            if problem {
                o.problems.push(finding);
            } else {
                o.warnings.push(finding);
            }
        }
    }
    for ((r, problem, i), names) in consumers {
        let o = &mut checked[r];
        let list = if problem {
            &mut o.problems
        } else {
            &mut o.warnings
        };
        let _ = write!(list[i].message, " (consumed by {})", names.join(", "));
    }
}

/// The `# Source:` comment of `helm template` in the object's document.
fn helm_source(object: &ManifestObject) -> Option<String> {
    object.span.text().lines().find_map(|l| {
        l.trim_start()
            .strip_prefix("# Source: ")
            .map(|s| s.trim().to_owned())
    })
}

/// Splits a rejection message into its problems. The policy joins problems
/// with "; " and starts each with the object (`ConfigMap ns/name, key …`,
/// `container "c" (Deployment ns/name): …`); a "; " followed by anything
/// else is inside one problem.
pub fn split_problems(message: &str, object: &ManifestObject) -> Vec<String> {
    let identity = object.display_name();
    let starts_problem = |segment: &str| {
        segment.starts_with(&identity)
            || [
                "container \"",
                "init container \"",
                "ephemeral container \"",
            ]
            .iter()
            .any(|p| segment.starts_with(p))
                && segment
                    .split("; ")
                    .next()
                    .is_some_and(|first| first.contains(&format!("({identity})")))
            || segment.starts_with("and ") && segment.ends_with(" more problem(s)")
    };
    let mut problems: Vec<String> = Vec::new();
    let mut rest = message;
    let mut current = String::new();
    while let Some(i) = rest.find("; ") {
        let (head, tail) = (&rest[..i], &rest[i + 2..]);
        current.push_str(head);
        if starts_problem(tail) {
            problems.push(std::mem::take(&mut current));
        } else {
            current.push_str("; ");
        }
        rest = tail;
    }
    current.push_str(rest);
    problems.push(current);
    problems
}

/// Where the object itself is: its first field, else the line it starts on.
pub(crate) fn object_position(object: &ManifestObject) -> Option<Position> {
    object
        .span
        .position_of(&[])
        .or(object.origin.line.map(|line| Position { line, column: 1 }))
}

#[cfg(test)]
mod tests {
    use super::super::input::Source;
    use super::*;

    fn object(text: &str) -> ManifestObject {
        ManifestSet::parse(&[Source::new("m.yaml", text)], "shop")
            .objects
            .remove(0)
    }

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        envFrom:\n        - configMapRef:\n            name: gone\n      - name: side\n        env:\n        - name: KUBECONFIG\n          value: /Users/me/.kube/config\n";

    #[rstest::rstest]
    #[case::one("a: 1\n", "; 1 document that is not a Kubernetes object skipped")]
    #[case::two(
        "a: 1\n---\n- b\n",
        "; 2 documents that are not Kubernetes objects skipped"
    )]
    #[case::template(
        "metadata:\n  name: {{ .Release.Name }}\n",
        "; 1 Helm template skipped (render it first)"
    )]
    fn the_summary_counts_what_is_skipped(#[case] text: &str, #[case] tail: &str) {
        let set = ManifestSet::parse(&[Source::new("x.yaml", text)], "shop");
        let report = Report::new(&set, &[], false);
        assert_eq!(
            report.summary(),
            format!("0 objects checked in 1 file: 0 rejected, 0 with warnings, 0 accepted{tail}")
        );
        assert_eq!(report.exit_code(), 0);
    }

    #[test]
    fn splits_problems_at_object_boundaries() {
        let o = object(DEPLOYMENT);
        let message = "container \"app\" (Deployment shop/web), envFrom[0].configMapRef: ConfigMap \"gone\" does not exist in namespace \"shop\": the container cannot start; create it, or mark the reference optional: true; container \"side\" (Deployment shop/web): KUBECONFIG path \"/Users/me/.kube/config\" is not inside any volumeMount; Deployment shop/web, serviceAccountName: x; and 2 more problem(s)";
        let problems = split_problems(message, &o);
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].ends_with("optional: true"));
        assert!(problems[1].starts_with("container \"side\""));
        assert_eq!(problems[3], "and 2 more problem(s)");
        let line = |p: &str| super::super::locate::position(&o, p).map(|p| (p.line, p.column));
        assert_eq!(line(&problems[0]), Some((12, 19)));
        assert_eq!(line(&problems[1]), Some((16, 18)));
        assert_eq!(line(&problems[3]), None);
    }

    #[test]
    fn rules() {
        assert_eq!(
            rule_for(
                "Deployment",
                "container \"a\" (Deployment s/w): KUBECONFIG path"
            ),
            "kubeconfig-path"
        );
        assert_eq!(
            rule_for(
                "ConfigMap",
                "… names Service \"x\" in namespace \"y\", which does not exist"
            ),
            "service-reference"
        );
        assert_eq!(
            rule_for(
                "Deployment",
                "ConfigMap \"gone\" does not exist in namespace"
            ),
            "workload-reference"
        );
        assert_eq!(
            rule_for("ConfigMap", "ConfigMap a/b: cannot verify the Services"),
            "lookup-error"
        );
        for (kind, message, rule) in [
            (
                "ValidatingWebhookConfiguration",
                "h, webhooks[0].clientConfig.service: Service \"a\" does not exist",
                "webhook-service",
            ),
            (
                "APIService",
                "v1.x, spec.service: Service \"a\" in namespace \"b\" has no port 443",
                "webhook-service",
            ),
            (
                "RoleBinding",
                "shop/b, roleRef: Role \"r\" does not exist",
                "binding-reference",
            ),
            (
                "HorizontalPodAutoscaler",
                "shop/h, spec.scaleTargetRef: Deployment \"w\" does not exist",
                "scale-target",
            ),
            (
                "Ingress",
                "shop/w, spec.rules[0].http.paths[0].backend.service: Service \"a\" does not exist",
                "route-backend",
            ),
            (
                "StatefulSet",
                "StatefulSet shop/db, spec.serviceName: Service \"db\" does not exist",
                "governing-service",
            ),
            (
                "Deployment",
                "Deployment shop/web, spec.template.spec.containers[0].readinessProbe.httpGet.port: container \"a\" has no port named \"x\"",
                "probe-port",
            ),
            (
                "Deployment",
                "Deployment shop/web, spec.template.spec.volumes[0].persistentVolumeClaim.claimName: PersistentVolumeClaim \"d\" does not exist",
                "workload-reference",
            ),
            (
                "ClusterRoleBinding",
                "b names 5000 objects, more than the 4096 this policy verifies for one object, so none was looked up",
                "lookup-error",
            ),
        ] {
            assert_eq!(rule_for(kind, message), rule, "{kind}: {message}");
        }
        assert_eq!(sarif_uri("./a/b.yaml"), "a/b.yaml");
        assert_eq!(sarif_uri("/abs/b.yaml"), "file:///abs/b.yaml");
    }
}
