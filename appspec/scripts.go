package appspec

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
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
	cmd := exec.Command("bash", "-n", file)
	// bash translates its messages ("Zeile 2: Syntaxfehler" under LANGUAGE=de); in the C locale
	// they are the "FILE: line N: MESSAGE" that bashError reads the line number from.
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
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

// shellcheckArgs make the findings a function of the script's bytes alone: no .shellcheckrc
// (--norc) and no SHELLCHECK_OPTS (cleared below), so a developer's ~/.shellcheckrc cannot pass
// a script the pipeline fails. A finding is disabled in the script itself, with a
// "# shellcheck disable=SCnnnn" directive. Without -x, sourced files are not followed: each
// script is checked on its own.
var shellcheckArgs = []string{"--norc", "--severity=error", "--format=gcc"}

// finding is one shellcheck error in a script.
type finding struct {
	line    int
	message string
}

// linted holds the findings by script content. With shellcheckArgs they depend on nothing else,
// so a process that validates a revision more than once (the rehearsal's scenarios, the test
// suites' copies of assets/) lints each script once (twice at most, if two validations race);
// the largest takes about 0.1 s.
var linted = struct {
	sync.Mutex
	findings map[[sha256.Size]byte][]finding
}{findings: map[[sha256.Size]byte][]finding{}}

func (v *validator) shellcheck(files []string) {
	sums := map[string][sha256.Size]byte{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			v.errs = append(v.errs, &Error{File: file, Problem: "cannot read it: " + err.Error()})
			continue
		}
		sums[file] = sha256.Sum256(data)
	}
	var todo []string
	queued := map[[sha256.Size]byte]bool{}
	linted.Lock()
	for _, file := range files {
		sum, ok := sums[file]
		if _, done := linted.findings[sum]; ok && !done && !queued[sum] {
			queued[sum] = true
			todo = append(todo, file)
		}
	}
	linted.Unlock()
	if len(todo) > 0 {
		found, err := runShellcheck(todo)
		if err != nil {
			v.errs = append(v.errs, &Error{File: strings.Join(todo, ", "), Problem: err.Error()})
			return
		}
		linted.Lock()
		for _, file := range todo {
			linted.findings[sums[file]] = found[file]
		}
		linted.Unlock()
	}
	linted.Lock()
	defer linted.Unlock()
	for _, file := range files {
		sum, ok := sums[file]
		if !ok {
			continue // unreadable, reported above
		}
		for _, f := range linted.findings[sum] {
			v.errs = append(v.errs, &Error{File: file, Line: f.line, Problem: "shellcheck: " + f.message, Fix: "see shellcheck's wiki for the SC code"})
		}
	}
}

// runShellcheck returns the error-level findings by file, every file present (a clean file has
// none), or an error when shellcheck failed without reporting findings.
func runShellcheck(files []string) (map[string][]finding, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("shellcheck", append(slices.Clone(shellcheckArgs), files...)...)
	cmd.Env = withoutEnv(os.Environ(), "SHELLCHECK_OPTS")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	found := make(map[string][]finding, len(files))
	for _, file := range files {
		found[file] = nil
	}
	if err == nil {
		return found, nil
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		m := shellcheckError.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if _, ours := found[m[1]]; !ours {
			continue
		}
		lineNo, _ := strconv.Atoi(m[2])
		found[m[1]] = append(found[m[1]], finding{line: lineNo, message: m[4]})
		n++
	}
	// Exit status 1 is "found problems"; anything else, or 1 with nothing we could read, is
	// shellcheck failing.
	var exit *exec.ExitError
	if n == 0 || !errors.As(err, &exit) || exit.ExitCode() != 1 {
		return nil, fmt.Errorf("shellcheck failed: %v %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return found, nil
}

// withoutEnv is env without the variable name.
func withoutEnv(env []string, name string) []string {
	return slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
}
