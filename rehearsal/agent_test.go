package rehearsal

import (
	"context"
	"os"
	"path/filepath"
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
