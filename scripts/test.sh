#!/usr/bin/env bash
# The README's test command: installs what the tests need when it is missing, starts a
# throwaway PostgreSQL cluster, then runs every test (unit, integration, the store conformance
# suite on SQLite and PostgreSQL, end-to-end with lego, certbot, Caddy and Apache mod_md,
# pkilint, CA keys in a SoftHSM token) plus fmt and clippy, then every fuzz target for a few
# seconds (fuzz/run.sh).
#
#   scripts/test.sh
#
# Environment:
#   FERRITE_TEST_VENV       Python venv with certbot and pkilint (default: ~/.cache/ferrite/venv)
#   FERRITE_TEST_DATABASE_URL  set here, to the throwaway cluster (any value given is replaced)
#   CARGO_TARGET_DIR   honoured as usual (CI keeps it outside the clone); the fuzz build goes
#                      to $CARGO_TARGET_DIR/fuzz (or FERRITE_FUZZ_TARGET_DIR)
#   FERRITE_FUZZ_SECONDS  seconds per fuzz target (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------------------------
# lego (client), pebble (ships pebble-challtestsrv, the mock DNS), caddy and apache2 (web servers
# with ACME built in; apache2 brings mod_md), openssl and curl (checks and hooks), systemd (its
# systemd-analyze checks dist/ferrite.service), python3-venv
# (for certbot and pkilint), postgresql (the server the PostgreSQL tests run on), softhsm2 (a
# PKCS#11 token in software, for the tests that keep the CA keys in a token), opensc (its
# pkcs11-tool reads what a token holds), and chromium with chromium-driver (the customer
# portal's browser test drives headless Chromium through chromedriver).
need_pkgs=()
command -v lego >/dev/null || need_pkgs+=(lego)
command -v pebble-challtestsrv >/dev/null || need_pkgs+=(pebble)
command -v caddy >/dev/null || need_pkgs+=(caddy)
[ -x /usr/sbin/apache2 ] && [ -e /usr/lib/apache2/modules/mod_md.so ] || need_pkgs+=(apache2)
command -v openssl >/dev/null || need_pkgs+=(openssl)
command -v curl >/dev/null || need_pkgs+=(curl)
command -v systemd-analyze >/dev/null || need_pkgs+=(systemd)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_pkgs+=(python3-venv)
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
[ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || need_pkgs+=(postgresql)
{ command -v softhsm2-util >/dev/null && [ -e /usr/lib/softhsm/libsofthsm2.so ]; } || need_pkgs+=(softhsm2)
command -v pkcs11-tool >/dev/null || need_pkgs+=(opensc)
command -v chromium >/dev/null || need_pkgs+=(chromium)
command -v chromedriver >/dev/null || need_pkgs+=(chromium-driver)
# `ip netns` and veth pairs for the multi-perspective tests' separate networks.
command -v ip >/dev/null || need_pkgs+=(iproute2)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_pkgs[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  # caddy, apache2 and postgresql start a service of their own (ports 80 and 5432) when
  # installed under an init system; the tests run their own instances, so keep the packaged
  # ones from starting: a
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
        postgresql) units=(postgresql) ;;
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
  "$FERRITE_TEST_VENV/bin/pip" install -q 'certbot>=4.1' pkilint
fi
# certbot 4.1 is the first to request certificate profiles (--preferred-profile) and to renew
# by ACME Renewal Information (RFC 9773); an older venv is upgraded.
if ! "$FERRITE_TEST_VENV/bin/python" -c 'import sys, certbot; v = tuple(int(x) for x in certbot.__version__.split(".")[:2]); sys.exit(0 if v >= (4, 1) else 1)'; then
  log "upgrading certbot in $FERRITE_TEST_VENV (profiles and renewal information need 4.1 or later)"
  "$FERRITE_TEST_VENV/bin/pip" install -q --upgrade 'certbot>=4.1'
fi

# --- Rust tools -------------------------------------------------------------------------------
if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi

# --- PostgreSQL: a throwaway cluster for this run ---------------------------------------------
# initdb in a temporary directory, listening on 127.0.0.1 only (and a socket in that directory)
# on a free port, password login; stopped and removed when this script exits, whatever the
# tests did. PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres`
# user the package creates. Durability is off (fsync): the data lives for one run.
PG_BIN="$(pg_bin)"
pg_dir="$(mktemp -d /tmp/ferrite-test-pg.XXXXXX)"
pg_user=""
if [ "$(id -u)" = 0 ]; then
  pg_user=postgres
  chown "$pg_user" "$pg_dir"
fi
as_pg() { if [ -n "$pg_user" ]; then runuser -u "$pg_user" -- "$@"; else "$@"; fi; }
stop_postgres() {
  if [ -f "$pg_dir/data/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$pg_dir/data" -m immediate -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$pg_dir"
}
trap stop_postgres EXIT
pg_password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$pg_password" > "$pg_dir/password"
[ -z "$pg_user" ] || chown "$pg_user" "$pg_dir/password"
log "starting a throwaway PostgreSQL cluster ($("$PG_BIN/postgres" --version))"
as_pg "$PG_BIN/initdb" -D "$pg_dir/data" -U ferrite --pwfile="$pg_dir/password" \
  --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --no-instructions >/dev/null
started=""
for attempt in 1 2 3 4 5; do
  # A free port: the kernel picks one; another process may take it before the server binds
  # it, so a failed start is tried again on another port.
  pg_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  if as_pg "$PG_BIN/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $pg_port -c unix_socket_directories=$pg_dir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null; then
    started=1
    break
  fi
done
if [ -z "$started" ]; then
  echo "PostgreSQL did not start; its log:" >&2
  tail -n 30 "$pg_dir/server.log" >&2 || true
  exit 1
fi
export FERRITE_TEST_DATABASE_URL="postgres://ferrite:$pg_password@127.0.0.1:$pg_port/postgres"

# --- Checks -----------------------------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check
(cd fuzz && cargo fmt -- --check)

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "tests (all, including the ones that drive lego, certbot, Caddy, Apache and pkilint)"
cargo nextest run --workspace --locked --run-ignored all --no-fail-fast

# Every fuzz target briefly from its seed corpus (longer by hand: fuzz/run.sh 600). The fuzz
# build has its own flags, so its own target directory: $CARGO_TARGET_DIR/fuzz.
log "fuzzing (${FERRITE_FUZZ_SECONDS:-10} s per target)"
fuzz/run.sh "${FERRITE_FUZZ_SECONDS:-10}"
