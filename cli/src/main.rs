//! `dangling-references`: the dangling-references policy outside the
//! cluster.
//!
//! * `scan` checks a whole manifest set (files, folders, stdin) before it
//!   is applied, with host calls answered from the set itself and an
//!   optional snapshot of a real cluster;
//! * `run` evaluates one AdmissionRequest, like `kwctl run`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dangling_references::{run, scan};

/// Check Kubernetes manifests with the dangling-references policy before
/// they reach a cluster.
#[derive(Parser, Debug)]
#[command(name = "dangling-references", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a whole manifest set (helm template, kustomize build, a
    /// folder) as if it were applied together; exit 0 when nothing is
    /// rejected, 1 when something is, 2 on errors.
    Scan(scan::ScanArgs),
    /// Evaluate one AdmissionReview (or AdmissionRequest), like `kwctl run`;
    /// exit 0 on a verdict, 1 on invalid settings, 2 on an evaluation error.
    Run(run::RunArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Scan(args) => scan::main(&args),
        Command::Run(args) => run::main(&args),
    }
}
