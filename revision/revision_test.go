package revision

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func sample(t *testing.T) string {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "appspec.yml"), "version: 0.0\n", 0o600)
	write(t, filepath.Join(dir, "index.html"), "<h1>hi</h1>", 0o664)
	write(t, filepath.Join(dir, "scripts", "stop.sh"), "#!/bin/bash\n", 0o700)
	return dir
}

func TestZipIsDeterministic(t *testing.T) {
	a, b := sample(t), sample(t)
	// Different times and permissions (but the same executability) must not change the bytes.
	past := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(b, "index.html"), past, past); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(b, "index.html"), 0o644); err != nil {
		t.Fatal(err)
	}
	pa, err := Zip(a)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := Zip(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pa.Zip, pb.Zip) || pa.SHA256 != pb.SHA256 {
		t.Fatalf("same content, different packages: %s vs %s", pa.SHA256, pb.SHA256)
	}
	if got := pa.Key("revisions/"); got != "revisions/"+pa.SHA256+".zip" {
		t.Errorf("Key = %q", got)
	}
}

func TestZipChangesWithContentAndExecutability(t *testing.T) {
	base, _ := Zip(sample(t))
	changed := sample(t)
	write(t, filepath.Join(changed, "index.html"), "<h1>bye</h1>", 0o644)
	pc, _ := Zip(changed)
	notExec := sample(t)
	if err := os.Chmod(filepath.Join(notExec, "scripts", "stop.sh"), 0o644); err != nil {
		t.Fatal(err)
	}
	pe, _ := Zip(notExec)
	if pc.SHA256 == base.SHA256 || pe.SHA256 == base.SHA256 {
		t.Error("a content or mode change kept the same hash")
	}
}

func TestZipEntries(t *testing.T) {
	p, err := Zip(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	r, err := zip.NewReader(bytes.NewReader(p.Zip), int64(len(p.Zip)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{"appspec.yml": 0o644, "index.html": 0o644, "scripts/stop.sh": 0o755}
	if len(r.File) != len(want) {
		t.Fatalf("%d entries, want %d", len(r.File), len(want))
	}
	for _, f := range r.File {
		if mode, ok := want[f.Name]; !ok || f.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", f.Name, f.Mode().Perm(), want[f.Name])
		}
	}
	if r.File[0].Name != "appspec.yml" {
		t.Errorf("entries not sorted: first is %s", r.File[0].Name)
	}
}

func TestZipRejectsSymlinks(t *testing.T) {
	dir := sample(t)
	if err := os.Symlink("index.html", filepath.Join(dir, "link.html")); err != nil {
		t.Fatal(err)
	}
	if _, err := Zip(dir); err == nil {
		t.Error("packaged a symbolic link")
	}
}
