//go:build sandbox

// The rehearsal's own tests on a real sandbox: they need root, apache2 and haproxy, and run
// with `make rehearse` (go test -tags sandbox ./cmd/rehearse) before the rehearsal itself.
// Each runs the rehearse binary as a user would, with revisions written the way users write
// them, checks the verdict AWS would give, and checks that nothing of its run is left: no
// process, no namespace, no work directory. The tests run side by side, as two rehearsals on one
// machine may: each looks only at its own run's traces.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
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

// traces is what a run could leave behind: its processes and the network namespaces they hold.
// A process is the run's when it names the run's private TMPDIR (the director and the instance
// inits carry it in their environment, HAProxy in its configuration's path) or lives in the PID
// namespace of one of the run's instances (httpd, the hooks' children): another rehearsal's
// processes on this machine are never counted.
func traces(tmp string) []string {
	var found []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	ours := map[string]bool{}
	instanceNS := map[string]bool{}
	for _, p := range procs {
		environ, _ := os.ReadFile(p + "/environ")
		cmdline, _ := os.ReadFile(p + "/cmdline")
		if bytes.Contains(environ, []byte(tmp)) || bytes.Contains(cmdline, []byte(tmp)) {
			ours[p] = true
			if bytes.Contains(environ, []byte("REHEARSAL_INSTANCE_DIR=")) {
				if ns, err := os.Readlink(p + "/ns/pid"); err == nil {
					instanceNS[ns] = true
				}
			}
		}
	}
	for _, p := range procs {
		ns, _ := os.Readlink(p + "/ns/pid")
		if !ours[p] && !instanceNS[ns] {
			continue
		}
		cmdline, _ := os.ReadFile(p + "/cmdline")
		found = append(found, fmt.Sprintf("process %s: %s", filepath.Base(p), strings.ReplaceAll(string(cmdline), "\x00", " ")))
		if net, err := os.Readlink(p + "/ns/net"); err == nil {
			found = append(found, fmt.Sprintf("network namespace %s, held by process %s", net, filepath.Base(p)))
		}
	}
	return found
}

// running is a rehearsal started by a test, with its output as it comes.
type running struct {
	cmd    *exec.Cmd
	tmp    string
	out    string
	lines  chan string
	output *lockedBuffer
	done   chan error
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs the binary on the test fleet (three instances in three zones) with a private
// TMPDIR (where its work directory goes) and report folder; the candidate and the baseline are
// assets/ unless args say otherwise.
func start(t *testing.T, args ...string) *running {
	t.Helper()
	r := &running{tmp: t.TempDir(), lines: make(chan string, 1000), output: &lockedBuffer{}, done: make(chan error, 1)}
	r.out = filepath.Join(r.tmp, "report")
	all := append([]string{"--revision", "../../assets", "--baseline", "../../assets", "--template", "testdata/fleet.template.json", "--out", r.out}, args...)
	r.cmd = exec.Command(binary, all...)
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
// the run is left.
func (r *running) clean(t *testing.T, workDirGone bool) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if left = traces(r.tmp); len(left) == 0 {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("left behind:\n%s", strings.Join(left, "\n"))
	}
	if workDirGone {
		if work, _ := filepath.Glob(filepath.Join(r.tmp, "rehearsal-*")); len(work) > 0 {
			t.Errorf("work directory left: %v", work)
		}
	}
}

// expect checks the output for each pattern (a regular expression).
func (r *running) expect(t *testing.T, patterns ...string) {
	t.Helper()
	out := r.output.String()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(out) {
			t.Errorf("the output does not match %q:\n%s", p, out)
		}
	}
}

// row is a scenario's row of the table (scenario, instances, requests, failed, ..., result):
// its failed requests, and whether its result is result.
func (r *running) row(t *testing.T, scenario, result string) (failed int, is bool) {
	t.Helper()
	line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(scenario) + ` .*$`).FindString(r.output.String())
	f := strings.Fields(line)
	if len(f) < 5 {
		t.Fatalf("no row for %s in the table:\n%s", scenario, r.output)
	}
	failed, _ = strconv.Atoi(f[3])
	return failed, strings.HasSuffix(line, "  "+result)
}

// candidate is assets/ with changes, as a user writes a revision: scripts (executable, under
// scripts/), hooks appended to an event, files to install.
type candidate struct {
	t   *testing.T
	dir string
}

func newCandidate(t *testing.T) *candidate {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "candidate")
	if err := exec.Command("cp", "-r", "../../assets", dir).Run(); err != nil {
		t.Fatal(err)
	}
	return &candidate{t, dir}
}

func (c *candidate) file(name, content string, mode os.FileMode) *candidate {
	c.t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(c.dir, name)), 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, name), []byte(content), mode); err != nil {
		c.t.Fatal(err)
	}
	return c
}

// hook adds a script to event (after the revision's own), runas user ("" for none).
func (c *candidate) hook(event, name, script string, timeout int, user string) *candidate {
	c.t.Helper()
	c.file("scripts/"+name, script, 0o755)
	entry := fmt.Sprintf("    - location: scripts/%s\n      timeout: %d\n", name, timeout)
	if user != "" {
		entry += "      runas: " + user + "\n"
	}
	return c.edit(func(spec string) string {
		i := strings.Index(spec, "  "+event+":\n")
		if i < 0 {
			return spec + "  " + event + ":\n" + entry
		}
		// After the event's last script.
		rest := spec[i+len(event)+4:]
		end := len(rest)
		if m := regexp.MustCompile(`(?m)^  [#A-Za-z]`).FindStringIndex(rest); m != nil {
			end = m[0]
		}
		return spec[:i+len(event)+4] + rest[:end] + entry + rest[end:]
	})
}

// install adds a file source to the appspec's files.
func (c *candidate) install(source, destination string) *candidate {
	return c.edit(func(spec string) string {
		return strings.Replace(spec, "files:\n", "files:\n  - source: "+source+"\n    destination: "+destination+"\n", 1)
	})
}

func (c *candidate) edit(change func(string) string) *candidate {
	c.t.Helper()
	file := filepath.Join(c.dir, "appspec.yml")
	spec, err := os.ReadFile(file)
	if err != nil {
		c.t.Fatal(err)
	}
	changed := change(string(spec))
	if changed == string(spec) {
		c.t.Fatal("the appspec did not change")
	}
	if err := os.WriteFile(file, []byte(changed), 0o644); err != nil {
		c.t.Fatal(err)
	}
	return c
}

// probe is a BeforeInstall script that tries to change the machine the way a careless deploy
// script might (each attempt harmless if it got through: the clock set to now, a setting to its
// own value), and writes where an instance lets it: /etc, /srv, /usr/local, /var, /opt, /root.
// The deployment fails if an attempt on the machine succeeds or a write an instance allows
// fails.
const probe = `#!/bin/bash
set -uo pipefail
for attempt in "mount -o remount,rw /" "date -s @$(date +%s)" "sysctl -w vm.swappiness=$(cat /proc/sys/vm/swappiness)" \
  "mknod /tmp/rehearsal-null c 1 3"; do
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
# What an instance allows: the instance keeps it, the machine never sees it.
for dir in /etc/NAME /srv/NAME /usr/local/share/NAME /var/lib/NAME /opt/NAME /root/NAME; do
  mkdir -p "$dir" && echo written >"$dir/config" || { echo "cannot write $dir, as an instance can" >&2; exit 1; }
done
echo "the machine is out of reach"
`

// A candidate written as users write them passes, as it would on AWS, and the machine is left
// as it was: hooks that write under /etc, /srv, /usr/local, /var, /opt and /root; a hook run as
// ec2-user (su, ec2-user's bash); a rewrite rule dropped into /etc/httpd/conf.d, which Amazon
// Linux's httpd includes; and an ApplicationStop that is a plain `systemctl stop httpd`, which
// the scale-in reports as stopping httpd. The report folder keeps this run's files only.
func TestACandidateThatWorksOnAnInstance(t *testing.T) {
	t.Parallel()
	name := "rehearsal-test-" + random()
	c := newCandidate(t).
		hook("BeforeInstall", "probe.sh", strings.ReplaceAll(probe, "NAME", name), 30, "root").
		hook("AfterInstall", "as_ec2_user.sh", `#!/bin/bash
set -euo pipefail
[ "$(id -un)" = ec2-user ] || { echo "runs as $(id -un), not ec2-user" >&2; exit 1; }
[ "$HOME" = /home/ec2-user ] || { echo "HOME is $HOME" >&2; exit 1; }
echo "ec2-user was here" >"$HOME/deployed"
`, 30, "ec2-user").
		file("conf/old-path.conf", "# The old address of the page.\nRewriteEngine On\nRewriteRule ^/old-path$ /index.html [PT]\n", 0o644).
		install("conf/old-path.conf", "/etc/httpd/conf.d/").
		hook("ValidateService", "old_path.sh", `#!/bin/bash
set -euo pipefail
curl --silent --fail --max-time 5 http://127.0.0.1/old-path | grep -q 'Hello, CodeDeploy!'
`, 30, "").
		file("scripts/stop_application.sh", "#!/bin/bash\nset -euo pipefail\nsystemctl stop httpd\n", 0o755)
	for dir := range strings.FieldsSeq("/etc /srv /usr/local/share /var/lib /opt /root") {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Fatalf("%s/%s exists on this machine before the test", dir, name)
		}
	}
	// An earlier run's report, of a scenario this run does not play.
	stale := filepath.Join(t.TempDir(), "report")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"control-no-hook.svg", "rehearsal.json", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(stale, f), []byte("an earlier run\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// --keep: the probe's output is read from the instances' scripts.log, to prove it ran.
	r := start(t, "--only", "rollout,scale-in", "--revision", c.dir, "--out", stale, "--keep")
	code := r.exit(t, 3*time.Minute)
	for dir := range strings.FieldsSeq("/etc /srv /usr/local/share /var/lib /opt /root") {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			os.RemoveAll(filepath.Join(dir, name))
			t.Errorf("a hook script wrote %s/%s on the machine", dir, name)
		}
	}
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.output)
	}
	r.expect(t, `scale-in: ApplicationStop ran to completion on i-3: v2's scripts/stop_application.sh exited 0`,
		`scale-in: httpd had stopped on i-3 before it was terminated`)
	logs, _ := filepath.Glob(filepath.Join(r.tmp, "rehearsal-*", "instances", "*", "upper", "opt", "codedeploy-agent", "deployment-root", "deployment-logs", "*.log"))
	ran := 0
	for _, l := range logs {
		if data, _ := os.ReadFile(l); strings.Contains(string(data), "the machine is out of reach") {
			ran++
		}
	}
	// Three instances in each scenario, each deploying the candidate once.
	if ran != 6 {
		t.Errorf("the probe reported from %d instances of 6 (logs %v)", ran, logs)
	}
	homes, _ := filepath.Glob(filepath.Join(r.tmp, "rehearsal-*", "instances", "*", "upper", "home", "ec2-user", "deployed"))
	if len(homes) != 6 {
		t.Errorf("ec2-user's hook wrote in %d homes of 6", len(homes))
	}
	for f, want := range map[string]bool{"rollout.svg": true, "scale-in.svg": true, "rehearsal.json": true, "control-no-hook.svg": false, "notes.txt": true} {
		data, err := os.ReadFile(filepath.Join(stale, f))
		switch {
		case want && err != nil:
			t.Errorf("the report folder lacks %s: %v", f, err)
		case !want && err == nil:
			t.Errorf("the report folder keeps an earlier run's %s", f)
		case f == "rehearsal.json" && strings.Contains(string(data), "an earlier run"):
			t.Error("rehearsal.json is the earlier run's")
		}
	}
	work, _ := filepath.Glob(filepath.Join(r.tmp, "rehearsal-*"))
	for _, w := range work {
		os.RemoveAll(w)
	}
	if len(work) != 1 {
		t.Errorf("--keep kept %v, want one work directory", work)
	}
	r.clean(t, true)
}

// A user's own bad release is watched by the template's alarms as it would be on AWS: a rewrite
// rule that answers one request in four with a 500 (the health check, which sends no User-Agent,
// always passes), on dev's template (OneAtATime, no wait between instances): the deployment
// succeeds before an alarm can fire, the bake sees the target 5xx alarm, and the deployer's
// restore puts v1 back. The verdict fails, and the blast radius counts the errors it answered
// and no dropped request.
func TestAUsersBadReleaseIsCaught(t *testing.T) {
	t.Parallel()
	c := newCandidate(t).
		file("conf/flaky.txt", "pick ok|ok|ok|fail\n", 0o644).
		file("conf/flaky.conf", `# A release with a bug one request in four meets.
RewriteEngine On
RewriteMap flaky "rnd:/etc/httpd/conf.d/flaky.txt"
RewriteCond %{HTTP_USER_AGENT} !^$
RewriteCond ${flaky:pick} =fail
RewriteRule ^/$ - [R=500,L]
`, 0o644).
		install("conf/flaky.txt", "/etc/httpd/conf.d/").
		install("conf/flaky.conf", "/etc/httpd/conf.d/")
	r := start(t, "--only", "rollout", "--revision", c.dir, "--template", "../../test/testdata/Fixture-dev.template.json")
	if code := r.exit(t, 2*time.Minute); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, r.output)
	}
	r.expect(t, `ALARM Fixture-dev-Fixture-dev-fleet-target-5xx`,
		`rollout: FAILED: the candidate \(v2\) deployed \(d-\w+\), then its bake saw Fixture-dev-Fixture-dev-fleet-target-5xx in ALARM: d-\w+ restored v1 \(Succeeded\)`,
		`rollout: failed requests: \d+ x GET / 500`)
	rep := r.report(t)
	br := rep.Scenarios[0].BlastRadius
	if br == nil || br.InstancesReached != 2 || br.BadResponses == 0 || br.DroppedRequests != 0 || br.DetectSeconds == nil || br.RecoverSeconds == nil {
		t.Errorf("blast radius %+v: want both instances reached, bad responses, none dropped, detected and recovered", br)
	}
	r.clean(t, true)
}

// A candidate whose server never comes up fails its deployment as CodeDeploy would fail it: at
// ApplicationStart on the first instance, with the script's stderr, stopped and rolled back to
// the baseline, without one dropped request; the scenarios after it are not played.
func TestACandidateThatDoesNotStart(t *testing.T) {
	t.Parallel()
	c := newCandidate(t).file("scripts/start_server.sh", "#!/bin/bash\necho 'httpd: port 80 in use' >&2\nexit 1\n", 0o755)
	r := start(t, "--only", "rollout,scale-in", "--revision", c.dir)
	if code := r.exit(t, 2*time.Minute); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, r.output)
	}
	r.expect(t, `deployment d-\w+ of v2 failed on i-1 at ApplicationStart \(v2's scripts/start_server.sh\): ScriptFailed: Script at specified location: scripts/start_server.sh run as user root failed with exit code 1; 0 of the \d+ requests sent from its start to the end of its rollback \(d-\w+\) failed`,
		`\[stderr\]httpd: port 80 in use`, `codeDeployRollback`, `CodeDeploy stopped it and rolled back to v1`, `scale-in: not played: v2 \(the candidate`)
	if failed, isFail := r.row(t, "rollout", "FAIL"); failed != 0 || !isFail {
		t.Errorf("rollout: %d failed, FAIL %v; want 0 and FAIL", failed, isFail)
	}
	if strings.Contains(r.output.String(), "the fleet did not come up") {
		t.Errorf("the baseline did not come up:\n%s", r.output)
	}
	r.clean(t, true)
}

// A hook that hangs costs its timeout once per deployment that runs it: the rollout's first
// instance waits it out (ScriptTimedOut, as the agent words it) and rolls back; the scenarios
// after it, which would deploy the candidate again, are not played.
func TestAHookThatHangs(t *testing.T) {
	t.Parallel()
	c := newCandidate(t).hook("BeforeInstall", "migrate.sh", "#!/bin/bash\necho 'waiting for the database'\nsleep 600\n", 3, "root")
	begin := time.Now()
	r := start(t, "--only", "rollout,failed-release,scale-in", "--revision", c.dir)
	if code := r.exit(t, 2*time.Minute); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, r.output)
	}
	r.expect(t, `ScriptTimedOut: Script at specified location: scripts/migrate.sh failed to complete in 3 seconds`,
		`CodeDeploy stopped it and rolled back to v1`, `failed-release: not played`, `scale-in: not played`)
	if n := strings.Count(r.output.String(), "FAILED after"); n != 1 {
		t.Errorf("the hook timed out %d times, want once:\n%s", n, r.output)
	}
	if took := time.Since(begin); took > 60*time.Second {
		t.Errorf("the run took %v", took)
	}
	r.clean(t, true)
}

// runas runs the script as the agent does, `su USER -c SCRIPT`: nobody's shell is nologin, so
// the hook fails as it fails on an instance, and the deployment rolls back.
func TestRunAsNobody(t *testing.T) {
	t.Parallel()
	c := newCandidate(t).hook("AfterInstall", "warm_cache.sh", "#!/bin/bash\necho 'warming the cache'\n", 30, "nobody")
	r := start(t, "--only", "rollout", "--revision", c.dir)
	if code := r.exit(t, 2*time.Minute); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, r.output)
	}
	r.expect(t, `failed on i-1 at AfterInstall \(v2's scripts/warm_cache.sh\): ScriptFailed: Script at specified location: scripts/warm_cache.sh run as user nobody failed with exit code 1`,
		`\[stdout\]This account is currently not available.`, `rolled back to v1`)
	r.clean(t, true)
}

// A fault that comes soon after the deployment (here httpd stopped three seconds after the last
// instance started it, as a restart scheduled by a hook would) is counted: the load and the
// verdict go on for the settle window after the last event.
func TestAFaultSoonAfterTheDeployment(t *testing.T) {
	t.Parallel()
	c := newCandidate(t).hook("ApplicationStart", "schedule_restart.sh", `#!/bin/bash
set -euo pipefail
`+whoami+`if [ "$me" = i-3 ]; then
  (sleep 3; systemctl stop httpd) </dev/null >/dev/null 2>&1 &
fi
`, 30, "root")
	r := start(t, "--only", "rollout", "--revision", c.dir)
	if code := r.exit(t, 2*time.Minute); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, r.output)
	}
	if failed, isFail := r.row(t, "rollout", "FAIL"); failed == 0 || !isFail {
		t.Errorf("rollout: %d failed, FAIL %v; want failed requests and FAIL", failed, isFail)
	}
	r.expect(t, `rollout: failed requests: \d+ x GET / 503`)
	// Every failure came after the deployment had ended, which succeeded: what only the settle
	// window sees.
	rep := r.report(t)
	d := rep.Scenarios[0].Deployments
	if len(d) != 1 || d[0].Outcome != "Succeeded" {
		t.Fatalf("deployments %+v, want one that succeeded", d)
	}
	for _, req := range rep.Scenarios[0].Load.Each {
		if (req.Code < 200 || req.Code >= 400) && req.At <= d[0].End {
			t.Errorf("a request failed at %.2f s, before the deployment ended at %.2f s: %+v", req.At, d[0].End, req)
		}
	}
	r.clean(t, true)
}

// whoami sets $me to the instance a hook runs on, as a hook learns it on EC2 (IMDSv2).
const whoami = `token=$(curl --silent --fail -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token)
me=$(curl --silent --fail -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)
`

// report reads the run's rehearsal.json.
func (r *running) report(t *testing.T) report {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(r.out, "rehearsal.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// report is what the tests read of rehearsal.json.
type report struct {
	Scenarios []struct {
		Name        string `json:"scenario"`
		BlastRadius *struct {
			InstancesReached, BadResponses, DroppedRequests int
			DetectSeconds, RecoverSeconds                   *float64
		}
		Deployments []struct {
			Outcome string `json:"codeDeployOutcome"`
			End     float64
		}
		Load struct {
			Each []struct {
				At   float64
				Code int
			}
		}
		Lanes []struct {
			Instance string
			Spans    []struct {
				Label      string `json:"event"`
				Start, End float64
			} `json:"events"`
		}
	}
}

// A registered target takes traffic after one passing health check, as the ELB documents for a
// new target, however high the template's healthy threshold (here 5); and AllowTraffic waits,
// in real time, for a server that takes a while to pass it (here 12 s on i-1, whose health-check
// page the candidate writes only then).
func TestAllowTraffic(t *testing.T) {
	t.Parallel()
	var tmpl map[string]any
	data, err := os.ReadFile("testdata/fleet.template.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &tmpl); err != nil {
		t.Fatal(err)
	}
	tg := tmpl["Resources"].(map[string]any)["FleetTargetGroup"].(map[string]any)["Properties"].(map[string]any)
	tg["HealthyThresholdCount"], tg["HealthCheckPath"] = 5, "/warm.html"
	template := filepath.Join(t.TempDir(), "warm.template.json")
	if data, err = json.Marshal(tmpl); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(template, data, 0o644); err != nil {
		t.Fatal(err)
	}
	base := newCandidate(t).file("warm.html", "warm\n", 0o644).install("warm.html", "/var/www/html/")
	c := newCandidate(t).file("warm.html", "warm\n", 0o644).install("warm.html", "/var/www/html/").
		hook("ApplicationStart", "warm_up.sh", `#!/bin/bash
set -euo pipefail
`+whoami+`if [ "$me" = i-1 ]; then
  rm /var/www/html/warm.html
  (sleep 12; echo warm >/var/www/html/warm.html) </dev/null >/dev/null 2>&1 &
fi
`, 30, "root")
	r := start(t, "--only", "rollout", "--revision", c.dir, "--baseline", base.dir, "--template", template)
	if code := r.exit(t, 2*time.Minute); code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.output)
	}
	for _, lane := range r.report(t).Scenarios[0].Lanes {
		for _, s := range lane.Spans {
			if s.Label != "AllowTraffic" {
				continue
			}
			took := s.End - s.Start
			switch {
			case lane.Instance == "i-1" && took < 11:
				t.Errorf("i-1 was in service %.1f s after it was registered, before its health-check page was there", took)
			case lane.Instance != "i-1" && took > 2.5:
				t.Errorf("%s took %.1f s to be in service, more than one health check's interval (1 s)", lane.Instance, took)
			}
		}
	}
	r.clean(t, true)
}

// A revision that serves its pages with an app server a hook starts (here Perl's, in place of
// httpd) is judged on its pages alone: the rehearsal's own slow probe is served beside it.
func TestARevisionWithItsOwnServer(t *testing.T) {
	t.Parallel()
	c := newCandidate(t).
		file("app/server.pl", `use strict; use warnings; use IO::Socket::INET;
# The revision's app server: it answers every request with the page.
my $server = IO::Socket::INET->new(LocalPort => 80, Listen => 64, ReuseAddr => 1) or die "listen: $!";
while (my $c = $server->accept) {
  while (my $line = <$c>) { last if $line =~ /^\r?\n$/; }
  open(my $f, '<', '/var/www/html/index.html') or next;
  local $/; my $body = <$f>; close $f;
  print $c "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n" . $body;
  close $c;
}
`, 0o644).
		install("app/server.pl", "/opt/app/").
		file("scripts/start_server.sh", `#!/bin/bash
set -euo pipefail
systemctl stop httpd
pkill -f /opt/app/server.pl || true
setsid perl /opt/app/server.pl </dev/null >/dev/null 2>&1 &
for _ in $(seq 50); do curl --silent --fail --max-time 1 http://127.0.0.1/ >/dev/null && exit 0; sleep 0.1; done
echo "the app server did not start" >&2
exit 1
`, 0o755)
	r := start(t, "--only", "rollout", "--revision", c.dir)
	if code := r.exit(t, 2*time.Minute); code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.output)
	}
	r.clean(t, true)
}

// The termination hook is the template's: on a template with TerminationHookEnabled false the
// graceful scale-in fails, naming the setting, while the no-hook control (which always rehearses
// such a copy) passes.
func TestScaleInFollowsTheTemplatesHook(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/fleet.template.json")
	if err != nil {
		t.Fatal(err)
	}
	off := strings.Replace(string(data), `"TerminationHookEnabled": true`, `"TerminationHookEnabled": false`, 1)
	if off == string(data) {
		t.Fatal("the test template has no termination hook to turn off")
	}
	template := filepath.Join(t.TempDir(), "no-hook.template.json")
	if err := os.WriteFile(template, []byte(off), 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, "--only", "scale-in,control-no-hook", "--template", template)
	if code := r.exit(t, 2*time.Minute); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, r.output)
	}
	r.expect(t, `scale-in: FAILED: no termination deployment ran on i-3: the deployment group in .*no-hook.template.json has the termination hook off`,
		`(?m)^control-no-hook .*pass \(control\)$`)
	r.clean(t, true)
}

// Two rehearsals on one machine: both complete, and each one's checks see only its own
// processes and namespaces, while the other runs.
func TestTwoRehearsalsAtOnce(t *testing.T) {
	t.Parallel()
	a := start(t, "--only", "rollout")
	a.waitFor(t, "deploying v2", time.Minute)
	b := start(t, "--only", "rollout")
	if code := a.exit(t, 2*time.Minute); code != 0 {
		t.Errorf("the first: exit %d:\n%s", code, a.output)
	}
	a.clean(t, true)
	if code := b.exit(t, 2*time.Minute); code != 0 {
		t.Errorf("the second: exit %d:\n%s", code, b.output)
	}
	b.clean(t, true)
}

// Ctrl-C in the middle of a deployment under load: the rehearsal stops, says it was
// interrupted (not that a scenario failed), removes its fleet and exits 130.
func TestNothingLeftAfterCtrlC(t *testing.T) {
	t.Parallel()
	r := start(t, "--only", "rollout")
	r.waitFor(t, "deploying v2", 60*time.Second)
	time.Sleep(500 * time.Millisecond)
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := r.exit(t, 40*time.Second); code != 130 {
		t.Errorf("exit %d, want 130:\n%s", code, r.output)
	}
	r.expect(t, `(?m)^rollout .* interrupted$`, `rehearse: interrupted; the fleet is gone`)
	if out := r.output.String(); strings.Contains(out, "FAIL") {
		t.Errorf("an interrupted run reports a failure:\n%s", out)
	}
	r.clean(t, true)
}

// Killed outright (SIGKILL: no cleanup code runs), the rehearsal still leaves no process and no
// namespace: every process it starts dies with its parent. Only the work directory stays.
func TestNothingLeftWhenKilled(t *testing.T) {
	t.Parallel()
	r := start(t, "--only", "rollout")
	r.waitFor(t, "deploying v2", 60*time.Second)
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	r.exit(t, 10*time.Second)
	r.clean(t, false)
}

// Not root: a clear message and exit 2, with nothing started.
func TestNotRoot(t *testing.T) {
	t.Parallel()
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
	cmd := exec.CommandContext(ctx, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", dir+"/rehearse", "--check")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	exit, ok := err.(*exec.ExitError)
	if !ok || exit.ExitCode() != 2 || !strings.Contains(out.String(), "must run as root") {
		t.Errorf("as nobody: %v, %q; want exit 2 saying it must run as root", err, out.String())
	}
}

func random() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
