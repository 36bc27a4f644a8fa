#!/usr/bin/env bash
# Ferrite and Pebble side by side: the same generator (ferrite-bench) with the same settings
# drives `ferrite serve` (embedded SQLite, durable) and Debian's pebble, both doing real
# http-01 validation against the generator's responder, with pebble-challtestsrv as the DNS
# both resolve through. Prints one table with Ferrite/Pebble ratios.
#
# Everything listens on 127.0.0.1 on ports chosen here; everything started here is stopped on
# exit; every wait is bounded. Needs: cargo, pebble + pebble-challtestsrv (apt-get install
# pebble), openssl, jq, python3 (to pick free ports).
#
# Usage: bench/compare.sh [--clients N] [--issuances M] [--duration S] [--runs R]
#                         [--key-type p256|rsa2048] [--poll-interval-ms MS] [--skip-build]
#                         [--lego N] [--ferrite-only] [--baseline PATH] [--hsm] [--postgres]
#                         [--instances N] [--pg-statements] [--dnssec] [--out DIR]
# Defaults: 10 clients, 100000 issuances, 30 s per run, 1 run each (alternating
# Ferrite, Pebble when --runs > 1; each run against a freshly started server), P-256, 50 ms
# polls. --lego N also times N runs of lego (one account + one certificate, http-01) against
# each server, with hyperfine if installed. The JSON reports and server logs land in --out
# (default: a temp dir, removed on exit unless --out is given). --ferrite-only skips Pebble
# (Pebble 2.4.0 deadlocks at 50 or more clients; docs/performance.md); the table's Pebble
# column is then 0 and the ratios "-". --dnssec runs Ferrite as it ships, validating DNSSEC
# (`validation.dnssec = true`), against ferrite-signed-dns (the testkit's signed mock DNS:
# one signed root zone, so the chain is one level where the public DNS has three or more)
# instead of pebble-challtestsrv, which signs nothing; Pebble, which does not validate, uses
# the same DNS. --baseline PATH compares this tree's Ferrite with another build of it (a copy of
# another commit's target/release/ferrite) instead of Pebble: the same settings, runs
# interleaved and their order alternated (ferrite first in odd runs, the baseline first in even
# ones), so a drift of the shared machine's speed falls on both; the table's second column is
# the baseline. --hsm compares, the same way, this tree's Ferrite with its CA keys in files
# (first column) and the same binary with its CA keys in a SoftHSM token (second column; each
# run gets a new token in a store under the temp dir, its own SOFTHSM2_CONF, and `ferrite ca
# init`; needs softhsm2). --postgres compares, the same way, this tree's Ferrite on its embedded
# SQLite (first column) and the same binary on PostgreSQL (second column: a throwaway cluster
# started here with its durable defaults, a new database per run; needs postgresql and psql);
# two more rows then give PostgreSQL's own CPU per issuance and Ferrite's and PostgreSQL's
# together (the generator, PostgreSQL and Ferrite share the machine); with --instances N the
# PostgreSQL column is N instances of one CA on that database (one data directory, one
# base_url, each its own ACME listener), the generator's clients spread over their listeners
# round robin as a load balancer would (ferrite-bench --connect), their CPU and memory summed.
# --postgres with --baseline PATH puts both columns on PostgreSQL: this tree's Ferrite first,
# the baseline build second, each run on a new database of the one cluster. --pg-statements
# (with --postgres) loads pg_stat_statements (track = all, so statements run by triggers are
# listed too) and writes, for each run on PostgreSQL, its 30 statements of most execution time
# and the WAL they wrote to NAME-RUN.statements in --out; it slows PostgreSQL a little, so use
# it to see where the time goes, not for the figures.
# Throughput on a shared machine moves by ±15 % between runs: use
# --runs 4 or more, or bench/instructions.sh for differences of a few percent. Binaries are
# taken from CARGO_TARGET_DIR (default: target/) in the release profile.
set -euo pipefail

CLIENTS=10
ISSUANCES=100000
DURATION=30
RUNS=1
KEY_TYPE=p256
POLL_MS=50
BUILD=1
OUT=""
LEGO_RUNS=0
PEBBLE=1
BASELINE=""
HSM=0
POSTGRES=0
DNSSEC=0
INSTANCES=1
PG_STATEMENTS=0
while [ $# -gt 0 ]; do
    case "$1" in
    --clients) CLIENTS=$2; shift 2 ;;
    --issuances) ISSUANCES=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --key-type) KEY_TYPE=$2; shift 2 ;;
    --poll-interval-ms) POLL_MS=$2; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    --lego) LEGO_RUNS=$2; shift 2 ;;
    --ferrite-only) PEBBLE=0; shift ;;
    --baseline) BASELINE=$2; PEBBLE=0; shift 2 ;;
    --hsm) HSM=1; PEBBLE=0; shift ;;
    --postgres) POSTGRES=1; PEBBLE=0; shift ;;
    --instances) INSTANCES=$2; shift 2 ;;
    --pg-statements) PG_STATEMENTS=1; shift ;;
    --dnssec) DNSSEC=1; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

SCRIPT=compare.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
require_tools openssl jq python3
[ "$PEBBLE" = 0 ] || require_tools pebble
[ -z "$BASELINE" ] || [ -x "$BASELINE" ] || {
    echo "compare.sh: --baseline $BASELINE is not an executable ferrite" >&2
    exit 2
}
[ "$DNSSEC" = 1 ] || require_tools pebble-challtestsrv
[ "$HSM" = 0 ] || require_tools softhsm2-util
[ $((HSM + POSTGRES + (${#BASELINE} > 0))) -le 1 ] || [ "$HSM$POSTGRES" = 01 ] || {
    echo "compare.sh: --hsm, --postgres and --baseline each fill the second column: give one (or --postgres with --baseline)" >&2
    exit 2
}
# Both columns on PostgreSQL: this tree's Ferrite against the baseline build.
PG_BOTH=0
[ "$POSTGRES" = 0 ] || [ -z "$BASELINE" ] || PG_BOTH=1
[ "$PG_STATEMENTS" = 0 ] || [ "$POSTGRES" = 1 ] || {
    echo "compare.sh: --pg-statements needs --postgres" >&2
    exit 2
}
[ "$POSTGRES" = 0 ] || require_tools psql
[[ $INSTANCES =~ ^[1-9][0-9]*$ ]] || {
    echo "compare.sh: --instances takes a number of instances, 1 or more (not $INSTANCES)" >&2
    exit 2
}
[ "$INSTANCES" = 1 ] || [ "$POSTGRES" = 1 ] || {
    echo "compare.sh: --instances needs --postgres (instances of one CA share its database)" >&2
    exit 2
}

if [ "$BUILD" = 1 ]; then
    (cd "$ROOT" && cargo build --release -p ferrite -p ferrite-bench)
    if [ "$DNSSEC" = 1 ]; then
        (cd "$ROOT" && cargo build --release -p ferrite-testkit --bin ferrite-signed-dns)
    fi
fi
FERRITE=$TARGET/release/ferrite
BENCH=$TARGET/release/ferrite-bench
if [ "$HSM" = 1 ]; then
    # The second column: the same binary, CA keys in SoftHSM.
    BASELINE=$FERRITE
    export SOFTHSM2_CONF=$TMP/softhsm2.conf
    mkdir -p "$TMP/softhsm-tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
        "$TMP/softhsm-tokens" >"$SOFTHSM2_CONF"
    echo 20261204 >"$TMP/hsm-pin"
fi
if [ "$POSTGRES" = 1 ]; then
    # The second column: the same binary (or the baseline build), on PostgreSQL.
    [ -n "$BASELINE" ] || BASELINE=$FERRITE
    start_postgres
fi

HTTP01_PORT=$(free_port)
PEBBLE_PORT=$(free_port)
PEBBLE_MGMT_PORT=$(free_port)
PEBBLE_TLS_PORT=$(free_port)

# --- DNS: every A query answers 127.0.0.1 -------------------------------------------------
start_test_dns "$DNSSEC"

# --- Servers: each run gets a fresh one (a fresh database; state left by a cancelled run,
# such as validations still in flight, cannot leak into the next) -----------------------------
on_postgres() { # NAME: whether that column's runs are on PostgreSQL
    [ "$POSTGRES" = 1 ] && { [ "$1" = baseline ] || [ "$PG_BOTH" = 1 ]; }
}
start_ferrite() { # RUN [NAME BINARY] → FERRITE_PID FERRITE_DIR FERRITE_ROOT SERVER_ARGS
    local name=${2:-ferrite} binary=${3:-$FERRITE}
    local out=$OUT/$name-$1.out
    local database="" listen=""
    INSTANCE_PIDS=()
    if on_postgres "$name"; then
        database=$(postgres_database "bench_${name}_$1")
        # lego's timing talks to one instance: the others start only for the runs.
        [ "$INSTANCES" = 1 ] || [ "$1" = lego ] || listen=127.0.0.1:$(free_port)
    fi
    write_ferrite_config "$TMP/ferrite.toml" "$TMP/$name-data-$1" "$database" "$listen"
    if [ "$name" = baseline ] && [ "$HSM" = 1 ]; then
        softhsm2-util --init-token --free --label "bench-$1" --so-pin 87654321 \
            --pin "$(cat "$TMP/hsm-pin")" >/dev/null
        cat >>"$TMP/ferrite.toml" <<CA

[ca]
keys = "pkcs11"
pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so"
pkcs11_token = "bench-$1"
pkcs11_pin_file = "$TMP/hsm-pin"
CA
        "$binary" ca init --config "$TMP/ferrite.toml" >"$OUT/$name-$1.ceremony" 2>&1
    fi
    "$binary" serve --config "$TMP/ferrite.toml" >"$out" 2>"$OUT/$name-$1.log" &
    FERRITE_PID=$!
    PIDS+=("$FERRITE_PID")
    wait_for "ferrite serve" grep -q "^Root certificate clients must trust: " "$out"
    FERRITE_DIR=$(sed -n 's/^Ferrite ACME directory: //p' "$out")
    FERRITE_ROOT=$(sed -n 's/^Root certificate clients must trust: //p' "$out")
    SERVER_ARGS=(--server-pid "$FERRITE_PID")
    [ -n "$listen" ] || return 0
    # More instances of the same CA: the same database, data directory and base_url, each
    # with its own ACME listener; the clients are spread over the listeners.
    SERVER_ARGS+=(--connect "$listen")
    local i
    for i in $(seq 2 "$INSTANCES"); do
        local more=127.0.0.1:$(free_port)
        write_ferrite_config "$TMP/ferrite-$i.toml" "$TMP/$name-data-$1" "$database" "$more" \
            "${FERRITE_DIR%/directory}"
        "$binary" serve --config "$TMP/ferrite-$i.toml" >"$OUT/$name-$1.$i.out" \
            2>"$OUT/$name-$1.$i.log" &
        PIDS+=($!)
        INSTANCE_PIDS+=($!)
        SERVER_ARGS+=(--server-pid "$!" --connect "$more")
        wait_for "ferrite serve (instance $i)" grep -q "^Root certificate clients must trust: " \
            "$OUT/$name-$1.$i.out"
    done
}

# Pebble needs a TLS certificate: a throwaway CA and a leaf for localhost and 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=compare.sh throwaway root" -keyout "$TMP/pebble-ca.key" -out "$TMP/pebble-ca.pem" \
    2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$TMP/pebble.key" -out "$TMP/pebble.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$TMP/pebble.ext"
openssl x509 -req -in "$TMP/pebble.csr" -CA "$TMP/pebble-ca.pem" -CAkey "$TMP/pebble-ca.key" \
    -CAcreateserial -days 2 -extfile "$TMP/pebble.ext" -out "$TMP/pebble.pem" 2>/dev/null
cat >"$TMP/pebble.json" <<EOF
{"pebble": {
  "listenAddress": "127.0.0.1:$PEBBLE_PORT",
  "managementListenAddress": "127.0.0.1:$PEBBLE_MGMT_PORT",
  "certificate": "$TMP/pebble.pem",
  "privateKey": "$TMP/pebble.key",
  "httpPort": $HTTP01_PORT,
  "tlsPort": $PEBBLE_TLS_PORT,
  "ocspResponderURL": "",
  "externalAccountBindingRequired": false,
  "certificateValidityPeriod": 7776000
}}
EOF
PEBBLE_DIR="https://127.0.0.1:$PEBBLE_PORT/dir"

start_pebble() { # RUN → PEBBLE_PID
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
        pebble -config "$TMP/pebble.json" -dnsserver "127.0.0.1:$DNS_PORT" -strict=false \
        >"$OUT/pebble-$1.log" 2>&1 &
    PEBBLE_PID=$!
    PIDS+=("$PEBBLE_PID")
    wait_for "pebble" bash -c "exec 3<>/dev/tcp/127.0.0.1/$PEBBLE_PORT"
}

stop() { # PID
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
stop_ferrite() { # the instances start_ferrite started
    local pid
    for pid in "${INSTANCE_PIDS[@]}" "$FERRITE_PID"; do stop "$pid"; done
}

# --- Runs ---------------------------------------------------------------------------------
bench() { # NAME DIRECTORY CA RUN SERVER_ARGS...
    local name=$1 directory=$2 ca=$3 run=$4
    shift 4
    echo "== $name, run $run: $CLIENTS clients, ≤$ISSUANCES issuances, ≤$DURATION s" >&2
    # A run in which nothing completes still writes its report; the table shows it.
    timeout $((DURATION + 60)) "$BENCH" --directory "$directory" --ca-cert "$ca" "$@" \
        --clients "$CLIENTS" --issuances "$ISSUANCES" --duration "$DURATION" \
        --key-type "$KEY_TYPE" --poll-interval-ms "$POLL_MS" \
        --http01-listen "127.0.0.1:$HTTP01_PORT" --json "$OUT/$name-$run.json" \
        | tee "$OUT/$name-$run.txt" >&2 || true
    [ -s "$OUT/$name-$run.json" ] || { echo "compare.sh: $name run $run wrote no report" >&2; exit 1; }
}
ferrite_run() { # NAME BINARY RUN
    start_ferrite "$3" "$1" "$2"
    local pg_before=0
    [ "$POSTGRES" = 0 ] || pg_before=$(postgres_cpu_ms)
    [ "$PG_STATEMENTS" = 0 ] || ! on_postgres "$1" || postgres_statements_reset
    bench "$1" "$FERRITE_DIR" "$FERRITE_ROOT" "$3" "${SERVER_ARGS[@]}"
    # PostgreSQL's CPU during the run (0 for the SQLite column: no cluster worked for it).
    if on_postgres "$1"; then
        echo $(($(postgres_cpu_ms) - pg_before)) >"$OUT/$1-$3.pgcpu"
    else
        echo 0 >"$OUT/$1-$3.pgcpu"
    fi
    stop_ferrite
    # After the servers stopped (and a moment for their backends to end): the backends have
    # reported all they did.
    if [ "$PG_STATEMENTS" = 1 ] && on_postgres "$1"; then
        sleep 1
        postgres_statements "bench_$1_$3" >"$OUT/$1-$3.statements"
    fi
}
for run in $(seq 1 "$RUNS"); do
    if [ -n "$BASELINE" ]; then
        if [ $((run % 2)) = 1 ]; then
            ferrite_run ferrite "$FERRITE" "$run"
            ferrite_run baseline "$BASELINE" "$run"
        else
            ferrite_run baseline "$BASELINE" "$run"
            ferrite_run ferrite "$FERRITE" "$run"
        fi
        continue
    fi
    ferrite_run ferrite "$FERRITE" "$run"
    [ "$PEBBLE" = 1 ] || continue
    start_pebble "$run"
    bench pebble "$PEBBLE_DIR" "$TMP/pebble-ca.pem" "$run" --server-pid "$PEBBLE_PID"
    stop "$PEBBLE_PID"
done

# --- lego's time to a certificate -----------------------------------------------------------
lego_time() { # NAME DIRECTORY CA → prints "mean_s stddev_s min_s max_s"
    local path=$TMP/lego-$1
    local cmd="env LEGO_CA_CERTIFICATES=$3 lego --server $2 --accept-tos --email bench@example.com \
--domains lego.bench.example --http --http.port 127.0.0.1:$HTTP01_PORT --path $path run"
    if command -v hyperfine >/dev/null; then
        hyperfine --runs "$LEGO_RUNS" --prepare "rm -rf $path" --export-json "$OUT/lego-$1.json" \
            --style basic "$cmd" >"$OUT/lego-$1.txt" 2>&1
        jq -r '.results[0] | [.mean, .stddev, .min, .max] | @tsv' "$OUT/lego-$1.json"
    else
        for _ in $(seq 1 "$LEGO_RUNS"); do
            rm -rf "$path"
            local t0 t1
            t0=$(date +%s%N)
            timeout 60 bash -c "$cmd" >>"$OUT/lego-$1.txt" 2>&1
            t1=$(date +%s%N)
            echo "$(((t1 - t0) / 1000000))"
        done | awk '{ s += $1; ss += $1 * $1; if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1 }
            END { m = s / NR; printf "%.3f\t%.3f\t%.3f\t%.3f\n", m / 1000, sqrt(ss / NR - m * m) / 1000, min / 1000, max / 1000 }'
    fi
}
if [ "$LEGO_RUNS" -gt 0 ]; then
    command -v lego >/dev/null || { echo "compare.sh: lego not found (apt-get install -y lego)" >&2; exit 1; }
    echo "== lego, $LEGO_RUNS runs per server" >&2
    start_ferrite lego
    read -r FL_MEAN FL_SD FL_MIN FL_MAX < <(lego_time ferrite "$FERRITE_DIR" "$FERRITE_ROOT")
    stop_ferrite
    PL_MEAN=0 PL_MIN=0 PL_MAX=0
    if [ -n "$BASELINE" ]; then
        start_ferrite lego baseline "$BASELINE"
        read -r PL_MEAN PL_SD PL_MIN PL_MAX < <(lego_time baseline "$FERRITE_DIR" "$FERRITE_ROOT")
        stop_ferrite
    elif [ "$PEBBLE" = 1 ]; then
        start_pebble lego
        read -r PL_MEAN PL_SD PL_MIN PL_MAX < <(lego_time pebble "$PEBBLE_DIR" "$TMP/pebble-ca.pem")
        stop "$PEBBLE_PID"
    fi
fi

# --- Table: means over the runs ------------------------------------------------------------
summary() { # NAME → "throughput cpu_ms worst_endpoint_p99 issuance_p99 rss_mb failed pg_cpu_ms"
    local pg_cpu=0
    if ls "$OUT/$1"-*.pgcpu >/dev/null 2>&1; then
        # PostgreSQL's CPU over all runs / the issuances of all runs.
        pg_cpu=$(jq -s --argjson ms "$(cat "$OUT/$1"-*.pgcpu | awk '{ s += $1 } END { print s + 0 }')" \
            '($ms / ([.[].issuances_completed] | add | if . > 0 then . else 1 end))' "$OUT/$1"-*.json)
    fi
    jq -s -r --argjson pg "$pg_cpu" '
      def mean(f): (map(f) | add) / length;
      [ mean(.issuances_per_second),
        mean(.server.cpu_ms_per_issuance // 0),
        mean([.latency_ms | to_entries[] | select(.key != "issuance") | .value.p99_ms] | max),
        mean(.latency_ms.issuance.p99_ms // 0),
        ([.[].server.peak_rss_kb] | max) / 1024,
        mean(.issuances_failed + .issuances_cancelled),
        $pg ] | @tsv' "$OUT/$1"-*.json
}
read -r F_TPUT F_CPU F_P99 F_IP99 F_RSS F_FAIL F_PG < <(summary ferrite)
P_TPUT=0 P_CPU=0 P_P99=0 P_IP99=0 P_RSS=0 P_FAIL=0 P_PG=0
OTHER=Pebble
if [ "$HSM" = 1 ]; then
    OTHER=SoftHSM
    read -r P_TPUT P_CPU P_P99 P_IP99 P_RSS P_FAIL P_PG < <(summary baseline)
elif [ "$PG_BOTH" = 1 ]; then
    OTHER=Baseline
    read -r P_TPUT P_CPU P_P99 P_IP99 P_RSS P_FAIL P_PG < <(summary baseline)
elif [ "$POSTGRES" = 1 ]; then
    OTHER=PostgreSQL
    [ "$INSTANCES" = 1 ] || OTHER="PostgreSQL x$INSTANCES"
    read -r P_TPUT P_CPU P_P99 P_IP99 P_RSS P_FAIL P_PG < <(summary baseline)
elif [ -n "$BASELINE" ]; then
    OTHER=Baseline
    read -r P_TPUT P_CPU P_P99 P_IP99 P_RSS P_FAIL P_PG < <(summary baseline)
elif [ "$PEBBLE" = 1 ]; then
    read -r P_TPUT P_CPU P_P99 P_IP99 P_RSS P_FAIL P_PG < <(summary pebble)
fi
echo
[ -z "$BASELINE" ] || [ "$HSM" = 1 ] || [ "$POSTGRES" = 1 ] || echo "Baseline: $BASELINE"
[ "$HSM" = 0 ] || echo "Ferrite: CA keys in files; SoftHSM: the same binary, CA keys in a SoftHSM token"
[ "$PG_BOTH" = 0 ] || echo "Ferrite: this tree; Baseline: $BASELINE; both on $("$PG_BIN/postgres" --version) (same machine)"
[ "$POSTGRES" = 0 ] || [ "$PG_BOTH" = 1 ] || echo "Ferrite: embedded SQLite; $OTHER: the same binary on $("$PG_BIN/postgres" --version) (same machine)$([ "$INSTANCES" = 1 ] || echo ", $INSTANCES instances of one CA, the clients spread over them")"
echo "Ferrite vs $OTHER: $CLIENTS clients, $KEY_TYPE keys, ≤$DURATION s per run, $RUNS run(s) each, $(nproc) cores (generator and servers share them)$([ "$DNSSEC" = 1 ] && echo ", Ferrite validating DNSSEC")"
awk -v OFS='' -v other="$OTHER" '
  function row(name, f, p) {
    printf "%-34s %12.2f %12.2f %16s\n", name, f, p, (p > 0 ? sprintf("%.2f", f / p) : "-")
  }
  BEGIN {
    printf "%-34s %12s %12s %16s\n", "metric", "Ferrite", other, "Ferrite/" other
    row("issuances per second", '"$F_TPUT"', '"$P_TPUT"')
    row("server CPU ms per issuance", '"$F_CPU"', '"$P_CPU"')
    row("worst endpoint p99 ms", '"$F_P99"', '"$P_P99"')
    row("whole issuance p99 ms", '"$F_IP99"', '"$P_IP99"')
    row("server peak RSS MB (VmHWM)", '"$F_RSS"', '"$P_RSS"')
    row("failed + cancelled issuances", '"$F_FAIL"', '"$P_FAIL"')
    if ('"$POSTGRES"') {
      row("PostgreSQL CPU ms per issuance", '"$F_PG"', '"$P_PG"')
      row("Ferrite + PostgreSQL CPU ms/issuance", '"$F_CPU"' + '"$F_PG"', '"$P_CPU"' + '"$P_PG"')
    }
  }'
if [ "$LEGO_RUNS" -gt 0 ]; then
    if [ "$PEBBLE" = 1 ] || [ -n "$BASELINE" ]; then
        P_LEGO=$(printf '%.3f' "$PL_MEAN")
        P_LEGO_RANGE=$(printf '%.2f–%.2f' "$PL_MIN" "$PL_MAX")
        LEGO_RATIO=$(awk "BEGIN { printf \"%.2f\", $FL_MEAN / $PL_MEAN }")
    else
        P_LEGO=- P_LEGO_RANGE=- LEGO_RATIO=-
    fi
    printf '%-34s %12.3f %12s %16s\n' "lego time to certificate s (mean)" \
        "$FL_MEAN" "$P_LEGO" "$LEGO_RATIO"
    printf '%-34s %12s %12s\n' "  (min–max s, $LEGO_RUNS runs)" \
        "$(printf '%.2f–%.2f' "$FL_MIN" "$FL_MAX")" "$P_LEGO_RANGE"
fi
# A server that wedged part of the way through makes its averages meaningless: say so.
for f in "$OUT"/ferrite-*.json "$OUT"/pebble-*.json "$OUT"/baseline-*.json; do
    [ -e "$f" ] || continue
    jq -r --arg f "$(basename "$f" .json)" \
        'select(.longest_stall_s > 2) | "warning: \($f) went \(.longest_stall_s * 10 | round / 10) s without completing an issuance (stalled server?)"' "$f"
done
