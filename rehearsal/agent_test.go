package rehearsal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal/internal/execfile"
)

func revisionWith(t *testing.T, script string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := execfile.Write(filepath.Join(dir, "scripts", "hook.sh"), []byte("#!/bin/bash\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

var agent = Agent{Env: map[string]string{"DEPLOYMENT_ID": "d-REHEARSE1", "APPLICATION_NAME": "MyWebApp-dev"}, Path: "/usr/bin:/bin"}

// TestHookEnvironment: the script runs from the revision, in the agent's own directory (not the
// revision's), with the lifecycle event and the deployment's variables, and its output is logged
// as the agent logs it. A relative path in a script resolves from the agent's directory.
func TestHookEnvironment(t *testing.T) {
	t.Parallel()
	dir := revisionWith(t, `echo "$LIFECYCLE_EVENT $DEPLOYMENT_ID $APPLICATION_NAME $(pwd)"; echo oops >&2; cat scripts/hook.sh`)
	a := agent
	a.WorkDir = t.TempDir()
	run := a.Run(context.Background(), dir, ValidateService, Hook{Location: "scripts/hook.sh", Timeout: 10 * time.Second})
	if run.Err == nil || !strings.Contains(run.Log, "scripts/hook.sh: No such file") {
		t.Errorf("a relative path resolved from the revision: %v\n%s", run.Err, run.Log)
	}
	if want := "[stdout]ValidateService d-REHEARSE1 MyWebApp-dev " + a.WorkDir + "\n[stderr]oops\n"; !strings.HasPrefix(run.Log, want) {
		t.Errorf("log %q, want it to start %q", run.Log, want)
	}
}

func TestHookFailure(t *testing.T) {
	t.Parallel()
	run := agent.Run(context.Background(), revisionWith(t, "echo giving up; exit 3"), ValidateService, Hook{Location: "scripts/hook.sh", Timeout: 10 * time.Second})
	if run.Err == nil || !strings.Contains(run.Err.Error(), "ScriptFailed") || !strings.Contains(run.Err.Error(), "exit code 3") {
		t.Errorf("error %v", run.Err)
	}
	if !strings.Contains(run.Log, "[stdout]giving up") {
		t.Errorf("log %q", run.Log)
	}
}

// TestHookTimeout: past its timeout the script and its children are terminated, and the hook
// fails as ScriptTimedOut, in bounded time.
func TestHookTimeout(t *testing.T) {
	t.Parallel()
	dir := revisionWith(t, "sleep 30 & sleep 30\n")
	start := time.Now()
	run := agent.Run(context.Background(), dir, ApplicationStop, Hook{Location: "scripts/hook.sh", Timeout: 300 * time.Millisecond})
	if run.Err == nil || !strings.Contains(run.Err.Error(), "ScriptTimedOut") {
		t.Errorf("error %v", run.Err)
	}
	// The report's time per hook: at least the timeout it ran into.
	if run.Duration < 300*time.Millisecond {
		t.Errorf("duration %v, want at least the 300ms timeout", run.Duration)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %v to end a timed-out hook", elapsed)
	}
}

func TestHookMissingScript(t *testing.T) {
	t.Parallel()
	run := agent.Run(context.Background(), t.TempDir(), BeforeInstall, Hook{Location: "scripts/none.sh", Timeout: time.Second})
	if run.Err == nil || !strings.Contains(run.Err.Error(), "ScriptMissing") {
		t.Errorf("error %v", run.Err)
	}
}

// TestHookOutputHeld: a background child that keeps the script's output open only delays the
// hook, until it lets go, within the script's timeout; the agent waits for the output to close
// against the same deadline (thread_joiner.rb), and logs what the child wrote.
func TestHookOutputHeld(t *testing.T) {
	t.Parallel()
	dir := revisionWith(t, "(sleep 1.5; echo 'late, from the child') &\necho started\n")
	start := time.Now()
	run := agent.Run(context.Background(), dir, ApplicationStart, Hook{Location: "scripts/hook.sh", Timeout: 10 * time.Second})
	if run.Err != nil {
		t.Fatalf("a child that let go of the output before the deadline failed the hook: %v", run.Err)
	}
	if took := time.Since(start); took < 1400*time.Millisecond {
		t.Errorf("the hook ended after %v, before the child let go of its output", took)
	}
	if !strings.Contains(run.Log, "[stdout]late, from the child") {
		t.Errorf("log %q lacks the child's output", run.Log)
	}
}

// TestHookOutputLeftOpen: a child that still holds the output at the deadline fails the hook,
// whatever the script's exit code, as the agent's OUTPUTS_LEFT_OPEN: "failed to close STDOUT".
// The hook ends at the deadline, not when the child does.
func TestHookOutputLeftOpen(t *testing.T) {
	t.Parallel()
	dir := revisionWith(t, "sleep 3 &\nexit 0\n")
	start := time.Now()
	run := agent.Run(context.Background(), dir, ApplicationStart, Hook{Location: "scripts/hook.sh", Timeout: time.Second})
	var herr *HookError
	if !errors.As(run.Err, &herr) || herr.Code != OutputsLeftOpen || herr.Message != "Script at specified location: scripts/hook.sh failed to close STDOUT" {
		t.Errorf("error %v, want OutputsLeftOpen: ... failed to close STDOUT", run.Err)
	}
	if took := time.Since(start); took < time.Second || took > 5*time.Second {
		t.Errorf("the hook ended after %v, want at its 1 s deadline", took)
	}
}

// TestRunAsCommand: with runas the agent runs `su USER -c SCRIPT` (linux_util.rb), root
// included, so the user's login shell decides; without it the script runs as the agent.
func TestRunAsCommand(t *testing.T) {
	a := Agent{Enter: func(dir string) []string { return []string{"enter", dir} }, WorkDir: "/opt/codedeploy-agent"}
	for _, tc := range []struct {
		runas string
		want  []string
	}{
		{"", []string{"enter", "/opt/codedeploy-agent", "/archive/scripts/start.sh"}},
		{"root", []string{"enter", "/opt/codedeploy-agent", "su", "root", "-c", "/archive/scripts/start.sh"}},
		{"ec2-user", []string{"enter", "/opt/codedeploy-agent", "su", "ec2-user", "-c", "/archive/scripts/start.sh"}},
	} {
		if got := a.Command("/archive", Hook{Location: "scripts/start.sh", RunAs: tc.runas}); !slices.Equal(got, tc.want) {
			t.Errorf("runas %q: %q, want %q", tc.runas, got, tc.want)
		}
	}
}
