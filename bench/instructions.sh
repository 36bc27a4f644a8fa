#!/usr/bin/env bash
# Instructions per issuance: `ferrite serve` under valgrind's callgrind, driven by
# ferrite-bench through a fixed number of full issuances, and again through a single one, so
# that start-up (creating the CA keys, hashing the bootstrap secret) is subtracted:
#
#   per issuance = (instructions for N issuances − instructions for 1) / (N − 1)
#
# The count is the same for the same binary and the same work, whatever else the machine is
# doing, so it settles A/B questions of a few percent that the host's noise hides from
# bench/compare.sh (docs/performance.md, "Reading the figures"). It counts user-space
# instructions only: no kernel time (sockets, fsync, page copies), and cryptography runs at a
# higher rate per cycle than the rest, so it is not a share of the CPU time. Under valgrind a
# few validations may take longer than the claim deadline (100 ms) and go the slow way; the
# line "slow validations" says how many clients had to poll, which moves the total by up to
# ~0.5 %.
#
# Everything listens on 127.0.0.1 on ports chosen here; everything started here is stopped on
# exit; every wait is bounded. Needs: cargo, valgrind, jq, python3, and pebble-challtestsrv
# (apt-get install pebble) or, with --dnssec, ferrite-signed-dns from this workspace.
#
# Usage: bench/instructions.sh [--issuances N] [--clients C] [--dnssec] [--ferrite PATH]
#                              [--skip-build] [--out DIR]
# Defaults: 200 issuances, 2 clients. --ferrite measures another build of the server (a copy
# of target/release/ferrite from another commit: run the script once per binary for an A/B).
# --dnssec validates DNSSEC against ferrite-signed-dns (records with TTL 3600), as Ferrite
# ships. Takes about a minute per 200 issuances.
set -euo pipefail

ISSUANCES=200
CLIENTS=2
DNSSEC=0
BUILD=1
OUT=""
FERRITE=""
while [ $# -gt 0 ]; do
    case "$1" in
    --issuances) ISSUANCES=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --dnssec) DNSSEC=1; shift ;;
    --ferrite) FERRITE=$2; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "instructions.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ "$ISSUANCES" -lt 2 ]; then
    echo "instructions.sh: --issuances must be at least 2 (one is subtracted)" >&2
    exit 2
fi

SCRIPT=instructions.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
require_tools valgrind jq python3
[ "$DNSSEC" = 1 ] || require_tools pebble-challtestsrv

if [ "$BUILD" = 1 ]; then
    (cd "$ROOT" && cargo build --release -p ferrite -p ferrite-bench)
    if [ "$DNSSEC" = 1 ]; then
        (cd "$ROOT" && cargo build --release -p ferrite-testkit --bin ferrite-signed-dns)
    fi
fi
FERRITE=${FERRITE:-$TARGET/release/ferrite}
BENCH=$TARGET/release/ferrite-bench
HTTP01_PORT=$(free_port)

start_test_dns "$DNSSEC"

# measure N CLIENTS → INSTRUCTIONS: a fresh server under callgrind, N issuances, stopped with
# SIGINT so that callgrind writes its counts. (Not run in a subshell: the server's pid must
# reach PIDS, so that it is stopped on exit whatever happens.)
measure() {
    local n=$1 clients=$2
    local out=$OUT/ferrite-$n.out
    write_ferrite_config "$TMP/ferrite-$n.toml" "$TMP/ferrite-data-$n"
    valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind-$n.out" \
        "$FERRITE" serve --config "$TMP/ferrite-$n.toml" >"$out" 2>"$OUT/ferrite-$n.log" &
    local pid=$!
    PIDS+=("$pid")
    # Start-up under valgrind takes seconds (the CA keys); wait up to two minutes.
    for _ in $(seq 1 1200); do
        grep -q "^Root certificate clients must trust: " "$out" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || { echo "$SCRIPT: ferrite exited; see $OUT/ferrite-$n.log" >&2; exit 1; }
        sleep 0.1
    done
    grep -q "^Root certificate clients must trust: " "$out" || {
        echo "$SCRIPT: ferrite did not start within 120 s under valgrind" >&2
        exit 1
    }
    local directory root
    directory=$(sed -n 's/^Ferrite ACME directory: //p' "$out")
    root=$(sed -n 's/^Root certificate clients must trust: //p' "$out")
    "$BENCH" --directory "$directory" --ca-cert "$root" --clients "$clients" \
        --issuances "$n" --duration 900 --poll-interval-ms 50 \
        --http01-listen "127.0.0.1:$HTTP01_PORT" --json "$OUT/bench-$n.json" \
        >"$OUT/bench-$n.txt" 2>&1
    kill -INT "$pid"
    for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    wait "$pid" 2>/dev/null || true
    local done_n
    done_n=$(jq -r '.issuances_completed' "$OUT/bench-$n.json")
    if [ "$done_n" != "$n" ]; then
        echo "$SCRIPT: $done_n of $n issuances completed; see $OUT/bench-$n.txt" >&2
        exit 1
    fi
    # One `summary:` line per output file (the `totals:` line repeats it); %.0f, as awk's %d
    # may stop at 2^31.
    INSTRUCTIONS=$(awk '/^summary:/ { s += $2 } END { printf "%.0f\n", s }' \
        "$OUT"/callgrind-"$n".out*)
}

echo "== $FERRITE: 1 issuance, then $ISSUANCES with $CLIENTS clients, under callgrind" >&2
measure 1 1
ONE=$INSTRUCTIONS
measure "$ISSUANCES" "$CLIENTS"
MANY=$INSTRUCTIONS
SLOW=$(jq '[.latency_ms | to_entries[] | select(.key | startswith("poll")) | .value.count] | add // 0' \
    "$OUT/bench-$ISSUANCES.json")
python3 - "$ONE" "$MANY" "$ISSUANCES" "$SLOW" "$DNSSEC" <<'EOF'
import sys
one, many, n, slow, dnssec = (int(a) for a in sys.argv[1:])
print(f"server            {'DNSSEC on' if dnssec else 'DNSSEC off'}")
print(f"instructions      1 issuance: {one / 1e9:.4f} G; {n} issuances: {many / 1e9:.4f} G")
print(f"per issuance      {(many - one) / (n - 1) / 1e6:.3f} M (start-up subtracted)")
print(f"slow validations  {slow} polls")
EOF
