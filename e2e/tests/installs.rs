//! The installs suite (`installs`, `make installs`) can fail: run on a
//! temporary copy of one complete public install (bank-of-anthos, from
//! `../shared/installs/`, never copied into the project), it passes on the
//! copy as it is and fails once one ConfigMap URL is broken, and it fails
//! on a warning its warnings file does not list.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use e2e::{policy_wasm, repository_root};
use serde_json::{Value, json};

const INSTALL: &str = "bank-of-anthos";
/// The ConfigMap value the copy breaks: bank-of-anthos's ledger-db-config
/// names the Service `ledger-db`, judged under `checkShortNames`.
const URL: &str = "postgresql://ledger-db:5432";
const BROKEN_URL: &str = "postgresql://ledger-dbb:5432";

/// The installs folder, or `None` after reporting the skip (`make test`
/// lists it) where it is absent.
fn installs_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("INSTALLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository_root().join("../shared/installs"));
    if !dir.join("EXPECTED.json").is_file() {
        e2e::skipped(
            "installs suite's self-test: ../shared/installs not found (INSTALLS_DIR sets it)",
        );
        return None;
    }
    Some(dir)
}

/// A temporary installs folder holding a copy of [`INSTALL`], its
/// EXPECTED.json entry with `profiles` replaced, and a warnings file.
struct Copy {
    dir: PathBuf,
}

impl Copy {
    fn new(source: &Path, test: &str, profiles: Value) -> Copy {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("installs-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let set = dir.join(INSTALL);
        std::fs::create_dir_all(&set).unwrap();
        for file in std::fs::read_dir(source.join(INSTALL)).unwrap() {
            let file = file.unwrap().path();
            std::fs::copy(&file, set.join(file.file_name().unwrap())).unwrap();
        }
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(source.join("EXPECTED.json")).unwrap())
                .unwrap();
        let mut entry = expected[INSTALL].clone();
        entry["profiles"] = profiles;
        std::fs::write(
            dir.join("EXPECTED.json"),
            serde_json::to_vec_pretty(&json!({ INSTALL: entry })).unwrap(),
        )
        .unwrap();
        let copy = Copy { dir };
        copy.warnings("[]\n");
        copy
    }

    /// Replaces `from` by `to` in the install's files; returns how many
    /// files changed.
    fn replace(&self, from: &str, to: &str) -> usize {
        let mut changed = 0;
        for file in std::fs::read_dir(self.dir.join(INSTALL)).unwrap() {
            let file = file.unwrap().path();
            let text = std::fs::read_to_string(&file).unwrap();
            if text.contains(from) {
                std::fs::write(&file, text.replace(from, to)).unwrap();
                changed += 1;
            }
        }
        changed
    }

    fn warnings(&self, yaml: &str) {
        std::fs::write(self.dir.join("warnings.yml"), yaml).unwrap();
    }

    fn run(&self) -> Output {
        Command::new(env!("CARGO_BIN_EXE_installs"))
            .arg("--installs")
            .arg(&self.dir)
            .arg("--policy")
            .arg(policy_wasm().unwrap())
            .arg("--warnings")
            .arg(self.dir.join("warnings.yml"))
            .output()
            .unwrap()
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn short_names() -> Value {
    json!({"workload+shortnames": {"expect": "accept", "must_mention": [],
        "settings": {"checkWorkloadReferences": true, "checkShortNames": true}}})
}

#[test]
fn a_broken_configmap_url_fails_the_suite() {
    let Some(source) = installs_dir() else {
        return;
    };
    let copy = Copy::new(&source, "broken", short_names());
    let out = copy.run();
    assert!(out.status.success(), "the copy as it is:\n{}", stdout(&out));
    assert!(stdout(&out).contains("1 as expected"), "{}", stdout(&out));

    assert_eq!(
        copy.replace(URL, BROKEN_URL),
        1,
        "{URL} is in one file of {INSTALL}"
    );
    let out = copy.run();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "FAIL {INSTALL} × workload+shortnames: false rejection of ConfigMap default/ledger-db-config"
        )),
        "{text}"
    );
    assert!(text.contains("ledger-dbb"), "{text}");
}

#[test]
fn an_expected_rejection_that_does_not_happen_fails_the_suite() {
    let Some(source) = installs_dir() else {
        return;
    };
    let profiles = json!({"workload+shortnames": {"expect": "reject", "must_mention": ["ledger-dbb"],
        "settings": {"checkWorkloadReferences": true, "checkShortNames": true}}});
    let copy = Copy::new(&source, "reject", profiles);
    assert_eq!(copy.replace(URL, BROKEN_URL), 1);
    let out = copy.run();
    assert!(
        out.status.success(),
        "rejected as expected:\n{}",
        stdout(&out)
    );

    copy.replace(BROKEN_URL, URL);
    let out = copy.run();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("accepted, but EXPECTED.json says reject"),
        "{text}"
    );
    assert!(
        text.contains("no rejection mentions \"ledger-dbb\""),
        "{text}"
    );
}

#[test]
fn every_warning_must_be_reviewed() {
    let Some(source) = installs_dir() else {
        return;
    };
    let profiles = json!({"warn": {"expect": "accept", "must_mention": [],
        "settings": {"checkWorkloadReferences": true, "checkShortNames": true, "action": "warn"}}});
    let copy = Copy::new(&source, "warnings", profiles);
    assert_eq!(copy.replace(URL, BROKEN_URL), 1);

    // the broken URL is now a warning (on the ConfigMap and on each
    // workload that consumes it), which the empty file does not list
    let out = copy.run();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let unlisted: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| {
            l.split_once(
                "does not list (review it, then add it with its reason, or fix the rule): ",
            )
        })
        .map(|(_, warning)| {
            let (kind, rest) = warning.split_once(' ').unwrap();
            let (name, message) = rest.split_once(": ").unwrap();
            (&warning[..kind.len() + 1 + name.len()], message)
        })
        .collect();
    assert!(
        unlisted.iter().any(
            |(object, message)| *object == "ConfigMap default/ledger-db-config"
                && message.contains("ledger-dbb")
        ),
        "{text}"
    );

    // reviewed, each with its reason
    let entries = |reason: &str| {
        let list: Vec<Value> = unlisted
            .iter()
            .map(|(object, message)| {
                json!({"install": INSTALL, "profile": "warn", "object": object,
                       "message": message, "reason": reason})
            })
            .collect();
        serde_saphyr::to_string(&list).unwrap()
    };
    copy.warnings(&entries("the test broke the Service name"));
    let out = copy.run();
    assert!(out.status.success(), "{}", stdout(&out));

    // a listed warning that scan no longer gives
    copy.replace(BROKEN_URL, URL);
    let out = copy.run();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("lists a warning scan no longer gives"),
        "{text}"
    );

    // a reviewed warning needs a reason
    copy.warnings(&entries(" "));
    let out = copy.run();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no reason"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_absent_installs_folder_is_a_visible_skip() {
    // its SKIPPED line is this test's own, not a skip of make test
    let out = Command::new(env!("CARGO_BIN_EXE_installs"))
        .env_remove("SKIP_LOG")
        .args([
            "--installs",
            "/nonexistent/installs",
            "--policy",
            "policy.wasm",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        stdout(&out)
            .starts_with("SKIPPED installs suite: /nonexistent/installs/EXPECTED.json not found"),
        "{}",
        stdout(&out)
    );
}
