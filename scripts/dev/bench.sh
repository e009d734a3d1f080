#!/usr/bin/env bash
# Measures what users wait on: the test suite as `make test` runs it, against the smallest CDK
# test this module can run (the floor: starting jsii and loading the CDK, which every CDK test
# pays), and `cdk synth` of every environment. Run it through `make bench`, which passes the suite's
# command and puts the pinned Node.js on PATH. Plain bash 3.2 (macOS's): no associative arrays.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/dev/bench.sh [--runs N]

Runs the suite, the floor and cdk synth once to warm up, then N rounds (default 5), and prints
each one's fastest and median wall time, and the suite's time over the floor's (the median of the
rounds' ratios: the two run in turn, so a machine that drifts slows both alike).
TXT
}

runs=5
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

# The suite as `make test` runs it: the Makefile passes its own command, so the two cannot differ.
[ -n "${GO_TEST:-}" ] || { echo "bench.sh: GO_TEST is not set; run it as make bench" >&2; exit 1; }
case " $GO_TEST " in
  *" -run"*|*" -v "*) echo "bench.sh: GO_TEST narrows the suite ($GO_TEST): run make bench without RUN" >&2; exit 1 ;;
esac
cd "$(dirname "$0")/../.."
cdk=node_modules/.bin/cdk
[ -x "$cdk" ] || { echo "bench.sh: $cdk is missing; run make synth first" >&2; exit 1; }

out=$(mktemp) times=$(mktemp)
trap 'rm -f "$out" "$times"' EXIT
# timed CMD...: runs it once and prints its wall time in seconds; a failed run stops the
# benchmark with the end of its output.
timed() {
  local TIMEFORMAT=%R s
  if ! { time "$@" >"$out" 2>&1; } 2>"$times"; then
    echo "bench.sh: failed: $*" >&2
    tail -n 40 "$out" >&2
    exit 1
  fi
  s=$(tail -n 1 "$times")
  echo "$s"
}
# stats V...: the fastest and the median (the lower middle of an even count).
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%6.2f s  %6.2f s", v[1], v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { print a / b }'; }

# shellcheck disable=SC2206 # split on white space, as make passes it
suite=($GO_TEST)
floor=(go test -count=1 -tags benchfloor ./scripts/dev/floor)
synth=("$cdk" synth --quiet)
timed "${suite[@]}" >/dev/null
timed "${floor[@]}" >/dev/null
timed "${synth[@]}" >/dev/null
suite_s=() floor_s=() synth_s=() ratios=()
for round in $(seq "$runs"); do
  if [ $((round % 2)) -eq 1 ]; then
    s=$(timed "${suite[@]}") f=$(timed "${floor[@]}")
  else
    f=$(timed "${floor[@]}") s=$(timed "${suite[@]}")
  fi
  suite_s+=("$s") floor_s+=("$f") ratios+=("$(ratio "$s" "$f")")
  synth_s+=("$(timed "${synth[@]}")")
done

printf 'the suite: %s\n\n%-52s %8s  %8s\n' "$GO_TEST" "warm, $runs rounds" fastest median
printf '%-52s %s\n' "the suite, as make test runs it" "$(stats "${suite_s[@]}")" \
  "the floor: one CDK assertion (scripts/dev/floor)" "$(stats "${floor_s[@]}")" \
  "cdk synth, every environment" "$(stats "${synth_s[@]}")"
printf '%s\n' "${ratios[@]}" | sort -g | awk '{ v[NR] = $1 }
  END { printf "\nsuite / floor: %.1fx (median of %d rounds; %.1fx to %.1fx)\n", v[int((NR + 1) / 2)], NR, v[1], v[NR] }'
