package rehearsal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Hook is one script of a lifecycle event, as the appspec declares it.
type Hook struct {
	// Location is the script, relative to the revision's root.
	Location string
	// Timeout bounds the script; the agent's default is 3600 s.
	Timeout time.Duration
	// RunAs is the user the script runs as; "" runs it as the agent's user.
	RunAs string
}

// HookRun is what running one hook produced, as the agent reports it.
type HookRun struct {
	Event    Event
	Script   string
	Started  time.Time
	Duration time.Duration
	// Log is the script's output, each line prefixed [stdout] or [stderr] as in the agent's
	// scripts.log.
	Log string
	// Err is nil when the script exited 0; otherwise it says how it ended, like the agent's
	// diagnostics (ScriptFailed with the exit code, ScriptTimedOut).
	Err error
}

// Agent runs hook scripts as the CodeDeploy agent does.
type Agent struct {
	// Env is the deployment's environment for every hook: APPLICATION_NAME, DEPLOYMENT_ID,
	// DEPLOYMENT_GROUP_NAME, DEPLOYMENT_GROUP_ID and, for S3 revisions, BUNDLE_* (CodeDeploy user
	// guide, "AppSpec 'hooks' section", "Environment variable availability for hooks").
	Env map[string]string
	// Path is the PATH scripts see: where the rehearsal's stand-ins come first.
	Path string
	// WorkDir is the agent's own working directory, which scripts inherit: the agent does not
	// change directory for a hook, so a script's relative paths resolve from
	// /opt/codedeploy-agent, not from the revision (aws-codedeploy-agent issue #67, where a
	// maintainer finds a hook's pwd to be /opt/codedeploy-agent). Empty: this process's.
	WorkDir string
	// Enter, when set, is the command that runs a script inside the instance with dir as its
	// working directory (nsenter into the instance's namespaces); otherwise scripts run here.
	Enter func(dir string) []string
}

// Run runs hook for event from revision (the revision's root on the instance, the deployment's
// archive directory, where the script's location is resolved). The script gets LIFECYCLE_EVENT and the
// deployment's variables, runs as hook.RunAs, and on timeout its whole process group is
// terminated (the agent sends TERM to the script's process group).
func (a Agent) Run(ctx context.Context, revision string, event Event, hook Hook) (run HookRun) {
	run = HookRun{Event: event, Script: hook.Location, Started: time.Now()}
	defer func() { run.Duration = time.Since(run.Started) }()
	timeout := hook.Timeout
	if timeout <= 0 {
		timeout = 3600 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	script := filepath.Join(revision, filepath.FromSlash(hook.Location))
	args := []string{script}
	if hook.RunAs != "" && hook.RunAs != currentUser() {
		// The agent runs as root and switches user for runas.
		args = append([]string{"runuser", "-u", hook.RunAs, "--"}, args...)
	}
	if a.Enter != nil {
		args = append(a.Enter(a.WorkDir), args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	if a.Enter == nil {
		cmd.Dir = a.WorkDir
	}
	cmd.Env = []string{"PATH=" + a.Path, "LIFECYCLE_EVENT=" + string(event), "HOME=" + os.Getenv("HOME")}
	for k, v := range a.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A background child that keeps the output open would hold Wait: bound it too.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		run.Err = fmt.Errorf("ScriptMissing: %v", err)
		return run
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		err = fmt.Errorf("ScriptTimedOut: %s did not end within %v", hook.Location, timeout)
	}
	run.Log = prefixLines("[stdout]", stdout.String()) + prefixLines("[stderr]", stderr.String())
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		run.Err = fmt.Errorf("ScriptFailed: script at specified location: %s run as user %s failed with exit code %d",
			hook.Location, orDefault(hook.RunAs, currentUser()), exit.ExitCode())
	default:
		run.Err = err
	}
	return run
}

func prefixLines(prefix, text string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if line != "" {
			b.WriteString(prefix + line + "\n")
		}
	}
	return b.String()
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
