//! The release channels, offline: the archives `release/package` packs, the
//! shell installer `install.sh` and the GitHub Action's scripts
//! (`action/install`, `action/scan`) on a fake release served from a local
//! folder (`file://`, laid out as GitHub's releases), and the krew manifest
//! `release/krew-manifest` generates from that release's SHA256SUMS.
//!
//! The fake release holds the binary under test as the archive of
//! x86_64-unknown-linux-musl, and for the other targets a stand-in script
//! that names its target (the completions and man pages of every archive
//! come from the binary under test, as a cross build takes them from a host
//! build), so the installer's choice of archive shows in what it installs.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use assert_cmd::Command;
use rstest::rstest;
use serde_json::Value;
use support::{BIN, find_program, path_with, skipped, temp_dir};

/// A folder removed when the test ends (or fails): the tests copy the
/// binary under test (tens of MB) around, and would otherwise leave
/// hundreds of MB in the target folder at every run.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Scratch {
        Scratch(temp_dir(label))
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The version the fake release is published as: the CLI's own, which the
/// action installs by default.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every target the release workflow builds.
const TARGETS: [&str; 5] = [
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
];

fn root() -> &'static Path {
    dangling_references::repository_root()
}

fn is_windows(target: &str) -> bool {
    target.contains("-windows-")
}

fn archive_name(target: &str) -> String {
    let ext = if is_windows(target) { "zip" } else { "tar.gz" };
    format!("dangling-references-{target}.{ext}")
}

fn exe(target: &str) -> &'static str {
    if is_windows(target) { ".exe" } else { "" }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `release/package BINARY TARGET OUT` with the binary under test printing
/// the completions and man pages; the archive's path.
fn package(binary: &Path, target: &str, out: &Path, epoch: Option<&str>) -> PathBuf {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("release/package"))
        .arg(binary)
        .arg(target)
        .arg(out)
        .arg(BIN);
    match epoch {
        Some(epoch) => cmd.env("SOURCE_DATE_EPOCH", epoch),
        None => cmd.env_remove("SOURCE_DATE_EPOCH"),
    };
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "release/package {target}: {output:?}"
    );
    let archive = PathBuf::from(stdout(&output).trim());
    assert_eq!(archive, out.join(archive_name(target)));
    archive
}

/// A script standing in for the binary of another target.
fn stand_in(dir: &Path, target: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(format!("stand-in-{target}"));
    std::fs::write(
        &path,
        format!("#!/bin/sh\necho \"dangling-references {VERSION} (stand-in for {target})\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn sha256(file: &Path) -> String {
    let output = std::process::Command::new("sha256sum")
        .arg(file)
        .output()
        .unwrap();
    assert!(output.status.success(), "sha256sum {}", file.display());
    stdout(&output)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// The fake release: `<dir>/download/v<VERSION>/` and `<dir>/latest/download/`
/// with an archive per target and SHA256SUMS, as release.yml publishes
/// them. Without zip, it lacks the Windows archive (`windows` is false).
struct Release {
    dir: PathBuf,
    windows: bool,
    /// A copy's folder, removed with it.
    _copy: Option<Scratch>,
}

impl Release {
    fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    fn assets(&self) -> PathBuf {
        self.dir.join(format!("download/v{VERSION}"))
    }

    /// A copy that a test may damage.
    fn copy(&self, label: &str) -> Release {
        let copy = Scratch::new(label);
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", self.dir.display()))
            .arg(&*copy)
            .status()
            .unwrap();
        assert!(status.success());
        Release {
            dir: copy.to_path_buf(),
            windows: self.windows,
            _copy: Some(copy),
        }
    }
}

fn can_zip() -> bool {
    find_program("zip").is_some() && find_program("unzip").is_some()
}

fn release() -> &'static Release {
    static RELEASE: OnceLock<Release> = OnceLock::new();
    RELEASE.get_or_init(|| {
        // one folder, replaced at every run of this test binary
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("release-channels-fake-release");
        let _ = std::fs::remove_dir_all(&dir);
        let assets = dir.join(format!("download/v{VERSION}"));
        let stand_ins = temp_dir("stand-ins");
        let windows = can_zip();
        let mut sums = String::new();
        for target in TARGETS {
            if is_windows(target) && !windows {
                continue;
            }
            let binary = if target == "x86_64-unknown-linux-musl" {
                PathBuf::from(BIN)
            } else {
                stand_in(&stand_ins, target)
            };
            let archive = package(&binary, target, &assets, None);
            sums.push_str(&format!("{}  {}\n", sha256(&archive), archive_name(target)));
        }
        std::fs::write(assets.join("SHA256SUMS"), sums).unwrap();
        let latest = dir.join("latest");
        std::fs::create_dir_all(&latest).unwrap();
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(&assets)
            .arg(latest.join("download"))
            .status()
            .unwrap();
        assert!(status.success());
        Release {
            dir,
            windows,
            _copy: None,
        }
    })
}

/// Entries of an archive: (name, kind) with kind `-` for a file, `d` for a
/// folder, anything else for what krew cannot unpack (links).
fn entries(archive: &Path) -> Vec<(String, char)> {
    if archive.extension().is_some_and(|e| e == "zip") {
        let output = std::process::Command::new("unzip")
            .arg("-Z1")
            .arg(archive)
            .output()
            .unwrap();
        assert!(output.status.success());
        return stdout(&output)
            .lines()
            .map(|name| {
                let kind = if name.ends_with('/') { 'd' } else { '-' };
                (name.trim_end_matches('/').to_owned(), kind)
            })
            .collect();
    }
    let output = std::process::Command::new("tar")
        .arg("-tvzf")
        .arg(archive)
        .output()
        .unwrap();
    assert!(output.status.success());
    stdout(&output)
        .lines()
        .map(|line| {
            let kind = line.chars().next().unwrap();
            let name = line.split_whitespace().last().unwrap();
            (name.trim_end_matches('/').to_owned(), kind)
        })
        .collect()
}

fn unpack(archive: &Path, into: &Path) {
    let status = if archive.extension().is_some_and(|e| e == "zip") {
        std::process::Command::new("unzip")
            .arg("-q")
            .arg(archive)
            .arg("-d")
            .arg(into)
            .status()
    } else {
        std::process::Command::new("tar")
            .arg("-xzf")
            .arg(archive)
            .arg("-C")
            .arg(into)
            .status()
    };
    assert!(status.unwrap().success(), "unpack {}", archive.display());
}

// --- release/package ---------------------------------------------------

#[rstest]
#[case::linux("x86_64-unknown-linux-musl")]
#[case::windows("x86_64-pc-windows-msvc")]
fn the_archive_holds_the_binary_its_plugin_name_license_completions_and_man_pages(
    #[case] target: &str,
) {
    if is_windows(target) && !can_zip() {
        return skipped("release archives (zip): zip or unzip not found");
    }
    let out = Scratch::new("package");
    let archive = package(Path::new(BIN), target, &out, None);
    let folder = format!("dangling-references-{target}");
    let x = exe(target);
    let mut expected: BTreeSet<String> = [
        String::new(),
        format!("/dangling-references{x}"),
        format!("/kubectl-dangling_references{x}"),
        "/LICENSE".to_owned(),
        "/README.md".to_owned(),
        "/completions".to_owned(),
        "/completions/dangling-references.bash".to_owned(),
        "/completions/_dangling-references".to_owned(),
        "/completions/dangling-references.fish".to_owned(),
        "/completions/_dangling-references.ps1".to_owned(),
        "/completions/dangling-references.elv".to_owned(),
        "/man".to_owned(),
        "/man/man1".to_owned(),
    ]
    .into_iter()
    .map(|entry| format!("{folder}{entry}"))
    .collect();
    for page in ["", "-scan", "-run", "-completions"] {
        expected.insert(format!("{folder}/man/man1/dangling-references{page}.1"));
    }
    let entries = entries(&archive);
    let names: BTreeSet<String> = entries.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(names, expected, "{}", archive.display());
    // krew unpacks regular files and folders only
    for (name, kind) in &entries {
        assert!(kind == &'-' || kind == &'d', "{name} is of kind {kind}");
    }

    let unpacked = Scratch::new("unpacked");
    unpack(&archive, &unpacked);
    let dir = unpacked.join(&folder);
    let binary = std::fs::read(BIN).unwrap();
    for name in ["dangling-references", "kubectl-dangling_references"] {
        let file = dir.join(format!("{name}{x}"));
        assert!(
            std::fs::read(&file).unwrap() == binary,
            "{}",
            file.display()
        );
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{} is not executable", file.display());
    }
    assert_eq!(
        std::fs::read(dir.join("LICENSE")).unwrap(),
        std::fs::read(root().join("LICENSE")).unwrap()
    );
    let zsh = std::fs::read_to_string(dir.join("completions/_dangling-references")).unwrap();
    assert!(zsh.starts_with("#compdef dangling-references"), "{zsh}");
    let bash = std::fs::read_to_string(dir.join("completions/dangling-references.bash")).unwrap();
    assert!(bash.contains("complete -F _dangling__references"), "{bash}");
    let page = std::fs::read_to_string(dir.join("man/man1/dangling-references-scan.1")).unwrap();
    assert!(page.contains(".TH dangling-references-scan 1"), "{page}");
}

#[test]
fn the_archive_is_reproducible_from_the_commit_time() {
    let tar = std::process::Command::new("tar")
        .arg("--version")
        .output()
        .unwrap();
    if !stdout(&tar).contains("GNU tar") {
        return skipped("reproducible archives: the tar here is not GNU tar");
    }
    let binary = stand_in(&temp_dir("stand-ins"), "x86_64-unknown-linux-musl");
    let first = package(
        &binary,
        "x86_64-unknown-linux-musl",
        &temp_dir("a"),
        Some("1700000000"),
    );
    // a later copy of the same file: only its time differs
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = temp_dir("stand-ins").join("stand-in-x86_64-unknown-linux-musl");
    std::fs::copy(&binary, &again).unwrap();
    let second = package(
        &again,
        "x86_64-unknown-linux-musl",
        &temp_dir("b"),
        Some("1700000000"),
    );
    assert!(std::fs::read(&first).unwrap() == std::fs::read(&second).unwrap());
}

#[test]
fn package_needs_a_binary() {
    let output = Command::new("bash")
        .arg(root().join("release/package"))
        .arg(temp_dir("none").join("dangling-references"))
        .arg("x86_64-unknown-linux-musl")
        .arg(temp_dir("out"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("no binary at"), "{output:?}");
}

// --- install.sh ---------------------------------------------------------

/// `sh install.sh ARGS` against `release`, with `uname` answering `os` and
/// `arch` when given (a fake on PATH).
fn install_sh(release: &Release, platform: Option<(&str, &str)>, args: &[&str]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg(root().join("install.sh"))
        .args(args)
        .env("DANGLING_REFERENCES_RELEASES_URL", release.url())
        .env_remove("DANGLING_REFERENCES_VERSION")
        .env_remove("DANGLING_REFERENCES_INSTALL_DIR")
        .env_remove("DANGLING_REFERENCES_TARGET");
    if let Some((os, arch)) = platform {
        let fake = temp_dir("fake-uname");
        let uname = fake.join("uname");
        std::fs::write(
            &uname,
            format!("#!/bin/sh\ncase $1 in -s) echo {os} ;; -m) echo {arch} ;; esac\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&uname, std::fs::Permissions::from_mode(0o755)).unwrap();
        cmd.env("PATH", path_with(&fake));
    }
    cmd.output().unwrap()
}

fn bin_version() -> String {
    let output = std::process::Command::new(BIN)
        .arg("--version")
        .output()
        .unwrap();
    stdout(&output)
}

#[rstest]
#[case::latest(&[])]
#[case::version(&["--version", VERSION])]
#[case::tag(&["--version", concat!("v", env!("CARGO_PKG_VERSION"))])]
fn install_sh_installs_the_binary_and_the_kubectl_plugin(#[case] version: &[&str]) {
    let dir = Scratch::new("install-to");
    let to = dir.join("bin");
    let mut args = vec!["--to", to.to_str().unwrap()];
    args.extend_from_slice(version);
    let output = install_sh(release(), None, &args);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), bin_version());
    assert!(
        stderr(&output).contains("dangling-references-x86_64-unknown-linux-musl.tar.gz: SHA256"),
        "{output:?}"
    );
    let installed = to.join("dangling-references");
    assert!(std::fs::read(&installed).unwrap() == std::fs::read(BIN).unwrap());
    let plugin = to.join("kubectl-dangling_references");
    assert_eq!(
        std::fs::read_link(&plugin).unwrap(),
        Path::new("dangling-references")
    );
    // the plugin name runs the same binary
    Command::new(&plugin).arg("--version").assert().success();
}

#[test]
fn install_sh_can_leave_the_plugin_out() {
    let to = Scratch::new("install-to");
    let output = install_sh(
        release(),
        None,
        &["--to", to.to_str().unwrap(), "--no-kubectl-plugin"],
    );
    assert!(output.status.success(), "{output:?}");
    assert!(to.join("dangling-references").is_file());
    assert!(!to.join("kubectl-dangling_references").exists());
}

#[rstest]
#[case::macos_arm("Darwin", "arm64", "aarch64-apple-darwin")]
#[case::macos_intel("Darwin", "x86_64", "x86_64-apple-darwin")]
#[case::linux_arm("Linux", "aarch64", "aarch64-unknown-linux-musl")]
#[case::linux("Linux", "x86_64", "x86_64-unknown-linux-musl")]
#[case::windows_git_bash("MINGW64_NT-10.0-20348", "x86_64", "x86_64-pc-windows-msvc")]
fn install_sh_takes_the_archive_of_the_os_and_cpu(
    #[case] os: &str,
    #[case] arch: &str,
    #[case] target: &str,
) {
    let release = release();
    if is_windows(target) && !release.windows {
        return skipped("install.sh on Windows: zip or unzip not found");
    }
    let to = Scratch::new("install-to");
    let output = install_sh(release, Some((os, arch)), &["--to", to.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stderr(&output).contains(&format!("{}: SHA256", archive_name(target))),
        "{output:?}"
    );
    let x = exe(target);
    let installed = to.join(format!("dangling-references{x}"));
    let version = stdout(&output);
    if target == "x86_64-unknown-linux-musl" {
        assert_eq!(version, bin_version());
    } else {
        assert_eq!(
            version,
            format!("dangling-references {VERSION} (stand-in for {target})\n")
        );
    }
    assert!(installed.is_file());
    let plugin = to.join(format!("kubectl-dangling_references{x}"));
    // a copy on Windows, a link elsewhere
    assert_eq!(
        std::fs::symlink_metadata(&plugin).unwrap().is_file(),
        is_windows(target)
    );
}

#[rstest]
#[case::os("FreeBSD", "amd64", "no prebuilt binary for FreeBSD")]
#[case::cpu("Linux", "riscv64", "no prebuilt binary for the CPU riscv64")]
fn install_sh_refuses_a_platform_without_archive(
    #[case] os: &str,
    #[case] arch: &str,
    #[case] message: &str,
) {
    let to = Scratch::new("install-to");
    let output = install_sh(release(), Some((os, arch)), &["--to", to.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stderr(&output).contains(message), "{output:?}");
    assert!(
        stderr(&output).contains("cargo install --locked --git"),
        "{output:?}"
    );
}

#[test]
fn install_sh_refuses_an_archive_whose_sum_does_not_match() {
    let release = release().copy("damaged-release");
    let archive = release
        .assets()
        .join(archive_name("x86_64-unknown-linux-musl"));
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let to = Scratch::new("install-to");
    let output = install_sh(
        &release,
        None,
        &["--version", VERSION, "--to", to.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        stderr(&output).contains("but SHA256SUMS says"),
        "{output:?}"
    );
    assert!(!to.join("dangling-references").exists());
}

#[test]
fn install_sh_refuses_an_archive_the_sums_do_not_list() {
    let release = release().copy("unlisted-release");
    let sums = release.assets().join("SHA256SUMS");
    let text = std::fs::read_to_string(&sums).unwrap();
    let kept: String = text
        .lines()
        .filter(|line| !line.contains("x86_64-unknown-linux-musl"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&sums, kept).unwrap();
    let to = Scratch::new("install-to");
    let output = install_sh(
        &release,
        None,
        &["--version", VERSION, "--to", to.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        stderr(&output)
            .contains("does not list dangling-references-x86_64-unknown-linux-musl.tar.gz"),
        "{output:?}"
    );
    assert!(!to.join("dangling-references").exists());
}

/// The sums file of `release` with `edit` applied to the line of the
/// x86_64 Linux archive, and an install from it.
fn install_with_sums(label: &str, edit: impl Fn(&str) -> String) -> (Output, Scratch) {
    let release = release().copy(label);
    let sums = release.assets().join("SHA256SUMS");
    let text = std::fs::read_to_string(&sums).unwrap();
    let edited: String = text
        .lines()
        .map(|line| match line.contains("x86_64-unknown-linux-musl") {
            true => edit(line),
            false => format!("{line}\n"),
        })
        .collect();
    std::fs::write(&sums, edited).unwrap();
    let to = Scratch::new("install-to");
    let output = install_sh(
        &release,
        None,
        &["--version", VERSION, "--to", to.to_str().unwrap()],
    );
    (output, to)
}

#[test]
fn install_sh_refuses_an_archive_listed_twice() {
    // the right sum first: a first-line reader would install
    let (output, to) = install_with_sums("twice-release", |line| {
        format!("{line}\n{}{}\n", "0".repeat(64), &line[64..])
    });
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stderr(&output).contains("more than once"), "{output:?}");
    assert!(!to.join("dangling-references").exists());
}

#[test]
fn install_sh_reads_upper_case_sums_with_crlf() {
    let (output, to) = install_with_sums("crlf-release", |line| {
        format!("{}{}\r\n", line[..64].to_uppercase(), &line[64..])
    });
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(to.join("dangling-references").exists());
}

#[test]
fn install_sh_refuses_an_archive_with_a_symbolic_link() {
    // a correctly summed archive whose binary is a link out of it
    let release = release().copy("link-release");
    let target = "x86_64-unknown-linux-musl";
    let outside = Scratch::new("outside");
    std::fs::write(
        outside.join("dangling-references"),
        "#!/bin/sh\necho outside\n",
    )
    .unwrap();
    let work = Scratch::new("link-archive");
    let folder = work.join(format!("dangling-references-{target}"));
    std::fs::create_dir_all(&folder).unwrap();
    std::os::unix::fs::symlink(
        outside.join("dangling-references"),
        folder.join("dangling-references"),
    )
    .unwrap();
    let archive = release.assets().join(archive_name(target));
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(&*work)
        .arg(format!("dangling-references-{target}"))
        .status()
        .unwrap();
    assert!(status.success());
    let sums = release.assets().join("SHA256SUMS");
    let text = std::fs::read_to_string(&sums).unwrap();
    let summed: String = text
        .lines()
        .map(|line| match line.contains(target) {
            true => format!("{}  {}\n", sha256(&archive), archive_name(target)),
            false => format!("{line}\n"),
        })
        .collect();
    std::fs::write(&sums, summed).unwrap();
    let to = Scratch::new("install-to");
    let output = install_sh(
        &release,
        None,
        &["--version", VERSION, "--to", to.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        stderr(&output).contains("holds symbolic links"),
        "{output:?}"
    );
    assert!(!to.join("dangling-references").exists());
}

#[rstest]
#[case::no_release(&["--version", "9.9.9"], "no SHA256SUMS at")]
#[case::not_a_version(&["--version", "main"], "--version must be latest or a release")]
#[case::unknown_option(&["--prefix", "/usr"], "unknown option --prefix")]
fn install_sh_errors(#[case] args: &[&str], #[case] message: &str) {
    let to = Scratch::new("install-to");
    let mut all = vec!["--to", to.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = install_sh(release(), None, &all);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stderr(&output).contains(message), "{output:?}");
    assert!(!to.join("dangling-references").exists());
}

// --- the GitHub Action (action.yml's steps) ----------------------------

/// The runner's side of a composite step: the files it reads outputs and
/// PATH additions from.
struct Runner {
    _dir: Scratch,
    temp: PathBuf,
    output: PathBuf,
    path: PathBuf,
    summary: PathBuf,
}

impl Runner {
    fn new() -> Runner {
        let dir = Scratch::new("runner");
        let temp = dir.join("temp");
        std::fs::create_dir_all(&temp).unwrap();
        Runner {
            temp,
            output: dir.join("output"),
            path: dir.join("path"),
            summary: dir.join("summary"),
            _dir: dir,
        }
    }

    /// `bash action/SCRIPT` as a composite step runs it, in the
    /// repository (the workspace of a workflow that checked it out).
    fn step(&self, script: &str, inputs: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new("bash");
        cmd.arg(root().join("action").join(script))
            .current_dir(root())
            .env("GITHUB_ACTION_PATH", root())
            .env("RUNNER_TEMP", &self.temp)
            .env("RUNNER_OS", "Linux")
            .env("GITHUB_OUTPUT", &self.output)
            .env("GITHUB_PATH", &self.path)
            .env("GITHUB_STEP_SUMMARY", &self.summary)
            .env_remove("DANGLING_REFERENCES_POLICY");
        for (name, value) in inputs {
            cmd.env(name, value);
        }
        cmd.output().unwrap()
    }

    /// The outputs a step wrote (`name=value` lines).
    fn outputs(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(&self.output)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn get(&self, name: &str) -> Option<String> {
        self.outputs()
            .into_iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

#[rstest]
#[case::own_version("", VERSION)]
#[case::latest("latest", "latest")]
#[case::named(VERSION, VERSION)]
fn the_action_installs_a_release_with_its_checksum(#[case] version: &str, #[case] folder: &str) {
    let runner = Runner::new();
    let url = release().url();
    let output = runner.step(
        "install",
        &[("INPUT_VERSION", version), ("INPUT_RELEASES_URL", &url)],
    );
    assert!(output.status.success(), "{output:?}");
    assert!(
        stderr(&output).contains("SHA256 ") && stderr(&output).contains("matches SHA256SUMS"),
        "{output:?}"
    );
    if version.is_empty() {
        assert!(
            stdout(&output).contains("the version of this action"),
            "{output:?}"
        );
    }
    let bin_dir = runner
        .temp
        .join(format!("dangling-references-{folder}/bin"));
    let binary = bin_dir.join("dangling-references");
    assert_eq!(runner.get("binary"), Some(binary.display().to_string()));
    assert_eq!(runner.get("version").as_deref(), Some(VERSION));
    assert_eq!(
        std::fs::read_to_string(&runner.path).unwrap(),
        format!("{}\n", bin_dir.display())
    );
    assert!(std::fs::read(&binary).unwrap() == std::fs::read(BIN).unwrap());
    // the action asks for no kubectl plugin
    assert!(!bin_dir.join("kubectl-dangling_references").exists());
}

#[test]
fn the_action_says_what_to_do_when_its_version_has_no_release() {
    let runner = Runner::new();
    let url = release().url();
    let output = runner.step(
        "install",
        &[("INPUT_VERSION", "9.9.9"), ("INPUT_RELEASES_URL", &url)],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        stdout(&output).contains(
            "::error title=dangling-references::could not install dangling-references 9.9.9"
        ) && stdout(&output).contains("binary-path"),
        "{output:?}"
    );
    assert_eq!(runner.get("binary"), None);
}

#[test]
fn the_action_runs_a_binary_it_is_given() {
    let runner = Runner::new();
    let output = runner.step(
        "install",
        &[("INPUT_BINARY_PATH", BIN), ("INPUT_VERSION", "9.9.9")],
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(runner.get("binary").as_deref(), Some(BIN));
    assert_eq!(runner.get("version").as_deref(), Some(VERSION));
    assert!(!runner.path.exists(), "nothing added to PATH");

    let missing = runner.step("install", &[("INPUT_BINARY_PATH", "target/no-such-binary")]);
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    assert!(stdout(&missing).contains("binary-path: no executable at target/no-such-binary"));
}

#[rstest]
#[case::accepted("test_data/scan/shop", "shop", "", "", 0, Some(false))]
#[case::rejected(
    "test_data/scan/webhook-service-missing",
    "default",
    "",
    "",
    1,
    Some(true)
)]
#[case::warn_only(
    "test_data/scan/webhook-service-missing",
    "default",
    "",
    "--warn-only",
    0,
    Some(true)
)]
// one warning (the Service's selector selects no Pod of these two files)
#[case::lines(
    "test_data/scan/shop/configmap.yaml\ntest_data/scan/shop/service.yaml\n",
    "shop",
    "",
    "",
    0,
    Some(true)
)]
#[case::settings(
    "test_data/scan/boutique",
    "boutique",
    r#"{"checkWorkloadReferences": true}"#,
    "",
    1,
    Some(true)
)]
#[case::error("test_data/scan/no-such-folder", "default", "", "", 2, None)]
fn the_action_scans_and_exits_as_scan(
    #[case] paths: &str,
    #[case] namespace: &str,
    #[case] settings: &str,
    #[case] args: &str,
    #[case] code: i32,
    #[case] sarif_results: Option<bool>,
) {
    let runner = Runner::new();
    let sarif = temp_dir("sarif").join("reports/scan.sarif");
    let output = runner.step(
        "scan",
        &[
            ("DANGLING_REFERENCES", BIN),
            ("INPUT_PATHS", paths),
            ("INPUT_NAMESPACE", namespace),
            ("INPUT_SETTINGS", settings),
            ("INPUT_ARGS", args),
            ("INPUT_SARIF", sarif.to_str().unwrap()),
        ],
    );
    assert_eq!(output.status.code(), Some(code), "{output:?}");
    assert_eq!(runner.get("exit-code"), Some(code.to_string()));

    // the same report in the log as scan prints it
    let mut direct = Command::new(BIN);
    direct
        .current_dir(root())
        .args(["scan", "--no-progress", "--namespace", namespace]);
    if !settings.is_empty() {
        direct.args(["--settings", settings]);
    }
    direct.args(args.split_whitespace()).arg("--");
    direct.args(paths.split_whitespace());
    let direct = direct.output().unwrap();
    assert_eq!(direct.status.code(), Some(code));
    assert!(stdout(&output).contains(&stdout(&direct)), "{output:?}");
    let summary = std::fs::read_to_string(&runner.summary).unwrap();
    assert!(
        summary.starts_with("### dangling-references scan: "),
        "{summary}"
    );
    assert!(summary.contains(&stdout(&direct)), "{summary}");

    match sarif_results {
        Some(any) => {
            assert_eq!(runner.get("sarif"), Some(sarif.display().to_string()));
            let report: Value =
                serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
            assert_eq!(report["version"], "2.1.0");
            let found = report["runs"][0]["results"].as_array().unwrap();
            assert_eq!(!found.is_empty(), any, "{report:#}");
        }
        None => {
            assert!(stdout(&output).contains("::error title=dangling-references::"));
            // scan wrote no SARIF: neither a file nor an output names one
            assert_eq!(runner.get("sarif"), None);
            assert!(!sarif.exists(), "{} was left", sarif.display());
        }
    }
}

#[test]
fn the_action_needs_paths() {
    let runner = Runner::new();
    let output = runner.step(
        "scan",
        &[("DANGLING_REFERENCES", BIN), ("INPUT_PATHS", " \n ")],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(stdout(&output).contains("the paths input names no file or folder"));
}

/// Two files of test_data/scan/shop (one warning: the Service selects no
/// Pod of the set) in a folder whose name, and one file's, holds a space.
fn spaced_set() -> (Scratch, PathBuf) {
    let scratch = Scratch::new("spaced-paths");
    let folder = scratch.join("my manifests");
    std::fs::create_dir_all(&folder).unwrap();
    let shop = root().join("test_data/scan/shop");
    std::fs::copy(shop.join("configmap.yaml"), folder.join("configmap.yaml")).unwrap();
    std::fs::copy(shop.join("service.yaml"), folder.join("shop service.yaml")).unwrap();
    (scratch, folder)
}

#[rstest]
#[case::one_line(false)]
#[case::lines(true)]
fn the_action_takes_paths_with_spaces(#[case] on_lines: bool) {
    let (_scratch, folder) = spaced_set();
    let service = folder.join("shop service.yaml");
    // a single line is one path; on lines, blanks around each and empty
    // lines are dropped, and so are the carriage returns of CRLF
    let paths = if on_lines {
        format!(
            "  {} \r\n\n{}\n",
            service.display(),
            folder.join("configmap.yaml").display()
        )
    } else {
        folder.display().to_string()
    };
    let runner = Runner::new();
    let sarif = temp_dir("sarif").join("spaced.sarif");
    let output = runner.step(
        "scan",
        &[
            ("DANGLING_REFERENCES", BIN),
            ("INPUT_PATHS", &paths),
            ("INPUT_NAMESPACE", "shop"),
            ("INPUT_SARIF", sarif.to_str().unwrap()),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let log = stdout(&output);
    assert!(log.contains(&format!("{}\n", service.display())), "{log}");
    assert!(log.contains("checked in 2 files"), "{log}");
    assert_eq!(runner.get("sarif"), Some(sarif.display().to_string()));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(report["runs"][0]["results"].as_array().unwrap().len(), 1);
}

#[test]
fn the_action_says_to_put_several_paths_on_lines() {
    let runner = Runner::new();
    let output = runner.step(
        "scan",
        &[
            ("DANGLING_REFERENCES", BIN),
            (
                "INPUT_PATHS",
                "test_data/scan/shop/configmap.yaml test_data/scan/shop/service.yaml",
            ),
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        stdout(&output).contains(
            "paths: no file or folder named 'test_data/scan/shop/configmap.yaml test_data/scan/shop/service.yaml'; give several paths one per line"
        ),
        "{output:?}"
    );
}

#[rstest]
#[case::long("--output json", "--output")]
#[case::long_equals("--warn-only --output=sarif", "--output=sarif")]
#[case::short("-o sarif", "-o")]
#[case::short_glued("-osarif", "-osarif")]
#[case::short_cluster("-vo sarif", "-vo")]
#[case::format("--format\ntext", "--format")]
fn the_action_refuses_output_flags_in_args(#[case] args: &str, #[case] refused: &str) {
    let runner = Runner::new();
    let output = runner.step(
        "scan",
        &[
            ("DANGLING_REFERENCES", BIN),
            ("INPUT_PATHS", "test_data/scan/shop"),
            ("INPUT_NAMESPACE", "shop"),
            ("INPUT_ARGS", args),
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        stdout(&output).contains(&format!(
            "::error title=dangling-references::args: {refused} is not allowed"
        )),
        "{output:?}"
    );
    // refused before anything ran
    assert_eq!(runner.get("exit-code"), None);
}

#[test]
fn the_action_passes_other_short_flags() {
    let scan = |args: &str| {
        let runner = Runner::new();
        let output = runner.step(
            "scan",
            &[
                ("DANGLING_REFERENCES", BIN),
                ("INPUT_PATHS", "test_data/scan/shop"),
                ("INPUT_NAMESPACE", "shop"),
                ("INPUT_ARGS", args),
            ],
        );
        assert!(!stdout(&output).contains("is not allowed"), "{output:?}");
        output
    };
    // -vj2 is -v -j 2; -v lists accepted objects too
    let output = scan("-vj2");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout(&output).contains(": accepted"), "{output:?}");
    // -n takes the rest of the cluster as its value: the o of -nshop is
    // not -o (scan itself refuses a second namespace)
    let output = scan("-nshop");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        stderr(&output).contains("cannot be used multiple times"),
        "{output:?}"
    );
}

#[rstest]
#[case::missing_path("test_data/scan/no-such-folder", "")]
#[case::bad_settings("test_data/scan/shop", "{bad")]
fn the_action_leaves_no_sarif_when_scan_stops_before_writing_it(
    #[case] paths: &str,
    #[case] settings: &str,
) {
    let runner = Runner::new();
    let sarif = temp_dir("sarif").join("stopped.sarif");
    // a report of an earlier run, which must not be uploaded as this one's
    std::fs::write(&sarif, "{}").unwrap();
    let output = runner.step(
        "scan",
        &[
            ("DANGLING_REFERENCES", BIN),
            ("INPUT_PATHS", paths),
            ("INPUT_SETTINGS", settings),
            ("INPUT_SARIF", sarif.to_str().unwrap()),
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert_eq!(runner.get("exit-code").as_deref(), Some("2"));
    assert_eq!(runner.get("sarif"), None);
    assert!(!sarif.exists(), "{} was left", sarif.display());
    assert!(
        stdout(&output).contains("No SARIF report: scan stopped before writing one"),
        "{output:?}"
    );
}

#[test]
fn the_action_keeps_the_sarif_of_a_scan_with_errors() {
    // a file that does not parse beside one that does: exit 2, and a
    // report of what could be judged
    let set = Scratch::new("set-with-error");
    std::fs::write(
        set.join("broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n",
    )
    .unwrap();
    std::fs::copy(
        root().join("test_data/scan/shop/service.yaml"),
        set.join("service.yaml"),
    )
    .unwrap();
    let runner = Runner::new();
    let sarif = temp_dir("sarif").join("errors.sarif");
    let output = runner.step(
        "scan",
        &[
            ("DANGLING_REFERENCES", BIN),
            ("INPUT_PATHS", set.to_str().unwrap()),
            ("INPUT_NAMESPACE", "shop"),
            ("INPUT_SARIF", sarif.to_str().unwrap()),
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert_eq!(runner.get("sarif"), Some(sarif.display().to_string()));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(report["version"], "2.1.0");
}

// --- the krew manifest --------------------------------------------------

fn krew_manifest(sums: &Path, version: &str, url: &str) -> Output {
    Command::new("bash")
        .arg(root().join("release/krew-manifest"))
        .arg(version)
        .arg(sums)
        .env("RELEASES_URL", url)
        .output()
        .unwrap()
}

#[test]
fn the_krew_manifest_sends_every_platform_to_its_archive() {
    let release = release();
    if !release.windows {
        return skipped("krew manifest: zip or unzip not found (no Windows archive)");
    }
    let sums = release.assets().join("SHA256SUMS");
    let output = krew_manifest(&sums, &format!("v{VERSION}"), &release.url());
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(
        text.starts_with("apiVersion: "),
        "the template's comment is left out:\n{text}"
    );
    let manifest: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(
        manifest["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(manifest["kind"], "Plugin");
    assert_eq!(manifest["metadata"]["name"], "dangling-references");
    assert_eq!(manifest["spec"]["version"], format!("v{VERSION}"));
    assert!(manifest["spec"]["shortDescription"].as_str().unwrap().len() <= 50);

    let platforms = manifest["spec"]["platforms"].as_array().unwrap();
    let mut seen = BTreeSet::new();
    for platform in platforms {
        let labels = &platform["selector"]["matchLabels"];
        let (os, arch) = (
            labels["os"].as_str().unwrap(),
            labels["arch"].as_str().unwrap(),
        );
        assert!(
            seen.insert((os.to_owned(), arch.to_owned())),
            "{os}/{arch} twice"
        );
        let target = match (os, arch) {
            ("linux", "amd64") => "x86_64-unknown-linux-musl",
            ("linux", "arm64") => "aarch64-unknown-linux-musl",
            ("darwin", "amd64") => "x86_64-apple-darwin",
            ("darwin", "arm64") => "aarch64-apple-darwin",
            ("windows", "amd64") => "x86_64-pc-windows-msvc",
            other => panic!("no archive for {other:?}"),
        };
        let archive = release.assets().join(archive_name(target));
        assert_eq!(
            platform["uri"],
            format!(
                "{}/download/v{VERSION}/{}",
                release.url(),
                archive_name(target)
            )
        );
        assert_eq!(platform["sha256"], sha256(&archive), "{target}");
        // every file krew is told to take is in the archive, and the
        // plugin binary is among them
        let inside: BTreeSet<String> = entries(&archive).into_iter().map(|(n, _)| n).collect();
        let plugin = format!("kubectl-dangling_references{}", exe(target));
        assert_eq!(platform["bin"], plugin.as_str());
        let files: Vec<&str> = platform["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["from"].as_str().unwrap())
            .collect();
        for from in &files {
            assert!(
                inside.contains(*from),
                "{from} is not in {}",
                archive.display()
            );
        }
        assert!(
            files.contains(&format!("dangling-references-{target}/{plugin}").as_str()),
            "{files:?}"
        );
    }
    assert_eq!(seen.len(), TARGETS.len());
}

#[test]
fn the_krew_manifest_needs_every_archive() {
    let sums = temp_dir("sums").join("SHA256SUMS");
    let listed: String = TARGETS
        .iter()
        .filter(|t| **t != "aarch64-apple-darwin")
        .map(|t| format!("{}  {}\n", "0".repeat(64), archive_name(t)))
        .collect();
    std::fs::write(&sums, listed).unwrap();
    let output = krew_manifest(&sums, VERSION, "https://example.invalid/releases");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        stderr(&output).contains("lists no archive of aarch64-apple-darwin"),
        "{output:?}"
    );
    assert!(stdout(&output).is_empty());

    let bad = krew_manifest(&sums, "latest", "https://example.invalid/releases");
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    assert!(stderr(&bad).contains("latest is not a version"), "{bad:?}");
}

// --- cargo-binstall -----------------------------------------------------

/// The `key = "value"` pairs of the `[package.metadata.binstall]` sections
/// of cli/Cargo.toml, by section (`""` for the section itself, else the
/// target of an override).
fn binstall_metadata() -> Vec<(String, String, String)> {
    let manifest = std::fs::read_to_string(root().join("cli/Cargo.toml")).unwrap();
    let mut section = None;
    let mut pairs = Vec::new();
    for line in manifest.lines() {
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_end_matches(']');
            section = if header == "package.metadata.binstall" {
                Some(String::new())
            } else {
                header
                    .strip_prefix("package.metadata.binstall.overrides.")
                    .map(str::to_owned)
            };
        } else if let (Some(section), Some((key, value))) = (&section, line.split_once(" = ")) {
            pairs.push((
                section.clone(),
                key.to_owned(),
                value.trim_matches('"').to_owned(),
            ));
        }
    }
    pairs
}

#[test]
fn binstall_finds_every_archive_and_the_binary_inside() {
    let release = release();
    let metadata = binstall_metadata();
    let get = |target: &str, key: &str| {
        let find = |section: &str| {
            metadata
                .iter()
                .find(|(s, k, _)| s == section && k == key)
                .map(|(_, _, v)| v.clone())
        };
        find(target).or_else(|| find("")).unwrap()
    };
    for target in TARGETS {
        if is_windows(target) && !release.windows {
            skipped("binstall (Windows archive): zip or unzip not found");
            continue;
        }
        // binstall's template variables, with the fake release as the
        // repository's releases
        let expand = |template: String| {
            template
                .replace("{ repo }/releases", &release.url())
                .replace("{ version }", VERSION)
                .replace("{ name }", "dangling-references")
                .replace("{ target }", target)
                .replace("{ bin }", "dangling-references")
                .replace("{ binary-ext }", exe(target))
        };
        let url = expand(get(target, "pkg-url"));
        assert_eq!(
            url,
            format!(
                "{}/download/v{VERSION}/{}",
                release.url(),
                archive_name(target)
            )
        );
        let format = get(target, "pkg-fmt");
        assert_eq!(format, if is_windows(target) { "zip" } else { "tgz" });
        let archive = release.assets().join(archive_name(target));
        let inside: BTreeSet<String> = entries(&archive).into_iter().map(|(n, _)| n).collect();
        let bin = expand(get(target, "bin-dir"));
        assert!(
            inside.contains(&bin),
            "{bin} is not in {}",
            archive.display()
        );
    }
}
