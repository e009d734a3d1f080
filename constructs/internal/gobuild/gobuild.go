// Package gobuild builds a Go Lambda handler on this machine, without Docker: plain Go, so its
// tests build and run in a moment.
package gobuild

import (
	"fmt"
	"os"
	"os/exec"
)

// Arch is the handlers' architecture, GOARCH and Lambda's x86_64 alike. The machines that
// synthesize (developers' and CI's) are mostly amd64: the AWS SDK the handler imports is then
// compiled once, for the tests and the handler both, where arm64 would compile it a second time on
// every cold build. The price, arm64's lower price per GB-second, is nothing at a few invocations
// per deployment.
const Arch = "amd64"

// Build builds package pkg (relative to moduleRoot) into output, for Lambda's provided.al2023
// runtime: linux, Arch, no cgo. -trimpath and an empty build ID make the binary, and so the asset
// hash, reproducible.
func Build(moduleRoot, pkg, output string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", output, pkg)
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+Arch, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return nil
}
