//! Reading a manifest set: files, folders (recursive) and stdin; YAML
//! multi-document streams, JSON (one or more values) and `kind: List`.
//!
//! Every object keeps where it came from (file, document, List item and
//! line), so that reports can point at it. A document that cannot be read
//! is an [`InputError`] naming file, document and line; the other documents
//! are read on.
//!
//! What a repository holds besides manifests is [`Skipped`], not an error,
//! so that `scan` can be given every changed `.yaml`/`.json` file of a
//! commit (the pre-commit hook): a document that is not a Kubernetes
//! object (a `values.yaml`, a GitHub workflow, a kustomization, a
//! `Chart.yaml`), and a whole file of Helm template syntax (`{{ … }}`),
//! which has to be rendered first.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

use super::yaml::{self, Place, Seg, Tree};
use crate::cluster::is_cluster_scoped;

/// The name `-` (stdin) is reported under.
pub const STDIN_NAME: &str = "<stdin>";

/// One input text: a file, or stdin.
#[derive(Debug, Clone)]
pub struct Source {
    /// How reports name it: the path as found, or [`STDIN_NAME`].
    pub name: String,
    /// The whole text.
    pub text: Arc<str>,
    /// Read as JSON only (a `.json` file); otherwise JSON is recognised by
    /// its first character and anything else is YAML.
    pub json: bool,
    /// The namespace of its objects that name none; `None`: the scan's
    /// `--namespace`.
    pub default_namespace: Option<String>,
}

impl Source {
    /// A source from memory (`json` when it must be JSON).
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        let name = name.into();
        Source {
            json: name.ends_with(".json"),
            name,
            text: text.into(),
            default_namespace: None,
        }
    }
}

fn is_manifest_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
}

/// Reads the inputs: files (any name), folders (every `.yaml`, `.yml` and
/// `.json` file below them, in path order, hidden entries skipped) and `-`
/// (stdin, once). Each failure is a one-line error naming the input.
pub fn read_inputs(inputs: &[String]) -> Result<Vec<Source>> {
    let mut sources = Vec::new();
    if inputs.iter().filter(|i| *i == "-").count() > 1 {
        bail!("`-` (stdin) is given more than once");
    }
    for input in inputs {
        if input == "-" {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| anyhow!("cannot read stdin: {e}"))?;
            let text = String::from_utf8(bytes).map_err(|e| {
                anyhow!(
                    "stdin is not UTF-8 text (byte {})",
                    e.utf8_error().valid_up_to()
                )
            })?;
            // What a failed `helm template … |` leaves: nothing to check is
            // an error, not a clean result.
            if text.trim().is_empty() {
                bail!("stdin is empty: nothing to scan (did the command piping into scan fail?)");
            }
            let mut source = Source::new(STDIN_NAME, text);
            source.json = false;
            sources.push(source);
            continue;
        }
        let path = Path::new(input);
        let meta = std::fs::metadata(path)
            .map_err(|e| anyhow!("cannot read {input}: {}", io_reason(&e)))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            let mut seen = BTreeSet::new();
            walk(path, &mut files, &mut seen)?;
            if files.is_empty() {
                bail!("folder {input} holds no .yaml, .yml or .json file");
            }
            files.sort();
            for file in files {
                sources.push(read_file(&file)?);
            }
        } else {
            sources.push(read_file(path)?);
        }
    }
    Ok(sources)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, seen: &mut BTreeSet<PathBuf>) -> Result<()> {
    // a symlink loop would otherwise recurse forever
    let canonical = dir
        .canonicalize()
        .map_err(|e| anyhow!("cannot read folder {}: {}", dir.display(), io_reason(&e)))?;
    if !seen.insert(canonical) {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| anyhow!("cannot read folder {}: {}", dir.display(), io_reason(&e)))?;
    for entry in entries {
        let entry = entry
            .map_err(|e| anyhow!("cannot read folder {}: {}", dir.display(), io_reason(&e)))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::metadata(&path)
            .map_err(|e| anyhow!("cannot read {}: {}", path.display(), io_reason(&e)))?;
        if meta.is_dir() {
            walk(&path, files, seen)?;
        } else if is_manifest_file(&path) {
            files.push(path);
        }
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<Source> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow!("cannot read {}: {}", path.display(), io_reason(&e)))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "{} is not UTF-8 text (byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok(Source::new(path.display().to_string(), text))
}

/// Where an object or an error is in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The source's name ([`Source::name`]).
    pub file: String,
    /// 1-based index of the document in the file (YAML documents, or JSON
    /// values); `None` for an error about the whole file.
    pub document: Option<usize>,
    /// 1-based index in the `items` of a List document.
    pub item: Option<usize>,
    /// 1-based line of the document (or item) in the file.
    pub line: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(d) = self.document {
            write!(f, ", document {d}")?;
        }
        if let Some(i) = self.item {
            write!(f, ", item {i}")?;
        }
        if let Some(l) = self.line {
            write!(f, " (line {l})")?;
        }
        Ok(())
    }
}

/// A document or object that cannot be read, or is a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// Where.
    pub origin: Origin,
    /// What, on one line.
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

/// Why a document or file is left out of the scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// A document that is not a Kubernetes object: not a mapping, or a
    /// mapping with no `apiVersion` or `kind` and no `metadata` (a
    /// `values.yaml`, a workflow, a `Chart.yaml`), or a kustomization. What
    /// it is, e.g. `a sequence`.
    NotAnObject(String),
    /// A file of Helm template syntax (`{{ … }}` naming `.Values`,
    /// `.Release`, `include`… or breaking the YAML): none of its documents
    /// is read.
    HelmTemplate,
    /// The files of a kustomize folder (beside a `kustomization.yaml`):
    /// its patches are partial objects and its resources are changed by
    /// the build, so none is read; the folder is named once.
    Kustomize(String),
}

/// A document (or a whole file) left out of the scan, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where: the document, or for a Helm template the file and the line
    /// of its first `{{ … }}`.
    pub origin: Origin,
    /// Why.
    pub reason: SkipReason,
}

impl Skipped {
    /// Why, on one line.
    pub fn message(&self) -> String {
        match &self.reason {
            SkipReason::NotAnObject(what) => format!("not a Kubernetes object ({what})"),
            SkipReason::HelmTemplate => "a Helm template ({{ … }}): render it first: helm template RELEASE CHART | dangling-references scan -".to_owned(),
            SkipReason::Kustomize(dir) => format!(
                "a kustomize folder (its files are kustomize's input, patches among them): render it first: kustomize build {dir} | dangling-references scan -"
            ),
        }
    }
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: skipped: {}", self.origin, self.message())
    }
}

/// A source's text with the offsets of its line ends, so that the line of
/// any offset is a binary search, whatever the size of the file.
#[derive(Debug, Clone)]
struct Text {
    text: Arc<str>,
    newlines: Arc<[usize]>,
}

impl Text {
    fn new(text: Arc<str>) -> Self {
        let newlines = text
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i)
            .collect();
        Text { text, newlines }
    }

    /// 1-based line number of byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&n| n < offset) + 1
    }
}

/// A position in a source: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// The text an object was read from, and the positions of its nodes.
#[derive(Debug, Clone)]
pub struct Span {
    text: Text,
    /// Byte range of the document in `text`.
    range: Range<usize>,
    /// The path of the object in its document (`items[i]` of a List).
    base: Vec<Seg>,
    /// The positions of the document's nodes, parsed once when first
    /// needed (shared by the items of a List).
    tree: Arc<OnceLock<Option<Tree>>>,
}

impl Span {
    fn new(text: Text, range: Range<usize>) -> Self {
        Span {
            text,
            range,
            base: Vec::new(),
            tree: Arc::new(OnceLock::new()),
        }
    }

    /// The span's text (the whole document, for an item of a List).
    pub fn text(&self) -> &str {
        &self.text.text[self.range.clone()]
    }

    fn tree(&self) -> Option<&Tree> {
        self.tree
            .get_or_init(|| {
                let text = self.text();
                if text.lines().any(|l| l.starts_with('%')) {
                    // directives are not part of the document; blanked, so
                    // that offsets stay those of the text
                    let blanked: String = text
                        .split_inclusive('\n')
                        .map(|l| {
                            if l.starts_with('%') {
                                let body = l.trim_end_matches(['\n', '\r']);
                                format!("{}{}", " ".repeat(body.len()), &l[body.len()..])
                            } else {
                                l.to_owned()
                            }
                        })
                        .collect();
                    Tree::parse(&blanked)
                } else {
                    Tree::parse(text)
                }
            })
            .as_ref()
    }

    /// Where the node at `path` (below the object) is, in the span's text.
    pub fn place(&self, path: &[Seg]) -> Option<Place> {
        let full: Vec<Seg> = self.base.iter().chain(path).cloned().collect();
        self.tree()?.place(&full)
    }

    /// The position in the file of byte `offset` of the span's text.
    pub fn position(&self, offset: usize) -> Position {
        let at = self.range.start + offset.min(self.range.len());
        let line = self.text.line_of(at);
        let line_start = if line == 1 {
            0
        } else {
            self.text.newlines[line - 2] + 1
        };
        let at = floor_char_boundary(&self.text.text, at);
        Position {
            line,
            column: self.text.text[line_start..at].chars().count() + 1,
        }
    }

    /// The position of the node at `path` (below the object).
    pub fn position_of(&self, path: &[Seg]) -> Option<Position> {
        self.place(path).map(|p| self.position(p.start))
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One object of the set.
#[derive(Debug, Clone)]
pub struct ManifestObject {
    /// Where it was read.
    pub origin: Origin,
    /// Its text, for locating values.
    pub span: Span,
    /// The object as the API server would store it: as written, with
    /// `metadata.namespace` filled in for namespaced kinds.
    pub object: Value,
    /// `apiVersion`.
    pub api_version: String,
    /// The API group (`""` for the core group).
    pub group: String,
    /// `kind`.
    pub kind: String,
    /// Its namespace (`None` for cluster-scoped kinds).
    pub namespace: Option<String>,
    /// Whether the namespace is written in the object (else it is the
    /// default namespace the object was read with).
    pub own_namespace: bool,
    /// `metadata.name` (or `metadata.generateName` when it has no name).
    pub name: String,
    /// Named by `metadata.generateName` only: the API server picks the
    /// name, so nothing can refer to it.
    pub generated_name: bool,
}

impl ManifestObject {
    /// `Kind namespace/name` (`Kind name` when cluster-scoped).
    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// A manifest set: every object read, in input order, and the errors.
#[derive(Debug, Clone, Default)]
pub struct ManifestSet {
    /// The sources, in input order.
    pub files: Vec<String>,
    /// The objects, in input order (duplicates left out).
    pub objects: Vec<ManifestObject>,
    /// Documents and objects that could not be read, and duplicates.
    pub errors: Vec<InputError>,
    /// Documents that are not Kubernetes objects, and Helm templates, in
    /// input order.
    pub skipped: Vec<Skipped>,
    /// How many documents were read (empty ones not counted, nor those of
    /// Helm templates).
    pub documents: usize,
}

impl ManifestSet {
    /// Reads every source; objects without a namespace of their own go to
    /// the source's default namespace, else to `namespace`.
    pub fn parse(sources: &[Source], namespace: &str) -> ManifestSet {
        let mut set = ManifestSet::default();
        let mut first_seen: HashMap<(String, String, Option<String>, String), Origin> =
            HashMap::new();
        let kustomized = kustomize_folders(sources);
        let mut named_folders: Vec<&str> = Vec::new();
        for source in sources {
            set.files.push(source.name.clone());
            if let Some(dir) = kustomized
                .iter()
                .find(|d| folder_of(&source.name) == d.as_str())
            {
                if !named_folders.contains(&dir.as_str()) {
                    named_folders.push(dir);
                    set.skipped.push(Skipped {
                        origin: Origin {
                            file: source.name.clone(),
                            document: None,
                            item: None,
                            line: None,
                        },
                        reason: SkipReason::Kustomize(dir.clone()),
                    });
                }
                continue;
            }
            let default_ns = source.default_namespace.as_deref().unwrap_or(namespace);
            let text = Text::new(source.text.clone());
            let docs = documents(source, &text);
            if let Some(line) = helm_template_line(&source.text, &docs) {
                set.skipped.push(Skipped {
                    origin: Origin {
                        file: source.name.clone(),
                        document: None,
                        item: None,
                        line: Some(line),
                    },
                    reason: SkipReason::HelmTemplate,
                });
                continue;
            }
            for doc in docs {
                set.documents += 1;
                match doc.value {
                    Err(message) => set.errors.push(InputError {
                        origin: doc.origin,
                        message,
                    }),
                    Ok(value) => {
                        let span = Span::new(text.clone(), doc.range.clone());
                        set.add_document(value, doc.origin, span, default_ns, &mut first_seen);
                    }
                }
            }
        }
        set
    }

    fn add_document(
        &mut self,
        value: Value,
        origin: Origin,
        span: Span,
        namespace: &str,
        first_seen: &mut HashMap<(String, String, Option<String>, String), Origin>,
    ) {
        let is_list = value.get("items").is_some_and(Value::is_array)
            && value
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k.ends_with("List"));
        if !is_list {
            self.add_object(value, origin, span, namespace, first_seen);
            return;
        }
        let Value::Object(mut list) = value else {
            unreachable!("a List is an object")
        };
        let Some(Value::Array(items)) = list.remove("items") else {
            unreachable!("checked above")
        };
        for (i, item) in items.into_iter().enumerate() {
            let mut item_origin = origin.clone();
            item_origin.item = Some(i + 1);
            let mut item_span = span.clone();
            item_span.base = vec![Seg::key("items"), Seg::Index(i)];
            if let Some(at) = item_span.position_of(&[]) {
                item_origin.line = Some(at.line);
            }
            self.add_object(item, item_origin, item_span, namespace, first_seen);
        }
    }

    fn add_object(
        &mut self,
        mut value: Value,
        origin: Origin,
        span: Span,
        namespace: &str,
        first_seen: &mut HashMap<(String, String, Option<String>, String), Origin>,
    ) {
        let error = |message: String| InputError {
            origin: origin.clone(),
            message,
        };
        let what = match &value {
            Value::Object(_) => None,
            Value::Array(_) => Some("a sequence"),
            Value::String(_) => Some("a string"),
            Value::Number(_) => Some("a number"),
            Value::Bool(_) => Some("a boolean"),
            Value::Null => Some("empty"),
        };
        // what a repository holds besides manifests; the items of a List
        // are meant to be objects, so they stay errors
        if origin.item.is_none()
            && let Some(what) = not_an_object(&value)
        {
            self.skipped.push(Skipped {
                origin,
                reason: SkipReason::NotAnObject(what),
            });
            return;
        }
        if let Some(what) = what {
            self.errors.push(error(format!(
                "not a Kubernetes object ({what}): expected a mapping with apiVersion, kind and metadata"
            )));
            return;
        }
        let kind = match value.get("kind") {
            Some(Value::String(k)) if !k.is_empty() => k.clone(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                self.errors.push(error("the object has no kind".to_owned()));
                return;
            }
            Some(other) => {
                self.errors.push(error(format!(
                    "kind is not a string: {}",
                    clip(&other.to_string())
                )));
                return;
            }
        };
        let api_version = match value.get("apiVersion") {
            Some(Value::String(a)) if !a.is_empty() => a.clone(),
            _ => {
                self.errors
                    .push(error(format!("the {kind} has no apiVersion")));
                return;
            }
        };
        if value.get("metadata").is_some_and(|m| !m.is_object()) {
            self.errors.push(error(format!(
                "the {kind} has a metadata that is not a mapping"
            )));
            return;
        }
        let name = value.pointer("/metadata/name").and_then(Value::as_str);
        let generate_name = value
            .pointer("/metadata/generateName")
            .and_then(Value::as_str);
        let (name, generated_name) = match (name, generate_name) {
            (Some(n), _) if !n.is_empty() => (n.to_owned(), false),
            (_, Some(g)) if !g.is_empty() => (g.to_owned(), true),
            _ => {
                self.errors
                    .push(error(format!("the {kind} has no metadata.name")));
                return;
            }
        };
        let group = api_version
            .rsplit_once('/')
            .map_or("", |(g, _)| g)
            .to_owned();
        let own_namespace = value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .is_some_and(|ns| !ns.is_empty());
        let namespace = if is_cluster_scoped(&kind) {
            None
        } else {
            match value.pointer("/metadata/namespace") {
                Some(Value::String(ns)) if !ns.is_empty() => Some(ns.clone()),
                None | Some(Value::Null) | Some(Value::String(_)) => {
                    let ns = namespace.to_owned();
                    let metadata = value
                        .as_object_mut()
                        .expect("checked above")
                        .entry("metadata")
                        .or_insert_with(|| json!({}));
                    metadata["namespace"] = Value::String(ns.clone());
                    Some(ns)
                }
                Some(other) => {
                    self.errors.push(error(format!(
                        "the {kind} has a metadata.namespace that is not a string: {}",
                        clip(&other.to_string())
                    )));
                    return;
                }
            }
        };
        let object = ManifestObject {
            origin,
            span,
            object: value,
            api_version,
            group,
            kind,
            namespace,
            own_namespace,
            name,
            generated_name,
        };
        if !object.generated_name {
            let key = (
                object.group.clone(),
                object.kind.clone(),
                object.namespace.clone(),
                object.name.clone(),
            );
            if let Some(first) = first_seen.get(&key) {
                self.errors.push(InputError {
                    origin: object.origin.clone(),
                    message: format!(
                        "duplicate {}: already defined in {first}; only the first is scanned",
                        object.display_name()
                    ),
                });
                return;
            }
            first_seen.insert(key, object.origin.clone());
        }
        self.objects.push(object);
    }
}

/// What a document is when it is not a Kubernetes object: not a mapping;
/// a kustomization (`kustomize.config.k8s.io`, or `kind: Kustomization` or
/// `Component` with no `apiVersion`); a mapping with no `apiVersion` or no
/// `kind` and no `metadata` (one with `metadata` is an object missing its
/// type: an error).
fn not_an_object(value: &Value) -> Option<String> {
    let Value::Object(map) = value else {
        return Some(
            match value {
                Value::Array(_) => "a sequence",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "empty",
            }
            .to_owned(),
        );
    };
    let text = |key: &str| {
        map.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    let kustomize = match api_version {
        Some(a) => a.starts_with("kustomize.config.k8s.io/"),
        None => matches!(kind, Some("Kustomization" | "Component")),
    };
    if kustomize {
        return Some("a kustomization".to_owned());
    }
    if map.contains_key("metadata") {
        return None;
    }
    match (api_version, kind) {
        (Some(_), Some(_)) => None,
        (None, None) => Some("a mapping with no apiVersion and kind".to_owned()),
        (None, Some(_)) => Some("a mapping with no apiVersion".to_owned()),
        (Some(_), None) => Some("a mapping with no kind".to_owned()),
    }
}

/// The file names kustomize reads a folder's kustomization from.
const KUSTOMIZATION_FILES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The folder of a source's path (`.` for a bare file name).
fn folder_of(name: &str) -> &str {
    match name.rfind('/') {
        Some(0) => "/",
        Some(at) => &name[..at],
        None => ".",
    }
}

/// The folders of `sources` that are kustomize folders: one of the
/// sources is their kustomization, or (for files given one by one, as
/// pre-commit passes them) one lies beside them on disk.
fn kustomize_folders(sources: &[Source]) -> Vec<String> {
    let mut folders: Vec<String> = Vec::new();
    for source in sources.iter().filter(|s| s.name != STDIN_NAME) {
        let folder = folder_of(&source.name);
        if folders.iter().any(|f| f == folder) {
            continue;
        }
        let file = source.name.rsplit('/').next().unwrap_or_default();
        let beside = || {
            KUSTOMIZATION_FILES
                .iter()
                .any(|k| std::path::Path::new(folder).join(k).is_file())
        };
        if KUSTOMIZATION_FILES.contains(&file) || beside() {
            folders.push(folder.to_owned());
        }
    }
    folders
}

/// The Helm built-in objects and functions whose names, inside `{{ … }}`,
/// tell a Helm template from a manifest that merely holds a Go template (a
/// PrometheusRule's `{{ $labels.job }}`, an Alertmanager config, an Argo
/// Workflow's `{{inputs.parameters.x}}`).
const HELM_WORDS: &[&str] = &[
    ".Values",
    ".Release.",
    ".Chart.",
    ".Capabilities.",
    ".Files.",
    ".Template.",
    "include ",
    "toYaml",
    "nindent",
    "tpl ",
];

/// The line of the first `{{ … }}` of a Helm template: a text with a
/// template action that either names a Helm built-in ([`HELM_WORDS`]) or
/// breaks one of its documents. `None` for anything else.
fn helm_template_line(text: &str, docs: &[Document]) -> Option<usize> {
    text.find("{{")?;
    let mut first = None;
    let mut helm = false;
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(open) = rest.find("{{") {
            let Some(close) = rest[open..].find("}}") else {
                break;
            };
            first.get_or_insert(n + 1);
            let action = &rest[open + 2..open + close];
            helm |= HELM_WORDS.iter().any(|w| action.contains(w));
            rest = &rest[open + close + 2..];
        }
        if helm {
            break;
        }
    }
    let first = first?;
    (helm || docs.iter().any(|d| d.value.is_err())).then_some(first)
}

/// At most 120 bytes of `text`, on one line.
pub(crate) fn clip(text: &str) -> String {
    let line = text.replace(['\n', '\r'], " ");
    if line.len() <= 120 {
        return line;
    }
    let mut end = 117;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &line[..end])
}

/// One document of a source.
struct Document {
    origin: Origin,
    /// Byte range in the source's text.
    range: Range<usize>,
    /// `Ok(Value::Null)` documents are never returned.
    value: Result<Value, String>,
}

fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

/// The documents of a source: JSON values when it is JSON, else YAML
/// documents. Empty documents are left out.
fn documents(source: &Source, lines: &Text) -> Vec<Document> {
    if source.json {
        return json_documents(source, lines);
    }
    if looks_like_json(&source.text) {
        let docs = json_documents(source, lines);
        if docs.iter().all(|d| d.value.is_ok()) {
            return docs;
        }
        // YAML flow style can start with `{` or `[` too
    }
    yaml_documents(source, lines)
}

fn json_documents(source: &Source, lines: &Text) -> Vec<Document> {
    let text: &str = &source.text;
    let mut docs = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut index = 0;
    loop {
        let start = stream.byte_offset();
        // where the value starts, for its line
        let value_start = start + (text[start..].len() - text[start..].trim_start().len());
        match stream.next() {
            None => break,
            Some(Ok(value)) => {
                index += 1;
                let end = stream.byte_offset();
                docs.push(Document {
                    origin: Origin {
                        file: source.name.clone(),
                        document: Some(index),
                        item: None,
                        line: Some(lines.line_of(value_start)),
                    },
                    range: value_start..end,
                    value: Ok(value),
                });
            }
            Some(Err(e)) => {
                index += 1;
                docs.push(Document {
                    origin: Origin {
                        file: source.name.clone(),
                        document: Some(index),
                        item: None,
                        line: Some(lines.line_of(value_start)),
                    },
                    range: value_start..text.len(),
                    value: Err(format!(
                        "invalid JSON at line {} column {}: {}",
                        e.line(),
                        e.column(),
                        json_error_reason(&e)
                    )),
                });
                // a JSON stream cannot be resynchronised after an error
                break;
            }
        }
    }
    docs
}

/// serde_json's message without its own " at line L column C".
fn json_error_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

/// Whether a line is a YAML document marker (`---` or `...` at the start of
/// a line, followed by a blank or the end of the line); YAML forbids such
/// a line inside any scalar, so splitting on them is exact.
fn marker(line: &str) -> Option<&'static str> {
    for m in ["---", "..."] {
        if let Some(rest) = line.strip_prefix(m)
            && (rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
        {
            return Some(m);
        }
    }
    None
}

/// Whether a YAML chunk holds anything but blanks, comments and directives.
fn has_content(chunk: &str) -> bool {
    chunk.lines().any(|l| {
        let t = l.trim_start();
        !(t.is_empty() || t.starts_with('#') || l.starts_with('%'))
    })
}

fn yaml_documents(source: &Source, lines: &Text) -> Vec<Document> {
    let text: &str = &source.text;
    // (start of the chunk's content, explicitly started by `---`)
    let mut chunks: Vec<(usize, usize, bool)> = Vec::new();
    let mut chunk_start = 0;
    let mut explicit = false;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        match marker(line) {
            Some("---") => {
                chunks.push((chunk_start, offset, explicit));
                // content may follow the marker on the same line
                chunk_start = offset + 3;
                explicit = true;
            }
            Some(_) => {
                chunks.push((chunk_start, offset, explicit));
                chunk_start = offset + line.len();
                explicit = false;
            }
            None => {}
        }
        offset += line.len();
    }
    chunks.push((chunk_start, text.len(), explicit));

    let mut docs = Vec::new();
    let mut index = 0;
    for (start, end, explicit) in chunks {
        let chunk = &text[start..end];
        let content = has_content(chunk);
        if !explicit && !content {
            continue;
        }
        index += 1;
        if !content {
            continue; // an empty document (`---` and nothing)
        }
        // the line of the first content
        let first = chunk
            .split_inclusive('\n')
            .scan(0, |pos, l| {
                let at = *pos;
                *pos += l.len();
                Some((at, l))
            })
            .find(|(_, l)| {
                let t = l.trim_start();
                !(t.is_empty() || t.starts_with('#') || l.starts_with('%'))
            })
            .map_or(0, |(at, _)| at);
        let first_line = lines.line_of(start + first);
        // lines of the chunk are numbered from the chunk's first line
        let chunk_line = lines.line_of(start);
        // directives are not part of the document's text
        let body: String = if chunk.lines().any(|l| l.starts_with('%')) {
            chunk
                .split_inclusive('\n')
                .map(|l| if l.starts_with('%') { "\n" } else { l })
                .collect()
        } else {
            chunk.to_owned()
        };
        let value = yaml::value(&body).map_err(|e| yaml_error(&e, chunk_line));
        if matches!(value, Ok(Value::Null)) {
            continue;
        }
        docs.push(Document {
            origin: Origin {
                file: source.name.clone(),
                document: Some(index),
                item: None,
                line: Some(first_line),
            },
            range: start..end,
            value,
        });
    }
    docs
}

/// The parser's message with its positions made relative to the file.
fn yaml_error(e: &str, chunk_line: usize) -> String {
    let message = shift_lines(e, chunk_line - 1);
    format!("invalid YAML: {}", message.replace('\n', " "))
}

/// Adds `by` to every `line N` in `message`.
fn shift_lines(message: &str, by: usize) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find("line ") {
        out.push_str(&rest[..i + 5]);
        rest = &rest[i + 5..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0
            && let Ok(n) = rest[..digits].parse::<usize>()
        {
            out.push_str(&(n + by).to_string());
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, text: &str) -> ManifestSet {
        ManifestSet::parse(&[Source::new(name, text)], "default")
    }

    #[test]
    fn yaml_stream_with_empty_documents_and_lines() {
        let text = "---\n# Source: chart/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\n# only a comment\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: x}\n";
        let set = parse("s.yaml", text);
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        assert_eq!(set.objects.len(), 2);
        assert_eq!(set.objects[0].origin.document, Some(1));
        assert_eq!(set.objects[0].origin.line, Some(3));
        assert_eq!(set.objects[0].namespace.as_deref(), Some("default"));
        assert_eq!(set.objects[0].object["metadata"]["namespace"], "default");
        assert_eq!(set.objects[1].origin.document, Some(4));
        assert_eq!(set.objects[1].origin.line, Some(11));
        assert_eq!(set.objects[1].namespace.as_deref(), Some("x"));
    }

    #[test]
    fn errors_name_document_and_line() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: [\n---\nmetadata: {name: c}\n---\n- 1\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";
        let set = parse("e.yaml", text);
        let errors: Vec<String> = set.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].starts_with("e.yaml, document 2 (line 5): invalid YAML: "),
            "{errors:?}"
        );
        assert!(
            errors[0].contains("line 6") || errors[0].contains("line 5"),
            "{errors:?}"
        );
        assert_eq!(
            errors[1],
            "e.yaml, document 3 (line 7): the object has no kind"
        );
        assert_eq!(
            errors[2],
            "e.yaml, document 5 (line 11): duplicate ConfigMap default/a: already defined in e.yaml, document 1 (line 1); only the first is scanned"
        );
        assert_eq!(set.objects.len(), 1);
        // a sequence is not a Kubernetes object: skipped, not an error
        let skipped: Vec<String> = set.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            skipped,
            ["e.yaml, document 4 (line 9): skipped: not a Kubernetes object (a sequence)"]
        );
    }

    #[rstest::rstest]
    #[case::values(
        "values.yaml",
        "replicaCount: 2\nimage:\n  repository: nginx\n",
        "a mapping with no apiVersion and kind"
    )]
    #[case::workflow(
        "ci.yml",
        "name: ci\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps: [{run: make}]\n",
        "a mapping with no apiVersion and kind"
    )]
    #[case::chart(
        "Chart.yaml",
        "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
        "a mapping with no kind"
    )]
    // a kustomization among other documents (a file of that name makes
    // its whole folder a kustomize folder, skipped once: see scan.rs)
    #[case::kustomization_bare(
        "all.yaml",
        "resources: [deployment.yaml]\n",
        "a mapping with no apiVersion and kind"
    )]
    // a kustomization among other documents (a file of that name makes
    // its whole folder a kustomize folder, skipped once: see scan.rs)
    #[case::kustomization_kind(
        "all.yaml",
        "kind: Kustomization\nmetadata: {name: x}\nresources: [a.yaml]\n",
        "a kustomization"
    )]
    // a kustomization among other documents (a file of that name makes
    // its whole folder a kustomize folder, skipped once: see scan.rs)
    #[case::kustomization_api(
        "all.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n",
        "a kustomization"
    )]
    #[case::package_json(
        "package.json",
        r#"{"name": "x", "version": "1.0.0"}"#,
        "a mapping with no apiVersion and kind"
    )]
    #[case::playbook("site.yml", "- hosts: all\n  tasks: []\n", "a sequence")]
    #[case::scalar("notes.yaml", "just a sentence\n", "a string")]
    fn documents_that_are_not_objects_are_skipped(
        #[case] name: &str,
        #[case] text: &str,
        #[case] what: &str,
    ) {
        let set = parse(name, text);
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        assert!(set.objects.is_empty());
        assert_eq!(
            set.skipped,
            [Skipped {
                origin: Origin {
                    file: name.to_owned(),
                    document: Some(1),
                    item: None,
                    line: Some(1)
                },
                reason: SkipReason::NotAnObject(what.to_owned()),
            }]
        );
    }

    #[rstest::rstest]
    // an object missing its type is still an error
    #[case::no_kind("apiVersion: v1\nmetadata: {name: x}\n", "the object has no kind")]
    #[case::no_api_version(
        "kind: ConfigMap\nmetadata: {name: x}\n",
        "the ConfigMap has no apiVersion"
    )]
    // a List's items are meant to be objects
    #[case::list_item(
        "apiVersion: v1\nkind: List\nitems:\n- 1\n",
        "not a Kubernetes object (a number): expected a mapping with apiVersion, kind and metadata"
    )]
    fn objects_missing_their_type_stay_errors(#[case] text: &str, #[case] message: &str) {
        let set = parse("x.yaml", text);
        assert!(set.skipped.is_empty(), "{:?}", set.skipped);
        assert_eq!(set.errors.len(), 1, "{:?}", set.errors);
        assert_eq!(set.errors[0].message, message);
    }

    #[rstest::rstest]
    #[case::values(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"shop.fullname\" . }}\ndata:\n  url: http://db:5432\n",
        4
    )]
    // quoted: the YAML parses, the Helm built-in tells
    #[case::quoted(
        "# a comment\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"{{ .Release.Name }}-config\"\n",
        5
    )]
    // no built-in named, but the YAML breaks: one line, not one per document
    #[case::control(
        "{{- if .Foo }}\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: [\n{{- end }}\n",
        1
    )]
    fn a_helm_template_is_one_skip(#[case] text: &str, #[case] line: usize) {
        let set = parse("templates/cm.yaml", text);
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        assert!(set.objects.is_empty());
        assert_eq!(set.documents, 0);
        assert_eq!(set.skipped.len(), 1, "{:?}", set.skipped);
        assert_eq!(set.skipped[0].reason, SkipReason::HelmTemplate);
        assert_eq!(
            set.skipped[0].to_string(),
            format!(
                "templates/cm.yaml (line {line}): skipped: a Helm template ({{{{ … }}}}): render it first: helm template RELEASE CHART | dangling-references scan -"
            )
        );
    }

    #[rstest::rstest]
    #[case::prometheus_rule(
        "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: r}\nspec:\n  groups:\n  - name: g\n    rules:\n    - alert: Down\n      annotations:\n        summary: \"{{ $labels.job }} is down ({{ $value }})\"\n"
    )]
    #[case::alertmanager(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: am}\ndata:\n  slack.tmpl: |\n    {{ define \"slack.title\" }}{{ range .Alerts }}{{ .Labels.alertname }}{{ end }}{{ end }}\n"
    )]
    fn a_manifest_holding_a_go_template_is_scanned(#[case] text: &str) {
        let set = parse("rules.yaml", text);
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        assert!(set.skipped.is_empty(), "{:?}", set.skipped);
        assert_eq!(set.objects.len(), 1);
    }

    #[test]
    fn json_values_and_lists() {
        let text = r#"{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "n"}},
  {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}
]}
{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}"#;
        let set = parse("l.json", text);
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        assert_eq!(set.objects.len(), 3);
        assert_eq!(set.objects[1].origin.item, Some(2));
        assert_eq!(set.objects[1].origin.line, Some(3));
        assert_eq!(set.objects[1].group, "apps");
        assert_eq!(set.objects[2].origin.document, Some(2));
        assert_eq!(set.objects[2].namespace, None);
        let bad = parse("b.json", "{\"kind\": }");
        assert_eq!(bad.errors.len(), 1);
        assert!(
            bad.errors[0]
                .to_string()
                .starts_with("b.json, document 1 (line 1): invalid JSON at line 1 column 10: "),
            "{}",
            bad.errors[0]
        );
    }

    #[test]
    fn lines_shift() {
        assert_eq!(
            shift_lines(
                "x at line 2 column 3, while parsing a block at line 1 column 1",
                10
            ),
            "x at line 12 column 3, while parsing a block at line 11 column 1"
        );
    }

    #[test]
    fn positions_of_fields() {
        let text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  x: |\n    url: http://api.shop.svc:8080\n";
        let set = parse("c.yaml", text);
        let span = &set.objects[0].span;
        assert_eq!(
            span.position_of(&[Seg::key("data"), Seg::key("x")]),
            Some(Position { line: 7, column: 5 })
        );
        assert_eq!(
            span.position_of(&[Seg::key("metadata"), Seg::key("name")]),
            Some(Position {
                line: 4,
                column: 18
            })
        );
        assert_eq!(span.position_of(&[Seg::key("nothing")]), None);
        let list = parse(
            "l.yaml",
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n",
        );
        assert_eq!(list.objects[1].origin.line, Some(7));
        assert_eq!(
            list.objects[1]
                .span
                .position_of(&[Seg::key("metadata"), Seg::key("name")]),
            Some(Position {
                line: 10,
                column: 11
            })
        );
    }
}
