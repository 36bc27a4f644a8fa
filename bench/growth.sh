#!/usr/bin/env bash
# Growth benchmark: Ferrite's throughput and start-up time on an empty database and
# on one already holding --accounts accounts and --certificates issued certificates, seeded
# with `ferrite-seed` (bulk inserts through the store, not ACME).
#
# For each database state it starts `ferrite serve` (same data_dir, so the same CA), times the
# start (process start → "Ferrite ACME directory:" printed → directory answering), runs
# ferrite-bench --runs times, and stops it. Prints one table. Everything listens on 127.0.0.1 on
# ports chosen here, everything started here is stopped on exit, every wait is bounded.
# Needs: cargo, pebble-challtestsrv (apt-get install pebble), curl, jq, python3. Disk: about
# 7.5 GB per million certificates.
#
# Usage: bench/growth.sh [--accounts N] [--certificates M] [--clients C] [--duration S]
#                        [--runs R] [--skip-build] [--out DIR]
# Defaults: 100000 accounts, 1000000 certificates, 10 clients, 10 s, 2 runs per state.
set -euo pipefail

ACCOUNTS=100000
CERTIFICATES=1000000
CLIENTS=10
DURATION=10
RUNS=2
BUILD=1
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
    --accounts) ACCOUNTS=$2; shift 2 ;;
    --certificates) CERTIFICATES=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "growth.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

SCRIPT=growth.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
require_tools pebble-challtestsrv curl jq python3

if [ "$BUILD" = 1 ]; then
    (cd "$ROOT" && cargo build --release -p ferrite -p ferrite-bench)
fi
FERRITE=$TARGET/release/ferrite
BENCH=$TARGET/release/ferrite-bench
SEED=$TARGET/release/ferrite-seed

HTTP01_PORT=$(free_port)
start_dns

DATA=$TMP/ferrite-data
# pebble-challtestsrv serves no DNSSEC signatures: validation off (write_ferrite_config's default)
write_ferrite_config "$TMP/ferrite.toml" "$DATA"

now_ms() { date +%s%3N; }

# start STATE → FERRITE_PID DIRECTORY ROOT_PEM START_MS (start-up time in ms)
start() {
    local out=$OUT/ferrite-$1.out t0
    t0=$(now_ms)
    "$FERRITE" serve --config "$TMP/ferrite.toml" >"$out" 2>"$OUT/ferrite-$1.log" &
    FERRITE_PID=$!
    PIDS+=("$FERRITE_PID")
    for _ in $(seq 1 3000); do
        grep -q "^Ferrite ACME directory: " "$out" 2>/dev/null && break
        sleep 0.01
    done
    DIRECTORY=$(sed -n 's/^Ferrite ACME directory: //p' "$out")
    [ -n "$DIRECTORY" ] || { echo "growth.sh: ferrite did not start in 30 s; see $OUT" >&2; exit 1; }
    for _ in $(seq 1 3000); do
        ROOT_PEM=$(sed -n 's/^Root certificate clients must trust: //p' "$out")
        [ -n "$ROOT_PEM" ] && curl -fsS --cacert "$ROOT_PEM" "$DIRECTORY" >/dev/null 2>&1 && break
        sleep 0.01
    done
    START_MS=$(($(now_ms) - t0))
}

stop() {
    kill "$FERRITE_PID" 2>/dev/null || true
    wait "$FERRITE_PID" 2>/dev/null || true
}

bench() { # STATE RUN
    timeout $((DURATION + 60)) "$BENCH" --directory "$DIRECTORY" --ca-cert "$ROOT_PEM" \
        --server-pid "$FERRITE_PID" --clients "$CLIENTS" --issuances 1000000 \
        --duration "$DURATION" --poll-interval-ms 50 --http01-listen "127.0.0.1:$HTTP01_PORT" \
        --json "$OUT/$1-$2.json" >"$OUT/$1-$2.txt" 2>&1 || true
    [ -s "$OUT/$1-$2.json" ] || { echo "growth.sh: $1 run $2 wrote no report" >&2; exit 1; }
}

RESULTS=()
measure() { # STATE LABEL
    start "$1"
    local starts=$START_MS
    stop
    start "$1"  # a second start: the first one of "empty" also created the CA
    starts="$starts/$START_MS"
    for run in $(seq 1 "$RUNS"); do bench "$1" "$run"; done
    stop
    local rate cpu
    rate=$(jq -s 'map(.issuances_per_second) | add / length' "$OUT/$1"-*.json)
    cpu=$(jq -s 'map(.server.cpu_ms_per_issuance) | add / length' "$OUT/$1"-*.json)
    RESULTS+=("$(printf '%-34s %12.1f %14.2f %18s' "$2" "$rate" "$cpu" "$starts")")
}

echo "== empty database" >&2
measure empty "empty"
echo "== seeding $ACCOUNTS accounts and $CERTIFICATES certificates" >&2
SEED_T0=$(now_ms)
"$SEED" --database "$DATA/ferrite.db" --accounts "$ACCOUNTS" --certificates "$CERTIFICATES" \
    2>"$OUT/seed.log"
SEED_S=$(( ($(now_ms) - SEED_T0) / 1000 ))
DB_MB=$(( $(stat -c %s "$DATA/ferrite.db") / 1048576 ))
echo "== seeded in ${SEED_S} s; ferrite.db is ${DB_MB} MB" >&2
measure seeded "seeded ($ACCOUNTS acc, $CERTIFICATES certs)"

printf '%-34s %12s %14s %18s\n' "database" "issuances/s" "CPU ms/issue" "start-up ms (1/2)"
printf '%s\n' "${RESULTS[@]}"
echo "seeding took ${SEED_S} s; ferrite.db ${DB_MB} MB; $CLIENTS clients, $DURATION s x $RUNS runs"
