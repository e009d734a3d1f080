package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Not root, or a package missing: one message that says what to do, before anything starts.
func TestCheck(t *testing.T) {
	all := func(string) bool { return true }
	if err := check(0, all); err != nil {
		t.Errorf("root with everything installed: %v", err)
	}
	err := check(1000, all)
	if err == nil || !strings.Contains(err.Error(), "must run as root") {
		t.Errorf("not root: %v", err)
	}
	noApache := func(p string) bool { return p != "apache2" && p != "apachectl" && p != "haproxy" }
	err = check(0, noApache)
	if err == nil || !strings.Contains(err.Error(), "apt-get install -y apache2 haproxy") {
		t.Errorf("apache2 and haproxy missing: %v", err)
	}
}

// The work directory holds the instances' upper layers, which cannot lie inside the directories
// they overlay: a $TMPDIR under /var gives way to /tmp.
func TestMakeWorkDir(t *testing.T) {
	for tmpdir, parent := range map[string]string{"/var/tmp": "/tmp", t.TempDir(): ""} {
		t.Setenv("TMPDIR", tmpdir)
		if parent == "" {
			parent = tmpdir
		}
		dir, err := MakeWorkDir()
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(dir)
		if filepath.Dir(dir) != parent {
			t.Errorf("TMPDIR %s: the work directory is %s, want it in %s", tmpdir, dir, parent)
		}
	}
}
