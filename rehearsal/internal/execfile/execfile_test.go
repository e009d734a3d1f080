package execfile

import (
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// TestWriteThenRunWhileForking writes and runs scripts while other goroutines start processes
// without pause: each script runs, none fails with "text file busy".
func TestWriteThenRunWhileForking(t *testing.T) {
	// os.WriteFile in Write's place fails here within a few dozen runs.
	if _, err := exec.LookPath("true"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var forks sync.WaitGroup
	for range 2 {
		forks.Add(1)
		go func() {
			defer forks.Done()
			for {
				select {
				case <-stop:
					return
				default:
					_ = exec.Command("true").Run()
				}
			}
		}()
	}
	defer func() { close(stop); forks.Wait() }()
	dir := t.TempDir()
	for i := range 100 {
		script := filepath.Join(dir, "s.sh")
		if err := Write(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := exec.Command(script).Run(); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
}
