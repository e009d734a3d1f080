package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/example/codedeploy-fleet/appspec"
)

// Bad arguments are one clear message and exit 2, before anything is checked or started.
func TestArguments(t *testing.T) {
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "appspec.yml"), []byte("version: 0.0\nos: windows\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// An ApplicationStop without a timeout: the agent would give it an hour, and synthesis and
	// fleetctl package reject it, with this message.
	noTimeout := t.TempDir()
	if err := exec.Command("cp", "-r", "../../assets/.", noTimeout).Run(); err != nil {
		t.Fatal(err)
	}
	spec, _ := os.ReadFile(filepath.Join(noTimeout, "appspec.yml"))
	withoutTimeout := strings.Replace(string(spec), "      timeout: 300\n", "", 1)
	if withoutTimeout == string(spec) {
		t.Fatal("assets/appspec.yml has no 300 s timeout to remove")
	}
	if err := os.WriteFile(filepath.Join(noTimeout, "appspec.yml"), []byte(withoutTimeout), 0o644); err != nil {
		t.Fatal(err)
	}
	_, synthErr := appspec.Validate(noTimeout, appspec.Shipped)
	if synthErr == nil {
		t.Fatal("synthesis accepts an ApplicationStop without a timeout")
	}
	template := filepath.Join(t.TempDir(), "stack.template.json")
	if err := os.WriteFile(template, []byte(`{"Resources": {}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	noStacks := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		dir  string
		want string
	}{
		{"positional", []string{"assets"}, "", `unexpected argument "assets"`},
		{"negative instances", []string{"--instances", "-1"}, "", `--instances -1: use 1 to 20, or leave it out for the template's fleet`},
		{"too many instances", []string{"--instances", "21"}, "", `--instances 21: use 1 to 20`},
		{"scale", []string{"--scale", "0.5"}, "", `--scale 0.5: use 1 \(real time\) to 100`},
		{"rate", []string{"--rate", "0"}, "", `--rate 0: use 1 to 500`},
		{"unknown scenario", []string{"--only", "rollout,chaos"}, "", `--only: no scenario "chaos" \(scenarios: rollout, failed-release`},
		{"missing revision", []string{"--revision", "/nonexistent"}, "", `--revision /nonexistent: `},
		{"bad appspec", []string{"--revision", broken}, "", `--revision .*: the revision is not valid:\n.*appspec.yml.*os`},
		{"bad baseline", []string{"--baseline", broken}, "", `--baseline .*: the revision is not valid:\n.*appspec.yml.*os`},
		{"rejected as synthesis rejects it", []string{"--revision", noTimeout}, "", regexp.QuoteMeta(synthErr.Error())},
		{"template without a fleet", []string{"--template", template}, "", `--template .*stack.template.json: the template has 0 target groups, 0 deployment groups and 0 Auto Scaling groups`},
		{"nothing synthesized", nil, noStacks, "no fleet stack template in cdk.out/: run `make synth` first, or pass --template FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Both revisions default to assets/ at the repository's root; a case's own flags
			// come later and win.
			assets := mustAbs(t, "../../assets")
			args := append([]string{"--revision", assets, "--baseline", assets}, tc.args...)
			if tc.name == "positional" {
				args = tc.args
			}
			if tc.dir != "" {
				t.Chdir(tc.dir)
			}
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", code, stderr.String())
			}
			if !regexp.MustCompile(tc.want).MatchString(stderr.String()) {
				t.Errorf("stderr %q, want it to match %q", stderr.String(), tc.want)
			}
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
