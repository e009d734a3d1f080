package rehearsal

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"
	"sync"
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
	Event  Event
	Script string
	// Revision names the revision the script came from: for ApplicationStop and the
	// traffic-blocking events, the instance's last successful one, not the one being deployed.
	Revision string
	Started  time.Time
	Duration time.Duration
	// Log is the script's output, each line prefixed [stdout] or [stderr] as in the agent's
	// scripts.log.
	Log string
	// Err is nil when the script exited 0 and closed its output in time; otherwise it says how
	// the hook failed, with the agent's error code and message.
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
	// change directory for a hook (hook_executor.rb passes popen3 no :chdir), so a script's
	// relative paths resolve from /opt/codedeploy-agent, not from the revision
	// (aws-codedeploy-agent issue #67, where a maintainer finds a hook's pwd to be
	// /opt/codedeploy-agent). Empty: this process's.
	WorkDir string
	// Enter, when set, is the command that runs a script inside the instance with dir as its
	// working directory (nsenter into the instance's namespaces); otherwise scripts run here.
	Enter func(dir string) []string
	// Stat, when set, is os.Stat on the instance's file system; otherwise on this one's.
	Stat func(path string) (os.FileInfo, error)
}

// The agent's error codes for a hook (aws-codedeploy-agent, hook_executor.rb, ScriptError):
// the names the CodeDeploy console shows for them, and OutputsLeftOpen (code 6), which the
// public API's enumeration lacks.
const (
	ScriptMissing   = "ScriptMissing"
	ScriptTimedOut  = "ScriptTimedOut"
	ScriptFailed    = "ScriptFailed"
	UnknownError    = "UnknownError"
	OutputsLeftOpen = "OutputsLeftOpen"
)

// HookError is a failed hook, with the agent's error code and message.
type HookError struct {
	Code, Message string
}

func (e *HookError) Error() string { return e.Code + ": " + e.Message }

// Command is the command line the agent runs for a script at location under revision (the
// revision's root on the instance). With runas, the agent runs `su USER -c SCRIPT`
// (aws-codedeploy-agent, lib/instance_agent/platform/linux_util.rb, prepare_script_command), for
// root too: the user's login shell runs the script, so a user whose shell is nologin (nobody,
// apache) fails the hook with "This account is currently not available.", as on an instance.
func (a Agent) Command(revision string, hook Hook) []string {
	script := path.Join(revision, hook.Location)
	argv := []string{script}
	if hook.RunAs != "" {
		argv = []string{"su", hook.RunAs, "-c", script}
	}
	if a.Enter != nil {
		argv = append(a.Enter(a.WorkDir), argv...)
	}
	return argv
}

// Run runs hook for event from revision (the revision's root on the instance, the deployment's
// archive directory, where the script's location is resolved), as the agent's hook executor
// does (aws-codedeploy-agent, hook_executor.rb, execute_script, and
// lib/instance_agent/platform/thread_joiner.rb): the script gets LIFECYCLE_EVENT and the
// deployment's variables, and one deadline, its timeout counted from its start, for both its
// exit and the end of its standard output and error. A script still running at the deadline
// fails the hook (ScriptTimedOut) and its process group gets SIGTERM; one that exited but left a
// background child holding its output fails it as OutputsLeftOpen ("failed to close STDOUT"),
// whatever its exit code, and the child is left running. A child that lets go of the output
// before the deadline only delays the hook.
func (a Agent) Run(ctx context.Context, revision string, event Event, hook Hook) (run HookRun) {
	run = HookRun{Event: event, Script: hook.Location, Started: time.Now()}
	defer func() { run.Duration = time.Since(run.Started) }()
	timeout := hook.Timeout
	if timeout <= 0 {
		timeout = 3600 * time.Second
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()

	// The agent checks that the script is there before it runs it.
	script := path.Join(revision, hook.Location)
	stat := a.Stat
	if stat == nil {
		stat = os.Stat
	}
	if _, err := stat(script); err != nil {
		run.Err = &HookError{ScriptMissing, "Script does not exist at specified location: " + script}
		return run
	}
	argv := a.Command(revision, hook)
	cmd := exec.Command(argv[0], argv[1:]...)
	if a.Enter == nil {
		cmd.Dir = a.WorkDir
	}
	cmd.Env = []string{"PATH=" + a.Path, "LIFECYCLE_EVENT=" + string(event), "HOME=" + os.Getenv("HOME")}
	for k, v := range a.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// The agent starts each script in a process group of its own (popen3's :pgroup) and, on
	// timeout, signals the group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The script's output goes to pipes of ours, read until every writer has closed them: a
	// background child that inherits them keeps them open, as under the agent.
	var stdout, stderr output
	outR, outW, err := os.Pipe()
	if err != nil {
		run.Err = &HookError{UnknownError, err.Error()}
		return run
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		run.Err = &HookError{UnknownError, err.Error()}
		return run
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	defer outR.Close()
	defer errR.Close()
	startErr := cmd.Start()
	outW.Close()
	errW.Close()
	if startErr != nil {
		run.Err = &HookError{UnknownError, fmt.Sprintf("Script at specified location: %s failed with error %v", hook.Location, startErr)}
		return run
	}
	outDone, errDone := stdout.readFrom(outR), stderr.readFrom(errR)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { run.Log = prefixLines("[stdout]", stdout.String()) + prefixLines("[stderr]", stderr.String()) }()

	prefix := "Script at specified location: " + hook.Location
	if hook.RunAs != "" {
		prefix += " run as user " + hook.RunAs
	}
	var waitErr error
	select {
	case waitErr = <-exited:
	case <-deadline.C:
		a.terminate(cmd, exited, outDone, errDone)
		run.Err = &HookError{ScriptTimedOut, fmt.Sprintf("Script at specified location: %s failed to complete in %d seconds", hook.Location, int(timeout.Seconds()))}
		return run
	case <-ctx.Done():
		a.terminate(cmd, exited, outDone, errDone)
		run.Err = &HookError{UnknownError, fmt.Sprintf("%s was stopped: %v", prefix, ctx.Err())}
		return run
	}
	// The script has exited; its output must be closed by the same deadline.
	for _, o := range []struct {
		name string
		done <-chan struct{}
	}{{"STDOUT", outDone}, {"STDERR", errDone}} {
		select {
		case <-o.done:
		case <-deadline.C:
			run.Err = &HookError{OutputsLeftOpen, "Script at specified location: " + hook.Location + " failed to close " + o.name}
			return run
		case <-ctx.Done():
			run.Err = &HookError{UnknownError, fmt.Sprintf("%s was stopped while its output was open: %v", prefix, ctx.Err())}
			return run
		}
	}
	if exit, ok := waitErr.(*exec.ExitError); ok {
		run.Err = &HookError{ScriptFailed, fmt.Sprintf("%s failed with exit code %d", prefix, exit.ExitCode())}
	} else if waitErr != nil {
		run.Err = &HookError{UnknownError, fmt.Sprintf("%s failed with error %v", prefix, waitErr)}
	}
	return run
}

// terminate ends a script past its deadline: SIGTERM to its process group, as the agent sends;
// then, so that the rehearsal never waits on a script that ignores it, SIGKILL after 3 s (under
// runas, su passes the TERM on to the shell and kills it 2 s later itself). What the script
// wrote last is read for a moment more, so that its log keeps it.
func (a Agent) terminate(cmd *exec.Cmd, exited <-chan error, outputs ...<-chan struct{}) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	last := time.After(100 * time.Millisecond)
	for _, o := range outputs {
		select {
		case <-o:
		case <-last:
			return
		}
	}
}

// output is one of a script's output streams, read while the script runs.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// readFrom reads r until every writer has closed it; the channel closes then.
func (o *output) readFrom(r io.Reader) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		chunk := make([]byte, 4096)
		for {
			n, err := r.Read(chunk)
			o.mu.Lock()
			o.buf.Write(chunk[:n])
			o.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return done
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
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
