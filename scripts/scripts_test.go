// Package scripts holds the behavioural tests of the shell scripts in this folder. They run the
// scripts with bash; nothing here starts jsii.
package scripts

import (
	"os/exec"
	"strings"
	"testing"
)

// run runs a script with args and returns its exit code and combined output.
func run(t *testing.T, script string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{script}, args...)...)
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
