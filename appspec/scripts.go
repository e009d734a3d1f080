package appspec

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// checkScripts parses every shell hook script the appspec references, as the revision ships: a
// script bash cannot parse passes the agent's checks and fails only when it runs, and
// ApplicationStop runs from the last successful revision, so a broken stop script that ships
// breaks the next deployment and every scale-in after it. Each problem names the script's file
// and line. bash -n checks the syntax; shellcheck, when installed, adds its error-level findings
// (a missing space before "]", for one, which bash -n accepts). Without shellcheck, a warning
// says what was not checked.
func (v *validator) checkScripts(spec *AppSpec) (warnings []string) {
	var shells []string
	seen := map[string]bool{}
	events := make([]string, 0, len(spec.Hooks))
	for event := range spec.Hooks {
		events = append(events, event)
	}
	sort.Strings(events)
	for _, event := range events {
		for _, s := range spec.Hooks[event] {
			// The same file the location check resolved; one outside the revision is reported
			// there and never read here.
			file, inside := v.resolve(s.Location, true)
			if !inside || seen[file] || !isShellScript(file) {
				continue
			}
			seen[file] = true
			shells = append(shells, file)
			v.bashSyntax(file)
		}
	}
	if len(shells) == 0 {
		return nil
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		return []string{"shellcheck is not installed: the hook scripts were checked with bash -n only " +
			"(apt-get install shellcheck, or dnf/brew install ShellCheck)"}
	}
	v.shellcheck(shells)
	return nil
}

// isShellScript reports a file whose first line is a bash or sh shebang: other interpreters are
// not checked here.
func isShellScript(file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	return shebang.MatchString(strings.TrimSpace(line))
}

var (
	shebang = regexp.MustCompile(`^#!\s*\S*/(env\s+)?(ba)?sh(\s|$)`)
	// bash -n prints "FILE: line N: MESSAGE" for each problem.
	bashError = regexp.MustCompile(`^(.*): line (\d+): (.*)$`)
	// shellcheck -f gcc prints "FILE:LINE:COLUMN: error: MESSAGE [SCnnnn]".
	shellcheckError = regexp.MustCompile(`^(.*):(\d+):\d+: (\w+): (.*)$`)
)

func (v *validator) bashSyntax(file string) {
	out, err := exec.Command("bash", "-n", file).CombinedOutput()
	if err == nil {
		return
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// bash follows a syntax error with the offending source line, quoted: not a second problem.
		if m := bashError.FindStringSubmatch(line); m != nil && !strings.HasPrefix(m[3], "`") {
			n, _ := strconv.Atoi(m[2])
			v.errs = append(v.errs, &Error{File: file, Line: n, Problem: "bash cannot parse it: " + m[3],
				Fix: "the agent would run it only mid-deployment; fix the syntax (bash -n " + file + ")"})
			found = true
		}
	}
	if !found {
		v.errs = append(v.errs, &Error{File: file, Problem: fmt.Sprintf("bash -n failed: %v %s", err, bytes.TrimSpace(out))})
	}
}

func (v *validator) shellcheck(files []string) {
	var stderr bytes.Buffer
	cmd := exec.Command("shellcheck", append([]string{"--severity=error", "--format=gcc"}, files...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil {
		return
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if m := shellcheckError.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[2])
			v.errs = append(v.errs, &Error{File: m[1], Line: n, Problem: "shellcheck: " + m[4], Fix: "see shellcheck's wiki for the SC code"})
			found = true
		}
	}
	if !found {
		v.errs = append(v.errs, &Error{File: strings.Join(files, ", "), Problem: fmt.Sprintf("shellcheck failed: %v %s", err, bytes.TrimSpace(stderr.Bytes()))})
	}
}
