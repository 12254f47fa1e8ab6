//! The pre-commit hooks of `.pre-commit-hooks.yaml`, through the real
//! pre-commit (from PyPI: `pip install pre-commit`): `pre-commit try-repo`
//! of the `dangling-references-system` hook on a throwaway git repository,
//! with the binary under test on PATH. A dangling ConfigMap fails the hook,
//! the fixed one passes, and a `values.yaml`, a GitHub workflow and a Helm
//! template beside them are skipped, not errors.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use support::{BIN, find_program, path_with, skipped, temp_dir};

/// How to start pre-commit: the `pre-commit` on PATH, else
/// `python3 -m pre_commit`.
fn pre_commit() -> Option<Vec<String>> {
    if let Some(bin) = find_program("pre-commit") {
        return Some(vec![bin.display().to_string()]);
    }
    let python = find_program("python3")?;
    let module = std::process::Command::new(&python)
        .args(["-m", "pre_commit", "--version"])
        .output()
        .ok()?;
    module.status.success().then(|| {
        vec![
            python.display().to_string(),
            "-m".to_owned(),
            "pre_commit".to_owned(),
        ]
    })
}

/// A throwaway world: HOME, pre-commit's cache and a PATH whose
/// `dangling-references` is the binary under test.
struct World {
    dir: PathBuf,
    pre_commit: Vec<String>,
    path: std::ffi::OsString,
}

impl World {
    fn command(&self, program: &str, cwd: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(cwd)
            .env("HOME", self.dir.join("home"))
            .env("PRE_COMMIT_HOME", self.dir.join("pre-commit-cache"))
            .env("PATH", &self.path)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .env("PRE_COMMIT_COLOR", "never")
            // what the binary on PATH scans with until the policy is built
            // into it
            .env("DANGLING_REFERENCES_POLICY", policy());
        cmd
    }

    fn git(&self, cwd: &Path, args: &[&str]) {
        self.command("git", cwd).args(args).assert().success();
    }

    /// `pre-commit try-repo HOOKS HOOK --all-files --verbose` in `repo`.
    fn try_repo(&self, hooks: &Path, hook: &str, repo: &Path) -> Output {
        let mut cmd = self.command(&self.pre_commit[0], repo);
        cmd.args(&self.pre_commit[1..])
            .arg("try-repo")
            .arg(hooks)
            .args([hook, "--all-files", "--verbose"]);
        cmd.output().unwrap()
    }
}

fn policy() -> PathBuf {
    dangling_references::policy_wasm().unwrap_or_else(|e| panic!("no compiled policy: {e:#}"))
}

fn write(root: &Path, file: &str, text: &str) {
    let path = root.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector: {app: api}
  ports:
  - port: 80
";

fn configmap(service: &str) -> String {
    format!(
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  API_URL: http://{service}.default.svc.cluster.local:80
"
    )
}

const VALUES: &str = "replicaCount: 2
image:
  repository: nginx
  tag: \"1.27\"
";

const WORKFLOW: &str = "name: ci
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
    - uses: actions/checkout@v4
    - run: make test
";

const TEMPLATE: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include \"web.fullname\" . }}
data:
  API_URL: http://{{ .Values.api.host }}:80
";

#[test]
fn the_system_hook_judges_the_commit_as_one_set() {
    let Some(pre_commit) = pre_commit() else {
        return skipped("pre-commit hooks: pre-commit not found (pip install pre-commit)");
    };
    if find_program("git").is_none() {
        return skipped("pre-commit hooks: git not found");
    }
    let dir = temp_dir("pre-commit");
    // `dangling-references` on PATH: the binary under test
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(BIN, bin.join("dangling-references")).unwrap();
    std::fs::create_dir_all(dir.join("home")).unwrap();
    let world = World {
        path: path_with(&bin),
        dir: dir.clone(),
        pre_commit,
    };

    // the hook repository: this repository's .pre-commit-hooks.yaml
    let hooks = dir.join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::copy(
        dangling_references::repository_root().join(".pre-commit-hooks.yaml"),
        hooks.join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    world.git(&hooks, &["init", "-q"]);
    world.git(&hooks, &["add", "."]);
    world.git(&hooks, &["commit", "-q", "-m", "hooks"]);

    // a repository with a dangling ConfigMap, and what is not a manifest
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    world.git(&repo, &["init", "-q"]);
    write(&repo, "deploy/service.yaml", SERVICE);
    write(&repo, "deploy/configmap.yaml", &configmap("missing"));
    write(&repo, "values.yaml", VALUES);
    write(&repo, ".github/workflows/ci.yml", WORKFLOW);
    write(&repo, "chart/templates/configmap.yaml", TEMPLATE);
    write(&repo, "README.md", "not passed to the hook\n");
    world.git(&repo, &["add", "."]);

    let failed = world.try_repo(&hooks, "dangling-references-system", &repo);
    let out = String::from_utf8_lossy(&failed.stdout);
    assert_eq!(failed.status.code(), Some(1), "{out}");
    assert!(out.contains("Failed"), "{out}");
    assert!(out.contains("exit code: 1"), "{out}");
    assert!(
        out.contains("deploy/configmap.yaml") && out.contains("\"missing\""),
        "{out}"
    );
    assert!(
        out.contains("1 object checked in 5 files: 1 rejected"),
        "the files of the commit are one set: {out}"
    );
    assert!(
        out.contains("2 documents that are not Kubernetes objects skipped"),
        "{out}"
    );
    assert!(
        out.contains("1 Helm template skipped")
            && out.contains("helm template RELEASE CHART | dangling-references scan -"),
        "{out}"
    );
    assert!(!out.contains("error"), "{out}");

    // the fix: the ConfigMap names the Service of the set
    write(&repo, "deploy/configmap.yaml", &configmap("api"));
    world.git(&repo, &["add", "."]);
    let passed = world.try_repo(&hooks, "dangling-references-system", &repo);
    let out = String::from_utf8_lossy(&passed.stdout);
    assert_eq!(passed.status.code(), Some(0), "{out}");
    assert!(out.contains("Passed"), "{out}");
    assert!(
        out.contains("1 object checked in 5 files: 0 rejected, 0 with warnings, 1 accepted"),
        "{out}"
    );
    assert!(
        out.contains("2 documents that are not Kubernetes objects skipped"),
        "{out}"
    );
}

#[test]
fn the_hooks_file_is_a_valid_manifest() {
    let Some(pre_commit) = pre_commit() else {
        return skipped("pre-commit hooks: pre-commit not found (pip install pre-commit)");
    };
    Command::new(&pre_commit[0])
        .args(&pre_commit[1..])
        .arg("validate-manifest")
        .arg(dangling_references::repository_root().join(".pre-commit-hooks.yaml"))
        .assert()
        .success();
}
