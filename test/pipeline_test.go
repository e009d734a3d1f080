package test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/example/codedeploy-fleet/stacks"
)

// pipelineStages returns the CodePipeline's stages, in order.
func pipelineStages(t *testing.T) []map[string]any {
	t.Helper()
	if pipelineJSON == nil {
		t.Fatal("no pipeline was built from the fixture")
	}
	var pipelines []map[string]any
	for _, r := range pipelineJSON["Resources"].(map[string]any) {
		if r := r.(map[string]any); r["Type"] == "AWS::CodePipeline::Pipeline" {
			pipelines = append(pipelines, r)
		}
	}
	if len(pipelines) != 1 {
		t.Fatalf("%d pipelines in the pipeline stack, want 1", len(pipelines))
	}
	var out []map[string]any
	for _, s := range asList(at(pipelines[0], "Properties", "Stages")) {
		out = append(out, s.(map[string]any))
	}
	return out
}

func TestPipelineStagesInConfigOrder(t *testing.T) {
	var names []string
	for _, s := range pipelineStages(t) {
		names = append(names, s["Name"].(string))
	}
	var want []string
	for _, env := range fixtureConfig.Environments {
		want = append(want, env.Name)
	}
	got := strings.Join(names, ",")
	// Source, Build (synth), UpdatePipeline (self-mutation), Assets, then one stage per environment.
	if !strings.HasPrefix(got, "Source,Build,UpdatePipeline,") || !strings.HasSuffix(got, ","+strings.Join(want, ",")) {
		t.Errorf("stages %s; want Source, Build, UpdatePipeline, assets, then %s", got, strings.Join(want, ", "))
	}
}

func TestPipelineApprovesProductionOnly(t *testing.T) {
	production := map[string]bool{}
	for _, env := range fixtureConfig.Environments {
		production[env.Name] = env.Production
	}
	sawProduction := false
	for _, stage := range pipelineStages(t) {
		name := stage["Name"].(string)
		isProd, isEnv := production[name]
		if !isEnv {
			continue
		}
		sawProduction = sawProduction || isProd
		approvalOrder, firstDeploy := -1.0, 1e9
		for _, a := range asList(stage["Actions"]) {
			order, _ := at(a, "RunOrder").(float64)
			switch at(a, "ActionTypeId", "Category") {
			case "Approval":
				approvalOrder = order
			case "Deploy":
				firstDeploy = min(firstDeploy, order)
			}
		}
		if isProd && (approvalOrder < 0 || approvalOrder >= firstDeploy) {
			t.Errorf("stage %s is production but has no manual approval before its deployment", name)
		}
		if !isProd && approvalOrder >= 0 {
			t.Errorf("stage %s is not production but waits for an approval", name)
		}
	}
	if !sawProduction {
		t.Error("no production environment in the test configuration: the approval is untested")
	}
}

func TestPipelineSynthRunsTheReadmeCommands(t *testing.T) {
	found := false
	for _, r := range pipelineJSON["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] != "AWS::CodeBuild::Project" {
			continue
		}
		spec, _ := at(r, "Properties", "Source", "BuildSpec").(string)
		var buildspec map[string]any
		if json.Unmarshal([]byte(spec), &buildspec) != nil {
			continue
		}
		commands := toStrings(asList(at(buildspec, "phases", "build", "commands")))
		if strings.Join(commands, "\n") == strings.Join(stacks.SynthCommands, "\n") {
			found = true
			expect(t, buildspec, "artifacts.base-directory", "cdk.out")
			// The build image gets every tool `make test` checks for (the Makefile's tools target).
			install := strings.Join(toStrings(asList(at(buildspec, "phases", "install", "commands"))), "\n")
			// The packages apt-get installs (the tools are Debian's package names), not the
			// `command -v` guards in the same line.
			var packages []string
			for _, m := range regexp.MustCompile(`apt-get install -y -qq ([a-z0-9 -]+)`).FindAllStringSubmatch(install, -1) {
				packages = append(packages, strings.Fields(m[1])...)
			}
			for _, tool := range makeTestTools(t) {
				if !slices.Contains(packages, tool) {
					t.Errorf("the synth step does not install %s, which make test needs: %q", tool, install)
				}
			}
		}
	}
	if !found || strings.Join(stacks.SynthCommands, ";") != "make test;make synth" {
		t.Errorf("no synth project runs %q", stacks.SynthCommands)
	}
}

// TestPipelineDeploysTheSameTemplates: the stack a stage deploys is the one `cdk deploy
// <App>-<env>` deploys. The only difference allowed is the construct path CDK writes into Name
// tags and descriptions ("Fixture-pipeline/staging/Fixture-staging/..." for "Fixture-staging/..."):
// every logical ID and every other property is the same, so an environment can move between
// `cdk deploy` and the pipeline without a replacement.
func TestPipelineDeploysTheSameTemplates(t *testing.T) {
	if standalone.json == nil {
		t.Fatal("no fixture environment was built as a stack of its own")
	}
	compared := 0
	forEachStage(t, func(t *testing.T, b *built) {
		if b.stack.Env.Name != standalone.env {
			t.Skip("built as a stage only")
		}
		compared++
		want, err := normalizedTemplate(standalone.json)
		if err != nil {
			t.Fatal(err)
		}
		staged, err := normalizedTemplate(b.json)
		if err != nil {
			t.Fatal(err)
		}
		staged = bytes.ReplaceAll(staged, []byte(fixtureConfig.PipelineStackName()+"/"+b.stack.Env.Name+"/"), nil)
		if !bytes.Equal(want, staged) {
			t.Error("the pipeline's stage synthesizes a different template than the stack itself")
		}
		for _, m := range standalone.messages {
			if m.level == "error" {
				t.Errorf("the stack of its own has an error at %s: %s", m.path, m.text)
			}
		}
	})
	// Every stage skipped would prove nothing.
	if compared != 1 {
		t.Errorf("%d of the pipeline's stages deploy %s, built as a stack of its own; want 1", compared, standalone.env)
	}
}

func TestPipelineArtifacts(t *testing.T) {
	buckets := 0
	for id, r := range pipelineJSON["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] != "AWS::S3::Bucket" || at(r, "Properties", "LoggingConfiguration") == nil {
			continue
		}
		buckets++
		expect(t, r, "Properties.BucketEncryption.ServerSideEncryptionConfiguration.0.ServerSideEncryptionByDefault.SSEAlgorithm", "aws:kms")
		tlsOnly := false
		for _, p := range pipelineJSON["Resources"].(map[string]any) {
			if at(p, "Type") != "AWS::S3::BucketPolicy" || !reflectEqual(at(p, "Properties", "Bucket"), ref(id)) {
				continue
			}
			for _, st := range asList(at(p, path("Properties.PolicyDocument.Statement")...)) {
				tlsOnly = tlsOnly || reflectEqual(at(st, "Condition"), map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}})
			}
		}
		if !tlsOnly {
			t.Errorf("artifact bucket %s accepts requests without TLS", id)
		}
	}
	if buckets != 1 {
		t.Errorf("%d logged artifact buckets, want 1", buckets)
	}
}

// makeTestTools are the programs the Makefile's tools target checks for.
func makeTestTools(t *testing.T) []string {
	t.Helper()
	makefile := string(mustRead(t, "../Makefile"))
	_, target, ok := strings.Cut(makefile, "\ntools:\n")
	if !ok {
		t.Fatal("the Makefile has no tools target")
	}
	var tools []string
	for _, m := range regexp.MustCompile(`command -v (\w+)`).FindAllStringSubmatch(strings.SplitN(target, "\n\n", 2)[0], -1) {
		tools = append(tools, m[1])
	}
	if len(tools) == 0 {
		t.Fatal("the tools target checks for nothing")
	}
	return tools
}
