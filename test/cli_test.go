package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	appBinary    string
	appBuildErr  error
	appBuildOnce sync.Once
)

// buildAppBinary compiles main once per test run; the cases below run it as `cdk synth` would.
func buildAppBinary(t *testing.T) string {
	t.Helper()
	appBuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cdk-app-")
		if err != nil {
			appBuildErr = err
			return
		}
		appBinary = filepath.Join(dir, "app")
		out, err := exec.Command("go", "build", "-o", appBinary, "..").CombinedOutput()
		if err != nil {
			appBuildErr = &buildError{err, string(out)}
		}
	})
	if appBuildErr != nil {
		t.Fatal(appBuildErr)
	}
	return appBinary
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// runApp runs the app with context (JSON, as the CDK CLI passes it) and returns its exit code,
// its standard error and the templates it wrote.
func runApp(t *testing.T, dir, contextJSON string) (code int, stderr string, templates []string) {
	t.Helper()
	outdir := t.TempDir()
	cmd := exec.Command(buildAppBinary(t))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CDK_CONTEXT_JSON="+contextJSON, "CDK_OUTDIR="+outdir, "CDK_VALIDATION=false")
	var errBuf strings.Builder
	cmd.Stderr = &errBuf
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(filepath.Join(outdir, "*.template.json"))
	for _, m := range matches {
		templates = append(templates, filepath.Base(m))
	}
	return code, errBuf.String(), templates
}

// TestAppCommandLine checks what a user sees from `cdk synth`: a clear error and no templates for
// bad input, and -c env=NAME selecting one environment.
func TestAppCommandLine(t *testing.T) {
	context, err := cdkContext("../cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	// Each case is cdk.json's context (feature flags included, as the CLI passes them) with changes.
	withContext := func(changes map[string]any) string {
		// The handler's Go build has its own test; here it would only cost time.
		ctx := map[string]any{"aws:cdk:bundling-stacks": []any{}}
		for k, v := range context {
			ctx[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(ctx, k)
			} else {
				ctx[k] = v
			}
		}
		return string(mustMarshal(t, ctx))
	}
	goodApp := string(mustMarshal(t, context["application"]))
	badApp := strings.Replace(goodApp, `"maxCapacity":6`, `"maxCapacity":1`, 1)
	if badApp == goodApp {
		t.Fatal("cdk.json's prod environment no longer has maxCapacity 6; update this test's bad input")
	}

	// A copy of the revision whose appspec quotes the version, which the agent rejects.
	badRevision := t.TempDir()
	if err := os.CopyFS(filepath.Join(badRevision, "assets"), os.DirFS("../assets")); err != nil {
		t.Fatal(err)
	}
	appspecPath := filepath.Join(badRevision, "assets", "appspec.yml")
	spec, err := os.ReadFile(appspecPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(appspecPath, []byte(strings.Replace(string(spec), "version: 0.0", `version: "0.0"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name          string
		dir           string
		context       string
		wantCode      int
		wantStderr    string
		wantTemplates []string
	}{
		{"one environment", "..", withContext(map[string]any{"env": "dev"}), 0, "", []string{"MyWebApp-dev.template.json"}},
		// cdk.json has no pipeline section: no pipeline stack.
		{"every environment", "..", withContext(nil), 0, "", []string{"MyWebApp-dev.template.json", "MyWebApp-prod.template.json"}},
		{"unknown environment", "..", withContext(map[string]any{"env": "staging"}), 1, `"staging" is not a configured environment; known: dev, prod`, nil},
		{"invalid config", "..", withContext(map[string]any{"application": json.RawMessage(badApp)}), 1, "environments[prod].maxCapacity: 1 is less than minCapacity 3", nil},
		{"no application section", "..", withContext(map[string]any{"application": nil}), 1, `context key "application" is missing`, nil},
		{"invalid revision", badRevision, withContext(nil), 1, `assets/appspec.yml:3: version: "0.0" is not the number 0.0`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr, templates := runApp(t, tc.dir, tc.context)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.wantCode, stderr)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.wantStderr)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic:") {
				t.Errorf("stderr has a stack trace:\n%s", stderr)
			}
			if strings.Join(templates, ",") != strings.Join(tc.wantTemplates, ",") {
				t.Errorf("templates written: %v, want %v", templates, tc.wantTemplates)
			}
		})
	}
}
