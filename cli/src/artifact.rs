//! Where the tests (of this crate and of `e2e/`) find the compiled policy,
//! and how they report what they skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// The repository root (the policy crate).
pub fn repository_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ lives inside the repository")
}

/// The policy `.wasm` under test: `$POLICY_WASM` when set (the Makefile
/// passes the freshly built `policy.wasm`), otherwise the repository's
/// `policy.wasm`, brought up to date first with `make policy.wasm` (the
/// release build optimized by `wasm-opt -Oz`, the module that ships), so
/// that `cargo test -p e2e` (or `-p dangling-references`) alone never tests a stale or unoptimized module.
pub fn policy_wasm() -> Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| locate_or_build().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn locate_or_build() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("POLICY_WASM") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("POLICY_WASM={} is not a file", path.display());
        }
        return Ok(path);
    }
    let root = repository_root();
    let make = std::env::var("MAKE").unwrap_or_else(|_| "make".to_string());
    let status = Command::new(make)
        .current_dir(root)
        .args(["--no-print-directory", "policy.wasm"])
        .status()
        .context("cannot run make to build policy.wasm")?;
    if !status.success() {
        bail!("make policy.wasm failed ({status})");
    }
    Ok(root.join("policy.wasm"))
}

/// Reports a suite or test that cannot run here (for the test suites of
/// this crate and of e2e/): prints `SKIPPED
/// <reason>` and, when `SKIP_LOG` names a file (`make test` sets it),
/// appends the reason to it, so that `make test` ends with the list of
/// what it skipped. Errors writing the log are ignored: a skip is never a
/// failure.
pub fn skipped(reason: &str) {
    println!("SKIPPED {reason}");
    if let Some(log) = std::env::var_os("SKIP_LOG") {
        use std::io::Write as _;
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| writeln!(f, "{reason}"));
    }
}
