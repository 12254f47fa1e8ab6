//! `dangling-references completions SHELL` and the hidden `man`: what the
//! release archives carry beside the binary. Every shell's script names the
//! subcommands; every man page renders with `man -l`.

mod support;

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use rstest::rstest;
use support::{BIN, find_program, skipped, temp_dir};

fn cli() -> Command {
    Command::new(BIN)
}

#[rstest]
#[case::bash("bash", "complete -F _dangling__references")]
#[case::zsh("zsh", "#compdef dangling-references")]
#[case::fish("fish", "complete -c dangling-references")]
#[case::powershell("powershell", "Register-ArgumentCompleter")]
#[case::elvish("elvish", "edit:completion:arg-completer")]
fn completions_name_the_subcommands(#[case] shell: &str, #[case] marker: &str) {
    let assert = cli().args(["completions", shell]).assert().success();
    let script = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert!(
        script.contains(marker),
        "{shell}: no {marker:?} in\n{script}"
    );
    // subcommands, and long options (fish writes them `-l policy`)
    for word in [
        "scan",
        "run",
        "completions",
        "policy",
        "namespace",
        "snapshot",
    ] {
        assert!(script.contains(word), "{shell}: {word} is not completed");
    }
    // `completion`, kubectl's and cobra's name, is the same command
    cli()
        .args(["completion", shell])
        .assert()
        .success()
        .stdout(script);
}

#[test]
fn the_bash_script_is_valid_bash() {
    let Some(bash) = find_program("bash") else {
        return skipped("completions: bash not found");
    };
    let script = temp_dir("completions").join("dangling-references.bash");
    let out = cli().args(["completions", "bash"]).output().unwrap();
    std::fs::write(&script, out.stdout).unwrap();
    Command::new(bash).arg("-n").arg(&script).assert().success();
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    cli()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(contains("invalid value 'tcsh'").and(contains("bash")));
}

/// `man -l FILE` with cat as pager, wide enough not to hyphenate names.
fn render(man: &Path, page: &Path) -> String {
    let out = Command::new(man)
        .args(["-P", "cat", "-l"])
        .arg(page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "200")
        .env("LC_ALL", "C.UTF-8")
        .assert()
        .success();
    String::from_utf8_lossy(&out.get_output().stdout).into_owned()
}

#[rstest]
#[case::main(&[], &["dangling-references", "SYNOPSIS", "dangling-references-scan(1)", "dangling-references-run(1)", "--version"])]
#[case::scan(&["scan"], &["dangling-references-scan", "dangling-references scan", "--policy", "--namespace", "--output"])]
#[case::run(&["run"], &["dangling-references-run", "--request", "--replay"])]
fn the_man_page_renders(#[case] args: &[&str], #[case] expected: &[&str]) {
    let Some(man) = find_program("man") else {
        return skipped("man pages: man not found");
    };
    let out = cli().arg("man").args(args).assert().success();
    let roff = out.get_output().stdout.clone();
    assert!(roff.starts_with(b".ie"), "not roff");
    let page = temp_dir("man").join("page.1");
    std::fs::write(&page, roff).unwrap();
    let text = render(&man, &page);
    for word in expected {
        assert!(text.contains(word), "no {word:?} in\n{text}");
    }
    if args.is_empty() {
        assert!(text.contains("scan"), "{text}");
        // the hidden `man` has no entry
        assert!(!text.contains("dangling-references-man"), "{text}");
    }
}

#[test]
fn every_page_is_written_to_a_folder() {
    let dir = temp_dir("man-pages");
    cli()
        .args(["man", "--out-dir"])
        .arg(&dir)
        .assert()
        .success()
        .stdout("");
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "dangling-references-completions.1",
            "dangling-references-run.1",
            "dangling-references-scan.1",
            "dangling-references.1",
        ]
    );
    let Some(man) = find_program("man") else {
        return skipped("man pages: man not found");
    };
    for page in pages {
        let text = render(&man, &dir.join(&page));
        assert!(
            text.contains(page.trim_end_matches(".1")),
            "{page}:\n{text}"
        );
    }
}

#[test]
fn a_page_of_no_subcommand_is_an_error() {
    cli()
        .args(["man", "nothing"])
        .assert()
        .code(2)
        .stdout("")
        .stderr("error: no subcommand nothing: the pages are of scan, run, completions\n");
}

#[test]
fn man_is_hidden_from_the_help() {
    cli()
        .arg("--help")
        .assert()
        .success()
        .stdout(contains("completions").and(contains("  man").not()));
}
