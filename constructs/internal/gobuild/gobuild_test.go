package gobuild

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuild builds a program as synthesis builds the deployment handler: a linux x86-64
// executable. (`make synth` builds the handler itself. Reproducibility, so an unchanged handler
// keeps its asset hash, comes from -trimpath and an empty build ID.)
func TestBuild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bootstrap")
	if err := Build(".", "./testdata/hello", out); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatalf("not an ELF binary: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("machine %v, want x86-64 for Lambda's X86_64 architecture", f.Machine)
	}
	if info, err := os.Stat(out); err != nil || info.Mode().Perm()&0o111 == 0 {
		t.Errorf("bootstrap is not executable: %v", err)
	}
}

func TestBuildFailureIsReported(t *testing.T) {
	if err := Build(".", "./no/such/package", filepath.Join(t.TempDir(), "bootstrap")); err == nil {
		t.Error("a failed build reported success")
	}
}

// A build that takes longer than a warm one says what it is doing; a quick one says nothing.
func TestSlowBuildSaysSo(t *testing.T) {
	var notices strings.Builder
	if err := build(".", "./testdata/hello", filepath.Join(t.TempDir(), "bootstrap"), time.Nanosecond, &notices); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notices.String(), "Building the Lambda handler ./testdata/hello for linux/amd64: a first build compiles the AWS SDK") {
		t.Errorf("no notice for a slow build: %q", notices.String())
	}
	notices.Reset()
	if err := build(".", "./testdata/hello", filepath.Join(t.TempDir(), "bootstrap"), time.Hour, &notices); err != nil {
		t.Fatal(err)
	}
	if notices.Len() > 0 {
		t.Errorf("a quick build printed %q", notices.String())
	}
}
