#!/usr/bin/env bash
# The README's test command: installs what the tests need when it is missing, then runs every
# test (unit, integration, end-to-end with lego and certbot, pkilint) plus fmt and clippy.
#
#   scripts/test.sh
#
# Environment:
#   FERRITE_TEST_VENV       Python venv with certbot and pkilint (default: ~/.cache/ferrite/venv)
#   CARGO_TARGET_DIR   honoured as usual (CI keeps it outside the clone)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------------------------
# lego (client), pebble (ships pebble-challtestsrv, the mock DNS), openssl and curl (checks and
# hooks), python3-venv (for certbot and pkilint).
need_pkgs=()
command -v lego >/dev/null || need_pkgs+=(lego)
command -v pebble-challtestsrv >/dev/null || need_pkgs+=(pebble)
command -v openssl >/dev/null || need_pkgs+=(openssl)
command -v curl >/dev/null || need_pkgs+=(curl)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_pkgs+=(python3-venv)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_pkgs[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# --- Python venv: certbot and pkilint ---------------------------------------------------------
export FERRITE_TEST_VENV="${FERRITE_TEST_VENV:-$HOME/.cache/ferrite/venv}"
if [ ! -x "$FERRITE_TEST_VENV/bin/certbot" ] || [ ! -x "$FERRITE_TEST_VENV/bin/lint_cabf_serverauth_cert" ]; then
  log "creating $FERRITE_TEST_VENV with certbot and pkilint"
  python3 -m venv "$FERRITE_TEST_VENV"
  "$FERRITE_TEST_VENV/bin/pip" install -q --upgrade pip
  "$FERRITE_TEST_VENV/bin/pip" install -q certbot pkilint
fi

# --- Rust tools -------------------------------------------------------------------------------
if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

# --- Checks -----------------------------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "tests (all, including the ones that drive lego, certbot and pkilint)"
cargo nextest run --workspace --locked --run-ignored all --no-fail-fast
