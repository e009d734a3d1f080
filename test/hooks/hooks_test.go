// Package hooks runs the revision's hook scripts (assets/scripts) with bash, against fakes of the
// programs they call on an instance, and checks what they did. Plain Go: no jsii here.
package hooks

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const scripts = "../../assets/scripts"

// faked programs, each a link to fake.sh.
var faked = []string{"aws", "curl", "systemctl", "apachectl", "pgrep", "rpm", "sync", "dnf", "yum", "sleep"}

type run struct {
	code    int
	output  string
	calls   []string
	elapsed time.Duration
}

// called reports whether a recorded call starts with prefix ("apachectl -k graceful-stop").
func (r run) called(prefix string) bool {
	for _, c := range r.calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

// count is how many recorded calls are exactly call.
func (r run) count(call string) int {
	n := 0
	for _, c := range r.calls {
		if c == call {
			n++
		}
	}
	return n
}

// runHook runs script with the fakes first on PATH and env added to a minimal environment.
func runHook(t *testing.T, script string, env ...string) run {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	fake, err := filepath.Abs("fake.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range faked {
		if name == "dnf" && slices.Contains(env, "AMAZON_LINUX_2=1") {
			continue // Amazon Linux 2 has yum only
		}
		if err := os.Symlink(fake, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(dir, "calls.log")
	cmd := exec.Command("bash", filepath.Join(scripts, script))
	cmd.Env = append([]string{
		"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin",
		"FAKE_LOG=" + log,
		"HOME=" + dir,
	}, env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	r := run{output: string(out), elapsed: time.Since(start)}
	if exit, ok := err.(*exec.ExitError); ok {
		r.code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(log); err == nil {
		r.calls = strings.Split(strings.TrimSpace(string(data)), "\n")
	}
	return r
}

// hookEnv is what the CodeDeploy agent exports to an ApplicationStop script.
var hookEnv = []string{
	"DEPLOYMENT_ID=d-EXAMPLE11", "LIFECYCLE_EVENT=ApplicationStop",
	"DEPLOYMENT_GROUP_NAME=MyWebApp-dev-fleet", "APPLICATION_NAME=MyWebApp-dev",
}

func TestStopApplication(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		env     []string
		drains  bool
		logs    string
		maxTime time.Duration
		forGood bool
	}{
		{"termination drains", []string{"FAKE_AWS=autoscalingTermination"}, true, "deployment creator: autoscalingTermination", 10 * time.Second, false},
		{"normal deployment stops nothing", []string{"FAKE_AWS=user"}, false, "creator user is not a scale-in: nothing to stop", 10 * time.Second, false},
		{"rollback stops nothing", []string{"FAKE_AWS=codeDeployRollback"}, false, "creator codeDeployRollback is not a scale-in", 10 * time.Second, false},
		{"aws fails: drains anyway", []string{"FAKE_AWS=fail"}, true, "get-deployment failed (exit 254): An error occurred (AccessDeniedException)", 10 * time.Second, false},
		// timeout(1) takes fractions of a second: the hang costs the test 0.2 s, not the 20 s default.
		{"aws hangs: bounded, drains anyway", []string{"FAKE_AWS=hang", "AWS_TIMEOUT_SECONDS=0.2"}, true, "get-deployment failed (exit 124)", 8 * time.Second, false},
		{"httpd outlives the drain limit", []string{"FAKE_AWS=autoscalingTermination", "FAKE_HTTPD_EXITS_AFTER=never", "DRAIN_SECONDS=1"}, true,
			"httpd still running after 1 s: stopping it for good", 10 * time.Second, true},
		{"httpd not running", []string{"FAKE_AWS=autoscalingTermination", "FAKE_HTTPD_ACTIVE=0"}, false, "httpd is not running: nothing to drain", 10 * time.Second, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Each case is a tree of processes; side by side, the aws timeout's 0.2 s is spent once.
			t.Parallel()
			r := runHook(t, "stop_application.sh", append(append([]string{}, hookEnv...), tc.env...)...)
			if r.code != 0 {
				t.Errorf("exit %d, want 0 (a failing stop script holds the instance in Terminating:Wait)\n%s", r.code, r.output)
			}
			if !strings.Contains(r.output, tc.logs) {
				t.Errorf("output lacks %q:\n%s", tc.logs, r.output)
			}
			if got := r.called("apachectl -k graceful-stop"); got != tc.drains {
				t.Errorf("graceful stop called: %v, want %v; calls: %q", got, tc.drains, r.calls)
			}
			if tc.drains && !r.called("systemctl stop httpd") {
				t.Errorf("httpd not stopped for good after draining; calls: %q", r.calls)
			}
			if !tc.drains && r.called("systemctl stop httpd") {
				t.Errorf("httpd stopped on a deployment that is not a scale-in; calls: %q", r.calls)
			}
			if tc.drains && !r.called("sync") {
				t.Error("no sync before the instance terminates")
			}
			if r.elapsed > tc.maxTime {
				t.Errorf("took %v, bound %v", r.elapsed, tc.maxTime)
			}
			// The drain polls five times a second (sleep is faked: it returns at once), so the 1 s
			// limit is five waits of 0.2 s before httpd is stopped for good, and one when httpd
			// exits after the first check.
			wantWaits := 0
			if tc.forGood {
				wantWaits = 5
			} else if tc.drains {
				wantWaits = 1
			}
			if got := r.count("sleep 0.2"); got != wantWaits {
				t.Errorf("waited %d times 0.2 s, want %d; calls: %q", got, wantWaits, r.calls)
			}
			for _, line := range strings.Split(strings.TrimSpace(r.output), "\n") {
				if _, err := time.Parse(time.RFC3339, strings.Fields(line)[0]); err != nil {
					t.Errorf("log line without a timestamp: %q", line)
				}
			}
		})
	}
}

// TestStopApplicationUsesIMDSv2 checks every metadata read carries a session token (IMDSv1 is off
// on the fleet) and that AWS_REGION, when set, spares the metadata service altogether.
func TestStopApplicationUsesIMDSv2(t *testing.T) {
	t.Parallel()
	r := runHook(t, "stop_application.sh", append(hookEnv, "FAKE_AWS=user")...)
	token := false
	for _, c := range r.calls {
		if !strings.HasPrefix(c, "curl ") {
			continue
		}
		if strings.Contains(c, "-X PUT") && strings.Contains(c, "/latest/api/token") && strings.Contains(c, "X-aws-ec2-metadata-token-ttl-seconds") {
			token = true
			continue
		}
		if !strings.Contains(c, "X-aws-ec2-metadata-token: TOKEN-v2") {
			t.Errorf("metadata read without a token: %s", c)
		}
		if !token {
			t.Errorf("metadata read before the token request: %s", c)
		}
	}
	if !token {
		t.Errorf("no IMDSv2 token request; calls: %q", r.calls)
	}
	if !r.called("aws deploy get-deployment --deployment-id d-EXAMPLE11 --region eu-west-1") {
		t.Errorf("get-deployment not called with the deployment and the region from IMDS; calls: %q", r.calls)
	}

	r = runHook(t, "stop_application.sh", append(hookEnv, "FAKE_AWS=user", "AWS_REGION=ap-south-1")...)
	if r.called("curl") {
		t.Errorf("metadata read although AWS_REGION is set; calls: %q", r.calls)
	}
	if !r.called("aws deploy get-deployment --deployment-id d-EXAMPLE11 --region ap-south-1") {
		t.Errorf("AWS_REGION not used; calls: %q", r.calls)
	}
}

func TestValidateService(t *testing.T) {
	t.Parallel()
	page := "<!DOCTYPE html><h1>Hello, CodeDeploy!</h1>"
	cases := []struct {
		name     string
		status   int
		body     string
		wantCode int
		wantLog  string
	}{
		{"right page", 200, page, 0, "serves the expected page"},
		{"server error", 500, page, 1, "giving up after 3 attempts"},
		{"wrong page", 200, "<h1>It works!</h1>", 1, `answered 200 without "Hello, CodeDeploy!"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			cmd := exec.Command("bash", filepath.Join(scripts, "validate_service.sh"))
			cmd.Env = append(os.Environ(), "VALIDATE_URL="+srv.URL+"/", "VALIDATE_ATTEMPTS=3", "VALIDATE_INTERVAL_SECONDS=0")
			out, err := cmd.CombinedOutput()
			code := 0
			if exit, ok := err.(*exec.ExitError); ok {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode || !strings.Contains(string(out), tc.wantLog) {
				t.Errorf("exit %d, output:\n%s\nwant exit %d and %q", code, out, tc.wantCode, tc.wantLog)
			}
			if wantRequests := map[int]int32{0: 1, 1: 3}[tc.wantCode]; requests.Load() != wantRequests {
				t.Errorf("%d requests, want %d (bounded retries)", requests.Load(), wantRequests)
			}
		})
	}
}

func TestInstallDependencies(t *testing.T) {
	t.Parallel()
	r := runHook(t, "install_dependencies.sh", "FAKE_HTTPD_INSTALLED=1")
	if r.code != 0 || r.called("dnf") || r.called("yum") {
		t.Errorf("httpd present: exit %d, calls %q; want exit 0 and no install", r.code, r.calls)
	}
	for _, tc := range []struct {
		name, installer string
		env             []string
	}{
		{"Amazon Linux 2023", "dnf", []string{"FAKE_HTTPD_INSTALLED=0"}},
		{"Amazon Linux 2", "yum", []string{"FAKE_HTTPD_INSTALLED=0", "AMAZON_LINUX_2=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runHook(t, "install_dependencies.sh", tc.env...)
			if r.code != 0 || !r.called(tc.installer+" install -y httpd") {
				t.Errorf("httpd missing: exit %d, calls %q, want %s install -y httpd", r.code, r.calls, tc.installer)
			}
			for _, c := range r.calls {
				if strings.Contains(c, "update") || strings.Contains(c, "upgrade") {
					t.Errorf("updates the system on a deployment: %s", c)
				}
			}
		})
	}
	// A repository mirror that is down: three attempts, 10 and 20 s apart (30 s of the hook's
	// 300 s timeout), then a failed hook, with no wait after the last attempt.
	r = runHook(t, "install_dependencies.sh", "FAKE_HTTPD_INSTALLED=0", "FAKE_INSTALL=fails")
	if r.code == 0 || !strings.Contains(r.output, "could not install httpd after 3 attempts") {
		t.Errorf("installer failing: exit %d, output:\n%s\nwant a failure after 3 attempts", r.code, r.output)
	}
	if got := r.count("dnf install -y httpd"); got != 3 {
		t.Errorf("%d install attempts, want 3; calls %q", got, r.calls)
	}
	var waits []string
	for _, c := range r.calls {
		if strings.HasPrefix(c, "sleep ") {
			waits = append(waits, c)
		}
	}
	if want := []string{"sleep 10", "sleep 20"}; !slices.Equal(waits, want) {
		t.Errorf("waits %q, want %q", waits, want)
	}
}

func TestStartServer(t *testing.T) {
	t.Parallel()
	r := runHook(t, "start_server.sh", "FAKE_HTTPD_ACTIVE=1")
	if r.code != 0 || !r.called("systemctl reload httpd") || r.called("systemctl start httpd") {
		t.Errorf("running httpd: exit %d, calls %q; want a reload", r.code, r.calls)
	}
	if !r.called("systemctl enable httpd") {
		t.Errorf("httpd not enabled at boot; calls %q", r.calls)
	}
	r = runHook(t, "start_server.sh", "FAKE_HTTPD_ACTIVE=0")
	if !r.called("systemctl start httpd") || r.called("systemctl reload httpd") {
		t.Errorf("stopped httpd: calls %q; want a start", r.calls)
	}
}
