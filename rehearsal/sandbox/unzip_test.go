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
	if err := unzip(pkg.Zip, dst); err != nil {
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
