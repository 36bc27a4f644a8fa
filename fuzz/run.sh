#!/usr/bin/env bash
# Builds every fuzz target once (cargo-fuzz, libFuzzer, on the stable toolchain: no
# sanitizer) and runs each for SECONDS from its seed corpus in fuzz/corpus/. Fails if any
# target crashes, panics, times out or exceeds its memory limit, printing the reproducer's
# path; rerun one with `fuzz/run.sh --repro TARGET FILE`.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     default: 20 s per target, every target
#   fuzz/run.sh --repro TARGET FILE       run TARGET once on FILE
#
# Environment:
#   FERRITE_FUZZ_TARGET_DIR  cargo target directory of the fuzz build (default:
#                            $CARGO_TARGET_DIR/fuzz, else ~/.cache/ferrite/fuzz-target);
#                            it also holds the grown corpora (corpus/) and the reproducers
#                            (artifacts/), so nothing is written into the clone
#   FERRITE_FUZZ_RSS_MB      memory limit per target in MB (default 2048)
#   FERRITE_FUZZ_JOBS        targets run at once (default 1)
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\n==> %s\n' "$*"; }

target_dir="${FERRITE_FUZZ_TARGET_DIR:-}"
if [ -z "$target_dir" ]; then
  if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    target_dir="$CARGO_TARGET_DIR/fuzz"
  else
    target_dir="$HOME/.cache/ferrite/fuzz-target"
  fi
fi
mkdir -p "$target_dir"
target_dir="$(cd "$target_dir" && pwd)"
case "$target_dir/" in
  "$(cd .. && pwd)/"*) echo "the fuzz target directory $target_dir is inside the clone; set FERRITE_FUZZ_TARGET_DIR" >&2; exit 2 ;;
esac
rss_mb="${FERRITE_FUZZ_RSS_MB:-2048}"
jobs="${FERRITE_FUZZ_JOBS:-1}"
bin_dir="$target_dir/x86_64-unknown-linux-gnu/release"

build() {
  log "building the fuzz targets into $target_dir"
  # --cfg fuzzing, coverage instrumentation and libFuzzer; no sanitizer, which would need
  # nightly (Rust's own checks, debug assertions and overflow checks stay on).
  cargo fuzz build -s none --target-dir "$target_dir" "$@"
}

# Without a network: a fuzz target has no business with one. `unshare -rn` needs user
# namespaces; where they are not allowed, the targets run as they are (they open no socket).
isolate=()
if unshare -rn true 2>/dev/null; then
  isolate=(unshare -rn)
fi

if [ "${1:-}" = "--repro" ]; then
  [ $# = 3 ] || { echo "usage: $0 --repro TARGET FILE" >&2; exit 2; }
  build "$2"
  exec "${isolate[@]}" "$bin_dir/$2" -rss_limit_mb="$rss_mb" "$3"
fi

seconds="${1:-20}"
[ $# -gt 0 ] && shift
case "$seconds" in ''|*[!0-9]*) echo "SECONDS must be a number, not $seconds" >&2; exit 2 ;; esac
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

build
work="$target_dir/runs"
mkdir -p "$work"

# One target: the grown corpus of earlier runs outside the clone first (new inputs go
# there), the committed seeds second. libFuzzer exits non-zero on a crash, a timeout
# (-timeout) or too much memory (-rss_limit_mb), after writing the input to artifacts/.
run_one() {
  local target="$1"
  local corpus="$target_dir/corpus/$target" artifacts="$target_dir/artifacts/$target"
  mkdir -p "$corpus" "$artifacts" corpus/"$target"
  local status=0
  "${isolate[@]}" "$bin_dir/$target" "$corpus" corpus/"$target" \
    -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout=10 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 \
    >"$work/$target.log" 2>&1 || status=$?
  local runs cov
  runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/$target.log" | tail -n 1)"
  cov="$(grep -o 'cov: [0-9]* ft: [0-9]*' "$work/$target.log" | tail -n 1)"
  if [ "$status" = 0 ]; then
    printf '%-18s ok      %10s runs  %s\n' "$target" "${runs:-?}" "$cov"
  else
    printf '%-18s FAILED  (exit %s), log: %s\n' "$target" "$status" "$work/$target.log"
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written to|^artifact_prefix' \
      "$work/$target.log" | sed 's/^/    /' || true
    return 1
  fi
}

log "running ${#targets[@]} targets for ${seconds} s each (memory limit ${rss_mb} MB, ${jobs} at once)"
failed=()
running=()
for target in "${targets[@]}"; do
  run_one "$target" &
  running+=("$!:$target")
  if [ "${#running[@]}" -ge "$jobs" ]; then
    entry="${running[0]}"
    running=("${running[@]:1}")
    wait "${entry%%:*}" || failed+=("${entry#*:}")
  fi
done
for entry in "${running[@]}"; do
  wait "${entry%%:*}" || failed+=("${entry#*:}")
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo >&2
  echo "fuzzing found problems in: ${failed[*]}" >&2
  echo "reproducers are in $target_dir/artifacts/<target>/; rerun one with: fuzz/run.sh --repro TARGET FILE" >&2
  exit 1
fi
echo
echo "no findings"
