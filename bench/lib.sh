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
# A report directory given must be new or empty: the tables average every report in it, so
# an earlier run's reports would be counted with this one's.
if [ -n "$OUT" ] && [ -e "$OUT" ] && { [ ! -d "$OUT" ] || [ -n "$(ls -A "$OUT")" ]; }; then
    echo "$SCRIPT: --out $OUT is not a new or empty directory; give a new one" >&2
    exit 2
fi
TMP=$(mktemp -d)
KEEP_OUT=1
if [ -z "$OUT" ]; then OUT=$TMP/out; KEEP_OUT=0; fi
mkdir -p "$OUT"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ ! -f "$TMP/postgres/server.log" ] || cp "$TMP/postgres/server.log" "$OUT/postgres.log"
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

# start_postgres → PG_URL PG_DIR: a throwaway PostgreSQL cluster (Debian's postgresql) in TMP,
# on a free loopback port, with its durable defaults (fsync, synchronous_commit on: as the
# embedded SQLite runs with synchronous=FULL), password login for user ferrite; PG_URL names
# its maintenance database. As root the cluster runs as the postgres user. Stopped on exit.
# With PG_STATEMENTS=1 it loads pg_stat_statements (see postgres_statements).
start_postgres() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -x "$bin/initdb" ] || { echo "$SCRIPT: PostgreSQL not found (apt-get install -y postgresql)" >&2; exit 1; }
    PG_BIN=$bin
    PG_DIR=$TMP/postgres
    mkdir -p "$PG_DIR"
    PG_AS=()
    if [ "$(id -u)" = 0 ]; then
        PG_AS=(runuser -u postgres --)
        chown postgres "$PG_DIR"
        # The postgres user must pass through TMP to its directory (not list it).
        chmod 711 "$TMP"
    fi
    local password
    password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    printf '%s\n' "$password" >"$PG_DIR/password"
    [ ${#PG_AS[@]} = 0 ] || chown postgres "$PG_DIR/password"
    "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U ferrite --pwfile="$PG_DIR/password" \
        --auth-local=scram-sha-256 --auth-host=scram-sha-256 --no-instructions >/dev/null
    local port statements=""
    port=$(free_port)
    [ "${PG_STATEMENTS:-0}" = 0 ] ||
        statements="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
    # The server's log goes to its own directory (the postgres user cannot write OUT); it is
    # copied to OUT when the script ends.
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$PG_DIR -c max_connections=200 $statements" \
        start >/dev/null
    # Stopped before TMP goes: the cleanup trap kills PIDS first.
    PG_POSTMASTER=$(head -n 1 "$PG_DIR/data/postmaster.pid")
    PIDS+=("$PG_POSTMASTER")
    PG_URL="postgres://ferrite:$password@127.0.0.1:$port/postgres"
    [ -z "$statements" ] || psql -X -q "$PG_URL" -c "CREATE EXTENSION pg_stat_statements" >/dev/null
}

# postgres_statements_reset: forgets the statistics postgres_statements reports.
postgres_statements_reset() {
    psql -X -q "$PG_URL" -c "SELECT pg_stat_statements_reset(), pg_stat_reset_shared('wal')" >/dev/null
}

# postgres_statements DATABASE: the cluster's 30 statements of most execution time since the
# last reset (calls, total and mean ms, rows, WAL records; nested ones, run by triggers,
# included and also counted in their callers' time), the transactions committed in DATABASE
# (a new database per run: the run's, with its migrations), and the WAL written. Call it once
# the servers have stopped: a backend reports its commits and WAL when it ends, or up to 10 s
# later while it lives. A query that fails (another PostgreSQL version's views) is reported
# in the output, not fatal.
postgres_statements() {
    psql -X -v ON_ERROR_STOP=0 "$PG_URL" -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
        round((total_exec_time / calls)::numeric, 4) AS mean_ms, rows, wal_records,
        left(regexp_replace(query, '\s+', ' ', 'g'), 200) AS query
        FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 30" \
        -c "SELECT xact_commit AS commits FROM pg_stat_database WHERE datname = '$1'" \
        -c "SELECT * FROM pg_stat_wal" 2>&1 || true
}

# postgres_database NAME → the URL of a new, empty database NAME on the cluster.
postgres_database() {
    psql -X -q "$PG_URL" -c "CREATE DATABASE $1" >/dev/null
    echo "${PG_URL%/postgres}/$1"
}

# postgres_cpu_ms: the CPU time (user + system, ms) the cluster's processes have used so far:
# the postmaster and its children alive now. Ferrite keeps its pooled connections for the whole
# run, so the backends serving it are counted; a backend that ended mid-run is not.
postgres_cpu_ms() {
    local tck pids
    tck=$(getconf CLK_TCK)
    pids="$PG_POSTMASTER $(ps -o pid= --ppid "$PG_POSTMASTER" | tr '\n' ' ')"
    for pid in $pids; do
        # Fields 14 and 15 of /proc/PID/stat, counted after the ")" that ends the name.
        sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }'
    done | awk -v tck="$tck" '{ s += $1 } END { printf "%.0f\n", s * 1000 / tck }'
}

# write_ferrite_config FILE DATA_DIR [DATABASE_URL [LISTEN [BASE_URL]]]: a `ferrite serve`
# configuration on loopback ports the server picks (the ACME listener on LISTEN when given),
# resolving through DNS_PORT, validating http-01 on HTTP01_PORT, DNSSEC as DNSSEC_CONFIG says
# (default off), no EAB, rate limits off; on DATABASE_URL when given (else the embedded SQLite
# in DATA_DIR); BASE_URL when given (another instance's, for instances of one CA).
write_ferrite_config() {
    cat >"$1" <<CONFIG
database_url = "${3:-}"
listen = "${4:-127.0.0.1:0}"
base_url = "${5:-}"
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

# Off: the benchmark registers every client's account from 127.0.0.1 and orders far more
# than a subscriber would, which is load, not abuse.
[rate_limits]
new_orders_per_account = 0
pending_authorizations_per_account = 0
failed_validations_per_account_and_name = 0
new_accounts_per_address = 0
certificates_per_registered_domain = 0
duplicate_certificates = 0
CONFIG
}
