//! Where the tests find the compiled policy.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// The repository root (the policy crate).
pub fn repository_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ lives inside the repository")
}

/// The policy `.wasm` under test: `$POLICY_WASM` when set (the Makefile
/// passes the freshly built `policy.wasm`), otherwise the optimized release
/// build, which is built first (`cargo build --target wasm32-wasip1
/// --release`) so that `cargo test -p e2e` alone never tests a stale module.
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
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--locked",
            "--target",
            "wasm32-wasip1",
            "--release",
            "-p",
        ])
        .arg("dangling-references-policy")
        .status()
        .context("cannot run cargo to build the policy")?;
    if !status.success() {
        bail!("building the policy for wasm32-wasip1 failed ({status})");
    }
    Ok(root.join("target/wasm32-wasip1/release/dangling_references_policy.wasm"))
}
