//! The kubectl plugin: the binary under the name `kubectl-dangling_references`
//! on PATH is `kubectl dangling-references`, run through the real kubectl,
//! and behaves exactly as `dangling-references` does (output and exit
//! code); only its help names it `kubectl dangling-references`.

mod support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use rstest::rstest;
use support::{BIN, find_program, path_with, skipped, temp_dir};

/// The plugin's name: kubectl turns `dangling-references` into
/// `kubectl-dangling_references` when it looks for it on PATH.
const PLUGIN: &str = "kubectl-dangling_references";

/// A folder holding the plugin: a symlink to the binary under test.
fn plugin_dir() -> PathBuf {
    let dir = temp_dir("kubectl-plugin");
    std::os::unix::fs::symlink(BIN, dir.join(PLUGIN)).unwrap();
    dir
}

fn policy() -> PathBuf {
    dangling_references::policy_wasm().unwrap_or_else(|e| panic!("no compiled policy: {e:#}"))
}

fn root() -> &'static Path {
    dangling_references::repository_root()
}

/// `kubectl ARGS` with the plugin first on PATH, in the repository root,
/// without a cluster (the plugin needs none).
fn kubectl(kubectl: &Path, plugins: &Path) -> Command {
    let mut cmd = Command::new(kubectl);
    cmd.current_dir(root())
        .env("PATH", path_with(plugins))
        .env("KUBECONFIG", plugins.join("no-kubeconfig"));
    cmd
}

fn find_kubectl(test: &str) -> Option<PathBuf> {
    let found = find_program("kubectl");
    if found.is_none() {
        skipped(&format!("kubectl plugin ({test}): kubectl not found"));
    }
    found
}

#[test]
fn kubectl_finds_the_plugin() {
    let Some(bin) = find_kubectl("plugin list") else {
        return;
    };
    let plugins = plugin_dir();
    kubectl(&bin, &plugins)
        .args(["plugin", "list"])
        .assert()
        .success()
        .stdout(contains(plugins.join(PLUGIN).display().to_string()));
}

#[test]
fn the_help_names_the_kubectl_command() {
    let Some(bin) = find_kubectl("help") else {
        return;
    };
    let plugins = plugin_dir();
    kubectl(&bin, &plugins)
        .args(["dangling-references", "--help"])
        .assert()
        .success()
        .stdout(
            contains("Usage: kubectl dangling-references <COMMAND>")
                .and(contains("scan"))
                .and(contains("run")),
        );
    kubectl(&bin, &plugins)
        .args(["dangling-references", "scan", "--help"])
        .assert()
        .success()
        .stdout(contains(
            "Usage: kubectl dangling-references scan [OPTIONS] <PATH>...",
        ));
}

#[rstest]
#[case::accepted(&["test_data/scan/shop", "--namespace", "shop"], 0)]
#[case::rejected(&["test_data/scan/seed.yaml"], 1)]
#[case::json(&["test_data/scan/shop/configmap.yaml", "-n", "shop", "-o", "json"], 1)]
#[case::error(&["test_data/scan/no-such-folder"], 2)]
fn scan_through_kubectl_is_scan(#[case] args: &[&str], #[case] code: i32) {
    let Some(bin) = find_kubectl("scan") else {
        return;
    };
    let plugins = plugin_dir();
    let policy = policy();
    let through_kubectl = kubectl(&bin, &plugins)
        .args(["dangling-references", "scan", "--no-progress", "--policy"])
        .arg(&policy)
        .args(args)
        .assert()
        .code(code);
    let direct = Command::new(BIN)
        .current_dir(root())
        .args(["scan", "--no-progress", "--policy"])
        .arg(&policy)
        .args(args)
        .assert()
        .code(code);
    let (plugin, direct) = (through_kubectl.get_output(), direct.get_output());
    assert_eq!(
        String::from_utf8_lossy(&plugin.stdout),
        String::from_utf8_lossy(&direct.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&plugin.stderr),
        String::from_utf8_lossy(&direct.stderr)
    );
    if code == 0 {
        assert!(
            String::from_utf8_lossy(&plugin.stdout).contains("0 rejected"),
            "{plugin:?}"
        );
    }
}
