#!/usr/bin/env bash
# Measures what users wait on in CI: the warm test suite, synthesis of every environment, and
# the peak memory of each. Run it through `make bench` so the pinned Node.js is on PATH.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/dev/bench.sh [--runs N]

Runs the test suite and `cdk synth` N times each (default 3) after one warm-up run, and prints
the fastest wall time and the peak resident memory of the largest process.
TXT
}

runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --runs)
      [ $# -ge 2 ] || { echo "bench.sh: --runs needs a number" >&2; exit 2; }
      runs=$2; shift 2 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$runs" in
  ''|*[!0-9]*|0) echo "bench.sh: --runs '$runs' is not a positive whole number" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/../.."
[ -x /usr/bin/time ] || { echo "bench.sh: GNU time is missing (apt-get install time)" >&2; exit 1; }
cdk=node_modules/.bin/cdk
[ -x "$cdk" ] || { echo "bench.sh: $cdk is missing; run make synth first" >&2; exit 1; }

# measure NAME CMD...: warm up once, then report the best of $runs runs.
measure() {
  local name=$1 best_s="" best_kb=0 log
  shift
  log=$(mktemp)
  "$@" >/dev/null 2>&1
  for _ in $(seq "$runs"); do
    /usr/bin/time -f '%e %M' -o "$log" "$@" >/dev/null 2>&1
    read -r secs kb <"$log"
    if [ -z "$best_s" ] || awk -v a="$secs" -v b="$best_s" 'BEGIN { exit !(a < b) }'; then best_s=$secs; fi
    [ "$kb" -gt "$best_kb" ] && best_kb=$kb
  done
  rm -f "$log"
  printf '| %-32s | %8s s | %6d MiB |\n' "$name" "$best_s" $((best_kb / 1024))
}

printf '| %-32s | %10s | %10s |\n' "what (best of $runs, warm)" "wall time" "peak RSS"
printf '|%s|%s|%s|\n' "----------------------------------" "------------" "------------"
measure "go test ./... (count=1)" go test -count=1 ./...
measure "cdk synth (all environments)" "$cdk" synth --quiet
