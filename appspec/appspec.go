// Package appspec validates a CodeDeploy revision for EC2 (appspec.yml version 0.0, os linux)
// with the rules the CodeDeploy agent enforces, and a few it should: a misspelt key that the
// agent silently ignores (a "tiemout" that turns into an hour's wait) is an error here.
//
// It is plain Go: the stack runs it at synthesis so a bad revision fails `make synth` instead of
// a deployment.
package appspec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileName is the AppSpec file at the root of a revision.
const FileName = "appspec.yml"

// MaxEventSeconds is the CodeDeploy cap on the sum of script timeouts in one lifecycle event.
const MaxEventSeconds = 3600

// DefaultTimeoutSeconds is what the agent uses for a script without a timeout.
const DefaultTimeoutSeconds = 3600

// ScriptableEvents are the EC2/on-premises lifecycle events a revision may hook, in the order an
// in-place deployment behind a load balancer runs them. DownloadBundle, Install, BlockTraffic and
// AllowTraffic are reserved for the agent.
var ScriptableEvents = []string{
	"BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop", "BeforeInstall", "AfterInstall",
	"ApplicationStart", "ValidateService", "BeforeAllowTraffic", "AfterAllowTraffic",
}

// ReservedEvents are the lifecycle events the agent runs itself: a revision cannot hook them.
var ReservedEvents = []string{"DownloadBundle", "Install", "BlockTraffic", "AllowTraffic"}

// Options are checks beyond the agent's own rules.
type Options struct {
	// MaxApplicationStopSeconds caps the ApplicationStop timeouts, so a scale-in termination
	// deployment ends within the termination lifecycle hook's heartbeat timeout. 0: no cap.
	MaxApplicationStopSeconds int
}

// Shipped are the rules a revision this project deploys must pass, wherever it is checked:
// synthesis (package stacks), `fleetctl package` and `fleetctl deploy`, and the offline rehearsal
// all validate with them, so each rejects the same revision with the same message.
// ApplicationStop is capped at 300 s: CodeDeploy creates the termination lifecycle hook itself
// and does not document its heartbeat timeout (Auto Scaling's default is 3600 s), so a stop
// within 300 s leaves a wide margin.
var Shipped = Options{MaxApplicationStopSeconds: 300}

// AppSpec is what a valid appspec.yml declares.
type AppSpec struct {
	OS                 string
	Files              []File
	FileExistsBehavior string
	Hooks              map[string][]Script
	// Warnings are what could not be checked (shellcheck is not installed, say).
	Warnings []string
}

// File copies Source (relative to the revision) to Destination on the instance.
type File struct{ Source, Destination string }

// Script is one hook script.
type Script struct {
	Location       string
	TimeoutSeconds int
	RunAs          string
}

// Error is one problem, printed as `assets/appspec.yml:12: hooks.ApplicationStop[0].tiemout: ...`.
type Error struct {
	File    string
	Line    int
	Key     string
	Problem string
	Fix     string
}

func (e *Error) Error() string {
	msg := e.File
	if e.Line > 0 {
		msg += ":" + strconv.Itoa(e.Line)
	}
	if e.Key != "" {
		msg += ": " + e.Key
	}
	msg += ": " + e.Problem
	if e.Fix != "" {
		msg += " (" + e.Fix + ")"
	}
	return msg
}

// Validate reads dir/appspec.yml and checks it, and the files it names, against the agent's
// rules. It returns every problem found, each naming the file, the key and the fix.
func Validate(dir string, opts Options) (*AppSpec, error) {
	file := filepath.Join(dir, FileName)
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, &Error{File: file, Problem: "cannot be read: " + err.Error(), Fix: "a revision needs appspec.yml at its root"}
	}
	v := &validator{file: file, dir: dir, opts: opts}
	spec := v.parse(data)
	if spec != nil {
		spec.Warnings = v.checkScripts(spec)
	}
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	return spec, nil
}

type validator struct {
	file string
	dir  string
	opts Options
	errs []error
}

func (v *validator) fail(n *yaml.Node, key, problem, fix string) {
	line := 0
	if n != nil {
		line = n.Line
	}
	v.errs = append(v.errs, &Error{File: v.file, Line: line, Key: key, Problem: problem, Fix: fix})
}

func (v *validator) parse(data []byte) *AppSpec {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		v.fail(nil, "", "is not valid YAML: "+err.Error(), "fix the syntax")
		return nil
	}
	if len(doc.Content) == 0 {
		v.fail(nil, "", "is empty", "start with `version: 0.0` and `os: linux`")
		return nil
	}
	if v.noAliases(&doc) {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		v.fail(root, "", "is not a mapping", "use keys such as version, os, files and hooks")
		return nil
	}
	spec := &AppSpec{Hooks: map[string][]Script{}}
	fields := v.mapping(root, "", []string{"version", "os", "files", "permissions", "hooks", "file_exists_behavior"})

	if n, ok := fields["version"]; !ok {
		v.fail(root, "version", "is missing", "add `version: 0.0`")
	} else if n.Kind != yaml.ScalarNode || (n.Tag != "!!float" && n.Tag != "!!int") {
		v.fail(n, "version", fmt.Sprintf("%q is not the number 0.0", n.Value), "write `version: 0.0` unquoted: the agent rejects the string \"0.0\"")
	} else if f, err := strconv.ParseFloat(n.Value, 64); err != nil || f != 0 {
		v.fail(n, "version", n.Value+" is not 0.0", "EC2 revisions use `version: 0.0`")
	}

	if n, ok := fields["os"]; !ok {
		v.fail(root, "os", "is missing", "add `os: linux`")
	} else if n.Value != "linux" {
		v.fail(n, "os", fmt.Sprintf("%q is not linux", n.Value), "this fleet runs Amazon Linux: use `os: linux`")
	} else {
		spec.OS = n.Value
	}

	if n, ok := fields["file_exists_behavior"]; ok {
		allowed := []string{"DISALLOW", "OVERWRITE", "RETAIN"}
		if !slices.Contains(allowed, n.Value) {
			v.fail(n, "file_exists_behavior", fmt.Sprintf("%q is not a known behaviour", n.Value), "use DISALLOW, OVERWRITE or RETAIN")
		}
		spec.FileExistsBehavior = n.Value
	} else {
		spec.FileExistsBehavior = "DISALLOW"
	}

	if n, ok := fields["files"]; ok {
		spec.Files = v.files(n)
	}
	if n, ok := fields["permissions"]; ok {
		v.permissions(n)
	}
	if n, ok := fields["hooks"]; ok {
		spec.Hooks = v.hooks(n)
	}
	return spec
}

// noAliases reports (and fails on) YAML anchors and aliases, which the agent rejects.
func (v *validator) noAliases(n *yaml.Node) bool {
	found := false
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		v.fail(n, "", "uses a YAML anchor or alias", "write the value out: the agent rejects anchors and aliases")
		found = true
	}
	for _, c := range n.Content {
		found = v.noAliases(c) || found
	}
	return found
}

// mapping returns a mapping's values by key, failing on keys outside allowed and on duplicates.
func (v *validator) mapping(n *yaml.Node, path string, allowed []string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := join(path, k.Value)
		switch {
		case !slices.Contains(allowed, k.Value):
			fix := "allowed here: " + strings.Join(allowed, ", ")
			if near := closest(k.Value, allowed); near != "" {
				fix = "did you mean " + near + "? The agent ignores unknown keys silently"
			}
			v.fail(k, key, "is not a known key", fix)
		case out[k.Value] != nil:
			v.fail(k, key, "is given twice", "keep one")
		default:
			out[k.Value] = val
		}
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (v *validator) files(n *yaml.Node) []File {
	if n.Kind != yaml.SequenceNode {
		v.fail(n, "files", "is not a list", "use a list of {source, destination}")
		return nil
	}
	var out []File
	for i, item := range n.Content {
		key := fmt.Sprintf("files[%d]", i)
		if item.Kind != yaml.MappingNode {
			v.fail(item, key, "is not a mapping", "use {source: ..., destination: ...}")
			continue
		}
		f := v.mapping(item, key, []string{"source", "destination"})
		src, dst := f["source"], f["destination"]
		if src == nil || dst == nil {
			v.fail(item, key, "needs source and destination", "add the missing one")
			continue
		}
		if !strings.HasPrefix(dst.Value, "/") {
			v.fail(dst, key+".destination", fmt.Sprintf("%q is not an absolute path", dst.Value), "use a path such as /var/www/html/")
		}
		if src.Value != "/" {
			v.inRevision(src, key+".source", src.Value, false)
		}
		out = append(out, File{Source: src.Value, Destination: dst.Value})
	}
	return out
}

var modePattern = regexp.MustCompile(`^[0-7]{3,4}$`)

func (v *validator) permissions(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		v.fail(n, "permissions", "is not a list", "use a list of {object, mode, owner, ...}")
		return
	}
	for i, item := range n.Content {
		key := fmt.Sprintf("permissions[%d]", i)
		if item.Kind != yaml.MappingNode {
			v.fail(item, key, "is not a mapping", "use {object: ..., mode: ...}")
			continue
		}
		p := v.mapping(item, key, []string{"object", "pattern", "except", "owner", "group", "mode", "acls", "context", "type"})
		if p["object"] == nil {
			v.fail(item, key+".object", "is missing", "name the file or directory the permissions apply to")
		}
		if m := p["mode"]; m != nil && (m.Tag != "!!int" || !modePattern.MatchString(m.Value)) {
			v.fail(m, key+".mode", fmt.Sprintf("%q is not a numeric mode", m.Value), "use octal digits unquoted, e.g. 644")
		}
	}
}

var runAsPattern = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

func (v *validator) hooks(n *yaml.Node) map[string][]Script {
	out := map[string][]Script{}
	if n.Kind != yaml.MappingNode {
		v.fail(n, "hooks", "is not a mapping", "map lifecycle event names to lists of scripts")
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, list := n.Content[i], n.Content[i+1]
		event := k.Value
		key := "hooks." + event
		switch {
		case slices.Contains(ReservedEvents, event):
			v.fail(k, key, "is reserved for the CodeDeploy agent", "hook one of "+strings.Join(ScriptableEvents, ", "))
			continue
		case !slices.Contains(ScriptableEvents, event):
			fix := "use one of " + strings.Join(ScriptableEvents, ", ")
			if near := closest(event, ScriptableEvents); near != "" {
				fix = "did you mean " + near + "? An unknown event fails the deployment"
			}
			v.fail(k, key, "is not an EC2 lifecycle event", fix)
			continue
		case out[event] != nil:
			v.fail(k, key, "is given twice", "list all its scripts under one key")
			continue
		}
		if list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
			v.fail(list, key, "is not a list of scripts", "use - location: scripts/NAME.sh")
			continue
		}
		total := 0
		for j, item := range list.Content {
			s := v.script(item, fmt.Sprintf("%s[%d]", key, j))
			total += s.TimeoutSeconds
			if event == "ApplicationStop" && v.opts.MaxApplicationStopSeconds > 0 && s.TimeoutSeconds > v.opts.MaxApplicationStopSeconds {
				v.fail(item, fmt.Sprintf("%s[%d].timeout", key, j), fmt.Sprintf("%d s is more than %d s", s.TimeoutSeconds, v.opts.MaxApplicationStopSeconds),
					"a scale-in termination deployment must end within the termination hook's heartbeat timeout: lower it")
			}
			out[event] = append(out[event], s)
		}
		if total > MaxEventSeconds {
			v.fail(list, key, fmt.Sprintf("script timeouts add up to %d s, more than CodeDeploy's %d s per event", total, MaxEventSeconds),
				fmt.Sprintf("lower them; a script without timeout counts %d s", DefaultTimeoutSeconds))
		}
	}
	return out
}

func (v *validator) script(n *yaml.Node, key string) Script {
	s := Script{TimeoutSeconds: DefaultTimeoutSeconds}
	if n.Kind != yaml.MappingNode {
		v.fail(n, key, "is not a mapping", "use {location: ..., timeout: ..., runas: ...}")
		return s
	}
	allowed := []string{"location", "timeout", "runas"}
	f := v.mapping(n, key, allowed)
	if f["timeout"] == nil && misspells(n, "timeout", allowed) {
		// The misspelling is reported; the timeout the user meant is unknown, so no check may
		// assume the agent's default in its place (one error, not a second about a key the user
		// does not have).
		s.TimeoutSeconds = 0
	}
	if loc := f["location"]; loc == nil {
		v.fail(n, key+".location", "is missing", "name the script, relative to the revision root")
	} else {
		s.Location = loc.Value
		v.inRevision(loc, key+".location", loc.Value, true)
	}
	if t := f["timeout"]; t != nil {
		seconds, err := strconv.Atoi(t.Value)
		if t.Tag != "!!int" || err != nil || seconds <= 0 {
			v.fail(t, key+".timeout", fmt.Sprintf("%q is not a positive whole number of seconds", t.Value), "e.g. timeout: 300")
		} else {
			s.TimeoutSeconds = seconds
		}
	}
	if r := f["runas"]; r != nil {
		if !runAsPattern.MatchString(r.Value) {
			v.fail(r, key+".runas", fmt.Sprintf("%q is not a user name", r.Value), "use an existing Linux user such as root")
		}
		s.RunAs = r.Value
	}
	return s
}

// resolve is the file rel names in the revision, and whether it is inside the revision (a script's
// location may not be absolute; a file's source may start with "/", the revision root).
func (v *validator) resolve(rel string, script bool) (string, bool) {
	clean := path.Clean(strings.TrimPrefix(rel, "/"))
	if (script && path.IsAbs(rel)) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", false
	}
	return filepath.Join(v.dir, filepath.FromSlash(clean)), true
}

// inRevision checks that rel names a file inside the revision (and, for scripts, an executable).
func (v *validator) inRevision(n *yaml.Node, key, rel string, script bool) {
	file, inside := v.resolve(rel, script)
	if !inside {
		v.fail(n, key, fmt.Sprintf("%q is outside the revision", rel), "use a path relative to the revision root")
		return
	}
	info, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.fail(n, key, fmt.Sprintf("%q does not exist in the revision", rel), "add the file or fix the path")
	case err != nil:
		v.fail(n, key, err.Error(), "")
	case script && info.IsDir():
		v.fail(n, key, fmt.Sprintf("%q is a directory", rel), "name the script file")
	case script && info.Mode().Perm()&0o111 == 0:
		v.fail(n, key, fmt.Sprintf("%q is not executable", rel), "chmod +x it and commit the mode (git update-index --chmod=+x)")
	}
}

// misspells reports whether mapping n has a key, not among allowed, that is close to key.
func misspells(n *yaml.Node, key string, allowed []string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !slices.Contains(allowed, k) && closest(k, allowed) == key {
			return true
		}
	}
	return false
}

// closest returns the candidate within edit distance 2 of word, if any.
func closest(word string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := distance(strings.ToLower(word), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
