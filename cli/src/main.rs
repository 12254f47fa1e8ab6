//! `dangling-references`: the dangling-references policy outside the
//! cluster.
//!
//! * `scan` checks a whole manifest set (files, folders, stdin) before it
//!   is applied, with host calls answered from the set itself and an
//!   optional snapshot of a real cluster;
//! * `run` evaluates one AdmissionRequest, like `kwctl run`;
//! * `completions SHELL` prints a shell completion script (clap_complete),
//!   and the hidden `man` prints the roff man page (clap_mangen).
//!
//! Installed (or linked) as `kubectl-dangling_references` on PATH, it is
//! the kubectl plugin `kubectl dangling-references`: it behaves the same,
//! and its help and usage name it so.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use clap_complete::Shell;
use dangling_references::{run, scan};

/// The binary's name, for completions and man pages.
const NAME: &str = "dangling-references";

/// How the binary is invoked as a kubectl plugin (`kubectl-<name with _
/// for ->` on PATH), and the name kubectl users type.
const PLUGIN_PREFIX: &str = "kubectl-";
const PLUGIN_NAME: &str = "kubectl dangling-references";

/// Check Kubernetes manifests with the dangling-references policy before
/// they reach a cluster.
#[derive(Parser, Debug)]
#[command(name = NAME, version, propagate_version = true)]
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
    /// Print the completion script of a shell on stdout.
    ///
    /// bash: `source <(dangling-references completions bash)` in ~/.bashrc;
    /// zsh: save it as `_dangling-references` in a folder of $fpath; fish:
    /// save it as ~/.config/fish/completions/dangling-references.fish;
    /// PowerShell: add `dangling-references completions powershell |
    /// Out-String | Invoke-Expression` to $PROFILE.
    #[command(alias = "completion")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff) on stdout, or write every page to a folder.
    #[command(hide = true)]
    Man(ManArgs),
}

#[derive(Args, Debug)]
struct ManArgs {
    /// The page of this subcommand (dangling-references-SUBCOMMAND(1))
    /// instead of the main page.
    #[arg(value_name = "SUBCOMMAND", conflicts_with = "out_dir")]
    subcommand: Option<String>,
    /// Write every page (dangling-references.1 and one per subcommand)
    /// into this folder instead.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

/// The allocator of the static (musl) builds: musl's own serializes the
/// many small allocations of parallel evaluation, and scans at about half
/// the speed of the glibc build (docs/development.md, "Distribution").
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let mut command = Cli::command();
    if invoked_as_kubectl_plugin() {
        command = command.bin_name(PLUGIN_NAME);
    }
    let cli = Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Scan(args) => scan::main(&args),
        Command::Run(args) => run::main(&args),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), NAME, &mut script);
            print(&script)
        }
        Command::Man(args) => man(&args),
    }
}

/// Whether the binary was started under a `kubectl-…` name, as kubectl
/// starts its plugins.
fn invoked_as_kubectl_plugin() -> bool {
    std::env::args_os()
        .next()
        .as_deref()
        .and_then(|arg0| Path::new(arg0).file_name())
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with(PLUGIN_PREFIX))
}

fn man(args: &ManArgs) -> ExitCode {
    let mut command = Cli::command().disable_help_subcommand(true);
    if let Some(dir) = &args.out_dir {
        return match clap_mangen::generate_to(command, dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!(
                    "error: cannot write the man pages to {}: {e}",
                    dir.display()
                );
                ExitCode::from(2)
            }
        };
    }
    if let Some(name) = &args.subcommand {
        command.build();
        let visible: Vec<&str> = command
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| c.get_name())
            .collect();
        let Some(sub) = command
            .find_subcommand(name)
            .filter(|c| !c.is_hide_set())
            .cloned()
        else {
            eprintln!(
                "error: no subcommand {name}: the pages are of {}",
                visible.join(", ")
            );
            return ExitCode::from(2);
        };
        command = sub;
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .expect("rendering into memory cannot fail");
    print(&page)
}

/// Writes `bytes` to stdout; a closed pipe (`| head`) is not an error.
fn print(bytes: &[u8]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes).and_then(|()| stdout.flush());
    ExitCode::SUCCESS
}
