package appspec

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestShippedRevisionIsValid(t *testing.T) {
	spec, err := Validate("../assets", Shipped)
	if err != nil {
		t.Fatal(err)
	}
	if spec.OS != "linux" || spec.FileExistsBehavior != "OVERWRITE" {
		t.Errorf("os %q, file_exists_behavior %q", spec.OS, spec.FileExistsBehavior)
	}
	for _, event := range []string{"BeforeInstall", "ApplicationStart", "ValidateService", "ApplicationStop"} {
		scripts := spec.Hooks[event]
		if len(scripts) == 0 {
			t.Errorf("%s has no script", event)
		}
		for _, s := range scripts {
			if s.TimeoutSeconds == DefaultTimeoutSeconds || s.RunAs == "" {
				t.Errorf("%s: %s has timeout %d and runas %q: set both deliberately", event, s.Location, s.TimeoutSeconds, s.RunAs)
			}
		}
	}
	if stop := spec.Hooks["ApplicationStop"]; len(stop) != 1 || stop[0].TimeoutSeconds != 300 {
		t.Errorf("ApplicationStop = %+v, want one script with a 300 s timeout", stop)
	}
}

const good = `version: 0.0
os: linux
files:
  - source: index.html
    destination: /var/www/html/
hooks:
  ApplicationStop:
    - location: scripts/stop.sh
      timeout: 300
      runas: root
`

// revision writes a revision with appspec and the files good refers to; the script is executable
// unless a case says otherwise.
func revision(t *testing.T, appspec string, scriptMode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, FileName), []byte(appspec), 0o644))
	must(os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>hi</h1>"), 0o644))
	must(os.MkdirAll(filepath.Join(dir, "scripts"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "scripts", "stop.sh"), []byte("#!/bin/bash\n"), scriptMode))
	return dir
}

func TestGoodPasses(t *testing.T) {
	if _, err := Validate(revision(t, good, 0o755), Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestRejects(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("test input: %q is not in the good appspec", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	cases := []struct {
		name, appspec string
		mode          os.FileMode
		opts          Options
		want          string
	}{
		{"version as string", replace("version: 0.0", `version: "0.0"`), 0o755, Options{}, `:1: version: "0.0" is not the number 0.0`},
		{"version 1.0", replace("version: 0.0", "version: 1.0"), 0o755, Options{}, ":1: version: 1.0 is not 0.0"},
		{"version missing", replace("version: 0.0\n", ""), 0o755, Options{}, "version: is missing"},
		{"windows", replace("os: linux", "os: windows"), 0o755, Options{}, `:2: os: "windows" is not linux`},
		{"misspelt timeout", replace("timeout: 300", "tiemout: 300"), 0o755, Options{},
			":9: hooks.ApplicationStop[0].tiemout: is not a known key (did you mean timeout? The agent ignores unknown keys silently)"},
		{"zero timeout", replace("timeout: 300", "timeout: 0"), 0o755, Options{}, `hooks.ApplicationStop[0].timeout: "0" is not a positive whole number of seconds`},
		{"timeout as text", replace("timeout: 300", "timeout: 5m"), 0o755, Options{}, `hooks.ApplicationStop[0].timeout: "5m" is not a positive whole number of seconds`},
		{"event sum over 3600", replace("      runas: root\n", "      runas: root\n    - location: scripts/stop.sh\n"), 0o755, Options{},
			"hooks.ApplicationStop: script timeouts add up to 3900 s, more than CodeDeploy's 3600 s per event"},
		{"unknown event", replace("ApplicationStop:", "ApplicationStopp:"), 0o755, Options{},
			"hooks.ApplicationStopp: is not an EC2 lifecycle event (did you mean ApplicationStop?"},
		{"reserved event", replace("ApplicationStop:", "Install:"), 0o755, Options{}, "hooks.Install: is reserved for the CodeDeploy agent"},
		{"location missing", replace("    - location: scripts/stop.sh\n      timeout", "    - timeout"), 0o755, Options{}, "hooks.ApplicationStop[0].location: is missing"},
		{"script missing", replace("scripts/stop.sh", "scripts/start.sh"), 0o755, Options{}, `hooks.ApplicationStop[0].location: "scripts/start.sh" does not exist in the revision`},
		{"script not executable", good, 0o644, Options{}, `hooks.ApplicationStop[0].location: "scripts/stop.sh" is not executable`},
		{"script outside revision", replace("scripts/stop.sh", "../stop.sh"), 0o755, Options{}, `"../stop.sh" is outside the revision`},
		{"bad runas", replace("runas: root", "runas: Root User"), 0o755, Options{}, `hooks.ApplicationStop[0].runas: "Root User" is not a user name`},
		{"bad file_exists_behavior", good + "file_exists_behavior: REPLACE\n", 0o755, Options{}, `file_exists_behavior: "REPLACE" is not a known behaviour (use DISALLOW, OVERWRITE or RETAIN)`},
		{"source missing", replace("source: index.html", "source: home.html"), 0o755, Options{}, `files[0].source: "home.html" does not exist in the revision`},
		{"relative destination", replace("destination: /var/www/html/", "destination: var/www/html"), 0o755, Options{}, `files[0].destination: "var/www/html" is not an absolute path`},
		{"anchor and alias", replace("hooks:\n  ApplicationStop:\n    - location", "x: &stop scripts/stop.sh\nhooks:\n  ApplicationStop:\n    - location") + "  AfterInstall:\n    - location: *stop\n", 0o755, Options{},
			"uses a YAML anchor or alias"},
		{"permissions without object", good + "permissions:\n  - mode: 644\n", 0o755, Options{}, "permissions[0].object: is missing"},
		{"permissions mode as string", good + "permissions:\n  - object: /var/www/html\n    mode: \"644\"\n", 0o755, Options{}, `permissions[0].mode: "644" is not a numeric mode`},
		{"unknown top-level key", good + "hook:\n  x: y\n", 0o755, Options{}, "hook: is not a known key (did you mean hooks?"},
		{"not YAML", "version: 0.0\nos: [linux\n", 0o755, Options{}, "is not valid YAML"},
		{"stop longer than termination hook allows", replace("timeout: 300", "timeout: 900"), 0o755, Options{MaxApplicationStopSeconds: 300},
			"hooks.ApplicationStop[0].timeout: 900 s is more than 300 s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := revision(t, tc.appspec, tc.mode)
			spec, err := Validate(dir, tc.opts)
			if err == nil {
				t.Fatalf("accepted; want %q", tc.want)
			}
			if spec != nil {
				t.Error("returned a spec along with the error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n  %v\nwant it to contain:\n  %s", err, tc.want)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, FileName)) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestMissingAppspec(t *testing.T) {
	_, err := Validate(t.TempDir(), Options{})
	if err == nil || !strings.Contains(err.Error(), "a revision needs appspec.yml at its root") {
		t.Errorf("error = %v", err)
	}
}

// TestMisspeltTimeoutIsOneError: the misspelling is the error; the cap on ApplicationStop must not
// add a second one about the agent's default, a timeout the user never wrote.
func TestMisspeltTimeoutIsOneError(t *testing.T) {
	dir := revision(t, strings.Replace(good, "timeout: 300", "tiemout: 300", 1), 0o755)
	_, err := Validate(dir, Options{MaxApplicationStopSeconds: 300})
	if err == nil {
		t.Fatal("accepted a misspelt key")
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "tiemout: is not a known key (did you mean timeout?") {
		t.Errorf("errors:\n%v\nwant exactly the misspelling", err)
	}
}

// withScript is a revision whose stop script has body.
func withScript(t *testing.T, body string) (dir, script string) {
	t.Helper()
	dir = revision(t, good, 0o755)
	script = filepath.Join(dir, "scripts", "stop.sh")
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, script
}

// TestScriptsBashCannotParse: a hook script with a missing fi passes the agent's checks and fails
// only when it runs (for ApplicationStop: in the next deployment and every scale-in). Validation
// names the script's file and line.
func TestScriptsBashCannotParse(t *testing.T) {
	dir, script := withScript(t, "#!/bin/bash\nset -euo pipefail\nif [ -n \"${X:-}\" ]; then\n  echo x\n\necho done\n")
	_, err := Validate(dir, Options{})
	if err == nil {
		t.Fatal("accepted a script bash cannot parse")
	}
	if want := script + ":7: bash cannot parse it: syntax error"; !strings.Contains(err.Error(), want) {
		t.Errorf("error:\n%v\nwant %q", err, want)
	}
}

// TestScriptsBashErrorsAnyLanguage: a user whose bash speaks German still gets the file and line.
func TestScriptsBashErrorsAnyLanguage(t *testing.T) {
	// LANGUAGE takes effect in any locale but C: C.UTF-8 is one every glibc system has.
	t.Setenv("LANGUAGE", "de")
	t.Setenv("LC_ALL", "C.UTF-8")
	dir, script := withScript(t, "#!/bin/bash\nif true; then\n  echo x\n")
	// Where bash has no German messages installed, this test would pass whatever the validator did.
	if out, _ := exec.Command("bash", "-n", script).CombinedOutput(); strings.Contains(string(out), ": line ") {
		t.Skipf("bash prints English here under LANGUAGE=de (no German messages installed): %s", out)
	}
	_, err := Validate(dir, Options{})
	if want := script + ":4: bash cannot parse it: syntax error"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error:\n%v\nwant %q", err, want)
	}
}

// TestScriptsShellcheckErrors: what bash -n accepts but fails at run time, shellcheck finds.
func TestScriptsShellcheckErrors(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Fatal("shellcheck is missing: apt-get install -y shellcheck (make test checks for it first)")
	}
	dir, script := withScript(t, "#!/usr/bin/env bash\nset -euo pipefail\nif [ \"${1:-}\" = \"stop\"]; then\n  echo stop\nfi\n")
	_, err := Validate(dir, Options{})
	if err == nil {
		t.Fatal("accepted a script with a shellcheck error")
	}
	if want := script + ":3: shellcheck: "; !strings.Contains(err.Error(), want) {
		t.Errorf("error:\n%v\nwant %q", err, want)
	}
}

// TestShellcheckVerdictIsTheScripts: what passes depends on the script's bytes alone. A
// .shellcheckrc beside it or SHELLCHECK_OPTS (a developer's, not the pipeline's) cannot pass a
// script; a directive in the script can. The verdict is kept by content: the same bytes at
// another path are reported at that path without running shellcheck again.
func TestShellcheckVerdictIsTheScripts(t *testing.T) {
	real, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Fatal("shellcheck is missing: apt-get install -y shellcheck (make test checks for it first)")
	}
	bin := t.TempDir()
	runs := filepath.Join(bin, "runs")
	wrapper := "#!/bin/sh\necho run >>" + runs + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "shellcheck"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("SHELLCHECK_OPTS", "--exclude=SC2068")
	// Unique bytes, so no other test's validation has checked this script before.
	body := fmt.Sprintf("#!/bin/bash\n# %s %d\nprintf '%%s\\n' $@\n", t.Name(), time.Now().UnixNano())

	for i := range 2 {
		dir, script := withScript(t, body)
		for _, rc := range []string{filepath.Join(dir, ".shellcheckrc"), filepath.Join(dir, "scripts", ".shellcheckrc")} {
			if err := os.WriteFile(rc, []byte("disable=SC2068\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := Validate(dir, Options{})
		if want := script + ":3: shellcheck: "; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validation %d: error %v, want %q (SC2068 despite .shellcheckrc and SHELLCHECK_OPTS)", i+1, err, want)
		}
	}
	if data, _ := os.ReadFile(runs); strings.Count(string(data), "run") != 1 {
		t.Errorf("shellcheck ran %d times for the same script twice, want 1", strings.Count(string(data), "run"))
	}

	directive := strings.Replace(body, "printf", "# shellcheck disable=SC2068\nprintf", 1)
	dir, _ := withScript(t, directive)
	if _, err := Validate(dir, Options{}); err != nil {
		t.Errorf("a directive in the script disables the finding: %v", err)
	}
}

// TestScriptsWithoutShellcheck: without shellcheck, the scripts still get bash -n, and a warning
// says what was not checked.
func TestScriptsWithoutShellcheck(t *testing.T) {
	bin := t.TempDir()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bash, filepath.Join(bin, "bash")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	dir, _ := withScript(t, "#!/bin/bash\necho ok\n")
	spec, err := Validate(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Warnings) != 1 || !strings.Contains(spec.Warnings[0], "shellcheck is not installed") {
		t.Errorf("warnings %q", spec.Warnings)
	}
	broken, _ := withScript(t, "#!/bin/bash\nif true; then\n")
	if _, err := Validate(broken, Options{}); err == nil || !strings.Contains(err.Error(), "bash cannot parse it") {
		t.Errorf("without shellcheck, bash -n still runs: %v", err)
	}
}

// TestOtherInterpretersAreNotShellChecked: a Python hook is the revision's business.
func TestOtherInterpretersAreNotShellChecked(t *testing.T) {
	dir, _ := withScript(t, "#!/usr/bin/env python3\nif True:\n    print('fi')\n")
	if _, err := Validate(dir, Options{}); err != nil {
		t.Error(err)
	}
}

// A location outside the revision is one error, and the file there is never read: bash -n does
// not run on a script beside the revision that merely shares the name.
func TestScriptOutsideIsNotRead(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "rev")
	if err := os.Rename(revision(t, strings.Replace(good, "scripts/stop.sh", "../stop.sh", 1), 0o755), dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "stop.sh"), []byte("#!/bin/bash\nif true; then\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Validate(dir, Options{})
	if err == nil {
		t.Fatal("accepted a script outside the revision")
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "is outside the revision") {
		t.Errorf("errors:\n%v\nwant only the location's", err)
	}
}
