#!/usr/bin/env bash
# Measures what users wait on: the warm test suite against the smallest CDK test this module can
# run (the floor), synthesis with and without CDK's built-in template validation, the cost of
# `go run .` checking the app is up to date, and a cold first build. Run it through `make bench`
# so the pinned Node.js is on PATH.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/dev/bench.sh [--runs N] [--no-cold]

Runs each measurement N times (default 5) after one warm-up run and prints the fastest wall time,
that run's CPU time and the peak resident memory of the largest process, then the ratios of the
suite to the floor (a one-assertion CDK test as go test runs it) and to three more yardsticks run
as the suite is: the suite and the floors run in turn, and each ratio is the median of the N
rounds' (not the quotient of the two fastest times). The cold build (an empty Go build cache;
modules already downloaded) runs once and takes minutes: --no-cold skips it.
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

# The suite as `make test` runs it: the Makefile passes its own command, so the two cannot differ.
[ -n "${GO_TEST:-}" ] || { echo "bench.sh: GO_TEST is not set; run it as make bench" >&2; exit 1; }
# Split on white space, as make passes it: no flag in it may hold a space.
read -r -a suite <<<"$GO_TEST"
# Its runner, the runner's flags and the test flags (after --), which the yardsticks below share.
runner=${suite[0]} runner_flags=() test_flags=()
for ((i = 1; i < ${#suite[@]}; i++)); do
  case ${suite[i]} in
    --) test_flags=("${suite[@]:i+1}"); break ;;
    -*) runner_flags+=("${suite[i]}") ;;
  esac
done
for f in "${test_flags[@]}"; do
  case $f in
    -test.run*|-test.skip*|-test.v*|-test.bench*)
      echo "bench.sh: the suite's test flags hold $f: the yardsticks take them too, and would run other tests than their own" >&2
      exit 1 ;;
  esac
done
cd "$(dirname "$0")/../.."
[ -x /usr/bin/time ] || { echo "bench.sh: GNU time is missing (apt-get install time)" >&2; exit 1; }
cdk=node_modules/.bin/cdk
[ -x "$cdk" ] || { echo "bench.sh: $cdk is missing; run make synth first" >&2; exit 1; }

log=$(mktemp) out=$(mktemp)
trap 'rm -f "$log" "$out"' EXIT
secs="" cpu="" kb=""
# timed CMD...: one run; leaves its wall time in secs, its CPU time (user and system, children
# included) in cpu and its peak RSS (KiB) in kb. A failed run stops the benchmark with the end of
# its output.
timed() {
  local user sys
  if ! /usr/bin/time -f '%e %U %S %M' -o "$log" "$@" >"$out" 2>&1; then
    echo "bench.sh: failed: $*" >&2
    tail -n 40 "$out" >&2
    exit 1
  fi
  read -r secs user sys kb <"$log"
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
}

# The best time, that run's CPU time and the largest peak RSS seen so far, by name. On 2 cores, a
# command whose wall time is half its CPU time kept both busy: only less work makes it faster.
declare -A best=() best_cpu=() peak=()
# keep NAME: records the last timed run under NAME.
keep() {
  if [ -z "${best[$1]:-}" ] || awk -v a="$secs" -v b="${best[$1]}" 'BEGIN { exit !(a < b) }'; then
    best[$1]=$secs
    best_cpu[$1]=$cpu
  fi
  [ "$kb" -gt "${peak[$1]:-0}" ] && peak[$1]=$kb
  return 0
}

# row NAME: its line of the table. (The peak is copied out first: inside $((...)) the name, a
# command line with quotes and dots, would be read as arithmetic.)
row() {
  local kib=${peak[$1]}
  printf '| %-44s | %8s s | %8s s | %6d MiB |\n' "$1" "${best[$1]}" "${best_cpu[$1]}" $((kib / 1024))
}

# sample NAME CMD...: one timed run, recorded under NAME.
sample() {
  local name=$1
  shift
  timed "$@"
  keep "$name"
}

# measure NAME CMD...: warm up once, then the best of $runs runs.
measure() {
  local name=$1
  shift
  timed "$@"
  for _ in $(seq "$runs"); do
    sample "$name" "$@"
  done
  row "$name"
}

# An app run that fails on its configuration, before it defines anything: what is left is the go
# tool checking that the app is up to date (the ~300 packages it imports), the revision's checks
# and jsii's start-up.
bad_env='{"env":"bench-no-such-environment"}'
app_run() { CDK_CONTEXT_JSON=$bad_env "$@" >/dev/null 2>&1 || true; }

printf '| %-44s | %10s | %10s | %10s |\n' "what (best of $runs, warm)" "wall time" "its CPU" "peak RSS"
printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "------------" "------------" "------------"

# The suite and the floors run in turn, in alternating order (suite first in one round, last in
# the next), so a machine whose speed drifts, or that is still busy after a run, slows them alike;
# each ratio is the median of the rounds' ratios, with their range. The floor is a one-assertion
# CDK test as go test runs it and CDK has it by default, built-in template validation on. The
# other yardsticks run as the suite does (its runner, with its runner's flags and its test flags;
# their test binaries kept as the suite's are), so each compares like with like:
#   - the floor itself (what the runner saves the floor, too);
#   - the floor without validation: the suite's apps turn it off (make synth runs it);
#   - the suite's one CDK package on its own: what the rest of the suite runs beside.
floor=(go test -tags benchfloor -count=1 ./scripts/dev/floor)
kept=("$runner" "${runner_flags[@]}" -tags=benchfloor ./scripts/dev/floor -- "${test_flags[@]}")
cdk_tests=("$runner" "${runner_flags[@]}" ./test -- "${test_flags[@]}")
suite_name="${suite[*]}"
floor_name="floor: one-assertion CDK test (scripts/dev/floor)"
kept_name="the floor as the suite runs, binary kept"
bare_name="the same with CDK_VALIDATION=false"
cdk_name="the CDK package alone (./test), as the suite runs"
run_suite() { sample "$suite_name" "${suite[@]}"; suite_s=$secs; }
run_others() {
  sample "$floor_name" "${floor[@]}"
  floor_s=$secs
  sample "$kept_name" "${kept[@]}"
  kept_s=$secs
  sample "$bare_name" env CDK_VALIDATION=false "${kept[@]}"
  bare_s=$secs
  sample "$cdk_name" "${cdk_tests[@]}"
  cdk_s=$secs
}
# Warm-up, which also links the binaries the runner keeps.
timed "${suite[@]}"
timed "${floor[@]}"
timed "${kept[@]}"
suite_s="" floor_s="" kept_s="" bare_s="" cdk_s="" ratios=() kept_ratios=() bare_ratios=() cdk_ratios=()
quotient() { awk -v a="$1" -v b="$2" 'BEGIN { print a / b }'; }
for round in $(seq "$runs"); do
  if [ $((round % 2)) -eq 1 ]; then run_suite; run_others; else run_others; run_suite; fi
  ratios+=("$(quotient "$suite_s" "$floor_s")")
  kept_ratios+=("$(quotient "$suite_s" "$kept_s")")
  bare_ratios+=("$(quotient "$suite_s" "$bare_s")")
  cdk_ratios+=("$(quotient "$cdk_s" "$kept_s")")
done
row "$suite_name"
row "$floor_name"
row "$kept_name"
row "$bare_name"
row "$cdk_name"
measure "cdk synth, every environment" "$cdk" synth --quiet
measure "cdk synth, built-in validation off" env CDK_VALIDATION=false "$cdk" synth --quiet
bin=$(mktemp -d)/app
go build -o "$bin" .
measure "app start-up, go run . (cdk.json's app)" bash -c "$(declare -f app_run); bad_env='$bad_env'; app_run go run ."
measure "app start-up, a prebuilt binary" bash -c "$(declare -f app_run); bad_env='$bad_env'; app_run '$bin'"
rm -rf "$(dirname "$bin")"
# ratio NAME RATIO...: the median (the lower middle of an even count) and the range of the rounds'.
ratio() {
  local name=$1
  shift
  printf '%s\n' "$@" | sort -g | awk -v name="$name" '{ v[NR] = $1 }
    END { printf "%s: %.1fx (median of %d round%s; %.1fx to %.1fx)\n", name, v[int((NR + 1) / 2)], NR, NR == 1 ? "" : "s", v[1], v[NR] }'
}
echo
ratio "suite / floor (goal: at most 3x)" "${ratios[@]}"
ratio "suite / the floor as the suite runs (like for like)" "${kept_ratios[@]}"
ratio "suite / that floor without validation" "${bare_ratios[@]}"
ratio "the CDK package alone / the floor as the suite runs" "${cdk_ratios[@]}"

if [ "$cold" -eq 1 ]; then
  # A first `make synth` on a machine whose module cache is filled but whose build cache is empty:
  # the CDK Go bindings, the AWS SDK and the app are compiled from scratch.
  cache=$(mktemp -d)
  timed env GOCACHE="$cache" "$cdk" synth --quiet
  printf '\ncold cdk synth (empty Go build cache, modules downloaded): %s s (CPU %s s), peak %d MiB\n' "$secs" "$cpu" $((kb / 1024))
  rm -rf "$cache"
fi
