#!/usr/bin/env bash
# Runs Go tests the way `go test -count=1 PACKAGE...` does, but keeps each package's test binary
# between runs, so a package whose code has not changed is not linked again.
#
# Why: `go test` links every test binary on every run, cached or not, and on this module linking
# is a third of the warm suite's CPU time (eighteen binaries, one of them 110 MB with the CDK's
# bindings). `go test -c -o DIR/` writes each binary into DIR and, like `go build -o`, skips the
# link when the file there already carries the build ID Go computes from every input (sources,
# dependencies, flags, toolchain, environment): a binary is reused only when a fresh link would
# produce it. Go itself may gain this as `go test -cachelink` (golang/go#77349); until then, this.
set -euo pipefail
# wait -n and associative arrays.
if [ "${BASH_VERSINFO[0]}" -lt 4 ] || { [ "${BASH_VERSINFO[0]}" -eq 4 ] && [ "${BASH_VERSINFO[1]}" -lt 3 ]; }; then
  echo "gotest.sh: needs bash 4.3 or later (this is $BASH_VERSION)" >&2
  exit 2
fi

usage() {
  cat <<'TXT'
Usage: scripts/dev/gotest.sh [BUILD-FLAG...] PACKAGE... [-- TEST-FLAG...]

Builds the test binary of each PACKAGE (go list patterns, such as ./...) that has tests into
.gotest/ at the module's root, then runs each in its package's folder, as many at once as the
machine has cores (or GOTEST_JOBS), in the order given, as go test starts them: list a slow
package first (./test ./...) to start it first. Prints one line a package as go test does ("ok",
or the package's output then "FAIL"); exits 1 if a test failed and 2 if a package did not build
(go's own message says why). Every test runs on every run: no result is cached.

BUILD-FLAG: a go build flag, in its -flag=value form (-tags=benchfloor, -race).
TEST-FLAG:  a test binary flag, with its -test. prefix (-test.run=TestNag, -test.v,
            -test.parallel=8). Each binary also gets -test.timeout=10m, as under go test.
TXT
}

build=() pkgs=() testflags=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --) shift; testflags=("$@"); break ;;
    -*=*|-race|-msan|-asan|-trimpath|-a|-x) build+=("$1") ;;
    -*) echo "gotest.sh: build flag '$1' needs its -flag=value form (see --help)" >&2; exit 2 ;;
    *) pkgs+=("$1") ;;
  esac
  shift
done
[ "${#pkgs[@]}" -gt 0 ] || { echo "gotest.sh: no packages given (see --help)" >&2; exit 2; }
cores=${GOTEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
case "$cores" in
  ''|*[!0-9]*|0) echo "gotest.sh: GOTEST_JOBS '$cores' is not a positive whole number" >&2; exit 2 ;;
esac

gomod=$(go env GOMOD)
case "$gomod" in
  ''|/dev/null) echo "gotest.sh: not inside a Go module (run it from the module)" >&2; exit 2 ;;
esac
bins=$(dirname "$gomod")/.gotest
mkdir -p "$bins"
# Two runs at once would link over each other's binaries, one of them perhaps running.
if command -v flock >/dev/null; then
  exec 9>"$bins/lock"
  flock 9
fi

# Each package with tests, as import path, a tab and its folder (which may hold spaces), in the
# order go test would start them: each pattern's packages in the order the patterns are given.
listed=$(go list "${build[@]}" -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{"\t"}}{{.Dir}}{{end}}' "${pkgs[@]}")
declare -A dir_of=()
paths=()
while IFS=$'\t' read -r path dir; do
  [ -n "$path" ] || continue
  dir_of[$path]=$dir
  paths+=("$path")
done <<<"$listed"
[ "${#paths[@]}" -gt 0 ] || { echo "gotest.sh: no test files in ${pkgs[*]}"; exit 0; }
# go test -c names a binary after the last element of its import path (the one before it when
# the last is a major version, v2), and refuses two alike in one folder: the second package of a
# name, in import path order, goes in .gotest/1/, the third in .gotest/2/, ... (A package whose
# place changes because a run leaves out another of its name is linked again: slower, not wrong.)
declare -A seen=() batch=() bin_of=()
for path in $(printf '%s\n' "${paths[@]}" | LC_ALL=C sort); do
  name=${path##*/}
  if [[ $name =~ ^v[1-9][0-9]*$ && $path == */* ]]; then
    name=${path%/*}
    name=${name##*/}
  fi
  n=${seen[$name]:-0}
  seen[$name]=$((n + 1))
  batch[$n]+=" $path"
  bin_of[$path]=$bins/$n/$name.test
done
for n in "${!batch[@]}"; do
  mkdir -p "$bins/$n"
  # shellcheck disable=SC2086 # import paths hold no spaces
  go test "${build[@]}" -c -o "$bins/$n/" ${batch[$n]} || exit 2
done

# run_one BINARY FOLDER IMPORT-PATH: one test binary, in its package's folder; prints go test's
# summary line, with the output before it when the package failed or -test.v asked for it.
verbose=0
for f in "${testflags[@]}"; do
  case "$f" in -test.v|-test.v=true|-test.v=test2json) verbose=1 ;; esac
done
run_one() {
  local bin=$1 dir=$2 path=$3 log start status=0 secs
  log=$(mktemp)
  start=$(date +%s%N)
  (cd "$dir" && exec "$bin" -test.paniconexit0 -test.timeout=10m "${testflags[@]}") >"$log" 2>&1 || status=$?
  secs=$(( ($(date +%s%N) - start) / 1000000 ))
  secs=$(printf '%d.%03d' $((secs / 1000)) $((secs % 1000)))
  if [ "$status" -ne 0 ]; then
    cat "$log"
    printf 'FAIL\t%s\t%ss\n' "$path" "$secs"
  else
    [ "$verbose" -eq 0 ] || cat "$log"
    printf 'ok  \t%s\t%ss\n' "$path" "$secs"
  fi
  rm -f "$log"
  return "$status"
}

running=0 failed=0
for path in "${paths[@]}"; do
  if [ "$running" -ge "$cores" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
  run_one "${bin_of[$path]}" "${dir_of[$path]}" "$path" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
exit "$failed"
