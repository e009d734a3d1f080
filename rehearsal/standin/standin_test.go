package standin

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func testHost(t *testing.T, env map[string]string) (Host, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	h := Instance()
	h.State = t.TempDir()
	h.PidFile = h.State + "/httpd.pid"
	h.Stdout, h.Stderr = &stdout, &stderr
	h.Getenv = func(k string) string { return env[k] }
	return h, &stdout, &stderr
}

// The package manager: httpd is missing until a BeforeInstall hook installs it, as on an
// instance launched from the fleet's user data; anything else than install is refused loudly.
func TestPackageManager(t *testing.T) {
	h, stdout, stderr := testHost(t, nil)
	if got := h.Run("rpm", []string{"-q", "httpd"}); got != 1 {
		t.Fatalf("rpm -q httpd on a fresh instance: exit %d, want 1", got)
	}
	if got := h.Run("dnf", []string{"install", "-y", "httpd"}); got != 0 {
		t.Fatalf("dnf install -y httpd: exit %d: %s", got, stderr)
	}
	stdout.Reset()
	if got := h.Run("rpm", []string{"-q", "httpd"}); got != 0 || !strings.HasPrefix(stdout.String(), "httpd-") {
		t.Fatalf("rpm -q httpd after the install: exit %d, %q", got, stdout)
	}
	for _, args := range [][]string{{"update", "-y"}, {"install"}, {"install", "--enablerepo=x", "php"}} {
		stderr.Reset()
		if got := h.Run("yum", args); got == 0 || !strings.Contains(stderr.String(), "only supports") {
			t.Errorf("yum %v: exit %d, stderr %q; want a refusal", args, got, stderr)
		}
	}
}

// systemctl knows one unit, and says so about any other; a stopped httpd is inactive (3).
func TestSystemctl(t *testing.T) {
	h, stdout, stderr := testHost(t, nil)
	if got := h.Run("systemctl", []string{"is-active", "--quiet", "httpd"}); got != 3 || stdout.Len() != 0 {
		t.Errorf("is-active --quiet with no httpd: exit %d, stdout %q; want 3 and silence", got, stdout)
	}
	if got := h.Run("systemctl", []string{"start", "nginx"}); got != 5 || !strings.Contains(stderr.String(), "nginx.service not found") {
		t.Errorf("start nginx: exit %d, %q", got, stderr)
	}
	if got := h.Run("systemctl", []string{"enable", "httpd.service"}); got != 0 {
		t.Fatalf("enable: exit %d: %s", got, stderr)
	}
	if got := h.Run("systemctl", []string{"is-enabled", "httpd"}); got != 0 {
		t.Errorf("is-enabled after enable: exit %d", got)
	}
	if got := h.Run("systemctl", []string{"reload", "httpd"}); got == 0 {
		t.Error("reload of a stopped httpd succeeded; systemd refuses it")
	}
	// The pid file of a dead httpd, or of some other process, is not a running httpd.
	writeFile(t, h.PidFile, "1\n")
	if h.httpdRunning() {
		t.Error("pid 1 (not httpd) counted as a running httpd")
	}
}

// aws deploy get-deployment asks the stand-in API, honouring the CLI's endpoint variable, and
// prints the queried field as text; a missing deployment is the CLI's error and exit status.
func TestGetDeployment(t *testing.T) {
	var api Deployments
	api.Put("d-RUNNING1", map[string]string{"creator": "autoscalingTermination", "status": "InProgress"})
	api.Put("d-RUNNING1", map[string]string{"status": "Succeeded"}) // the creator stays
	srv := httptest.NewServer(&api)
	defer srv.Close()
	h, stdout, stderr := testHost(t, map[string]string{"AWS_ENDPOINT_URL_CODEDEPLOY": srv.URL})
	args := []string{"deploy", "get-deployment", "--deployment-id", "d-RUNNING1", "--region", "eu-west-1",
		"--cli-connect-timeout", "5", "--cli-read-timeout", "10", "--query", "deploymentInfo.creator", "--output", "text"}
	if got := h.Run("aws", args); got != 0 || stdout.String() != "autoscalingTermination\n" {
		t.Fatalf("get-deployment: exit %d, stdout %q, stderr %q", got, stdout, stderr)
	}
	args[3] = "d-MISSING"
	if got := h.Run("aws", args); got != 254 || !strings.Contains(stderr.String(), "DeploymentDoesNotExistException") {
		t.Errorf("missing deployment: exit %d, stderr %q", got, stderr)
	}
	stderr.Reset()
	if got := h.Run("aws", []string{"s3", "cp", "a", "b"}); got == 0 || !strings.Contains(stderr.String(), "only supports") {
		t.Errorf("aws s3 cp: exit %d, stderr %q; want a refusal", got, stderr)
	}
}

// IMDSv2: no token, no metadata; a token from PUT opens it; an unknown caller gets nothing.
func TestMetadata(t *testing.T) {
	var md Metadata
	srv := httptest.NewServer(&md)
	defer srv.Close()
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("X-aws-ec2-metadata-token", token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/latest/meta-data/instance-id", ""); code != http.StatusForbidden {
		t.Errorf("unknown caller: %d, want 403", code)
	}
	md.Add(InstanceMetadata{InstanceID: "i-1", Region: "eu-west-1", AvailabilityZone: "eu-west-1a", LocalIPv4: "127.0.0.1"})
	if code, _ := get("/latest/meta-data/instance-id", ""); code != http.StatusUnauthorized {
		t.Errorf("IMDSv1 read: %d, want 401", code)
	}
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/latest/api/token", nil)
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "60")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	token, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for path, want := range map[string]string{"/latest/meta-data/instance-id": "i-1", "/latest/meta-data/placement/region": "eu-west-1"} {
		if code, body := get(path, string(token)); code != 200 || body != want {
			t.Errorf("%s: %d %q, want %q", path, code, body, want)
		}
	}
	if code, body := get("/latest/meta-data/placement/", string(token)); code != 200 || body != "availability-zone\nregion" {
		t.Errorf("listing: %d %q", code, body)
	}
	md.tokens[string(token)] = time.Now().Add(-time.Second)
	if code, _ := get("/latest/meta-data/instance-id", string(token)); code != http.StatusUnauthorized {
		t.Errorf("expired token: %d, want 401", code)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// systemctl start returns once httpd runs, not when apachectl returns: apachectl's httpd forks
// and writes its pid file a moment later, and start_server.sh checks is-active at once.
func TestStartWaitsForHttpd(t *testing.T) {
	h, _, stderr := testHost(t, nil)
	dir := t.TempDir()
	fakeHttpd(t, dir)
	fake := filepath.Join(dir, "apachectl")
	writeFile(t, fake, "#!/bin/bash\n# Returns at once; httpd and its pid file come 300 ms later.\n"+
		"(sleep 0.3; "+filepath.Join(dir, "httpd")+" 30 & echo $! >"+h.PidFile+") >/dev/null 2>&1 &\n")
	if err := os.Chmod(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	h.Apachectl = fake
	h.StopTimeout = 5 * time.Second
	if got := h.Run("systemctl", []string{"start", "httpd"}); got != 0 {
		t.Fatalf("start: exit %d: %s", got, stderr)
	}
	pid := h.httpdPid()
	if pid == 0 {
		t.Fatal("systemctl start returned before httpd ran")
	}
	defer syscall.Kill(pid, syscall.SIGKILL)
	if got := h.Run("systemctl", []string{"is-active", "--quiet", "httpd"}); got != 0 {
		t.Errorf("is-active right after start: exit %d", got)
	}
}

// systemctl stop returns when every httpd process has exited, as systemd's stop job does with
// httpd.service's KillMode=mixed, not when the pid file is gone: httpd removes it as soon as a
// graceful stop begins, while its workers finish their requests.
func TestStopWaitsForEveryHttpd(t *testing.T) {
	h, _, stderr := testHost(t, nil)
	dir := t.TempDir()
	// The worker: a process called httpd that finishes its request a second after the stop.
	if err := os.MkdirAll(filepath.Join(dir, "worker"), 0o755); err != nil {
		t.Fatal(err)
	}
	worker := fakeHttpd(t, filepath.Join(dir, "worker"))
	// The main process, also called httpd: on SIGWINCH it removes its pid file at once, then
	// waits for its worker, as httpd's graceful stop does.
	main := filepath.Join(dir, "httpd")
	writeFile(t, main, "#!/bin/bash\ntrap 'rm -f \"$1\"; wait \"$w\"; exit 0' WINCH\n\"$2\" 30 &\nw=$!\necho \"$w\" >\"$1.worker\"\necho $$ >\"$1\"\nwhile :; do sleep 0.05; done\n")
	if err := os.Chmod(main, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(main, h.PidFile, worker)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() { _ = cmd.Process.Kill() }()
	var workerPid int
	for deadline := time.Now().Add(5 * time.Second); workerPid == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(h.PidFile + ".worker"); err == nil && h.httpdPid() != 0 {
			workerPid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	if workerPid == 0 {
		t.Fatal("the fake httpd did not start")
	}
	defer syscall.Kill(workerPid, syscall.SIGKILL)
	// The worker ends its request a second after the stop begins.
	go func() {
		time.Sleep(time.Second)
		_ = syscall.Kill(workerPid, syscall.SIGTERM)
	}()
	// Only these two are looked at: this machine may run processes called httpd of its own.
	h.Proc = t.TempDir()
	for _, pid := range []int{cmd.Process.Pid, workerPid} {
		if err := os.Symlink(fmt.Sprintf("/proc/%d", pid), filepath.Join(h.Proc, strconv.Itoa(pid))); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if got := h.Run("systemctl", []string{"stop", "httpd"}); got != 0 {
		t.Fatalf("stop: exit %d: %s", got, stderr)
	}
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Errorf("stop returned after %v, while httpd's worker still served", took)
	}
	if left := h.httpdProcesses(); len(left) > 0 {
		t.Errorf("httpd processes %v outlived systemctl stop", left)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Error("httpd's main process did not exit")
	}
}

// fakeHttpd writes, in dir, a program whose processes are called httpd: a copy of sleep.
func fakeHttpd(t *testing.T, dir string) string {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "httpd")
	if err := os.WriteFile(name, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return name
}
