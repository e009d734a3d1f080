// Package layout checks the import directions docs/architecture.md states, so they stay true.
// Plain Go: it asks the go command, and starts no jsii.
package layout

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/example/codedeploy-fleet"

// TestImportDirections: main imports stacks; nothing but main and tests imports stacks; config,
// appspec, revision and the handlers' logic never import the CDK; constructs never import config
// or stacks.
func TestImportDirections(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	imports := map[string][]string{}
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		imports[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = p.Imports
	}
	if len(imports) < 10 {
		t.Fatalf("go list found %d packages", len(imports))
	}
	plainGo := []string{"config", "appspec", "revision", "deployer", "protection", "rehearsal", "rehearsal/standin", "rehearsal/sandbox", "rehearsal/scenario", "cmd/rehearse", "constructs/fleet/userdata", "constructs/internal/gobuild"}
	for pkg, deps := range imports {
		for _, dep := range deps {
			local := strings.TrimPrefix(strings.TrimPrefix(dep, module), "/")
			switch {
			case local == "stacks" && pkg != "":
				t.Errorf("%s imports stacks; only main does", pkg)
			case strings.HasPrefix(pkg, "constructs/") && (local == "config" || local == "stacks"):
				t.Errorf("%s imports %s: a construct takes props, never the configuration", pkg, local)
			case contains(plainGo, pkg) && strings.HasPrefix(dep, "github.com/aws/aws-cdk-go/"):
				t.Errorf("%s imports the CDK (%s): it is plain Go", pkg, dep)
			}
		}
	}
	if main := imports[""]; !contains(main, module+"/stacks") || contains(main, module+"/config") {
		t.Errorf("main imports %v; want stacks, and config only through it", main)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
