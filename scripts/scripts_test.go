// Package scripts holds the behavioural tests of the shell scripts in this folder. They run the
// scripts with bash; nothing here starts jsii.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// run runs a script with args and returns its exit code and combined output.
func run(t *testing.T, script string, args ...string) (int, string) {
	t.Helper()
	return output(t, exec.Command("bash", append([]string{script}, args...)...))
}

// output runs cmd and returns its exit code and combined output.
func output(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

func TestBenchArguments(t *testing.T) {
	cases := []struct {
		args     []string
		wantCode int
		want     string
	}{
		{[]string{"--help"}, 0, "Usage: scripts/dev/bench.sh"},
		{[]string{"--fast"}, 2, "unknown argument '--fast'"},
		{[]string{"--runs"}, 2, "--runs needs a number"},
		{[]string{"--runs", "0"}, 2, "--runs '0' is not a positive whole number"},
		{[]string{"--runs", "two"}, 2, "--runs 'two' is not a positive whole number"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out := run(t, "dev/bench.sh", tc.args...)
			if code != tc.wantCode || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, output %q; want exit %d and %q", code, out, tc.wantCode, tc.want)
			}
		})
	}
}

// TestBenchNeedsTheMakefilesSuite: bench.sh times the suite make test runs, which only the
// Makefile knows; run any other way, or on a suite narrowed to some tests (whose test flags the
// yardsticks would take), it says so before it measures anything.
func TestBenchNeedsTheMakefilesSuite(t *testing.T) {
	for _, tc := range []struct{ goTest, want string }{
		{"", "GO_TEST is not set; run it as make bench"},
		{"scripts/dev/gotest.sh ./test -- -test.parallel=8 -test.run=TestNag -test.v", "the suite's test flags hold -test.run=TestNag"},
	} {
		cmd := exec.Command("bash", "dev/bench.sh", "--no-cold")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GO_TEST=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		if tc.goTest != "" {
			cmd.Env = append(cmd.Env, "GO_TEST="+tc.goTest)
		}
		if code, out := output(t, cmd); code != 1 || !strings.Contains(out, tc.want) {
			t.Errorf("GO_TEST=%q: exit %d, output %q; want exit 1 and %q", tc.goTest, code, out, tc.want)
		}
	}
}

// TestFleetctlWrapper runs the operator CLI the way operators do, through scripts/fleetctl.
func TestFleetctlWrapper(t *testing.T) {
	// One run (each costs a go build's up-to-date check; cmd/fleetctl tests the commands): the
	// wrapper builds fleetctl, runs it from the repository root (the configuration's path is
	// relative to it; a fixed one, not the user's cdk.json) and passes the arguments and the exit
	// status through.
	code, out := run(t, "fleetctl", "deploy", "--env", "nowhere", "--config", "cmd/fleetctl/testdata/cdk.json")
	if code != 2 || !strings.Contains(out, `"nowhere" is not a configured environment`) {
		t.Errorf("exit %d, output %q; want a usage error", code, out)
	}
}

// TestGotest runs scripts/dev/gotest.sh (make test's runner) on a small module of its own: it
// must report like go test, run every test on every run, and never run a test binary older than
// the code it tests.
func TestGotest(t *testing.T) {
	runner, err := filepath.Abs("dev/gotest.sh")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		path := filepath.Join(mod, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Two packages that go test -c names alike (v1.test), which it cannot put in one folder: x/v1
	// (v1 is not a major version suffix to Go, v2 and up are) and y/v1/v2 (named after the element
	// before v2). x/v1's test reads a file beside it, which only works in its package's folder, as
	// go test runs it, and has a finding go vet would stop it on. y/v1/v2's test fails. And a
	// package without tests. (Each test binary costs a link: the fewer, the faster this test.)
	write("go.mod", "module example.com/demo\n\ngo 1.26\n")
	write("x/v1/x_test.go", `package x

import (
	"os"
	"testing"
)

func TestGreet(t *testing.T) {
	if data, err := os.ReadFile("testdata/want"); err != nil || string(data) != "hello" {
		t.Fatalf("testdata/want: %q, %v", data, err)
	}
	// A format go vet reports: the package builds under go test only with -vet=off.
	t.Logf("greeted %d", "x")
}
`)
	write("x/v1/testdata/want", "hello")
	write("y/v1/v2/y_test.go", "package y\n\nimport \"testing\"\n\nfunc TestY(t *testing.T) { t.Error(\"y is broken\") }\n")
	write("none/none.go", "package none\n")

	// Every run with go test's -vet=off, as make test runs it (go list would reject it), and a
	// build flag holding a space, which must reach go intact: without symbols (-s -w), each of the
	// three links this test costs is cheaper, and the flags must not change between runs for the
	// unchanged package's binary to be kept. x builds only if -vet=off reaches go test -c, unless
	// GOFLAGS turns vet off already (a run without the flag that fails on vet's finding would
	// prove it too, at a third of this test's time).
	if strings.Contains(os.Getenv("GOFLAGS"), "-vet") {
		t.Fatalf("GOFLAGS=%q sets go test's vet: unset it, or this test cannot tell whether gotest.sh passes -vet=off", os.Getenv("GOFLAGS"))
	}
	flags := []string{"-vet=off", "-ldflags=-s -w"}
	gotest := func(jobs string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command("bash", append(append([]string{runner}, flags...), args...)...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOTEST_JOBS="+jobs)
		return output(t, cmd)
	}
	statusLines := func(out string) []string {
		var lines []string
		for _, l := range strings.Split(out, "\n") {
			if status, rest, ok := strings.Cut(l, "\t"); ok && (status == "ok  " || status == "FAIL") {
				pkg, _, _ := strings.Cut(rest, "\t")
				lines = append(lines, strings.TrimSpace(status)+" "+pkg)
			}
		}
		return lines
	}

	// A package named on its own runs first (one job at a time, the output's order is the order
	// they ran in); y's failure is reported with its output.
	code, out := gotest("1", "./y/v1/v2", "./...")
	want := []string{"FAIL example.com/demo/y/v1/v2", "ok example.com/demo/x/v1"}
	if got := statusLines(out); code != 1 || !slices.Equal(got, want) || !strings.Contains(out, "y is broken") {
		t.Fatalf("exit %d, packages %q; want exit 1 and %q, with y's message. Output:\n%s", code, got, want, out)
	}
	// y is fixed; x is not touched. go -x prints each command it runs, the move of a freshly
	// linked binary into place among them. (Import path order puts x's binary in .gotest/0/, y's
	// in .gotest/1/.) Two jobs at once.
	write("y/v1/v2/y_test.go", "package y\n\nimport \"testing\"\n\nfunc TestY(t *testing.T) { t.Log(\"y is fixed\") }\n")
	code, out = gotest("2", "-x", "./...", "--", "-test.v")
	placed := func(batch string) bool {
		// mv, or cp where the build's temporary folder is on another file system.
		return regexp.MustCompile(`(?m)^(mv|cp) \S+ .*/\.gotest/` + batch + `/v1\.test$`).MatchString(out)
	}
	// The changed package is linked again and its new test runs: a kept binary is never older
	// than its code.
	if code != 0 || !strings.Contains(out, "y is fixed") || !placed("1") {
		t.Errorf("changed package: exit %d, linked again: %v; want exit 0 from the new test. Output:\n%s", code, placed("1"), out)
	}
	// The unchanged one is not linked again, and its test runs again.
	if !strings.Contains(out, "greeted") || placed("0") {
		t.Errorf("unchanged package: ran: %v, linked again: %v; want its test run without a link. Output:\n%s",
			strings.Contains(out, "greeted"), placed("0"), out)
	}

	// A package that does not build: exit 2 with go's message, and no test runs.
	write("y/v1/v2/y_test.go", "package y\n\nfunc TestY(t *testing.T) {}\n")
	if code, out = gotest("2", "./y/v1/v2"); code != 2 || !strings.Contains(out, "undefined: testing") || len(statusLines(out)) != 0 {
		t.Errorf("build failure: exit %d; want exit 2, go's message and no test run. Output:\n%s", code, out)
	}

	// Bad arguments: exit 2 and what to do instead.
	for _, tc := range []struct {
		jobs string
		args []string
		want string
	}{
		{"2", nil, "no packages given"},
		{"2", []string{"-tags", "x", "./..."}, "build flag '-tags' needs its -flag=value form"},
		{"2", []string{"-run=TestY", "./..."}, "'-run=TestY' is a test flag: give it after --, with its -test. prefix (-test.run=TestY)"},
		{"0", []string{"./..."}, "GOTEST_JOBS '0' is not a positive whole number"},
	} {
		if code, out := gotest(tc.jobs, tc.args...); code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("GOTEST_JOBS=%s gotest.sh %q: exit %d, output %q; want exit 2 and %q", tc.jobs, tc.args, code, out, tc.want)
		}
	}
}
