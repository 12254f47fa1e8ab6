//! The module graph of `src/` (the policy), read from its `use crate::…`
//! paths outside test code: data flows one way, request → check → typed
//! report → `render` → verdict, so the graph has no cycle, and the checks
//! never reach for the words (`messages`) or the verdict. `cargo test
//! --test architecture` checks it; a failure names the modules and the
//! lines that tie them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → (module it uses → a line that uses it).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

/// The source of a module without its `#[cfg(test)]` items: from the
/// first `#[cfg(test)]` line on (test modules and test-only module
/// declarations come last in every file).
fn production_code(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |at| &text[..at])
}

/// Every `crate::<module>` named in `text`, with `use crate::{a, b::c}`
/// groups expanded to their first segments.
fn used_modules(text: &str) -> Vec<(String, String)> {
    let mut used = Vec::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        used.push((name, line.trim().to_owned()));
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    used.push((name, line.trim().to_owned()));
                }
            }
        }
    }
    used
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = Graph::new();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            for inner in std::fs::read_dir(&path).unwrap() {
                files.push(inner.unwrap().path());
            }
        } else {
            files.push(path);
        }
    }
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
    {
        let relative = path.strip_prefix(&src).unwrap();
        // a folder is one module: messages/services.rs belongs to messages
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let edges = graph.entry(module.clone()).or_default();
        for (used, line) in used_modules(production_code(&text)) {
            if used != module {
                edges.entry(used).or_insert(line);
            }
        }
    }
    graph
}

/// A cycle through `from`, as the path of modules, if any.
fn cycle_from(graph: &Graph, from: &str) -> Option<Vec<String>> {
    fn walk(graph: &Graph, at: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> bool {
        if let Some(start) = path.iter().position(|m| m == at) {
            path.drain(..start);
            path.push(at.to_owned());
            return true;
        }
        if !done.insert(at.to_owned()) {
            return false;
        }
        path.push(at.to_owned());
        for next in graph.get(at).into_iter().flat_map(BTreeMap::keys) {
            if walk(graph, next, path, done) {
                return true;
            }
        }
        path.pop();
        false
    }
    let mut path = Vec::new();
    walk(graph, from, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = graph();
    assert!(graph.len() > 10, "{:?}", graph.keys());
    for module in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, module) {
            let ties: Vec<String> = cycle
                .windows(2)
                .map(|w| format!("{} -> {}: {}", w[0], w[1], graph[&w[0]][&w[1]]))
                .collect();
            panic!("import cycle {}:\n{}", cycle.join(" -> "), ties.join("\n"));
        }
    }
}

/// (module, modules it must not use, why).
const LAYERS: &[(&str, &[&str], &str)] = &[
    (
        "kubeconfig_check",
        &["messages", "render", "verdict"],
        "checks return typed findings",
    ),
    (
        "service_check",
        &["messages", "render", "verdict"],
        "checks return typed findings",
    ),
    (
        "workload_check",
        &["messages", "render", "verdict"],
        "checks return typed findings",
    ),
    (
        "settings",
        &["messages", "render", "verdict"],
        "settings are below every check",
    ),
    (
        "messages",
        &["render", "verdict"],
        "words know nothing of verdicts",
    ),
    (
        "verdict",
        &["settings", "render"],
        "a verdict is rendered before it is built",
    ),
    (
        "quote",
        &["messages", "settings", "verdict"],
        "quoting is below everything",
    ),
];

#[test]
fn checks_never_import_their_renderer() {
    let graph = graph();
    let mut wrong = Vec::new();
    for (module, forbidden, why) in LAYERS {
        let edges = graph
            .get(*module)
            .unwrap_or_else(|| panic!("no module {module}"));
        for f in *forbidden {
            if let Some(line) = edges.get(*f) {
                wrong.push(format!("{module} uses {f} ({why}): {line}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The reader itself: groups, nested paths and comments.
#[test]
fn uses_are_read_from_paths_and_groups() {
    let text = "use crate::a::b;\nuse crate::{c, d::e};\n// crate::f\nlet x = crate::g::h(1);";
    let names: Vec<String> = used_modules(text).into_iter().map(|(m, _)| m).collect();
    assert_eq!(names, ["a", "c", "d", "g"]);
    let mut cyclic = Graph::new();
    cyclic
        .entry("a".into())
        .or_default()
        .insert("b".into(), String::new());
    cyclic
        .entry("b".into())
        .or_default()
        .insert("a".into(), String::new());
    assert_eq!(
        cycle_from(&cyclic, "a"),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
    cyclic.get_mut("b").unwrap().clear();
    assert_eq!(cycle_from(&cyclic, "a"), None);
}
