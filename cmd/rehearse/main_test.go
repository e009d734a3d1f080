package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Bad arguments are one clear message and exit 2, before anything is checked or started.
func TestArguments(t *testing.T) {
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "appspec.yml"), []byte("version: 0.0\nos: windows\n"), 0o644); err != nil {
		t.Fatal(err)
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
		{"too few instances", []string{"--instances", "2"}, "", `--instances 2: use 3 to 20`},
		{"scale", []string{"--scale", "0.5"}, "", `--scale 0.5: use 1 \(real time\) to 100`},
		{"rate", []string{"--rate", "0"}, "", `--rate 0: use 1 to 500`},
		{"unknown scenario", []string{"--only", "rollout,chaos"}, "", `--only: no scenario "chaos" \(scenarios: rollout, failed-release`},
		{"missing revision", []string{"--revision", "/nonexistent"}, "", `--revision /nonexistent: `},
		{"bad appspec", []string{"--revision", broken}, "", `--revision .*appspec.yml.*os`},
		{"template without a fleet", []string{"--revision", "../../assets", "--template", template}, "", `--template .*stack.template.json: the template has 0 target groups`},
		{"nothing synthesized", []string{"--revision", filepath.Join(mustAbs(t, "../../assets"))}, noStacks, "no fleet stack template in cdk.out/: run `make synth` first, or pass --template FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.dir != "" {
				t.Chdir(tc.dir)
			}
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != 2 {
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
