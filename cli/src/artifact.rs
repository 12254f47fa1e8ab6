//! Where the tests (of this crate and of `e2e/`) find the compiled policy.

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
