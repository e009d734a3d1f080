package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// awsCLI runs the AWS CLI, so operators' profiles, SSO sessions and regions work as they do for
// every other command they run.
type awsCLI struct {
	region string
	dryRun bool
	out    io.Writer
	// sleep and retries: throttled calls are retried with backoff.
	sleep   func(time.Duration)
	retries int
}

// read runs a call that changes nothing; it runs in --dry-run too, so the printed calls are
// complete. The result is decoded from JSON into v when v is not nil.
func (a *awsCLI) read(v any, args ...string) error { return a.call(false, v, args...) }

// write runs a call that changes something; --dry-run prints it instead.
func (a *awsCLI) write(v any, args ...string) error { return a.call(true, v, args...) }

func (a *awsCLI) call(mutates bool, v any, args ...string) error {
	full := append(append([]string{}, args...), "--region", a.region, "--output", "json")
	if mutates && a.dryRun {
		fmt.Fprintf(a.out, "would run: aws %s\n", quoteArgs(full))
		return errDryRun
	}
	wait := time.Second
	for attempt := 0; ; attempt++ {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command("aws", full...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err == nil {
			if v == nil || stdout.Len() == 0 {
				return nil
			}
			if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
				return fmt.Errorf("aws %s: unexpected output: %w", strings.Join(args[:min(2, len(args))], " "), err)
			}
			return nil
		}
		msg := strings.TrimSpace(stderr.String())
		if throttled(msg) && attempt < a.retries {
			fmt.Fprintf(a.out, "throttled by AWS (%s); retrying in %v\n", strings.Join(args[:min(2, len(args))], " "), wait)
			a.sleep(wait)
			wait *= 2
			continue
		}
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("aws %s: %s", strings.Join(args[:min(2, len(args))], " "), msg)
	}
}

// errDryRun is returned by write in --dry-run: the caller stops there, nothing was changed.
var errDryRun = fmt.Errorf("dry run")

func throttled(stderr string) bool {
	for _, s := range []string{"ThrottlingException", "Rate exceeded", "TooManyRequestsException", "RequestLimitExceeded"} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}

func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \"'$[]{}*,") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func jsonString(v any) (string, error) {
	data, err := json.Marshal(v)
	return string(data), err
}
