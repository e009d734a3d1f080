package test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestSnapshot compares each environment's template with testdata/<stack>.template.json.
// Snapshots guard refactors: a diff means the deployed infrastructure changes. Rewrite them with
// `make update-snapshots` and review the change with `git diff test/testdata`.
//
// Snapshots are kept for each of the user's environments and for fixture stacks, whatever
// cdk.json holds: the copies of the shipped environments (the templates `make rehearse`
// rehearses in CI), tls (every setting away from its default) and the pipeline. A snapshot whose
// stack no longer exists (an environment renamed or removed) is an error; -update deletes it.
func TestSnapshot(t *testing.T) {
	want := map[string]bool{}
	forEachEnv(t, func(t *testing.T, b *built) {
		if !b.user && b.stack.Env.Name == exampleEnvironment {
			t.Skip("the documented example: covered by the assertions, not a snapshot")
		}
		want[*b.stack.StackName()+".template.json"] = true
		compareSnapshot(t, *b.stack.StackName(), b.json)
	})
	t.Run("pipeline", func(t *testing.T) {
		if pipelineJSON == nil {
			t.Fatal("no pipeline was built from the fixture")
		}
		want[fixtureConfig.PipelineStackName()+".template.json"] = true
		compareSnapshot(t, fixtureConfig.PipelineStackName(), pipelineJSON)
	})
	files, _ := filepath.Glob(filepath.Join("testdata", "*.template.json"))
	for _, f := range files {
		if want[filepath.Base(f)] {
			continue
		}
		if *update {
			if err := os.Remove(f); err != nil {
				t.Error(err)
			}
			continue
		}
		t.Errorf("%s belongs to no stack (an environment renamed or removed?); run `make update-snapshots`", f)
	}
}

func compareSnapshot(t *testing.T, name string, template map[string]any) {
	t.Helper()
	{
		got, err := normalizedTemplate(template)
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", name+".template.json")
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (create it with `make update-snapshots`)", err)
		}
		if !bytes.Equal(got, want) {
			// Paths from the repository's root, where make and git diff are run.
			t.Errorf("%s differs from the synthesized template; if the change is intended, run "+
				"`make update-snapshots` and review `git diff %s`", filepath.Join("test", golden), filepath.Join("test", golden))
		}
	}
}

// assetHash matches the content hashes CDK puts in asset keys: they change with the bytes of an
// asset (a Lambda bundle, the revision zip), not with the code of this app.
var assetHash = regexp.MustCompile(`[0-9a-f]{64}`)

// assetDestination matches the destination id CDK Pipelines' publishing steps name, whose last
// part is derived from the asset ("333333333333-us-east-1-aef69c8e").
var assetDestination = regexp.MustCompile(`(\d{12}-[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}-)[0-9a-f]{8}\b`)

// normalizedTemplate is the template with what changes without a code change masked: asset
// hashes and the bootstrap version check, which follows the CDK release, not this app.
func normalizedTemplate(template map[string]any) ([]byte, error) {
	raw, err := json.Marshal(template)
	if err != nil {
		return nil, err
	}
	var clone map[string]any
	raw = assetDestination.ReplaceAll(assetHash.ReplaceAll(raw, []byte("[ASSET HASH]")), []byte("${1}[ASSET]"))
	if err := json.Unmarshal(raw, &clone); err != nil {
		return nil, err
	}
	if params, ok := clone["Parameters"].(map[string]any); ok {
		delete(params, "BootstrapVersion")
		if len(params) == 0 {
			delete(clone, "Parameters")
		}
	}
	if rules, ok := clone["Rules"].(map[string]any); ok {
		delete(rules, "CheckBootstrapVersion")
		if len(rules) == 0 {
			delete(clone, "Rules")
		}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(clone); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
