#!/bin/sh
# Installs the dangling-references CLI from a GitHub release: picks the
# archive of this OS and CPU, checks it against the release's SHA256SUMS,
# and puts `dangling-references` and its kubectl plugin name
# `kubectl-dangling_references` into one folder.
#
#   curl -fsSL https://raw.githubusercontent.com/dangling-references/dangling-references-policy/main/install.sh | sh
#   curl -fsSL https://raw.githubusercontent.com/dangling-references/dangling-references-policy/main/install.sh | sh -s -- --version 0.2.0 --to /usr/local/bin
#
# Options, each also an environment variable:
#   --version VERSION    DANGLING_REFERENCES_VERSION      a release (0.2.0 or v0.2.0), or latest (the default)
#   --to DIR             DANGLING_REFERENCES_INSTALL_DIR  where to install (default: ~/.local/bin)
#   --target TRIPLE      DANGLING_REFERENCES_TARGET       the archive to take, instead of this machine's
#   --no-kubectl-plugin                                   only `dangling-references`
# DANGLING_REFERENCES_RELEASES_URL is where the releases are (default: the
# project's GitHub releases), laid out as GitHub lays them out:
# <url>/download/v<version>/<file> and <url>/latest/download/<file>. A
# mirror, or a file:// folder, can stand in for it.
#
# The SHA256SUMS file comes from the same place as the archive, so the check
# catches a damaged or truncated download; that the release is the project's
# own is what its signature and attestations prove (docs/install.md).
#
# POSIX sh, for `curl … | sh`; the GitHub Action (action.yml) installs with
# it too, on Linux, macOS and Windows (Git Bash).
set -eu

NAME=dangling-references
PLUGIN=kubectl-dangling_references
REPOSITORY=dangling-references/dangling-references-policy

die() {
    echo "install.sh: $*" >&2
    exit 1
}

say() {
    echo "install.sh: $*" >&2
}

usage() {
    cat <<EOF
Installs dangling-references (and kubectl-dangling_references) from a release.

  install.sh [--version VERSION] [--to DIR] [--target TRIPLE] [--no-kubectl-plugin]

  --version VERSION    a release (0.2.0 or v0.2.0), or latest (the default)
  --to DIR             where to install (default: ~/.local/bin)
  --target TRIPLE      the archive to take, instead of this machine's
  --no-kubectl-plugin  only dangling-references, not kubectl-dangling_references
EOF
}

# Everything runs from main, called on the last line, so that a download of
# this script cut short (`curl … | sh`) runs nothing at all.
main() {
    version=${DANGLING_REFERENCES_VERSION:-latest}
    install_dir=${DANGLING_REFERENCES_INSTALL_DIR:-}
    target=${DANGLING_REFERENCES_TARGET:-}
    releases_url=${DANGLING_REFERENCES_RELEASES_URL:-https://github.com/$REPOSITORY/releases}
    kubectl_plugin=yes

    while [ "$#" -gt 0 ]; do
        case $1 in
        --version) [ "$#" -ge 2 ] || die "--version needs a value"; version=$2; shift 2 ;;
        --version=*) version=${1#*=}; shift ;;
        --to) [ "$#" -ge 2 ] || die "--to needs a value"; install_dir=$2; shift 2 ;;
        --to=*) install_dir=${1#*=}; shift ;;
        --target) [ "$#" -ge 2 ] || die "--target needs a value"; target=$2; shift 2 ;;
        --target=*) target=${1#*=}; shift ;;
        --no-kubectl-plugin) kubectl_plugin=no; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
        esac
    done

    # The archive target of this machine: static musl builds on Linux, so one
    # archive serves every distribution; x86_64 on Windows, which Windows on
    # Arm runs emulated.
    detect_target() {
        os=$(uname -s)
        arch=$(uname -m)
        case $arch in
        x86_64 | amd64) arch=x86_64 ;;
        aarch64 | arm64) arch=aarch64 ;;
        *) die "no prebuilt binary for the CPU $arch: build it from source (cargo install --locked --git https://github.com/$REPOSITORY dangling-references)" ;;
        esac
        case $os in
        Linux) echo "$arch-unknown-linux-musl" ;;
        Darwin) echo "$arch-apple-darwin" ;;
        MINGW* | MSYS* | CYGWIN* | Windows_NT) echo "x86_64-pc-windows-msvc" ;;
        *) die "no prebuilt binary for $os: build it from source (cargo install --locked --git https://github.com/$REPOSITORY dangling-references)" ;;
        esac
    }

    detected=no
    if [ -z "$target" ]; then
        target=$(detect_target)
        detected=yes
    fi
    case $target in
    *-windows-*) ext=.exe archive_ext=.zip ;;
    *) ext='' archive_ext=.tar.gz ;;
    esac
    archive="$NAME-$target$archive_ext"

    case $version in
    latest) base="$releases_url/latest/download" ;;
    v[0-9]*) base="$releases_url/download/$version" ;;
    [0-9]*) base="$releases_url/download/v$version" ;;
    *) die "--version must be latest or a release such as 0.2.0, not $version" ;;
    esac

    if [ -z "$install_dir" ]; then
        [ -n "${HOME:-}" ] || die "HOME is not set: say where to install with --to DIR"
        install_dir="$HOME/.local/bin"
    fi

    download() { # URL FILE
        case $1 in
        https://*)
            # never follow a redirect off HTTPS
            if command -v curl >/dev/null 2>&1; then
                curl --proto '=https' --tlsv1.2 -fsSL -o "$2" "$1"
            elif command -v wget >/dev/null 2>&1; then
                wget -q --https-only -O "$2" "$1"
            else
                die "curl or wget is needed to download $1"
            fi
            ;;
        *)
            command -v curl >/dev/null 2>&1 || die "curl is needed to download $1"
            curl -fsSL -o "$2" "$1"
            ;;
        esac
    }

    sha256() { # FILE
        if command -v sha256sum >/dev/null 2>&1; then
            sha256sum "$1" | cut -d ' ' -f 1
        elif command -v shasum >/dev/null 2>&1; then
            shasum -a 256 "$1" | cut -d ' ' -f 1
        elif command -v openssl >/dev/null 2>&1; then
            openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
        else
            die "sha256sum, shasum or openssl is needed to check the download"
        fi
    }

    tmp=$(mktemp -d 2>/dev/null || mktemp -d -t dangling-references)
    trap 'rm -rf "$tmp"' EXIT
    trap 'exit 130' INT TERM

    say "downloading $archive ($version) from $base"
    download "$base/SHA256SUMS" "$tmp/SHA256SUMS" ||
        die "no SHA256SUMS at $base: is $version a release of $REPOSITORY?"
    download "$base/$archive" "$tmp/$archive" ||
        die "no $archive at $base: the release has no build for $target"

    # sha256sum writes `<hash>  <file>`, or `<hash> *<file>` in binary mode;
    # a file listed twice is refused rather than trusted on its first line.
    listed=$(awk -v f="$archive" '{ sub(/\r$/, "") } $2 == f || $2 == "*" f { print tolower($1) }' "$tmp/SHA256SUMS")
    [ -n "$listed" ] || die "SHA256SUMS at $base does not list $archive"
    [ "$(printf '%s\n' "$listed" | wc -l)" -eq 1 ] || die "SHA256SUMS at $base lists $archive more than once: not installed"
    expected=$listed
    actual=$(sha256 "$tmp/$archive")
    if [ "$actual" != "$expected" ]; then
        die "$archive has SHA256 $actual, but SHA256SUMS says $expected: not installed"
    fi
    say "$archive: SHA256 $actual matches SHA256SUMS"

    mkdir "$tmp/unpacked"
    case $archive_ext in
    .tar.gz) tar -xzf "$tmp/$archive" -C "$tmp/unpacked" || die "could not unpack $archive: not installed" ;;
    .zip)
        if command -v unzip >/dev/null 2>&1; then
            unzip -q "$tmp/$archive" -d "$tmp/unpacked"
        elif command -v powershell.exe >/dev/null 2>&1; then
            powershell.exe -NoProfile -NonInteractive -Command \
                "Expand-Archive -LiteralPath '$(cygpath -w "$tmp/$archive")' -DestinationPath '$(cygpath -w "$tmp/unpacked")'"
        else
            die "unzip is needed to unpack $archive"
        fi
        ;;
    esac
    # The checksum covers the archive, not what its links point at: a release
    # archive holds regular files and folders only.
    if [ -n "$(find "$tmp/unpacked" -type l)" ]; then
        die "$archive holds symbolic links: not installed"
    fi
    unpacked="$tmp/unpacked/$NAME-$target"
    [ -f "$unpacked/$NAME$ext" ] || die "$archive holds no $NAME-$target/$NAME$ext"

    # Through a temporary name in the same folder, so that a binary being
    # replaced is never seen half written.
    place() { # SOURCE NAME
        cp "$1" "$install_dir/.$2.tmp.$$"
        chmod 0755 "$install_dir/.$2.tmp.$$"
        mv -f "$install_dir/.$2.tmp.$$" "$install_dir/$2"
    }

    mkdir -p "$install_dir"
    place "$unpacked/$NAME$ext" "$NAME$ext"
    say "installed $install_dir/$NAME$ext"
    if [ "$kubectl_plugin" = yes ]; then
        case $ext in
        .exe) place "$unpacked/$PLUGIN$ext" "$PLUGIN$ext" ;;
        *)
            [ ! -d "$install_dir/$PLUGIN" ] || die "$install_dir/$PLUGIN is a folder: not linked"
            ln -sf "$NAME" "$install_dir/$PLUGIN"
            ;;
        esac
        say "installed $install_dir/$PLUGIN$ext (kubectl dangling-references)"
    fi

    if [ "$detected" = yes ]; then
        "$install_dir/$NAME$ext" --version
    fi
    case ":${PATH:-}:" in
    *":$install_dir:"*) ;;
    *) say "$install_dir is not on PATH: add it, or run $install_dir/$NAME$ext" ;;
    esac
}

main "$@"
