# Shared by bench/compare.sh, bench/growth.sh and bench/instructions.sh (sourced, not run).
# Expects SCRIPT (the caller's name for messages) and OUT (a report directory, or empty for a
# temporary one).
# Sets ROOT, TARGET, TMP, OUT, KEEP_OUT and PIDS; everything whose pid is added to PIDS is
# stopped on exit, and TMP is removed.

# require_tools TOOL...: exits with a hint if any is missing.
require_tools() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null || {
            echo "$SCRIPT: $tool not found; install it (pebble, pebble-challtestsrv: apt-get install -y pebble)" >&2
            exit 1
        }
    done
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Where cargo puts what it builds (CARGO_TARGET_DIR, as cargo reads it).
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
TMP=$(mktemp -d)
KEEP_OUT=1
if [ -z "$OUT" ]; then OUT=$TMP/out; KEEP_OUT=0; fi
mkdir -p "$OUT"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
    if [ "$KEEP_OUT" = 1 ]; then echo "reports and logs: $OUT" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port: a port on 127.0.0.1 that was free a moment ago.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for DESCRIPTION COMMAND...: retries COMMAND for at most 30 s.
wait_for() {
    local what=$1; shift
    for _ in $(seq 1 300); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "$SCRIPT: $what did not come up within 30 s; logs in $OUT" >&2
    exit 1
}

# start_dns → DNS_PORT: pebble-challtestsrv on loopback, answering every A query with
# 127.0.0.1 (and no AAAA), logging to $OUT/challtestsrv.log.
start_dns() {
    DNS_PORT=$(free_port)
    local mgmt
    mgmt=$(free_port)
    pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$DNS_PORT" \
        -http01 "" -https01 "" -tlsalpn01 "" -management "127.0.0.1:$mgmt" \
        >"$OUT/challtestsrv.log" 2>&1 &
    PIDS+=($!)
    wait_for "pebble-challtestsrv" bash -c "exec 3<>/dev/tcp/127.0.0.1/$mgmt"
}

# start_signed_dns BINARY → DNS_PORT ANCHOR: the testkit's signed mock DNS (ferrite-signed-dns)
# on loopback — every name in one DNSSEC-signed root zone, A → 127.0.0.1, no AAAA — with the
# trust anchor written to ANCHOR for `validation.dnssec_trust_anchor`. Records have TTL 3600,
# as the public DNS's keys and the parents' denials have hours: the validator may cache their
# validation. It lives at most an hour.
start_signed_dns() {
    ANCHOR=$TMP/dnssec-anchor
    "$1" --anchor-out "$ANCHOR" --lifetime 3600 --ttl 3600 >"$OUT/signed-dns.out" 2>&1 &
    PIDS+=($!)
    wait_for "ferrite-signed-dns" grep -q "^listening " "$OUT/signed-dns.out"
    DNS_PORT=$(sed -n 's/^listening 127\.0\.0\.1://p' "$OUT/signed-dns.out")
}

# start_test_dns DNSSEC(0|1) → DNS_PORT DNSSEC_CONFIG: the DNS every benchmark resolves through
# (every A query answers 127.0.0.1) and the matching `[validation]` lines for Ferrite: with
# DNSSEC, ferrite-signed-dns from $TARGET/release and validation on, as Ferrite ships; without,
# pebble-challtestsrv, which serves no signatures (Pebble does not validate either).
start_test_dns() {
    if [ "$1" = 1 ]; then
        start_signed_dns "$TARGET/release/ferrite-signed-dns"
        DNSSEC_CONFIG="dnssec = true
dnssec_trust_anchor = \"$ANCHOR\""
    else
        start_dns
        DNSSEC_CONFIG="dnssec = false"
    fi
}

# write_ferrite_config FILE DATA_DIR: a `ferrite serve` configuration on loopback ports the
# server picks, resolving through DNS_PORT, validating http-01 on HTTP01_PORT, DNSSEC as
# DNSSEC_CONFIG says (default off), no EAB.
write_ferrite_config() {
    cat >"$1" <<CONFIG
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
public_listen = "127.0.0.1:0"
data_dir = "$2"

[validation]
dns_resolver = "127.0.0.1:$DNS_PORT"
http01_port = $HTTP01_PORT
allow_private_addresses = true
${DNSSEC_CONFIG:-dnssec = false}

[eab]
required = false
CONFIG
}
