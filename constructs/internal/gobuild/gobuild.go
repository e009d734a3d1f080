// Package gobuild builds a Go Lambda handler on this machine, without Docker: plain Go, so its
// tests build and run in a moment.
package gobuild

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// Arch is the handlers' architecture, GOARCH and Lambda's x86_64 alike. The machines that
// synthesize (developers' and CI's) are mostly amd64: the AWS SDK the handler imports is then
// compiled once, for the tests and the handler both, where arm64 would compile it a second time on
// every cold build. The price, arm64's lower price per GB-second, is nothing at a few invocations
// per deployment.
const Arch = "amd64"

// Build builds package pkg (relative to moduleRoot) into output, for Lambda's provided.al2023
// runtime: linux, Arch, no cgo. -trimpath and an empty build ID make the binary, and so the asset
// hash, reproducible. A build still running after a few seconds says so on stderr: a cold one
// compiles the AWS SDK for linux/amd64 (a second time on a machine of another kind), minutes with
// no output, after the Makefile's notice about the app's own first build has long scrolled by.
func Build(moduleRoot, pkg, output string) error {
	return build(moduleRoot, pkg, output, slowAfter, os.Stderr)
}

// slowAfter is how long a warm build takes at most: a second or two.
const slowAfter = 5 * time.Second

func build(moduleRoot, pkg, output string, after time.Duration, notices io.Writer) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", output, pkg)
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+Arch, "CGO_ENABLED=0")
	noticed := make(chan struct{})
	slow := time.AfterFunc(after, func() {
		defer close(noticed)
		fmt.Fprintf(notices, "Building the Lambda handler %s for linux/%s: a first build compiles the AWS SDK for it, a minute or two with no output.\n", pkg, Arch)
	})
	out, err := cmd.CombinedOutput()
	if !slow.Stop() {
		<-noticed // it fired: the notice is written before the build returns
	}
	if err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return nil
}
