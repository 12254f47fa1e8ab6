//! `installs`: the complete public installs of `../shared/installs/` (see
//! its SOURCES.md), scanned the way a user scans them: the
//! `dangling-references` binary, as a process, over each install's folder
//! as one set, with the install's namespace, under every settings profile
//! of `EXPECTED.json`.
//!
//! Every install there is known to work, so a rejection is a false
//! rejection, except where `EXPECTED.json` records a real upstream bug
//! (`expect: reject`, with the texts its message must mention). Each run
//! must give the expected verdict, and the warnings of all runs must be
//! exactly those of the warnings file (`e2e/installs-warnings.yml`), each
//! with the reason it names a real fault. Runs in [`KNOWN_FAILURES`] are
//! expected to fail for the reason given, and fail the suite when they
//! start to pass, so that the list only shrinks.
//!
//! Prints one table: install × profile → verdict, warnings and time, then
//! the total time. Exit 0 when everything is as expected (or when the
//! installs folder is absent: SKIPPED), 1 otherwise, 2 on usage errors.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde::Deserialize;
use serde_json::Value;

/// The installs suite.
#[derive(Parser, Debug)]
#[command(name = "installs")]
struct Args {
    /// The folder of installs: one folder per install, with EXPECTED.json.
    #[arg(long, env = "INSTALLS_DIR", default_value = "../shared/installs")]
    installs: PathBuf,
    /// The policy module.
    #[arg(long, default_value = "policy.wasm")]
    policy: PathBuf,
    /// The `dangling-references` binary (default: the one beside this
    /// binary, target/e2e/dangling-references).
    #[arg(long)]
    cli: Option<PathBuf>,
    /// The reviewed warnings.
    #[arg(long, default_value = "e2e/installs-warnings.yml")]
    warnings: PathBuf,
    /// Only these installs (default: every one of EXPECTED.json).
    #[arg(long = "only", value_name = "INSTALL")]
    only: Vec<String>,
}

/// A run that fails today for a reason an open issue fixes.
struct KnownFailure {
    install: &'static str,
    profile: &'static str,
    /// Every rejection of the run mentions one of these.
    mentions: &'static [&'static str],
    /// Why, and the issue that fixes it.
    why: &'static str,
}

/// The runs that fail today for a reason an open issue fixes. A listed
/// run that passes, or that is rejected for anything its `mentions` do
/// not explain, fails the suite: the list only shrinks. Empty since issue
/// 20: Secrets written at run time are warnings (`missingSecrets`), and a
/// URL a template fills in is not judged.
const KNOWN_FAILURES: &[KnownFailure] = &[];

/// `EXPECTED.json`: per install, its namespace and its profiles.
#[derive(Deserialize)]
struct Install {
    namespace: String,
    profiles: BTreeMap<String, Profile>,
}

/// One settings profile and the verdict a correct scan gives under it.
#[derive(Deserialize)]
struct Profile {
    expect: Expect,
    #[serde(default)]
    must_mention: Vec<String>,
    settings: Value,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Expect {
    Accept,
    Reject,
}

/// One reviewed warning of the warnings file.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ReviewedWarning {
    install: String,
    profile: String,
    object: String,
    message: String,
    /// Why the warning names a real fault.
    reason: String,
}

/// A warning as `scan` gives it: (install, profile, object, message).
type Warning = (String, String, String, String);

/// What one scan gave.
struct Run {
    install: String,
    profile: String,
    exit: i32,
    rejected: Vec<(String, String)>,
    warnings: Vec<Warning>,
    errors: Vec<String>,
    time: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match suite(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("installs: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the suite; `Ok(false)` when something differs from what is
/// expected.
fn suite(args: &Args) -> Result<bool> {
    let expected_file = args.installs.join("EXPECTED.json");
    if !expected_file.is_file() {
        e2e::skipped(&format!(
            "installs suite: {} not found (the complete public installs are provided in ../shared/installs; INSTALLS_DIR sets another folder)",
            expected_file.display()
        ));
        return Ok(true);
    }
    let cli = match &args.cli {
        Some(cli) => cli.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("the binary has no folder")?
            .join("dangling-references"),
    };
    if !cli.is_file() {
        bail!(
            "{} not found: build it with `make cli` (or pass --cli)",
            cli.display()
        );
    }
    let expected: BTreeMap<String, Install> = serde_json::from_str(
        &std::fs::read_to_string(&expected_file)
            .with_context(|| format!("cannot read {}", expected_file.display()))?,
    )
    .with_context(|| format!("{} is not valid", expected_file.display()))?;
    let reviewed = read_warnings(&args.warnings)?;

    let mut failures: Vec<String> = Vec::new();
    for unknown in args.only.iter().filter(|i| !expected.contains_key(*i)) {
        failures.push(format!(
            "--only {unknown}: no such install in EXPECTED.json"
        ));
    }
    for folder in std::fs::read_dir(&args.installs)? {
        let folder = folder?;
        let name = folder.file_name().to_string_lossy().into_owned();
        if folder.file_type()?.is_dir() && !expected.contains_key(&name) {
            failures.push(format!("{name}: a folder with no entry in EXPECTED.json"));
        }
    }

    let started = Instant::now();
    let mut runs = Vec::new();
    let mut statuses = Vec::new();
    for (name, install) in &expected {
        if !args.only.is_empty() && !args.only.contains(name) {
            continue;
        }
        let folder = args.installs.join(name);
        if !folder.is_dir() {
            failures.push(format!(
                "{name}: in EXPECTED.json, but {} is not a folder",
                folder.display()
            ));
            continue;
        }
        for (profile_name, profile) in &install.profiles {
            let run = scan(
                &cli,
                &args.policy,
                &folder,
                name,
                profile_name,
                install,
                profile,
            )?;
            let status = judge(&run, profile, known_failure(&run), &mut failures);
            println!("{}", row(&run, status));
            runs.push(run);
            statuses.push(status);
        }
    }
    let total = started.elapsed();

    let produced: Vec<&Warning> = runs.iter().flat_map(|r| &r.warnings).collect();
    let selected = |w: &ReviewedWarning| args.only.is_empty() || args.only.contains(&w.install);
    compare_warnings(
        &produced,
        reviewed.iter().filter(|w| selected(w)),
        &args.warnings,
        &mut failures,
    );
    for known in KNOWN_FAILURES {
        // an installs folder without that install (INSTALLS_DIR, --only)
        // cannot tell
        let selected = (args.only.is_empty() || args.only.iter().any(|o| o == known.install))
            && expected.contains_key(known.install);
        let ran = runs
            .iter()
            .any(|r| r.install == known.install && r.profile == known.profile);
        if selected && !ran {
            failures.push(format!(
                "known failure {} × {}: no such run; remove it from KNOWN_FAILURES",
                known.install, known.profile
            ));
        }
    }

    let count = |status: &str| statuses.iter().filter(|s| **s == status).count();
    println!(
        "== {} runs of {} installs in {:.1} s: {} as expected, {} known failures, {} warnings ({} reviewed), {} failures",
        runs.len(),
        runs.iter()
            .map(|r| &r.install)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        total.as_secs_f64(),
        count("ok"),
        count("known failure"),
        produced.len(),
        reviewed.iter().filter(|w| selected(w)).count(),
        failures.len()
    );
    for failure in &failures {
        println!("FAIL {failure}");
    }
    Ok(failures.is_empty())
}

/// Scans one install under one profile with the binary.
fn scan(
    cli: &Path,
    policy: &Path,
    folder: &Path,
    name: &str,
    profile_name: &str,
    install: &Install,
    profile: &Profile,
) -> Result<Run> {
    let started = Instant::now();
    let out = Command::new(cli)
        .arg("scan")
        .arg("--policy")
        .arg(policy)
        .args([
            "--no-progress",
            "--output",
            "json",
            "--namespace",
            &install.namespace,
        ])
        .arg("--settings")
        .arg(profile.settings.to_string())
        .arg(folder)
        .output()
        .with_context(|| format!("cannot run {}", cli.display()))?;
    let time = started.elapsed();
    let exit = out.status.code().unwrap_or(-1);
    let mut run = Run {
        install: name.to_owned(),
        profile: profile_name.to_owned(),
        exit,
        rejected: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
        time,
    };
    let report: Value = match serde_json::from_slice(&out.stdout) {
        Ok(report) => report,
        Err(_) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            run.errors.push(format!(
                "scan exited {exit} without a JSON report: {}",
                stderr.lines().next().unwrap_or_default()
            ));
            return Ok(run);
        }
    };
    for object in report["objects"].as_array().into_iter().flatten() {
        let id = object_id(object);
        for problem in object["problems"].as_array().into_iter().flatten() {
            run.rejected.push((id.clone(), text(&problem["message"])));
        }
        for warning in object["warnings"].as_array().into_iter().flatten() {
            run.warnings.push((
                name.to_owned(),
                profile_name.to_owned(),
                id.clone(),
                text(&warning["message"]),
            ));
        }
        if let Some(error) = object["error"].as_str() {
            run.errors.push(format!("{id}: {error}"));
        }
    }
    for error in report["errors"].as_array().into_iter().flatten() {
        run.errors.push(format!(
            "{}: {}",
            text(&error["file"]),
            text(&error["message"])
        ));
    }
    Ok(run)
}

/// `Kind namespace/name` (or `Kind name`), as the text report names it.
fn object_id(object: &Value) -> String {
    let kind = text(&object["kind"]);
    let name = text(&object["name"]);
    match object["namespace"].as_str() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// The known failure a run is, if any.
fn known_failure(run: &Run) -> Option<&'static KnownFailure> {
    KNOWN_FAILURES
        .iter()
        .find(|k| k.install == run.install && k.profile == run.profile)
}

/// Compares a run with its expectation; pushes what differs onto
/// `failures` and returns the table's status word.
fn judge(
    run: &Run,
    profile: &Profile,
    known: Option<&KnownFailure>,
    failures: &mut Vec<String>,
) -> &'static str {
    let id = format!("{} × {}", run.install, run.profile);
    let before = failures.len();
    for error in &run.errors {
        failures.push(format!("{id}: error: {error}"));
    }
    let rejected = !run.rejected.is_empty();
    match (profile.expect, known) {
        (Expect::Accept, None) => {
            for (object, message) in &run.rejected {
                failures.push(format!("{id}: false rejection of {object}: {message}"));
            }
        }
        (Expect::Accept, Some(known)) => {
            if !rejected {
                failures.push(format!(
                    "{id}: a known failure ({}) now passes: remove it from KNOWN_FAILURES",
                    known.why
                ));
            }
            let explained = |m: &str| known.mentions.iter().any(|k| m.contains(k));
            for (object, message) in run.rejected.iter().filter(|(_, m)| !explained(m)) {
                failures.push(format!(
                    "{id}: a rejection of {object} that the known failure (mentioning {:?}) does not explain: {message}",
                    known.mentions
                ));
            }
        }
        (Expect::Reject, _) => {
            if !rejected {
                failures.push(format!("{id}: accepted, but EXPECTED.json says reject"));
            }
            for mention in &profile.must_mention {
                if !run
                    .rejected
                    .iter()
                    .any(|(_, m)| m.contains(mention.as_str()))
                {
                    failures.push(format!("{id}: no rejection mentions {mention:?}"));
                }
            }
        }
    }
    let want_exit = if rejected { 1 } else { 0 };
    if run.errors.is_empty() && run.exit != want_exit {
        failures.push(format!(
            "{id}: scan exited {}, expected {want_exit}",
            run.exit
        ));
    }
    if failures.len() > before {
        "FAIL"
    } else if known.is_some() {
        "known failure"
    } else {
        "ok"
    }
}

/// One line of the table.
fn row(run: &Run, status: &str) -> String {
    let verdict = if !run.errors.is_empty() {
        "error".to_owned()
    } else if run.rejected.is_empty() {
        "accepted".to_owned()
    } else {
        format!("rejected ({})", run.rejected.len())
    };
    let mut line = String::new();
    let _ = write!(
        line,
        "{:<26} {:<20} {:<14} {:>3} warnings {:>6.2} s  {status}",
        run.install,
        run.profile,
        verdict,
        run.warnings.len(),
        run.time.as_secs_f64()
    );
    if let Some(known) = known_failure(run) {
        let _ = write!(line, " ({})", known.why);
    }
    line
}

/// Reads the warnings file: a YAML list of [`ReviewedWarning`]s, each with
/// a reason.
fn read_warnings(path: &Path) -> Result<Vec<ReviewedWarning>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the warnings file {}", path.display()))?;
    let warnings: Option<Vec<ReviewedWarning>> = serde_saphyr::from_str_with_options(
        &text,
        dangling_references::scan::yaml::compat_options(serde_saphyr::DuplicateKeyPolicy::Error),
    )
    .with_context(|| format!("{} is not a list of reviewed warnings", path.display()))?;
    let warnings = warnings.unwrap_or_default();
    if let Some(w) = warnings.iter().find(|w| w.reason.trim().is_empty()) {
        bail!(
            "{}: the warning of {} × {} on {} has no reason",
            path.display(),
            w.install,
            w.profile,
            w.object
        );
    }
    Ok(warnings)
}

/// Pushes onto `failures` every warning `scan` gave that the file does not
/// list, and every listed warning `scan` no longer gives.
fn compare_warnings<'a>(
    produced: &[&Warning],
    reviewed: impl Iterator<Item = &'a ReviewedWarning>,
    file: &Path,
    failures: &mut Vec<String>,
) {
    let mut unmatched: BTreeMap<Warning, isize> = BTreeMap::new();
    for w in produced {
        *unmatched.entry((*w).clone()).or_default() += 1;
    }
    for w in reviewed {
        let key = (
            w.install.clone(),
            w.profile.clone(),
            w.object.clone(),
            w.message.clone(),
        );
        *unmatched.entry(key).or_default() -= 1;
    }
    for ((install, profile, object, message), count) in unmatched {
        if count > 0 {
            failures.push(format!(
                "{install} × {profile}: a warning {} does not list (review it, then add it with its reason, or fix the rule): {object}: {message}",
                file.display()
            ));
        } else if count < 0 {
            failures.push(format!(
                "{install} × {profile}: {} lists a warning scan no longer gives (remove it): {object}: {message}",
                file.display()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: KnownFailure = KnownFailure {
        install: "set",
        profile: "p",
        mentions: &["Secret \"made-at-run-time\""],
        why: "issue 0: a Secret written at run time",
    };

    fn run(rejected: &[&str], errors: &[&str], exit: i32) -> Run {
        Run {
            install: "set".into(),
            profile: "p".into(),
            exit,
            rejected: rejected
                .iter()
                .map(|m| ("Deployment ns/app".to_owned(), (*m).to_owned()))
                .collect(),
            warnings: Vec::new(),
            errors: errors.iter().map(|e| (*e).to_owned()).collect(),
            time: Duration::ZERO,
        }
    }

    fn profile(expect: Expect, must_mention: &[&str]) -> Profile {
        Profile {
            expect,
            must_mention: must_mention.iter().map(|m| (*m).to_owned()).collect(),
            settings: Value::Null,
        }
    }

    /// (rejections, errors, exit, expectation, known failure) → status
    /// and the failures' first words.
    type Case<'a> = (
        &'a [&'a str],
        &'a [&'a str],
        i32,
        Profile,
        Option<&'a KnownFailure>,
        &'a str,
        &'a [&'a str],
    );

    #[test]
    fn judging_a_run() {
        let secret = "Secret \"made-at-run-time\" does not exist";
        let cases: &[Case] = &[
            (&[], &[], 0, profile(Expect::Accept, &[]), None, "ok", &[]),
            (
                &["no db"],
                &[],
                1,
                profile(Expect::Accept, &[]),
                None,
                "FAIL",
                &["set × p: false rejection of Deployment ns/app: no db"],
            ),
            (
                &[],
                &["bad yaml"],
                2,
                profile(Expect::Accept, &[]),
                None,
                "FAIL",
                &["set × p: error: bad yaml"],
            ),
            (
                &[],
                &[],
                1,
                profile(Expect::Accept, &[]),
                None,
                "FAIL",
                &["set × p: scan exited 1, expected 0"],
            ),
            (
                &["jaeger:16686 missing"],
                &[],
                1,
                profile(Expect::Reject, &["jaeger:16686"]),
                None,
                "ok",
                &[],
            ),
            (
                &["other"],
                &[],
                1,
                profile(Expect::Reject, &["jaeger:16686"]),
                None,
                "FAIL",
                &["set × p: no rejection mentions \"jaeger:16686\""],
            ),
            (
                &[],
                &[],
                0,
                profile(Expect::Reject, &[]),
                None,
                "FAIL",
                &["set × p: accepted, but EXPECTED.json says reject"],
            ),
            (
                &[secret],
                &[],
                1,
                profile(Expect::Accept, &[]),
                Some(&KNOWN),
                "known failure",
                &[],
            ),
            (
                &[],
                &[],
                0,
                profile(Expect::Accept, &[]),
                Some(&KNOWN),
                "FAIL",
                &["set × p: a known failure (issue 0: a Secret written at run time) now passes"],
            ),
            (
                &[secret, "no db"],
                &[],
                1,
                profile(Expect::Accept, &[]),
                Some(&KNOWN),
                "FAIL",
                &["set × p: a rejection of Deployment ns/app that the known failure"],
            ),
        ];
        for (i, (rejected, errors, exit, profile, known, status, expected)) in
            cases.iter().enumerate()
        {
            let mut failures = Vec::new();
            let got = judge(
                &run(rejected, errors, *exit),
                profile,
                *known,
                &mut failures,
            );
            assert_eq!(got, *status, "case {i}: {failures:?}");
            assert_eq!(failures.len(), expected.len(), "case {i}: {failures:?}");
            for (failure, start) in failures.iter().zip(expected.iter()) {
                assert!(failure.starts_with(start), "case {i}: {failure}");
            }
        }
    }

    #[test]
    fn comparing_warnings() {
        let warning = |object: &str, message: &str| -> Warning {
            ("set".into(), "p".into(), object.into(), message.into())
        };
        let reviewed = |object: &str, message: &str| ReviewedWarning {
            install: "set".into(),
            profile: "p".into(),
            object: object.into(),
            message: message.into(),
            reason: "a real fault".into(),
        };
        let a = warning("Pod ns/a", "m");
        let b = warning("Pod ns/b", "m");
        // (given, listed) → failures
        let cases: Vec<(Vec<&Warning>, Vec<ReviewedWarning>, Vec<&str>)> = vec![
            (vec![], vec![], vec![]),
            (vec![&a], vec![reviewed("Pod ns/a", "m")], vec![]),
            (
                vec![&a, &a],
                vec![reviewed("Pod ns/a", "m")],
                vec!["set × p: a warning f does not list"],
            ),
            (vec![&a], vec![], vec!["set × p: a warning f does not list"]),
            (
                vec![],
                vec![reviewed("Pod ns/a", "m")],
                vec!["set × p: f lists a warning scan no longer gives"],
            ),
            (
                vec![&b],
                vec![reviewed("Pod ns/a", "m")],
                vec![
                    "set × p: f lists a warning scan no longer gives",
                    "set × p: a warning f does not list",
                ],
            ),
        ];
        for (i, (given, listed, expected)) in cases.into_iter().enumerate() {
            let mut failures = Vec::new();
            compare_warnings(&given, listed.iter(), Path::new("f"), &mut failures);
            assert_eq!(failures.len(), expected.len(), "case {i}: {failures:?}");
            for (failure, start) in failures.iter().zip(expected) {
                assert!(failure.starts_with(start), "case {i}: {failure}");
            }
        }
    }
}
