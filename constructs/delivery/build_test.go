package delivery

import (
	"debug/elf"
	"os"
	"path/filepath"
	"testing"
)

// TestHandlerBuild runs the local bundling step as synthesis does: a linux/arm64 binary named
// bootstrap. (Reproducibility, so an unchanged handler keeps its asset hash, comes from
// -trimpath and an empty build ID; proving it would take two uncached builds of the AWS SDK.)
func TestHandlerBuild(t *testing.T) {
	b := &goBuild{moduleRoot: "../..", pkg: "./" + HandlerPackage}
	first := filepath.Join(t.TempDir(), "bootstrap")
	if err := b.build(first); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(first)
	if err != nil {
		t.Fatalf("not an ELF binary: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("machine %v, want arm64 for Lambda's ARM_64 architecture", f.Machine)
	}
	if info, err := os.Stat(first); err != nil || info.Mode().Perm()&0o111 == 0 {
		t.Errorf("bootstrap is not executable: %v", err)
	}
}

func TestHandlerBuildFailureIsReported(t *testing.T) {
	b := &goBuild{moduleRoot: "../..", pkg: "./no/such/package"}
	if err := b.build(filepath.Join(t.TempDir(), "bootstrap")); err == nil {
		t.Error("a failed build reported success")
	}
}
