package scenario

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/example/codedeploy-fleet/rehearsal"
	"github.com/example/codedeploy-fleet/rehearsal/internal/execfile"
	"github.com/example/codedeploy-fleet/rehearsal/sandbox"
)

// extraHook is a script the rehearsal adds to a version for a scenario, after the revision's own
// scripts of that event; the revision's scripts themselves are never changed.
type extraHook struct {
	Event   rehearsal.Event
	Name    string // file name under extraDir in the version
	Script  string
	Timeout int
}

// makeVersion writes version name of the revision at src into dst: the revision's files, each
// HTML page the appspec installs tagged with the version, and the extra hooks.
func makeVersion(src, dst, name string, extra ...extraHook) (rehearsal.Revision, error) {
	base, err := rehearsal.LoadRevision(src)
	if err != nil {
		return rehearsal.Revision{}, err
	}
	if err := sandbox.CopyTree(src, dst); err != nil {
		return rehearsal.Revision{}, err
	}
	tagged := 0
	for _, f := range base.Spec.Files {
		root := filepath.Join(dst, filepath.FromSlash(f.Source))
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".html") || strings.HasSuffix(p, ".htm")) {
				return err
			}
			tagged++
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			_, werr := f.WriteString("\n" + rehearsal.Marker(name))
			return errors.Join(werr, f.Close())
		})
		if err != nil {
			return rehearsal.Revision{}, err
		}
	}
	if tagged == 0 {
		return rehearsal.Revision{}, fmt.Errorf("%s: the appspec installs no HTML page, so the rehearsal cannot tell which revision served a request", src)
	}
	if len(extra) > 0 {
		if err := addHooks(dst, extra); err != nil {
			return rehearsal.Revision{}, err
		}
	}
	rev, err := rehearsal.LoadRevision(dst)
	rev.Name = name
	return rev, err
}

// addHooks writes the extra scripts and appends them to the appspec's hooks, keeping the rest
// of the file as it is.
func addHooks(dir string, extra []extraHook) error {
	file := filepath.Join(dir, "appspec.yml")
	if _, err := os.Stat(file); err != nil {
		file = filepath.Join(dir, "appspec.yaml")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return fmt.Errorf("%s: not an appspec mapping", file)
	}
	root := doc.Content[0]
	hooks := child(root, "hooks", yaml.MappingNode)
	for _, h := range extra {
		if err := os.MkdirAll(filepath.Join(dir, extraDir), 0o755); err != nil {
			return err
		}
		if err := execfile.Write(filepath.Join(dir, extraDir, h.Name), []byte(h.Script), 0o755); err != nil {
			return err
		}
		scripts := child(hooks, string(h.Event), yaml.SequenceNode)
		entry := &yaml.Node{Kind: yaml.MappingNode}
		for _, kv := range [][2]string{{"location", extraDir + h.Name}, {"timeout", fmt.Sprint(h.Timeout)}, {"runas", "root"}} {
			tag := "!!str"
			if kv[0] == "timeout" {
				tag = "!!int"
			}
			entry.Content = append(entry.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: kv[0]}, &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: kv[1]})
		}
		scripts.Content = append(scripts.Content, entry)
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	return os.WriteFile(file, out, 0o644)
}

// child is the value of key in mapping m, added with kind when missing or empty.
func child(m *yaml.Node, key string, kind yaml.Kind) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			if v.Kind != kind {
				// An empty value ("hooks:" with nothing under it) becomes the collection.
				*v = yaml.Node{Kind: kind}
			}
			return v
		}
	}
	v := &yaml.Node{Kind: kind}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
	return v
}

// extraDir is where a version keeps the scripts the rehearsal adds; injectedPrefix starts the
// location of every failure it injects (failOn).
const (
	extraDir       = "rehearsal/"
	failOnName     = "fail-on-"
	injectedPrefix = extraDir + failOnName
)

// failOn is a ValidateService script that fails on one instance, as a release with a bug that
// shows on one host fails: it asks the metadata service (IMDSv2) which instance it runs on.
func failOn(instance string) extraHook {
	return extraHook{Event: rehearsal.ValidateService, Name: failOnName + instance + ".sh", Timeout: 30, Script: `#!/bin/bash
# Added by the rehearsal: this release's ValidateService fails on ` + instance + `.
set -euo pipefail
token=$(curl --silent --fail --max-time 2 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token)
me=$(curl --silent --fail --max-time 2 -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)
if [ "$me" = "` + instance + `" ]; then
  echo "validate: GET /health returned 500 on $me (the rehearsal's injected failure)" >&2
  exit 1
fi
echo "validate: $me is healthy"
`}
}

// stopsEarly is the control's mistake: a BeforeBlockTraffic hook that stops the web server while
// the load balancer still sends it requests, then does other work for two seconds (flushing a
// cache, say) before traffic is blocked.
var stopsEarly = extraHook{Event: rehearsal.BeforeBlockTraffic, Name: "stop-before-block.sh", Timeout: 30, Script: `#!/bin/bash
# Added by the rehearsal's control: stops httpd before BlockTraffic has taken the instance out.
set -euo pipefail
systemctl stop httpd
sleep 2
`}
