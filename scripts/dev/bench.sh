#!/usr/bin/env bash
# Measures what users wait on: the warm test suite against the smallest CDK test this module can
# run (the floor), synthesis with and without CDK's built-in template validation, the cost of
# `go run .` checking the app is up to date, and a cold first build. Run it through `make bench`
# so the pinned Node.js is on PATH.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/dev/bench.sh [--runs N] [--no-cold]

Runs each measurement N times (default 5) after one warm-up run and prints the fastest wall time
and the peak resident memory of the largest process, then the suite/floor ratio. The cold build
(an empty Go build cache; modules already downloaded) runs once and takes minutes: --no-cold
skips it.
TXT
}

runs=5
cold=1
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --runs)
      [ $# -ge 2 ] || { echo "bench.sh: --runs needs a number" >&2; exit 2; }
      runs=$2; shift 2 ;;
    --no-cold) cold=0; shift ;;
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
# The suite as `make test` runs it; the Makefile passes its own command.
read -r -a suite <<<"${GO_TEST:-go test -count=1 -parallel 8 ./test/... ./...}"

best_s=""
# measure NAME CMD...: warm up once, then report the best of $runs runs; leaves the time in best_s.
measure() {
  local name=$1 kb_max=0 log secs kb
  shift
  best_s=""
  log=$(mktemp)
  "$@" >/dev/null 2>&1 || { echo "bench.sh: $name failed: $*" >&2; exit 1; }
  for _ in $(seq "$runs"); do
    /usr/bin/time -f '%e %M' -o "$log" "$@" >/dev/null 2>&1
    read -r secs kb <"$log"
    if [ -z "$best_s" ] || awk -v a="$secs" -v b="$best_s" 'BEGIN { exit !(a < b) }'; then best_s=$secs; fi
    [ "$kb" -gt "$kb_max" ] && kb_max=$kb
  done
  rm -f "$log"
  printf '| %-44s | %8s s | %6d MiB |\n' "$name" "$best_s" $((kb_max / 1024))
}

# An app run that fails on its configuration before it starts jsii's work: what is left is the
# go tool checking that the app is up to date (the ~300 packages it imports), and the start-up.
bad_env='{"env":"bench-no-such-environment"}'
app_run() { CDK_CONTEXT_JSON=$bad_env "$@" >/dev/null 2>&1 || true; }

printf '| %-44s | %10s | %10s |\n' "what (best of $runs, warm)" "wall time" "peak RSS"
printf '|%s|%s|%s|\n' "----------------------------------------------" "------------" "------------"
measure "${suite[*]}" "${suite[@]}"
suite_s=$best_s
measure "floor: one-assertion CDK test (scripts/dev/floor)" go test -tags benchfloor -count=1 ./scripts/dev/floor
floor_s=$best_s
measure "cdk synth, every environment" "$cdk" synth --quiet
measure "cdk synth, built-in validation off" env CDK_VALIDATION=false "$cdk" synth --quiet
bin=$(mktemp -d)/app
go build -o "$bin" .
measure "app start-up, go run . (cdk.json's app)" bash -c "$(declare -f app_run); bad_env='$bad_env'; app_run go run ."
measure "app start-up, a prebuilt binary" bash -c "$(declare -f app_run); bad_env='$bad_env'; app_run '$bin'"
rm -rf "$(dirname "$bin")"
awk -v s="$suite_s" -v f="$floor_s" 'BEGIN { printf "\nsuite / floor: %.1fx (goal: at most 3x)\n", s / f }'

if [ "$cold" -eq 1 ]; then
  # A first `make synth` on a machine whose module cache is filled but whose build cache is empty:
  # the CDK Go bindings, the AWS SDK and the app are compiled from scratch.
  cache=$(mktemp -d)
  log=$(mktemp)
  /usr/bin/time -f '%e %M' -o "$log" env GOCACHE="$cache" "$cdk" synth --quiet >/dev/null 2>&1
  read -r secs kb <"$log"
  printf '\ncold cdk synth (empty Go build cache, modules downloaded): %s s, peak %d MiB\n' "$secs" $((kb / 1024))
  rm -rf "$cache" "$log"
fi
