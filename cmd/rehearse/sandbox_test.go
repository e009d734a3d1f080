//go:build sandbox

// The rehearsal's own tests on a real sandbox: they need root, apache2 and haproxy, and run
// with `make rehearse` (go test -tags sandbox ./cmd/rehearse) before the rehearsal itself.
// Each runs the rehearse binary as a user would and checks that nothing of it is left:
// no process, no namespace, no work directory.
package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal/sandbox"
)

var binary string

func TestMain(m *testing.M) {
	if err := sandbox.Check(); err != nil {
		fmt.Fprintf(os.Stderr, "the sandbox tests cannot run here: %v\n", err)
		os.Exit(1)
	}
	// make rehearse builds the binary as the user and runs this test under sudo, where go may
	// not be on PATH; go test alone builds it here.
	if binary = os.Getenv("REHEARSE_BINARY"); binary != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "rehearse-test-")
	if err != nil {
		panic(err)
	}
	// Others (the not-root test's nobody) run it too.
	_ = os.Chmod(dir, 0o755)
	binary = filepath.Join(dir, "rehearse")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// traces is what a rehearsal could leave behind: its processes (the director and instance
// inits carry REHEARSAL_ROLE; httpd runs as /opt/rehearsal/bin/httpd; haproxy reads a
// configuration under the work directory) and network namespaces that did not exist before.
func traces(t *testing.T, netnsBefore map[string]bool) []string {
	t.Helper()
	var found []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		environ, _ := os.ReadFile(p + "/environ")
		cmdline, _ := os.ReadFile(p + "/cmdline")
		cmd := strings.ReplaceAll(string(cmdline), "\x00", " ")
		switch {
		case bytes.Contains(environ, []byte("REHEARSAL_ROLE=")),
			strings.Contains(cmd, "/opt/rehearsal/bin/httpd"),
			strings.HasPrefix(cmd, "haproxy ") && strings.Contains(cmd, "rehearsal-"):
			found = append(found, fmt.Sprintf("process %s: %s", filepath.Base(p), cmd))
		}
		// New namespaces count when one of the rehearsal's processes holds them: other software
		// on a developer's machine (a browser, a container) makes its own.
		ours := bytes.Contains(environ, []byte("REHEARSAL_")) || strings.Contains(cmd, "/opt/rehearsal/") || strings.Contains(cmd, "rehearsal-")
		if ns, err := os.Readlink(p + "/ns/net"); err == nil && ours && netnsBefore != nil && !netnsBefore[ns] {
			found = append(found, fmt.Sprintf("network namespace %s (process %s: %s)", ns, filepath.Base(p), cmd))
		}
	}
	return found
}

func netNamespaces() map[string]bool {
	out := map[string]bool{}
	procs, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	for _, p := range procs {
		if ns, err := os.Readlink(p); err == nil {
			out[ns] = true
		}
	}
	return out
}

// start runs the binary with a private TMPDIR (where its work directory goes) and
// returns it with its output as it comes.
type running struct {
	cmd    *exec.Cmd
	tmp    string
	lines  chan string
	output *bytes.Buffer
	done   chan error
}

func start(t *testing.T, args ...string) *running {
	t.Helper()
	r := &running{tmp: t.TempDir(), lines: make(chan string, 1000), output: &bytes.Buffer{}, done: make(chan error, 1)}
	r.cmd = exec.Command(binary, append([]string{"--revision", "../../assets", "--template", "testdata/fleet.template.json", "--out", filepath.Join(r.tmp, "report")}, args...)...)
	r.cmd.Dir = "."
	r.cmd.Env = append(os.Environ(), "TMPDIR="+r.tmp)
	stdout, _ := r.cmd.StdoutPipe()
	r.cmd.Stderr = r.cmd.Stdout
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			r.output.WriteString(s.Text() + "\n")
			select {
			case r.lines <- s.Text():
			default:
			}
		}
		close(r.lines)
		r.done <- r.cmd.Wait()
	}()
	t.Cleanup(func() { _ = r.cmd.Process.Kill() })
	return r
}

// waitFor returns once a line of output contains s.
func (r *running) waitFor(t *testing.T, s string, within time.Duration) {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				t.Fatalf("the rehearsal ended before %q:\n%s", s, r.output)
			}
			if strings.Contains(line, s) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q within %v:\n%s", s, within, r.output)
		}
	}
}

// exit waits for the rehearsal's end and returns its status.
func (r *running) exit(t *testing.T, within time.Duration) int {
	t.Helper()
	timeout := time.After(within)
	drained := make(chan struct{})
	go func() {
		for range r.lines {
		}
		close(drained)
	}()
	select {
	case <-drained:
	case <-timeout:
		t.Fatalf("the rehearsal did not end within %v:\n%s", within, r.output)
	}
	select {
	case err := <-r.done:
		if err == nil {
			return 0
		}
		if exit, ok := err.(*exec.ExitError); ok {
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return exit.ExitCode()
		}
		t.Fatal(err)
	case <-timeout:
		t.Fatalf("the rehearsal did not end within %v:\n%s", within, r.output)
	}
	return -1
}

// clean checks, for a few seconds (a killed process tree takes a moment to go), that nothing of
// the rehearsal is left.
func clean(t *testing.T, before map[string]bool, workDirGone bool, tmp string) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if left = traces(t, before); len(left) == 0 {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("left behind:\n%s", strings.Join(left, "\n"))
	}
	if workDirGone {
		if work, _ := filepath.Glob(filepath.Join(tmp, "rehearsal-*")); len(work) > 0 {
			t.Errorf("work directory left: %v", work)
		}
	}
}

// probe is a BeforeInstall script that tries to change the machine the way a careless deploy
// script might (each attempt harmless if it got through: the clock set to now, a setting to its
// own value); the deployment fails if any attempt succeeds.
const probe = `#!/bin/bash
set -uo pipefail
for attempt in "touch /etc/rehearsal-escape" "touch /usr/rehearsal-escape" "mount -o remount,rw /" \
  "date -s @$(date +%s)" "sysctl -w vm.swappiness=$(cat /proc/sys/vm/swappiness)" "mknod /tmp/rehearsal-null c 1 3"; do
  if $attempt >/dev/null 2>&1; then echo "escaped: $attempt" >&2; exit 1; fi
done
# What must not be there at all: a writable /sys (the last /sys mount is the one seen), the
# machine's disks, a capability outside the kept set.
if awk '$2 == "/sys" { top = $4 } END { exit top !~ /^rw/ }' /proc/mounts; then echo "escaped: /sys is writable" >&2; exit 1; fi
if ls /dev | grep -Eq '^(sd|vd|xvd|nvme|loop|mem|kmsg)'; then echo "escaped: the machine's devices: $(ls /dev | tr '\n' ' ')" >&2; exit 1; fi
caps=0x$(awk '/^CapEff/ { print $2 }' /proc/self/status)
# CAP_DAC_READ_SEARCH 2, LINUX_IMMUTABLE 9, NET_ADMIN 12, SYS_ADMIN 21, SYSLOG 34, BPF 39: none
# is kept.
for bit in 2 9 12 21 34 39; do
  if (( caps >> bit & 1 )); then echo "escaped: capability $bit is effective" >&2; exit 1; fi
done
echo "the machine is out of reach"
`

// A whole run with a revision whose scripts try to change the machine: they cannot, the run
// passes, and nothing of it is left.
func TestNothingLeftAfterARun(t *testing.T) {
	before := netNamespaces()
	rev := filepath.Join(t.TempDir(), "probing")
	if err := exec.Command("cp", "-r", "../../assets", rev).Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rev, "scripts", "probe.sh"), []byte(probe), 0o755); err != nil {
		t.Fatal(err)
	}
	spec, _ := os.ReadFile(filepath.Join(rev, "appspec.yml"))
	hooked := strings.Replace(string(spec), "  BeforeInstall:\n", "  BeforeInstall:\n    - location: scripts/probe.sh\n      timeout: 30\n      runas: root\n", 1)
	if hooked == string(spec) {
		t.Fatal("assets/appspec.yml has no BeforeInstall to add the probe to")
	}
	if err := os.WriteFile(filepath.Join(rev, "appspec.yml"), []byte(hooked), 0o644); err != nil {
		t.Fatal(err)
	}
	// --keep: the probe's output is read from the instance's scripts.log, to prove it ran.
	r := start(t, "--only", "control-no-hook", "--revision", rev, "--keep")
	code := r.exit(t, 90*time.Second)
	for _, f := range []string{"/etc/rehearsal-escape", "/usr/rehearsal-escape"} {
		if _, err := os.Stat(f); err == nil {
			os.Remove(f)
			t.Errorf("a hook script wrote %s on the machine", f)
		}
	}
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.output)
	}
	if !strings.Contains(r.output.String(), "ApplicationStop never ran on i-3") {
		t.Errorf("output:\n%s", r.output)
	}
	if _, err := os.Stat(filepath.Join(r.tmp, "report", "rehearsal.json")); err != nil {
		t.Error(err)
	}
	logs, _ := filepath.Glob(filepath.Join(r.tmp, "rehearsal-*", "instances", "*", "opt", "codedeploy-agent", "deployment-root", "deployment-logs", "*.log"))
	ran := 0
	for _, l := range logs {
		if data, _ := os.ReadFile(l); strings.Contains(string(data), "the machine is out of reach") {
			ran++
		}
	}
	if ran != 3 {
		t.Errorf("the probe reported from %d instances of 3 (logs %v)", ran, logs)
	}
	work, _ := filepath.Glob(filepath.Join(r.tmp, "rehearsal-*"))
	for _, w := range work {
		os.RemoveAll(w)
	}
	if len(work) != 1 {
		t.Errorf("--keep kept %v, want one work directory", work)
	}
	clean(t, before, true, r.tmp)
}

// A revision whose ApplicationStart fails: the fleet never comes up, the scenario fails with
// the reason, and everything is still removed.
func TestNothingLeftAfterAFailure(t *testing.T) {
	before := netNamespaces()
	rev := filepath.Join(t.TempDir(), "broken")
	if err := exec.Command("cp", "-r", "../../assets", rev).Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rev, "scripts", "start_server.sh"), []byte("#!/bin/bash\necho 'httpd: port 80 in use' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := start(t, "--only", "rollout", "--revision", rev)
	if code := r.exit(t, 90*time.Second); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, r.output)
	}
	for _, want := range []string{"the fleet did not come up", "ApplicationStart", "httpd: port 80 in use"} {
		if !strings.Contains(r.output.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, r.output)
		}
	}
	clean(t, before, true, r.tmp)
}

// Ctrl-C in the middle of a deployment under load: the rehearsal stops, removes its fleet and
// exits 130.
func TestNothingLeftAfterCtrlC(t *testing.T) {
	before := netNamespaces()
	r := start(t, "--only", "rollout")
	r.waitFor(t, "deploying v2", 60*time.Second)
	time.Sleep(500 * time.Millisecond)
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := r.exit(t, 40*time.Second); code != 130 {
		t.Errorf("exit %d, want 130:\n%s", code, r.output)
	}
	clean(t, before, true, r.tmp)
}

// Killed outright (SIGKILL: no cleanup code runs), the rehearsal still leaves no process and no
// namespace: every process it starts dies with its parent. Only the work directory stays.
func TestNothingLeftWhenKilled(t *testing.T) {
	before := netNamespaces()
	r := start(t, "--only", "rollout")
	r.waitFor(t, "deploying v2", 60*time.Second)
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	r.exit(t, 10*time.Second)
	clean(t, before, false, r.tmp)
}

// Not root: a clear message and exit 2, with nothing started.
func TestNotRoot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A copy nobody can reach (the checkout may be in a private home directory).
	dir, err := os.MkdirTemp("", "rehearse-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	_ = os.Chmod(dir, 0o755)
	if err := exec.Command("cp", binary, dir+"/rehearse").Run(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "runuser", "-u", "nobody", "--", dir+"/rehearse", "--check")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	exit, ok := err.(*exec.ExitError)
	if !ok || exit.ExitCode() != 2 || !strings.Contains(out.String(), "must run as root") {
		t.Errorf("as nobody: %v, %q; want exit 2 saying it must run as root", err, out.String())
	}
}
