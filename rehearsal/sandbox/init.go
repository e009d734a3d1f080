// Package sandbox runs the rehearsal's fleet on one Linux machine: each instance is a process
// tree in its own network, mount, PID and UTS namespaces, with a real web server, and the
// rehearsal itself runs in a network namespace of its own, so that every address it sends
// traffic to is one it made. Namespaces here are held only by processes, never named or
// pinned: when the processes end, the namespaces, their interfaces and their mounts are gone.
//
// It needs root (namespaces, mounts, interfaces) and Debian's apache2 and haproxy.
package sandbox

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Roles the rehearse binary plays when the sandbox starts it again (a process cannot move its
// own threads into new namespaces, so each namespace gets a fresh process of the same binary).
const (
	roleEnv      = "REHEARSAL_ROLE"
	roleInit     = "instance-init"
	roleDirector = "director"
)

// IsDirector reports whether this process is the rehearsal's director, started by StartDirector
// in the rehearsal's own network namespace.
func IsDirector() bool { return os.Getenv(roleEnv) == roleDirector }

// RunRole runs the role this process was started for, if any, and never returns from it; a
// rehearse binary calls it first thing in main.
func RunRole() {
	if os.Getenv(roleEnv) == roleInit {
		// Only as PID 1 of a new PID namespace: the same variable set by mistake in the
		// machine's namespaces must not remount the machine's file systems.
		if os.Getpid() != 1 {
			fmt.Fprintf(os.Stderr, "rehearsal: %s=%s outside a new PID namespace; ignoring it\n", roleEnv, roleInit)
			os.Exit(2)
		}
		if err := instanceInit(); err != nil {
			fmt.Fprintf(os.Stderr, "rehearsal instance: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// stable are the machine's directories each instance sees through a copy-on-write overlay of
// its own: a hook may write anywhere under them, as on an instance (/etc/myapp, /srv/myapp,
// /usr/local), and the machine is left unchanged. Each is overlaid separately, never / whole:
// the kernel documents a lower layer that changes under a mounted overlay as undefined ("Changes
// to the underlying filesystems while part of a mounted overlay filesystem are not allowed. If
// the underlying filesystem is changed, the behavior of the overlay is undefined, though it will
// not result in a crash or deadlock", Documentation/filesystems/overlayfs.rst), and / holds the
// live /tmp, /run and the rehearsal's own work directory, which change all the time. These
// change rarely while a rehearsal runs; where the machine does change one (a log under /var), an
// instance may see either version of that file, which nothing of the rehearsal reads. A
// required one is one the rehearsal itself writes to.
var stable = []struct {
	dir      string
	required bool
}{
	{"/etc", true}, {"/usr", true}, {"/opt", true}, {"/srv", false}, {"/var", true}, {"/home", false}, {"/root", false},
}

// MakeWorkDir makes the rehearsal's work directory in $TMPDIR, or in /tmp when $TMPDIR lies
// under one of the overlaid directories (a common /var/tmp): an overlay's upper layer cannot be
// inside its lower one.
func MakeWorkDir() (string, error) {
	parent := os.TempDir()
	for _, s := range stable {
		if under(filepath.Clean(parent), s.dir) {
			parent = "/tmp"
			break
		}
	}
	return os.MkdirTemp(parent, "rehearsal-")
}

const slowDir = "/run/rehearsal/slow"

// instanceInit is PID 1 of an instance: it lays out the instance's file system, names the host,
// serves the rehearsal's probe, says it is ready, then reaps orphans (httpd daemonizes) until it
// is killed, which ends every process of the instance with it.
func instanceInit() error {
	dir, bin, hostname := os.Getenv("REHEARSAL_INSTANCE_DIR"), os.Getenv("REHEARSAL_BIN"), os.Getenv("REHEARSAL_HOSTNAME")
	if dir == "" || bin == "" || hostname == "" {
		return fmt.Errorf("started without its directory, binaries or hostname")
	}
	slow, err := time.ParseDuration(os.Getenv("REHEARSAL_SLOW"))
	if err != nil {
		return fmt.Errorf("started without the probe's duration: %w", err)
	}
	// Nothing mounted here reaches the machine's namespace.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := readOnlyEverywhere(); err != nil {
		return err
	}
	// The overlays' upper layers live in the instance's directory, which must be on a writable
	// mount (overlayfs refuses an upper on a read-only one).
	if err := bind(dir, dir, false); err != nil {
		return err
	}
	for _, s := range stable {
		if _, err := os.Stat(s.dir); err != nil {
			if s.required {
				return fmt.Errorf("this machine has no %s to give the instance", s.dir)
			}
			continue
		}
		if err := overlay(s.dir, filepath.Join(dir, "upper", s.dir), filepath.Join(dir, "work", s.dir)); err != nil {
			return err
		}
	}
	if err := bind(bin, "/opt/rehearsal/bin", true); err != nil {
		return err
	}
	for _, m := range []struct{ target, data string }{{"/run", "mode=755"}, {"/tmp", "mode=1777"}} {
		if err := syscall.Mount("tmpfs", m.target, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, m.data); err != nil {
			return fmt.Errorf("mounting a tmpfs on %s: %w", m.target, err)
		}
	}
	for _, d := range []string{"/run/lock", "/run/httpd", slowDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// The probe's requests in flight (see probe).
	if err := os.Chmod(slowDir, 0o1777); err != nil {
		return err
	}
	// The PID namespace's own processes, for pgrep and for the stand-ins' pid checks; the
	// kernel's settings in it stay read-only.
	if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	for _, p := range []string{"/proc/sys", "/proc/sysrq-trigger"} {
		if _, err := os.Stat(p); err != nil {
			continue // not every kernel has both
		}
		if err := bind(p, p, true); err != nil {
			return err
		}
	}
	// The network namespace's own /sys, read-only; it hides the machine's cgroup mounts.
	if err := syscall.Mount("sysfs", "/sys", "sysfs", syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /sys: %w", err)
	}
	if err := minimalDev(); err != nil {
		return err
	}
	if err := syscall.Sethostname([]byte(hostname)); err != nil {
		return fmt.Errorf("naming the host: %w", err)
	}
	probe, err := net.Listen("tcp", fmt.Sprintf(":%d", ProbePort))
	if err != nil {
		return fmt.Errorf("the rehearsal's probe: %w", err)
	}
	go func() { _ = (&http.Server{Handler: slowProbe(slow), ReadHeaderTimeout: 5 * time.Second}).Serve(probe) }()
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT)
	fmt.Println("ready")
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			return nil
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
	return nil
}

// ProbePort is where each instance serves the rehearsal's own slow probe, beside (never inside)
// the revision's web server.
const ProbePort = 47999

// servedFile holds the marker of the revision the instance last installed: the probe answers
// with it, so that a slow request tells which revision the instance had.
const servedFile = "/run/rehearsal/installed"

// slowProbe answers after d, with the marker of the installed revision. It is the rehearsal's
// slow request, served by the instance's init whatever serves the revision's pages (httpd, or an
// app server a hook starts), so that it never counts against a revision; the load balancer
// sends it to the instance only while the instance is in service. Each request in flight is a
// file in slowDir, so that the rehearsal can see it (the short-drain control scales in while one
// has just started).
func slowProbe(d time.Duration) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		marker := filepath.Join(slowDir, strconv.FormatInt(n.Add(1), 10))
		_ = os.WriteFile(marker, nil, 0o644)
		defer os.Remove(marker)
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		served, _ := os.ReadFile(servedFile)
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write(served)
	})
}

// overlay mounts a copy-on-write overlay on target: the machine's target below, upper above.
func overlay(target, upper, work string) error {
	for _, d := range []string{upper, work} {
		if strings.ContainsAny(d, ",:\\") {
			return fmt.Errorf("the work directory %s has a comma, colon or backslash, which overlay mount options cannot hold: set TMPDIR to another directory", d)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	opts := "lowerdir=" + target + ",upperdir=" + upper + ",workdir=" + work
	if err := syscall.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mounting an overlay on %s (upper layer in %s): %w; the work directory's file system must be able to hold an overlay's upper layer (ext4, xfs, btrfs or tmpfs; not overlayfs or NFS): set TMPDIR to a directory on one", target, upper, err)
	}
	return nil
}

// readOnlyEverywhere remounts every mount of this namespace read-only, except the kernel's
// (/proc, /sys, /dev): a revision's scripts run as root, and must not change the machine.
func readOnlyEverywhere() error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	var points []string
	flagsOf := map[string]uintptr{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 6 {
			continue
		}
		point := unescape(fields[4])
		if under(point, "/proc") || under(point, "/sys") || under(point, "/dev") {
			continue
		}
		var flags uintptr
		for _, o := range strings.Split(fields[5], ",") {
			switch o {
			case "nosuid":
				flags |= syscall.MS_NOSUID
			case "nodev":
				flags |= syscall.MS_NODEV
			case "noexec":
				flags |= syscall.MS_NOEXEC
			case "noatime":
				flags |= syscall.MS_NOATIME
			case "relatime":
				flags |= syscall.MS_RELATIME
			}
		}
		points = append(points, point)
		flagsOf[point] = flags
	}
	if err := s.Err(); err != nil {
		return err
	}
	for _, p := range points {
		if err := syscall.Mount("", p, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY|flagsOf[p], ""); err != nil {
			return fmt.Errorf("remounting %s read-only: %w", p, err)
		}
	}
	return nil
}

// minimalDev gives the instance a /dev of its own with the devices scripts use, and none of the
// machine's disks.
func minimalDev() error {
	if err := syscall.Mount("tmpfs", "/dev", "tmpfs", syscall.MS_NOSUID|syscall.MS_NOEXEC, "mode=755"); err != nil {
		return fmt.Errorf("mounting /dev: %w", err)
	}
	for _, d := range []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}} {
		dev := int(d.major<<8 | d.minor)
		if err := syscall.Mknod("/dev/"+d.name, syscall.S_IFCHR|0o666, dev); err != nil {
			return fmt.Errorf("creating /dev/%s: %w", d.name, err)
		}
		if err := os.Chmod("/dev/"+d.name, 0o666); err != nil {
			return err
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, "/dev/"+name); err != nil {
			return err
		}
	}
	// POSIX semaphores and shared memory (httpd's mutexes may use them).
	if err := os.Mkdir("/dev/shm", 0o1777); err != nil {
		return err
	}
	return syscall.Mount("tmpfs", "/dev/shm", "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777")
}

func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

// unescape undoes mountinfo's octal escapes (a space is \040).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func bind(source, target string, readOnly bool) error {
	if err := syscall.Mount(source, target, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("mounting %s on %s: %w", source, target, err)
	}
	flags := uintptr(syscall.MS_REMOUNT | syscall.MS_BIND | syscall.MS_NOSUID | syscall.MS_NODEV)
	if readOnly {
		flags |= syscall.MS_RDONLY
	}
	if err := syscall.Mount("", target, "", flags, ""); err != nil {
		return fmt.Errorf("remounting %s: %w", target, err)
	}
	return nil
}
