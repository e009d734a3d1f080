package delivery

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"testing"
)

// TestHandlerBuild runs the local bundling step as synthesis does: a linux/arm64 binary named
// bootstrap, the same bytes on every build (so an unchanged handler keeps its asset hash).
func TestHandlerBuild(t *testing.T) {
	b := &goBuild{moduleRoot: "../..", pkg: "./" + HandlerPackage}
	dir := t.TempDir()
	first, second := filepath.Join(dir, "a", "bootstrap"), filepath.Join(dir, "b", "bootstrap")
	for _, out := range []string{first, second} {
		if err := b.build(out); err != nil {
			t.Fatal(err)
		}
	}
	f, err := elf.Open(first)
	if err != nil {
		t.Fatalf("not an ELF binary: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("machine %v, want arm64 for Lambda's ARM_64 architecture", f.Machine)
	}
	a, _ := os.ReadFile(first)
	c, _ := os.ReadFile(second)
	if !bytes.Equal(a, c) {
		t.Error("two builds of the same source differ: the asset hash would change on every synth")
	}
}

func TestHandlerBuildFailureIsReported(t *testing.T) {
	b := &goBuild{moduleRoot: "../..", pkg: "./no/such/package"}
	if err := b.build(filepath.Join(t.TempDir(), "bootstrap")); err == nil {
		t.Error("a failed build reported success")
	}
}
