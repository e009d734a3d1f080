package sandbox

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal"
	"github.com/example/codedeploy-fleet/rehearsal/internal/execfile"
	"github.com/example/codedeploy-fleet/rehearsal/standin"
	"github.com/example/codedeploy-fleet/revision"
)

// Instance is one host of the fleet: PID 1 of its namespaces, its directory on this machine and
// its address on the rehearsal's network.
type Instance struct {
	ID      string
	Address string // the instance's private address, where the load balancer reaches httpd
	gateway string // the rehearsal's side of the instance's link
	link    string // the rehearsal's side of the link's name
	dir     string
	init    *exec.Cmd
	done    chan struct{}
	env     map[string]string
}

// AgentDir is where the agent is installed, and its working directory.
const AgentDir = "/opt/codedeploy-agent"

// DeploymentRoot is the agent's deployment root on an instance (CodeDeploy user guide, "Working
// with the CodeDeploy agent": /opt/codedeploy-agent/deployment-root on Amazon Linux).
const DeploymentRoot = "/opt/codedeploy-agent/deployment-root"

// instancePath is the PATH of the instance's scripts: the stand-ins first, then the system's.
const instancePath = "/opt/rehearsal/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// layout writes what the instance starts with into its upper layers, before they are mounted
// (the kernel allows no writes to an overlay's layers while it is): Amazon Linux's users and
// httpd, the agent's directories, an empty document root, and the stand-ins where Amazon Linux
// keeps the commands they stand for (scripts that call /usr/bin/systemctl reach them too).
func (in *Instance) layout() error {
	upper := func(p string) string { return filepath.Join(in.dir, "upper", filepath.FromSlash(p)) }
	for _, d := range []string{"/opt/rehearsal/bin", DeploymentRoot, "/var/www/html", "/var/www/cgi-bin", "/var/log/httpd",
		"/usr/bin", "/usr/sbin", "/etc", "/home"} {
		if err := os.MkdirAll(upper(d), 0o755); err != nil {
			return err
		}
	}
	// /var/www as Amazon Linux's httpd leaves it: empty. Opaque, it hides what the machine keeps
	// there (Debian's default page).
	if err := syscall.Setxattr(upper("/var/www"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		return fmt.Errorf("hiding the machine's /var/www: %w", err)
	}
	if err := usersLayout(upper("/etc")); err != nil {
		return err
	}
	// ec2-user's home, as Amazon Linux has it.
	if err := os.Mkdir(upper("/home/ec2-user"), 0o700); err != nil {
		return err
	}
	if err := os.Chown(upper("/home/ec2-user"), 1000, 1000); err != nil {
		return err
	}
	if err := httpdLayout(upper("/etc"), upper("/usr"), in.ID); err != nil {
		return err
	}
	for _, name := range standin.Commands {
		if err := os.Symlink("/opt/rehearsal/bin/"+name, upper("/usr/bin/"+name)); err != nil {
			return err
		}
	}
	if _, err := os.Stat("/etc/mime.types"); err != nil {
		return writeFile(upper("/etc/mime.types"), mimeTypes, 0o644)
	}
	return nil
}

// mimeTypes is the instance's /etc/mime.types where the machine has none: what a web revision
// usually serves.
const mimeTypes = `text/html html htm
text/css css
text/plain txt
application/javascript js mjs
application/json json
image/png png
image/jpeg jpg jpeg
image/svg+xml svg
image/x-icon ico
font/woff2 woff2
`

// writeFile writes a file, and its directory if need be.
func writeFile(name, content string, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return execfile.Write(name, []byte(content), mode)
}

// inside opens the instance's file system as the instance sees it, through its init's root:
// a write goes through the instance's overlays, never into their layers behind them, and a
// path that a hook's symbolic link would lead out of the instance is refused (os.Root), where
// /proc/PID/root alone would follow an absolute link onto the machine's own files. Names given
// to it are relative to the instance's /.
func (in *Instance) inside() (*os.Root, error) {
	if in.Terminated() {
		// Its PID may belong to another process by now.
		return nil, fmt.Errorf("%s has terminated", in.ID)
	}
	return os.OpenRoot(fmt.Sprintf("/proc/%d/root", in.init.Process.Pid))
}

// stat is os.Stat inside the instance.
func (in *Instance) stat(p string) (os.FileInfo, error) {
	root, err := in.inside()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.Stat(rel(p))
}

// rel is an absolute path of the instance's as a name for inside's root.
func rel(p string) string { return strings.TrimPrefix(path.Clean(p), "/") }

// kept are the only capabilities a command inside an instance has (setpriv's --bounding-set: all
// others are dropped). A revision's scripts run as root, and must not remount the read-only
// machine, set its clock, load modules, reboot it, reach its devices, open files by handle past
// the mounts (DAC_READ_SEARCH), clear its kernel log, make files immutable or change the
// instance's network. What a web server and the hook scripts need stays: root's file access,
// changing owners and users (httpd, runas), signalling other users' processes (apachectl
// stopping httpd) and binding port 80. It is Docker's default set without MKNOD and NET_RAW.
const kept = "-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+setfcap," +
	"+net_bind_service,+sys_chroot,+audit_write"

// withNetAdmin is kept and NET_ADMIN, for the sandbox's own commands that set up the instance's
// interfaces and route (configure); NET_ADMIN reaches only the instance's network namespace.
const withNetAdmin = kept + ",+net_admin"

// enter is the command prefix that runs a command inside the instance, in dir, with only the
// kept capabilities.
func (in *Instance) enter(dir string) []string { return in.enterWith(kept, dir) }

// enterWith is enter with the bounding set caps.
func (in *Instance) enterWith(caps, dir string) []string {
	if in.Terminated() {
		// Its PID may belong to another process by now: never enter it.
		return []string{"sh", "-c", "echo \"rehearsal: $0 has terminated\" >&2; exit 1", in.ID}
	}
	args := []string{"nsenter", "--target", strconv.Itoa(in.init.Process.Pid), "--net", "--mount", "--pid", "--uts", "--ipc",
		// Neither inherited nor ambient capabilities bring a dropped one back.
		"--", "setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set", caps, "--"}
	if dir != "" {
		// The directory inside the instance's mount namespace (coreutils' env -C).
		args = append(args, "env", "-C", dir, "--")
	}
	return args
}

// Run runs a command inside the instance and returns its combined output.
func (in *Instance) Run(ctx context.Context, argv ...string) (string, error) {
	return in.run(ctx, kept, argv)
}

// configure is Run for the sandbox's own network setup, with NET_ADMIN: never a revision's.
func (in *Instance) configure(ctx context.Context, argv ...string) (string, error) {
	return in.run(ctx, withNetAdmin, argv)
}

func (in *Instance) run(ctx context.Context, caps string, argv []string) (string, error) {
	args := append(in.enterWith(caps, "/"), argv...)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = []string{"PATH=" + instancePath, "HOME=/root"}
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s on %s: %w: %s", strings.Join(argv, " "), in.ID, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Name is the instance id.
func (in *Instance) Name() string { return in.ID }

// Agent runs hooks inside the instance with the agent's environment.
func (in *Instance) Agent() rehearsal.Agent {
	return rehearsal.Agent{Path: instancePath, Env: in.env, Enter: in.enter, WorkDir: AgentDir, Stat: in.stat}
}

// Download is DownloadBundle: the agent unpacks the revision into
// <deployment root>/<deployment group id>/<deployment id>/deployment-archive (CodeDeploy user
// guide, "Working with the CodeDeploy agent"); hooks run from there. What is unpacked is the zip
// the stack and fleetctl ship (revision.Zip), so the instance sees what a real one would: modes
// normalized to 0644 or 0755, and a revision with a symbolic link refused as it is at synthesis.
func (in *Instance) Download(_ context.Context, deploymentID string, rev rehearsal.Revision) (rehearsal.Revision, error) {
	archive := path.Join(DeploymentRoot, in.env["DEPLOYMENT_GROUP_ID"], deploymentID, "deployment-archive")
	pkg, err := revision.Zip(rev.Dir)
	if err != nil {
		return rehearsal.Revision{}, fmt.Errorf("downloading the bundle: %w", err)
	}
	root, err := in.inside()
	if err != nil {
		return rehearsal.Revision{}, fmt.Errorf("downloading the bundle: %w", err)
	}
	defer root.Close()
	if err := unzip(pkg.Zip, root, rel(archive)); err != nil {
		return rehearsal.Revision{}, fmt.Errorf("downloading the bundle: %w", err)
	}
	return rehearsal.Revision{Dir: archive, Spec: rev.Spec, Name: rev.Name}, nil
}

// unzip writes the entries of a revision zip under dst beneath root, with their modes.
func unzip(data []byte, root *os.Root, dst string) error {
	r, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	for _, f := range r.File {
		if !filepath.IsLocal(f.Name) {
			return fmt.Errorf("%s: outside the archive", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		content, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		target := path.Join(dst, f.Name)
		if err := root.MkdirAll(path.Dir(target), 0o755); err != nil {
			return err
		}
		if err := execfile.WriteIn(root, target, content, f.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

// LogHook appends a hook's output where the agent keeps it: the deployment's logs/scripts.log and
// deployment-logs/codedeploy-agent-deployments.log under the deployment root (CodeDeploy user
// guide, "View log data for CodeDeploy EC2/On-Premises deployments"), each line prefixed with
// the time, the deployment and the script as the agent writes them. With --keep they stay for
// reading.
func (in *Instance) LogHook(deploymentID string, run rehearsal.HookRun) {
	root, err := in.inside()
	if err != nil {
		return
	}
	defer root.Close()
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(run.Log, "\n"), "\n") {
		if line != "" {
			fmt.Fprintf(&b, "[%s] [%s][%s]%s\n", run.Started.UTC().Format("2006-01-02 15:04:05.000"), deploymentID, run.Script, line)
		}
	}
	if run.Err != nil {
		fmt.Fprintf(&b, "[%s] [%s][%s]%v\n", run.Started.Add(run.Duration).UTC().Format("2006-01-02 15:04:05.000"), deploymentID, run.Script, run.Err)
	}
	for _, file := range []string{
		path.Join(rel(DeploymentRoot), in.env["DEPLOYMENT_GROUP_ID"], deploymentID, "logs", "scripts.log"),
		path.Join(rel(DeploymentRoot), "deployment-logs", "codedeploy-agent-deployments.log"),
	} {
		if err := root.MkdirAll(path.Dir(file), 0o755); err != nil {
			continue
		}
		if f, err := root.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			_, _ = f.WriteString(b.String())
			_ = f.Close()
		}
	}
}

// Install copies the appspec's files, inside the instance, as the Install event does: a file
// source into the destination directory, a directory source's contents into it. Existing
// files are overwritten (file_exists_behavior OVERWRITE).
func (in *Instance) Install(ctx context.Context, rev rehearsal.Revision) error {
	for _, f := range rev.Spec.Files {
		src := path.Join(rev.Dir, f.Source)
		script := `set -eu; mkdir -p "$2"; if [ -d "$1" ]; then cp -R "$1/." "$2/"; else cp "$1" "$2/"; fi`
		if _, err := in.Run(ctx, "bash", "-c", script, "install", src, f.Destination); err != nil {
			return fmt.Errorf("copying %s to %s: %w", f.Source, f.Destination, err)
		}
	}
	// What the rehearsal's probe answers with from now on.
	root, err := in.inside()
	if err != nil {
		return err
	}
	defer root.Close()
	return root.WriteFile(rel(servedFile), []byte(rehearsal.Marker(rev.Name)), 0o644)
}

// Serves reads the page the instance's httpd serves at path, straight from the instance.
func (in *Instance) Serves(ctx context.Context, urlPath string) (string, error) {
	return in.Run(ctx, "curl", "--silent", "--fail", "--max-time", "2", "http://127.0.0.1"+urlPath)
}

// SlowInFlight is when each slow request the instance is serving now started (read through
// its init's view of its own /run).
func (in *Instance) SlowInFlight() []time.Time {
	root, err := in.inside()
	if err != nil {
		return nil
	}
	defer root.Close()
	dir, err := root.Open(rel(slowDir))
	if err != nil {
		return nil
	}
	defer dir.Close()
	entries, _ := dir.ReadDir(-1)
	var out []time.Time
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			out = append(out, info.ModTime())
		}
	}
	return out
}

// Stop terminates the instance: every process in its namespaces ends with its PID 1.
func (in *Instance) Stop() {
	if in.init != nil && in.init.Process != nil {
		_ = in.init.Process.Kill()
		<-in.done
	}
}

// Terminated reports whether the instance has ended.
func (in *Instance) Terminated() bool {
	select {
	case <-in.done:
		return true
	default:
		return false
	}
}

// CopyTree copies the directory src to dst: directories, regular files with their permissions,
// and symbolic links as links. The scenarios build their versions of a revision with it.
func CopyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return execfile.Write(target, data, info.Mode().Perm())
		}
		return nil
	})
}

// waitReady reads the init's "ready" line, or its error.
func waitReady(r io.Reader, stderr *lockedBuffer, timeout time.Duration) error {
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(r)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
	}()
	select {
	case l, ok := <-line:
		if ok && l == "ready" {
			return nil
		}
		return fmt.Errorf("the instance did not start: %s", strings.TrimSpace(stderr.String()))
	case <-time.After(timeout):
		return fmt.Errorf("the instance did not start within %v", timeout)
	}
}
