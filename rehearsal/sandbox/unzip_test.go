package sandbox

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/example/codedeploy-fleet/revision"
)

// TestUnzipShipsWhatAWSWould: an instance gets the revision as its zip ships, modes normalized:
// a page kept private on the developer's machine is readable by httpd, a script stays
// executable.
func TestUnzipShipsWhatAWSWould(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"index.html": 0o600, "scripts/start.sh": 0o700} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	pkg, err := revision.Zip(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	root, err := os.OpenRoot(filepath.Dir(dst))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := unzip(pkg.Zip, root, filepath.Base(dst)); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{"index.html": 0o644, "scripts/start.sh": 0o755} {
		info, err := os.Stat(filepath.Join(dst, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", name, info.Mode().Perm(), want)
		}
	}
}

// TestUnzipStaysInside: a revision unpacked into an instance cannot be led onto the machine by a
// symbolic link a hook left in the instance (here, the archive's directory pointing out).
func TestUnzipStaysInside(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "index.html"), []byte("page"), 0o644); err != nil {
		t.Fatal(err)
	}
	pkg, err := revision.Zip(src)
	if err != nil {
		t.Fatal(err)
	}
	instance, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(instance, "archive")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(instance)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := unzip(pkg.Zip, root, "archive"); err == nil {
		t.Error("unzipped through a link out of the instance")
	}
	if _, err := os.Stat(filepath.Join(outside, "index.html")); err == nil {
		t.Error("a file was written outside the instance")
	}
}
