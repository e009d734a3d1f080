package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal/internal/execfile"
	"github.com/example/codedeploy-fleet/rehearsal/standin"
)

// Requirements are the programs the sandbox runs, with the package that has each on Debian.
var Requirements = []struct{ Program, Package string }{
	{"apache2", "apache2"},
	{"apachectl", "apache2"},
	{"haproxy", "haproxy"},
	{"ip", "iproute2"},
	{"nsenter", "util-linux"},
	{"setpriv", "util-linux"},
	{"su", "util-linux"},
	{"curl", "curl"},
	{"pgrep", "procps"},
}

// Check says what this machine lacks for a rehearsal: root, and the programs above. It runs
// before anything is started, so a missing piece is one clear message and nothing to clean up.
func Check() error {
	return check(os.Geteuid(), func(program string) bool {
		if _, err := exec.LookPath(program); err == nil {
			return true
		}
		// root's PATH has /usr/sbin; sudo's secure_path may not.
		_, err := os.Stat("/usr/sbin/" + program)
		return err == nil
	})
}

func check(euid int, found func(string) bool) error {
	var problems []string
	if euid != 0 {
		problems = append(problems, "the rehearsal must run as root: it creates network, mount and PID namespaces for its instances (run it with sudo)")
	}
	var missing []string
	for _, r := range Requirements {
		if !found(r.Program) && !slices.Contains(missing, r.Package) {
			missing = append(missing, r.Package)
		}
	}
	if len(missing) > 0 {
		list := strings.Join(missing, " ")
		problems = append(problems, fmt.Sprintf("missing packages: %s (Debian, Ubuntu: apt-get install -y %s)", list, list))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// spawner starts every long-lived child from one goroutine locked to its thread for the life of
// the process: a child's parent-death signal fires when the thread that started it ends, and
// this thread never does.
type spawner chan func()

func newSpawner() spawner {
	s := make(spawner)
	go func() {
		runtime.LockOSThread()
		for f := range s {
			f()
		}
	}()
	return s
}

func (s spawner) start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	s <- func() { errc <- cmd.Start() }
	return <-errc
}

var spawn = newSpawner()

// StartDirector runs this binary again, with args, as the rehearsal's director: in a network
// namespace of its own (its loopback, the load balancer and every instance link are invisible
// to the machine), in its own process group, killed if this process dies. A first interrupt
// (Ctrl-C) asks the director to stop and clean up; it has 30 s before it is killed. It returns
// the director's exit status.
func StartDirector(args []string) (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 1, err
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), roleEnv+"="+roleDirector)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET,
		Setpgid:    true, // Ctrl-C reaches this process only; the director is told in order
		Pdeathsig:  syscall.SIGKILL,
	}
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(signals)
	if err := spawn.start(cmd); err != nil {
		return 1, fmt.Errorf("starting the rehearsal's namespace: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	interrupted := false
	for {
		select {
		case err := <-done:
			var exit *exec.ExitError
			switch {
			case err == nil && interrupted:
				return 130, nil
			case err == nil:
				return 0, nil
			case errors.As(err, &exit):
				if interrupted {
					return 130, nil
				}
				return exit.ExitCode(), nil
			}
			return 1, err
		case sig := <-signals:
			if interrupted {
				_ = cmd.Process.Kill()
				continue
			}
			interrupted = true
			fmt.Fprintf(os.Stderr, "\nrehearsal: %v: stopping the fleet and cleaning up (again to kill at once)\n", sig)
			_ = cmd.Process.Signal(syscall.SIGTERM)
			go func() {
				time.Sleep(30 * time.Second)
				_ = cmd.Process.Kill()
			}()
		}
	}
}

// lockedBuffer is a buffer a child process writes to (through os/exec's copying goroutine)
// while it may be read.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Network is the director's side: its namespace, the stand-in metadata service and CodeDeploy
// API, and the links to the instances.
type Network struct {
	Work        string // the rehearsal's work directory
	Bin         string // the stand-ins' directory, mounted in every instance
	Region      string
	Metadata    standin.Metadata
	Deployments standin.Deployments

	mu        sync.Mutex
	next      int
	instances []*Instance
	servers   []*http.Server
}

// sameNetworkAsParent reports whether this process shares its parent's network namespace: the
// director never does (its parent, the rehearse command, runs in the machine's).
func sameNetworkAsParent() bool {
	self, err1 := os.Readlink("/proc/self/ns/net")
	parent, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", os.Getppid()))
	return err1 != nil || err2 != nil || self == parent
}

// ip runs ip(8) in the director's namespace.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Setup readies the director's namespace: loopback up, the metadata address on it, the
// metadata service and the CodeDeploy API listening there. Only a director may call it: in
// the machine's own namespace it would change the machine's loopback.
func (n *Network) Setup() error {
	if !IsDirector() || sameNetworkAsParent() {
		return errors.New("sandbox: Setup outside the rehearsal's network namespace")
	}
	if err := ip("link", "set", "lo", "up"); err != nil {
		return err
	}
	if err := ip("addr", "add", standin.MetadataAddress+"/32", "dev", "lo"); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(n.Bin, 0o755); err != nil {
		return err
	}
	// The stand-ins are this binary under their commands' names; it is copied, not linked,
	// because the instances cannot see where `go run` keeps it (their /tmp is their own).
	data, err := os.ReadFile(self)
	if err != nil {
		return err
	}
	if err := execfile.Write(filepath.Join(n.Bin, "rehearse"), data, 0o755); err != nil {
		return err
	}
	for _, name := range standin.Commands {
		if err := os.Symlink("rehearse", filepath.Join(n.Bin, name)); err != nil {
			return err
		}
	}
	// httpd under its Amazon Linux name, so that its processes are called httpd.
	apache2, err := exec.LookPath("apache2")
	if err != nil {
		apache2 = "/usr/sbin/apache2"
	}
	if err := os.Symlink(apache2, filepath.Join(n.Bin, "httpd")); err != nil {
		return err
	}
	for _, s := range []struct {
		addr    string
		handler http.Handler
	}{{standin.MetadataAddress + ":80", &n.Metadata}, {strings.TrimSuffix(strings.TrimPrefix(standin.DefaultEndpoint, "http://"), "/"), &n.Deployments}} {
		l, err := net.Listen("tcp", s.addr)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 5 * time.Second}
		n.servers = append(n.servers, srv)
		go func() { _ = srv.Serve(l) }()
	}
	return nil
}

// NewInstance starts an instance in Availability Zone zone: its namespaces with an init, its
// link to the director, its file system and web-server configuration. env is the agent's
// environment for its hooks; slow is how long the rehearsal's probe takes to answer.
func (n *Network) NewInstance(ctx context.Context, id, zone string, env map[string]string, slow time.Duration) (*Instance, error) {
	n.mu.Lock()
	n.next++
	k := n.next
	n.mu.Unlock()
	if k > 250 {
		return nil, errors.New("sandbox: more than 250 instances in one rehearsal")
	}
	if env["DEPLOYMENT_GROUP_ID"] == "" {
		return nil, errors.New("sandbox: an instance needs its deployment group's id (DEPLOYMENT_GROUP_ID) for its deployment root")
	}
	in := &Instance{
		ID:      id,
		Address: fmt.Sprintf("10.77.%d.2", k),
		gateway: fmt.Sprintf("10.77.%d.1", k),
		link:    fmt.Sprintf("rh%d", k),
		dir:     filepath.Join(n.Work, fmt.Sprintf("%02d-%s", k, id)),
		done:    make(chan struct{}),
		env:     env,
	}
	if err := in.layout(); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = []string{roleEnv + "=" + roleInit, "REHEARSAL_INSTANCE_DIR=" + in.dir, "REHEARSAL_BIN=" + n.Bin,
		"REHEARSAL_HOSTNAME=" + id, "REHEARSAL_SLOW=" + slow.String(), "PATH=" + instancePath}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		Pdeathsig:  syscall.SIGKILL,
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := spawn.start(cmd); err != nil {
		return nil, fmt.Errorf("starting %s: %w", id, err)
	}
	in.init = cmd
	go func() { _ = cmd.Wait(); close(in.done) }()
	n.mu.Lock()
	n.instances = append(n.instances, in)
	n.mu.Unlock()
	if err := waitReady(stdout, &stderr, 10*time.Second); err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	pid := fmt.Sprint(cmd.Process.Pid)
	if err := ip("link", "add", in.link, "type", "veth", "peer", "name", "eth0", "netns", pid); err != nil {
		return nil, err
	}
	if err := ip("addr", "add", in.gateway+"/24", "dev", in.link); err != nil {
		return nil, err
	}
	if err := ip("link", "set", in.link, "up"); err != nil {
		return nil, err
	}
	// Inside: its address, and one route, to the metadata service. No default route: nothing
	// the instance sends can leave the rehearsal's namespaces.
	for _, args := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", in.Address + "/24", "dev", "eth0"},
		{"ip", "link", "set", "eth0", "up"},
		{"ip", "route", "add", standin.MetadataAddress + "/32", "via", in.gateway},
	} {
		if _, err := in.configure(ctx, args...); err != nil {
			return nil, err
		}
	}
	n.Metadata.Add(standin.InstanceMetadata{InstanceID: id, Region: n.Region, AvailabilityZone: zone, LocalIPv4: in.Address})
	return in, nil
}

// Close ends every instance and the director's servers.
func (n *Network) Close() {
	n.mu.Lock()
	instances := n.instances
	n.instances = nil
	n.mu.Unlock()
	for _, in := range instances {
		in.Stop()
	}
	for _, s := range n.servers {
		_ = s.Close()
	}
}
