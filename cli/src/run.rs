//! `dangling-references run` (formerly the `kwrun` binary of `e2e/`):
//! evaluate a policy module on one request, like `kwctl run`.
//!
//! Validates the settings first (invalid settings: message on stderr, exit
//! 1), then evaluates the request and prints the policy's
//! ValidationResponse as pretty JSON on stdout (or, with
//! `--admission-response`, the AdmissionResponse kwctl prints), one line per
//! host call on stderr. Exit 0 on a verdict (accepted or rejected), 2 on an
//! evaluation error (guest error or trap, timeout, unexpected host call or
//! replay mismatch, unreadable input), where kwctl would instead print a
//! code-500 rejection and exit 0.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use serde_json::Value;

use crate::{
    AdmissionResponse, Evaluation, EvaluationError, EvaluationErrorKind, HostCapabilities, NoHost,
    Policy, ReplaySession, admission_request, normalize_settings,
};

/// The flags of `run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Another build of the policy (.wasm, or .wat); without it, the
    /// policy built into this program, of the same commit.
    #[arg(long, env = "DANGLING_REFERENCES_POLICY")]
    policy: Option<PathBuf>,
    /// The request: an AdmissionReview or a bare AdmissionRequest, JSON
    /// (`-` reads stdin).
    #[arg(long, visible_alias = "request-path")]
    request: String,
    /// Policy settings: a path to a JSON/YAML file, or inline JSON/YAML
    /// (kwctl's two flags are accepted as names for it).
    #[arg(long, visible_aliases = ["settings-json", "settings-path"])]
    settings: Option<String>,
    /// A kwctl host-capabilities session to replay; without it any host
    /// call is an error.
    #[arg(long, visible_alias = "replay-host-capabilities-interactions")]
    replay: Option<PathBuf>,
    /// With --replay: fail (exit 2) when exchanges are left unreplayed
    /// (kwctl only warns).
    #[arg(long)]
    strict_replay: bool,
    /// Evaluation timeout in seconds (policy-server's default is 2); 0
    /// disables it like kwctl.
    #[arg(long, default_value_t = 2.0)]
    timeout_seconds: f64,
    /// Print the AdmissionResponse kwctl prints instead of the
    /// ValidationResponse.
    #[arg(long)]
    admission_response: bool,
}

enum Failure {
    InvalidSettings(String),
    Evaluation(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Evaluation(e)
    }
}

/// Runs `run` with `args`: prints the verdict and returns the exit code.
pub fn main(args: &RunArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::InvalidSettings(msg)) => {
            eprintln!("Error: Provided settings are not valid: {msg}");
            ExitCode::from(1)
        }
        Err(Failure::Evaluation(e)) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn read_request(arg: &str) -> Result<Value> {
    let text = if arg == "-" {
        std::io::read_to_string(std::io::stdin()).context("Error reading request from stdin")?
    } else {
        std::fs::read_to_string(arg).with_context(|| format!("Error opening request file {arg}"))?
    };
    serde_json::from_str(&text).with_context(|| format!("request {arg} is not valid JSON"))
}

/// Reads `--settings`: a path to a JSON/YAML file, or inline JSON/YAML
/// (`None`: no settings, `null`); the value must be an object or `null`.
pub fn read_settings(arg: Option<&str>) -> Result<Value> {
    let Some(arg) = arg else {
        return Ok(Value::Null);
    };
    let path = Path::new(arg);
    let (text, what) = if path.is_file() {
        (
            std::fs::read_to_string(path)
                .with_context(|| format!("Cannot open settings file {arg}"))?,
            format!("settings file {arg}"),
        )
    } else {
        (arg.to_owned(), "inline settings".to_owned())
    };
    // YAML is a superset of JSON
    let options = crate::scan::yaml::compat_options(serde_saphyr::DuplicateKeyPolicy::LastWins);
    let value: Value = serde_saphyr::from_str_with_options(&text, options)
        .with_context(|| format!("Cannot parse {what}"))?;
    normalize_settings(&value)?;
    Ok(value)
}

fn run(args: &RunArgs) -> Result<(), Failure> {
    let request = read_request(&args.request)?;
    let settings = read_settings(args.settings.as_deref())?;
    // refuse a request kwctl would refuse before loading anything
    let uid = admission_request(&request)?["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let timeout =
        (args.timeout_seconds > 0.0).then(|| Duration::from_secs_f64(args.timeout_seconds));
    let policy = match &args.policy {
        // the same checks and one-line errors as `scan` (not a module, not
        // a Kubewarden policy), naming the file
        Some(path) => crate::scan::load_policy(path, timeout)?,
        None => Policy::builtin(),
    };

    match policy.validate_settings(&settings) {
        Ok(v) if v.valid => {}
        Ok(v) => return Err(Failure::InvalidSettings(v.message.unwrap_or_default())),
        Err(e) => {
            return Err(Failure::Evaluation(anyhow!(
                "Error invoking settings validation callback: {e:#}"
            )));
        }
    }

    let mut session = match &args.replay {
        Some(path) => Some(ReplaySession::from_file(path)?),
        None => None,
    };
    let mut no_host = NoHost::new();
    let host: &mut dyn HostCapabilities = match session.as_mut() {
        Some(s) => s,
        None => &mut no_host,
    };
    let result = policy.validate(&request, &settings, host);

    let evaluation: Evaluation = match result {
        Ok(e) => e,
        Err(e) => {
            let harness_violation = e
                .downcast_ref::<EvaluationError>()
                .is_some_and(|e| e.kind == EvaluationErrorKind::HostViolation);
            if !harness_violation {
                let rejection = AdmissionResponse::for_error(&uid, &e);
                eprintln!(
                    "kwctl/policy-server would answer: {}",
                    serde_json::to_string(&rejection).unwrap_or_default()
                );
            }
            return Err(Failure::Evaluation(e));
        }
    };
    for call in &evaluation.host_calls {
        match &call.error {
            None => eprintln!("host call: {} {}", call.path(), call.payload),
            Some(err) => eprintln!(
                "host call: {} {} -> error: {err}",
                call.path(),
                call.payload
            ),
        }
    }
    for log in &evaluation.logs {
        eprintln!("policy log: {log}");
    }
    let out = if args.admission_response {
        serde_json::to_string(&evaluation.admission_response)
    } else {
        serde_json::to_string_pretty(&evaluation.response)
    }
    .map_err(anyhow::Error::from)?;
    println!("{out}");

    if let Some(s) = &session
        && s.remaining() > 0
    {
        let msg = format!(
            "{} of the recorded exchanges have not been replayed",
            s.remaining()
        );
        if args.strict_replay {
            return Err(Failure::Evaluation(anyhow!(msg)));
        }
        eprintln!("warning: {msg}");
    }
    Ok(())
}
