package test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/example/codedeploy-fleet/stacks"
)

// fixtureContext is cdk.json's feature flags with the fixture's application section and changes
// (a nil value removes a key): the context `cdk synth` would pass, for a configuration the test
// controls.
func fixtureContext(t *testing.T, changes map[string]any) map[string]any {
	t.Helper()
	ctx, err := contextWith(changes)
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

func contextWith(changes map[string]any) (map[string]any, error) {
	var section any
	data, err := os.ReadFile("testdata/fixture.json")
	if err == nil {
		err = json.Unmarshal(data, &section)
	}
	if err != nil {
		return nil, err
	}
	ctx := map[string]any{"application": section}
	for k, v := range featureFlags {
		ctx[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(ctx, k)
		} else {
			ctx[k] = v
		}
	}
	return ctx, nil
}

// TestAppCommandLine checks what a user sees from `cdk synth`: a clear error for bad input, before
// anything is defined, and -c env=NAME selecting one environment. The cases run in this process,
// through LoadConfig and Build, the steps of the app after its revision check; TestAppBinary runs
// the whole app once, as a process, on a broken revision.
func TestAppCommandLine(t *testing.T) {
	// A copy of the revision whose appspec quotes the version, which the agent rejects.
	badRevision := filepath.Join(t.TempDir(), "assets")
	if err := os.CopyFS(badRevision, os.DirFS("../assets")); err != nil {
		t.Fatal(err)
	}
	appspecPath := filepath.Join(badRevision, "appspec.yml")
	spec, err := os.ReadFile(appspecPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(appspecPath, []byte(strings.Replace(string(spec), "version: 0.0", `version: "0.0"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	brokenScript := filepath.Join(t.TempDir(), "assets")
	if err := copyWithBrokenStopScript(brokenScript); err != nil {
		t.Fatal(err)
	}
	var fixture map[string]any
	if err := json.Unmarshal(mustRead(t, "testdata/fixture.json"), &fixture); err != nil {
		t.Fatal(err)
	}
	// The fixture with its second environment shrunk below its minimum.
	fixture["environments"].([]any)[1].(map[string]any)["maxCapacity"] = 1
	shrunk := fixture

	for _, tc := range []struct {
		name     string
		revision string
		changes  map[string]any
		wantErr  *regexp.Regexp // nil: no error
		wantEnvs string         // the environments selected, when there is no error
	}{
		{"one environment", "", map[string]any{"env": "dev"}, nil, "dev"},
		{"every environment", "", nil, nil, "dev,prod,tls"},
		{"unknown environment", "", map[string]any{"env": "staging"}, lit(`-c env=staging: "staging" is not a configured environment; known: dev, prod, tls`), ""},
		{"empty environment", "", map[string]any{"env": ""}, lit("-c env=: not an environment name; use -c env=NAME with one of dev, prod, tls, or leave -c env out"), ""},
		{"invalid config", "", map[string]any{"application": shrunk}, lit("environments[prod].maxCapacity: 1 is less than minCapacity 3"), ""},
		{"no application section", "", map[string]any{"application": nil}, lit(`context key "application" is missing`), ""},
		{"invalid revision", badRevision, nil, lit(`appspec.yml:3: version: "0.0" is not the number 0.0`), ""},
		{"hook script bash cannot parse", brokenScript, nil, regexp.MustCompile(`scripts/stop_application\.sh:\d+: bash cannot parse it: syntax error`), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := fixtureContext(t, tc.changes)
			outdir := t.TempDir()
			app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(outdir), BuiltinCloudFormationValidation: jsii.Bool(false)})
			cfg, err := stacks.LoadConfig(app)
			if err == nil && tc.revision != "" {
				// Build validates the revision before it defines anything; nothing is synthesized.
				_, err = stacks.Build(app, cfg, stacks.Options{RevisionDir: tc.revision, ModuleRoot: ".."})
				if got := len(*app.Node().Children()); err != nil && got != 0 {
					t.Errorf("%d constructs defined before the revision was rejected", got)
				}
			}
			if tc.wantErr != nil {
				if err == nil || !tc.wantErr.MatchString(err.Error()) {
					t.Errorf("error %v, want one containing %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else {
				var names []string
				for _, env := range cfg.Environments {
					names = append(names, env.Name)
				}
				if got := strings.Join(names, ","); got != tc.wantEnvs {
					t.Errorf("environments %s, want %s", got, tc.wantEnvs)
				}
				if tc.changes["env"] != nil && cfg.Pipeline != nil {
					t.Error("-c env=NAME still builds the pipeline, which synthesizes every environment")
				}
			}
		})
	}
}

// TestAppBinary runs the app as `cdk synth` does, in a process of its own, once, on a revision
// whose stop script bash cannot parse: it exits 1 with the file and line and no stack trace,
// writes nothing, and fails before starting jsii (the run has no Node.js to start: a start
// would fail differently). The in-process cases above cover the other errors. The process is
// this test binary running stacks.Main, which is all of main.go (see asApp); TestMain starts it
// beside the suite's synthesis (startAppBinary).
func TestAppBinary(t *testing.T) {
	r := appRun()
	if r.setup != nil {
		t.Fatal(r.setup)
	}
	exit, ok := r.err.(*exec.ExitError)
	if !ok || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want code 1; stderr:\n%s", r.err, r.stderr)
	}
	want := regexp.MustCompile(`^error: the application revision is not valid:\n.*scripts/stop_application\.sh:\d+: bash cannot parse it: syntax error`)
	if !want.MatchString(r.stderr) {
		t.Errorf("stderr %q does not match %q", r.stderr, want)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "jsii") {
		t.Errorf("stderr has a stack trace or a jsii error:\n%s", r.stderr)
	}
	// The architecture page shows this run's output; its first two lines (the header and bash's
	// verdict) are exactly what a user sees. shellcheck's wording, in the lines after, varies by
	// version.
	readme := string(mustRead(t, "../docs/architecture.md"))
	const header = "```\nerror: the application revision is not valid:\nassets/scripts/stop_application.sh"
	i := strings.Index(readme, header)
	if i < 0 {
		t.Fatal("docs/architecture.md has no example of a broken stop script's error")
	}
	example := strings.SplitN(readme[i+4:], "\n", 3)
	got := strings.SplitN(r.stderr, "\n", 3)
	if len(got) < 2 || got[0] != example[0] || got[1] != example[1] {
		t.Errorf("the documented example:\n%s\n%s\nthe app's output:\n%s", example[0], example[1], r.stderr)
	}
	if written, _ := filepath.Glob(filepath.Join(r.outdir, "*")); len(written) > 0 {
		t.Errorf("wrote %v", written)
	}
}

type appResult struct {
	// root is the directory the app ran in (TestMain removes it), outdir its CDK_OUTDIR.
	root, stderr, outdir string
	err, setup           error
}

// lit matches s literally.
func lit(s string) *regexp.Regexp { return regexp.MustCompile(regexp.QuoteMeta(s)) }

// appRun waits for the run startAppBinary started.
var appRun func() appResult

// asApp, set in a process's environment, makes this test binary the app: TestMain runs
// stacks.Main with main.go's options, in the process's working directory, instead of the tests.
// `go run .` would cost the go tool's up-to-date check of ~300 packages (about a CPU second) for
// main.go's one line; `make synth` runs that.
const asApp = "CODEDEPLOY_FLEET_TEST_AS_APP"

// startAppBinary starts the app in the background, as `cdk synth` would (context and output
// directory in the environment), in a directory whose assets/ is the revision with a broken stop
// script: its start-up runs beside the synthesis instead of after it.
func startAppBinary() {
	done := make(chan appResult, 1)
	go func() {
		var r appResult
		defer func() { done <- r }()
		r.setup = func() error {
			ctx, err := contextWith(nil)
			if err != nil {
				return err
			}
			contextJSON, err := json.Marshal(ctx)
			if err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			if r.root, err = os.MkdirTemp("", "cdk-app-"); err != nil {
				return err
			}
			r.outdir = filepath.Join(r.root, "cdk.out")
			if err := copyWithBrokenStopScript(filepath.Join(r.root, "assets")); err != nil {
				return err
			}
			// Bounded: a hung app would otherwise hold TestMain until go test's own timeout.
			bounded, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(bounded, self)
			cmd.Dir = r.root
			// No Node.js to start: JSII_NODE names nothing, and an empty JSII_RUNTIME (the last
			// value of a key wins) keeps a user's custom runtime from starting one anyway.
			cmd.Env = append(os.Environ(), asApp+"=1", "CDK_CONTEXT_JSON="+string(contextJSON), "CDK_OUTDIR="+r.outdir,
				"JSII_NODE="+filepath.Join(r.root, "no-node-here"), "JSII_RUNTIME=")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			r.err = cmd.Run()
			r.stderr = stderr.String()
			return nil
		}()
	}()
	var got *appResult
	appRun = func() appResult {
		if got == nil {
			r := <-done
			got = &r
		}
		return *got
	}
}

// copyWithBrokenStopScript copies the revision to dst with a stop script that lost a "fi": the
// agent would accept it, and it would break the next deployment and every scale-in.
func copyWithBrokenStopScript(dst string) error {
	if err := os.CopyFS(dst, os.DirFS("../assets")); err != nil {
		return err
	}
	stopPath := filepath.Join(dst, "scripts", "stop_application.sh")
	data, err := os.ReadFile(stopPath)
	if err != nil {
		return err
	}
	stop := string(data)
	i := strings.LastIndex(stop, "\n  fi\n")
	if i < 0 {
		return errors.New("stop_application.sh has no fi to remove")
	}
	return os.WriteFile(stopPath, []byte(stop[:i]+stop[i+5:]), 0o755)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
