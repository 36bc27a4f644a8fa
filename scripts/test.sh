#!/usr/bin/env bash
# The README's test command: installs what the tests need when it is missing, then runs every
# test (unit, integration, end-to-end with lego, certbot, Caddy and Apache mod_md, pkilint, CA
# keys in a SoftHSM token)
# plus fmt and clippy.
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
# lego (client), pebble (ships pebble-challtestsrv, the mock DNS), caddy and apache2 (web servers
# with ACME built in; apache2 brings mod_md), openssl and curl (checks and hooks), python3-venv
# (for certbot and pkilint), softhsm2 (a PKCS#11 token in software, for the tests that keep the
# CA keys in a token) and opensc (its pkcs11-tool reads what a token holds).
need_pkgs=()
command -v lego >/dev/null || need_pkgs+=(lego)
command -v pebble-challtestsrv >/dev/null || need_pkgs+=(pebble)
command -v caddy >/dev/null || need_pkgs+=(caddy)
[ -x /usr/sbin/apache2 ] && [ -e /usr/lib/apache2/modules/mod_md.so ] || need_pkgs+=(apache2)
command -v openssl >/dev/null || need_pkgs+=(openssl)
command -v curl >/dev/null || need_pkgs+=(curl)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_pkgs+=(python3-venv)
{ command -v softhsm2-util >/dev/null && [ -e /usr/lib/softhsm/libsofthsm2.so ]; } || need_pkgs+=(softhsm2)
command -v pkcs11-tool >/dev/null || need_pkgs+=(opensc)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_pkgs[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  # caddy and apache2 start a service of their own on port 80 when installed under an init
  # system; the tests run their own instances, so keep the packaged ones from starting: a
  # policy-rc.d that denies every start during the install (unless the machine has one), and
  # under systemd, the units of the packages installed here disabled and stopped afterwards.
  policy=/usr/sbin/policy-rc.d
  own_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    own_policy=1
  fi
  $SUDO apt-get update -qq
  status=0
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null || status=$?
  [ -z "$own_policy" ] || $SUDO rm -f "$policy"
  [ "$status" = 0 ] || exit "$status"
  if [ -d /run/systemd/system ]; then
    for pkg in "${need_pkgs[@]}"; do
      case "$pkg" in
        caddy) units=(caddy) ;;
        apache2) units=(apache2 apache-htcacheclean) ;;
        *) units=() ;;
      esac
      for unit in "${units[@]}"; do
        $SUDO systemctl disable --now "$unit" >/dev/null 2>&1 || true
      done
    done
  fi
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

log "tests (all, including the ones that drive lego, certbot, Caddy, Apache and pkilint)"
cargo nextest run --workspace --locked --run-ignored all --no-fail-fast
