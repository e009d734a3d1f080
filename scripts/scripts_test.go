// Package scripts holds the behavioural tests of the shell scripts in this folder and of the
// Makefile's own recipes. They run bash and make; nothing here starts jsii.
package scripts

import (
	"os"
	"os/exec"
	"regexp"
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
		{[]string{"--no-cold"}, 2, "unknown argument '--no-cold'"},
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
		{"go test -count=1 ./test -run 'TestNag' -v", "GO_TEST narrows the suite"},
	} {
		cmd := exec.Command("bash", "dev/bench.sh")
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

// TestOldMake: GNU make 3.81, macOS's, ignores .SHELLFLAGS and would run every recipe without
// -e and pipefail; the Makefile refuses it at once, naming the fix.
func TestOldMake(t *testing.T) {
	cmd := exec.Command("make", "-C", "..", "MAKE_VERSION=3.81", "help")
	code, out := output(t, cmd)
	if code != 2 || !strings.Contains(out, "GNU make 3.81 is too old: this Makefile needs 3.82 or later (on macOS: brew install make, then run gmake)") {
		t.Errorf("exit %d, output %q; want exit 2 naming the fix", code, out)
	}
}

// TestSynthOneEnvironmentKeepsTheOthers: make synth starts from an empty cdk.out; make synth
// ENV=x leaves the other environments' templates there (make -n prints what it would run).
func TestSynthOneEnvironmentKeepsTheOthers(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		clean bool
	}{{[]string{"-n", "synth"}, true}, {[]string{"-n", "synth", "ENV=staging"}, false}} {
		code, out := output(t, exec.Command("make", append([]string{"-C", ".."}, tc.args...)...))
		if removes := strings.Contains(out, "rm -rf cdk.out"); code != 0 || removes != tc.clean {
			t.Errorf("make %s: exit %d, removes cdk.out %v, want %v:\n%s", strings.Join(tc.args, " "), code, removes, tc.clean, out)
		}
	}
}

// TestFailedSynthEndsWithItsMessage: a synthesis that fails on the configuration ends with the
// app's message, not with go run's "exit status 1" and the CDK CLI's "Subprocess exited" after it.
func TestFailedSynthEndsWithItsMessage(t *testing.T) {
	if _, err := os.Stat("../node_modules/.bin/cdk"); err != nil {
		t.Fatal("the CDK CLI is not installed: run make test, which installs it")
	}
	code, out := output(t, exec.Command("make", "-C", "..", "--no-print-directory", "synth", "ENV=nowhere"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// make[1] under make test.
	makeLine := regexp.MustCompile(`^make(\[\d+\])?: \*\*\*`)
	if code != 2 || !strings.Contains(out, `error: -c env=nowhere: "nowhere" is not a configured environment`) ||
		strings.Contains(out, "exit status 1") || strings.Contains(out, "Subprocess exited") || !makeLine.MatchString(lines[len(lines)-1]) {
		t.Errorf("exit %d, output:\n%s\nwant exit 2, the app's message and make's own line last", code, out)
	}
}
