// Package standin holds the rehearsal's stand-ins for what cannot exist on a local machine: the
// package manager (rpm, dnf, yum), systemd's systemctl for httpd, the AWS CLI's
// `aws deploy get-deployment`, and the instance metadata service. Each does only what a hook
// script of a revision needs and says so when asked for more; the README lists them as the
// differences between a rehearsal instance and a real one.
//
// The command stand-ins are one binary: the rehearse command, called by these names (symbolic
// links on the instance's PATH).
package standin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Commands are the names the stand-in binary answers to.
var Commands = []string{"systemctl", "rpm", "dnf", "yum", "aws"}

// Host is where the command stand-ins keep their state and find the instance's web server.
type Host struct {
	// State is a directory of the instance's own (its /run): installed packages, enabled units.
	State string
	// PidFile is httpd's, as the instance's web-server configuration sets it.
	PidFile string
	// Proc is the process file system where httpd's processes are looked for (the instance's
	// /proc).
	Proc string
	// Apachectl controls the instance's httpd (Debian's apachectl, reading the instance's own
	// configuration).
	Apachectl string
	// StopTimeout bounds `systemctl stop` and `start`, as TimeoutStopSec and TimeoutStartSec
	// bound them under systemd (90 s each by default).
	StopTimeout time.Duration
	// Endpoint is the stand-in CodeDeploy API's URL when AWS_ENDPOINT_URL_CODEDEPLOY and
	// AWS_ENDPOINT_URL are unset.
	Endpoint string
	Stdout   io.Writer
	Stderr   io.Writer
	Getenv   func(string) string
}

// Instance is the host as a rehearsal instance lays it out.
func Instance() Host {
	return Host{
		State:       "/run/rehearsal",
		PidFile:     "/run/httpd/httpd.pid",
		Proc:        "/proc",
		Apachectl:   "apachectl",
		StopTimeout: 90 * time.Second,
		Endpoint:    DefaultEndpoint,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		Getenv:      os.Getenv,
	}
}

// Run runs the stand-in called name with args and returns its exit status.
func (h Host) Run(name string, args []string) int {
	switch name {
	case "systemctl":
		return h.systemctl(args)
	case "rpm":
		return h.rpm(args)
	case "dnf", "yum":
		return h.install(name, args)
	case "aws":
		return h.aws(args)
	}
	fmt.Fprintf(h.Stderr, "rehearsal stand-in: no stand-in called %q\n", name)
	return 127
}

// unsupported is the answer to anything a stand-in does not do: the rehearsal must never look
// as if it did something it did not.
func (h Host) unsupported(name string, args []string, does string) int {
	fmt.Fprintf(h.Stderr, "%s: the rehearsal's stand-in for %s only supports %s; got: %s %s\n",
		name, name, does, name, strings.Join(args, " "))
	return 2
}

// --- package manager ------------------------------------------------------------------------

// Packages are recorded as installed; nothing is installed. httpd is Debian's apache2, which
// the rehearsal requires up front, so an instance starts without it, as one launched from the
// fleet's user data does, and a BeforeInstall hook that installs it works unmodified.
func (h Host) packageFile(name string) string { return filepath.Join(h.State, "packages", name) }

func (h Host) rpm(args []string) int {
	if len(args) < 2 || args[0] != "-q" {
		return h.unsupported("rpm", args, "rpm -q PACKAGE...")
	}
	status := 0
	for _, p := range args[1:] {
		if _, err := os.Stat(h.packageFile(p)); err == nil {
			fmt.Fprintf(h.Stdout, "%s-rehearsal.x86_64\n", p)
		} else {
			fmt.Fprintf(h.Stdout, "package %s is not installed\n", p)
			status = 1
		}
	}
	return status
}

func (h Host) install(name string, args []string) int {
	var packages []string
	sawInstall := false
	for _, a := range args {
		switch {
		case a == "install" && !sawInstall:
			sawInstall = true
		case a == "-y" || a == "-q" || a == "--quiet" || a == "--assumeyes":
		case strings.HasPrefix(a, "-"):
			return h.unsupported(name, args, name+" install -y PACKAGE...")
		default:
			packages = append(packages, a)
		}
	}
	if !sawInstall || len(packages) == 0 {
		return h.unsupported(name, args, name+" install -y PACKAGE...")
	}
	if err := os.MkdirAll(filepath.Join(h.State, "packages"), 0o755); err != nil {
		fmt.Fprintf(h.Stderr, "%s: %v\n", name, err)
		return 1
	}
	for _, p := range packages {
		if err := os.WriteFile(h.packageFile(p), nil, 0o644); err != nil {
			fmt.Fprintf(h.Stderr, "%s: %v\n", name, err)
			return 1
		}
		fmt.Fprintf(h.Stdout, "Installed: %s-rehearsal.x86_64 (rehearsal stand-in: recorded, nothing downloaded)\n", p)
	}
	fmt.Fprintln(h.Stdout, "Complete!")
	return 0
}

// --- systemctl -------------------------------------------------------------------------------

// systemctl maps httpd.service onto the instance's real web server, as Amazon Linux's unit
// defines it: start and reload are apachectl's start and graceful; stop is a graceful stop
// (the unit's KillSignal is SIGWINCH), waited for up to TimeoutStopSec and then killed.
func (h Host) systemctl(args []string) int {
	var words []string
	quiet := false
	for _, a := range args {
		switch a {
		case "--quiet", "-q":
			quiet = true
		case "--no-pager", "--no-block":
		default:
			if strings.HasPrefix(a, "-") {
				return h.unsupported("systemctl", args, "start, stop, restart, reload, enable, disable, is-active, is-enabled and status of httpd")
			}
			words = append(words, a)
		}
	}
	if len(words) != 2 {
		return h.unsupported("systemctl", args, "one verb and one unit (httpd)")
	}
	verb, unit := words[0], strings.TrimSuffix(words[1], ".service")
	if unit != "httpd" {
		fmt.Fprintf(h.Stderr, "Failed to %s %s.service: Unit %s.service not found. (rehearsal: only httpd exists)\n", verb, unit, unit)
		return 5
	}
	say := func(format string, a ...any) {
		if !quiet {
			fmt.Fprintf(h.Stdout, format, a...)
		}
	}
	enabled := filepath.Join(h.State, "enabled", "httpd")
	switch verb {
	case "is-active":
		if h.httpdRunning() {
			say("active\n")
			return 0
		}
		say("inactive\n")
		return 3
	case "is-enabled":
		if _, err := os.Stat(enabled); err == nil {
			say("enabled\n")
			return 0
		}
		say("disabled\n")
		return 1
	case "enable":
		if err := os.MkdirAll(filepath.Dir(enabled), 0o755); err != nil {
			return h.fail(err)
		}
		if err := os.WriteFile(enabled, nil, 0o644); err != nil {
			return h.fail(err)
		}
		return 0
	case "disable":
		_ = os.Remove(enabled)
		return 0
	case "status":
		if h.httpdRunning() {
			say("● httpd.service - The Apache HTTP Server (rehearsal: Debian's apache2)\n   Active: active (running)\n")
			return 0
		}
		say("● httpd.service - The Apache HTTP Server (rehearsal: Debian's apache2)\n   Active: inactive (dead)\n")
		return 3
	case "start":
		if h.httpdRunning() {
			return 0
		}
		return h.start()
	case "reload":
		if !h.httpdRunning() {
			fmt.Fprintln(h.Stderr, "httpd.service is not active, cannot reload.")
			return 1
		}
		return h.apachectl("graceful")
	case "stop":
		return h.stop()
	case "restart":
		if status := h.stop(); status != 0 {
			return status
		}
		return h.start()
	}
	return h.unsupported("systemctl", args, "start, stop, restart, reload, enable, disable, is-active, is-enabled and status")
}

// start starts httpd and returns once it runs, as systemctl start does: Amazon Linux's
// httpd.service is Type=notify, so the start job ends when httpd says it is ready, within
// TimeoutStartSec (90 s by default). apachectl returns as soon as httpd has forked, before it
// has written its pid file; a script that checks is-active right after must see it active.
func (h Host) start() int {
	if status := h.apachectl("start"); status != 0 {
		return status
	}
	deadline := time.Now().Add(h.StopTimeout)
	for !h.httpdRunning() {
		if time.Now().After(deadline) {
			fmt.Fprintf(h.Stderr, "Job for httpd.service failed: httpd did not start within %v (no running httpd in %s)\n", h.StopTimeout, h.PidFile)
			return 1
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0
}

func (h Host) fail(err error) int {
	fmt.Fprintf(h.Stderr, "systemctl: %v\n", err)
	return 1
}

func (h Host) apachectl(verb string) int {
	cmd := exec.Command(h.Apachectl, "-k", verb)
	cmd.Stdout, cmd.Stderr = h.Stdout, h.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(h.Stderr, "Job for httpd.service failed: apachectl -k %s: %v\n", verb, err)
		return 1
	}
	return 0
}

// httpdPid is httpd's main process, 0 when it is not running.
func (h Host) httpdPid() int {
	data, err := os.ReadFile(h.PidFile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return 0
	}
	// A pid file left behind by a killed httpd may name a pid reused by something else.
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) != "httpd" {
		return 0
	}
	return pid
}

func (h Host) httpdRunning() bool { return h.httpdPid() != 0 }

// stop stops httpd as systemd stops Amazon Linux's httpd.service (KillSignal=SIGWINCH,
// KillMode=mixed: "the SIGTERM signal [here the KillSignal] is sent to the main process while
// the subsequent SIGKILL signal is sent to all remaining processes of the unit's control group",
// systemd.kill(5)): SIGWINCH, httpd's graceful stop, to the main process; once it has exited,
// SIGKILL to any httpd process left; and the stop returns only when none is left, as systemd's
// stop job ends when the unit's processes are gone. Without a main process (its pid file is gone
// while a graceful stop is under way), it waits for that stop to end, as a second stop joins the
// running job. Past TimeoutStopSec every httpd process is killed.
func (h Host) stop() int {
	pid := h.httpdPid()
	if pid != 0 {
		// SIGWINCH is httpd's graceful stop: in-flight requests finish, listeners close at once.
		if err := syscall.Kill(pid, syscall.SIGWINCH); err != nil {
			return h.fail(err)
		}
	}
	deadline := time.Now().Add(h.StopTimeout)
	for time.Now().Before(deadline) {
		left := h.httpdProcesses()
		if len(left) == 0 {
			return 0
		}
		if pid != 0 && !alive(pid) {
			// The main process is gone: the rest of the control group gets SIGKILL.
			for _, p := range left {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintf(h.Stderr, "httpd.service: State 'stop-sigterm' timed out after %v. Killing.\n", h.StopTimeout)
	for _, p := range h.httpdProcesses() {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	return 0
}

// httpdProcesses are the pids of every process called httpd on the host (the stand-in runs in
// the instance's PID namespace, whose /proc shows only the instance's processes): the unit's
// control group, as far as the rehearsal can tell it.
func (h Host) httpdProcesses() []int {
	entries, _ := os.ReadDir(h.Proc)
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(h.Proc, e.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(comm)) == "httpd" && !zombie(filepath.Join(h.Proc, e.Name())) {
			out = append(out, pid)
		}
	}
	return out
}

// alive reports whether pid is a process that has not exited.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// zombie reports whether the process at dir has exited and waits to be reaped.
func zombie(dir string) bool {
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return true
	}
	// The state follows the command name in parentheses, which may itself hold spaces.
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] == 'Z'
	}
	return false
}

// --- aws ---------------------------------------------------------------------------------------

// aws answers `aws deploy get-deployment --deployment-id ID`, the one AWS call the project's
// hook scripts make (stop_application.sh asks who created the deployment), from the rehearsal's
// stand-in CodeDeploy API. It honours --query deploymentInfo.FIELD with --output text, and the
// endpoint variables the AWS CLI honours.
func (h Host) aws(args []string) int {
	const does = "aws deploy get-deployment --deployment-id ID [--region R] [--query deploymentInfo.FIELD] [--output text|json] [--cli-connect-timeout N] [--cli-read-timeout N]"
	if len(args) < 2 || args[0] != "deploy" || args[1] != "get-deployment" {
		return h.unsupported("aws", args, does)
	}
	opts := map[string]string{}
	rest := args[2:]
	for len(rest) > 0 {
		name := rest[0]
		if !slices.Contains([]string{"--deployment-id", "--region", "--query", "--output", "--cli-connect-timeout", "--cli-read-timeout"}, name) || len(rest) < 2 {
			return h.unsupported("aws", args, does)
		}
		opts[name] = rest[1]
		rest = rest[2:]
	}
	id := opts["--deployment-id"]
	if id == "" {
		fmt.Fprintln(h.Stderr, "aws: error: the following arguments are required: --deployment-id")
		return 252
	}
	field, hasQuery := strings.CutPrefix(opts["--query"], "deploymentInfo.")
	if opts["--query"] != "" && !hasQuery {
		return h.unsupported("aws", args, does)
	}
	endpoint := h.Endpoint
	for _, v := range []string{"AWS_ENDPOINT_URL_CODEDEPLOY", "AWS_ENDPOINT_URL"} {
		if e := h.Getenv(v); e != "" {
			endpoint = e
			break
		}
	}
	timeout := 60 * time.Second
	if s, err := strconv.Atoi(opts["--cli-read-timeout"]); err == nil && s > 0 {
		timeout = time.Duration(s) * time.Second
	}
	info, err := getDeployment(endpoint, id, timeout)
	if err != nil {
		fmt.Fprintf(h.Stderr, "\nAn error occurred when calling the GetDeployment operation: %v\n", err)
		return 254
	}
	switch {
	case hasQuery && opts["--output"] == "text":
		fmt.Fprintln(h.Stdout, info[field])
	case hasQuery:
		fmt.Fprintf(h.Stdout, "%q\n", info[field])
	default:
		fmt.Fprintln(h.Stdout, jsonDeployment(info))
	}
	return 0
}
