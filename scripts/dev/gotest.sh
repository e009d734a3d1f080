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
# wait -n -p (which job ended) and EPOCHREALTIME.
if [ "${BASH_VERSINFO[0]}" -lt 5 ] || { [ "${BASH_VERSINFO[0]}" -eq 5 ] && [ "${BASH_VERSINFO[1]}" -lt 1 ]; }; then
  echo "gotest.sh: needs bash 5.1 or later (this is $BASH_VERSION)" >&2
  exit 2
fi

usage() {
  cat <<'TXT'
Usage: scripts/dev/gotest.sh [BUILD-FLAG...] PACKAGE... [-- TEST-FLAG...]

Builds the test binary of each PACKAGE (go list patterns, such as ./...) that has tests into
.gotest/ at the module's root, then runs each in its package's folder, as many at once as the
machine has cores (or GOTEST_JOBS), in the order given, as go test starts them: list a slow
package first (./test ./...) to start it first. Prints each package's result as go test does
("ok", or the package's output then "FAIL"), but as each package ends, not in list order, and
nothing for a package without tests.
Exits 1 if a test failed, and 2 if a package did not build (go's own message says why; then no
test runs). Every test runs on every run: no result is cached.

BUILD-FLAG: a go build flag, in its -flag=value form (-tags=benchfloor, -race), or go test's
            -vet=LIST (-vet=off where go vet has just run).
TEST-FLAG:  a test binary flag, with its -test. prefix (-test.run=TestNag, -test.v,
            -test.parallel=8). Each binary also gets -test.timeout=10m, as under go test.
TXT
}

build=() vet=() pkgs=() testflags=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --) shift; testflags=("$@"); break ;;
    -run|-run=*|-v|-count|-count=*|-parallel|-parallel=*|-timeout|-timeout=*|-short|-failfast|-json|-bench|-bench=*|-cpu|-cpu=*|-shuffle|-shuffle=*)
      flag=${1#-}
      echo "gotest.sh: '$1' is a test flag: give it after --, with its -test. prefix (-test.$flag)" >&2
      exit 2 ;;
    # go test's own, which go list does not take.
    -vet=*) vet=("$1") ;;
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

{ read -r gomod; read -r goroot; } < <(go env GOMOD GOROOT)
case "$gomod" in
  ''|/dev/null) echo "gotest.sh: not inside a Go module (run it from the module)" >&2; exit 2 ;;
esac
# As go test does: the tests' go is the one that built them.
PATH=$goroot/bin:$PATH
bins=$(dirname "$gomod")/.gotest
mkdir -p "$bins"
# Two runs at once would link over each other's binaries, one of them perhaps running. The lock's
# descriptor is closed for every command below (9>&-), so a process a test leaves behind cannot
# hold it.
if command -v flock >/dev/null; then
  exec 9>"$bins/lock"
  flock -n 9 || { echo "gotest.sh: waiting for another run in this module to end" >&2; flock 9; }
fi

# Each package with tests, as import path, a tab and its folder (which may hold spaces), in the
# order go test would start them: each pattern's packages in the order the patterns are given.
# (-find: the file lists without resolving imports, a third of the cost; go test -c reports a
# broken import.)
listed=$(go list -find "${build[@]}" -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{"\t"}}{{.Dir}}{{end}}' "${pkgs[@]}" 9>&-) || exit 2
declare -A dir_of=()
paths=()
while IFS=$'\t' read -r path dir; do
  [ -n "$path" ] || continue
  dir_of[$path]=$dir
  paths+=("$path")
done <<<"$listed"
[ "${#paths[@]}" -gt 0 ] || { echo "gotest.sh: no test files in ${pkgs[*]}"; exit 0; }

# go test -c names a binary after the last element of its import path, or the one before it when
# the last is a major version from v2 up (cmd/go's isVersionElement: not v0, v1 or v01), and
# refuses two alike in one folder: the second package of a name, in import path order, goes in
# .gotest/1/, the third in .gotest/2/, ... (A package whose place changes because a run leaves
# out another of its name is linked again: slower, not wrong.)
declare -A seen=() batch=() bin_of=()
for path in $(printf '%s\n' "${paths[@]}" | LC_ALL=C sort); do
  name=${path##*/}
  if [[ $name =~ ^v([2-9][0-9]*|1[0-9]+)$ && $path == */* ]]; then
    name=${path%/*}
    name=${name##*/}
  fi
  n=${seen[$name]:-0}
  seen[$name]=$((n + 1))
  batch[$n]+=" $path"
  bin_of[$path]=$bins/$n/$name.test
done
# go test -c writes each binary, or touches it when it is up to date: one older than the stamp is
# not the package's (a name this script got wrong), and must not run.
touch "$bins/stamp"
for n in "${!batch[@]}"; do
  mkdir -p "$bins/$n"
  # shellcheck disable=SC2086 # import paths hold no spaces
  go test "${build[@]}" "${vet[@]}" -c -o "$bins/$n/" ${batch[$n]} 9>&- || exit 2
done
for path in "${paths[@]}"; do
  if [ ! -x "${bin_of[$path]}" ] || [ "${bin_of[$path]}" -ot "$bins/stamp" ]; then
    echo "gotest.sh: go test -c did not write ${bin_of[$path]} for $path" >&2
    exit 2
  fi
done

verbose=0
for f in "${testflags[@]}"; do
  case "$f" in -test.v|-test.v=true|-test.v=test2json) verbose=1 ;; esac
done
logs=$(mktemp -d)
# By the binary's process ID: its package, its log and when it started (microseconds).
declare -A pkg_of=() log_of=() start_of=()
launched=0
# shellcheck disable=SC2317 # run by the EXIT trap
stop() {
  [ "${#pkg_of[@]}" -eq 0 ] || kill -TERM "${!pkg_of[@]}" 2>/dev/null || true
  rm -rf "$logs"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start PATH: the package's test binary, in its folder (where go test runs it), in the background.
start() {
  local path=$1 log
  launched=$((launched + 1))
  log=$logs/$launched.log
  (cd "${dir_of[$path]}" && exec "${bin_of[$path]}" -test.paniconexit0 -test.timeout=10m "${testflags[@]}") >"$log" 2>&1 9>&- &
  pkg_of[$!]=$path
  log_of[$!]=$log
  start_of[$!]=${EPOCHREALTIME//[!0-9]/}
}

# finish: waits for a binary to end and prints its result (its output first when it failed or
# -test.v asked for it). The parent prints, so two results never interleave.
failed=0
finish() {
  local pid status=0 micros
  wait -n -p pid || status=$?
  micros=$(( ${EPOCHREALTIME//[!0-9]/} - ${start_of[$pid]} ))
  if [ "$status" -ne 0 ] || [ "$verbose" -eq 1 ]; then
    cat "${log_of[$pid]}"
  fi
  if [ "$status" -ne 0 ]; then
    failed=1
    printf 'FAIL\t%s\t%d.%03ds\n' "${pkg_of[$pid]}" $((micros / 1000000)) $((micros / 1000 % 1000))
  else
    printf 'ok  \t%s\t%d.%03ds\n' "${pkg_of[$pid]}" $((micros / 1000000)) $((micros / 1000 % 1000))
  fi
  unset "pkg_of[$pid]" "log_of[$pid]" "start_of[$pid]"
}

for path in "${paths[@]}"; do
  [ "${#pkg_of[@]}" -lt "$cores" ] || finish
  start "$path"
done
while [ "${#pkg_of[@]}" -gt 0 ]; do
  finish
done
exit "$failed"
