// Package test holds the assertion, snapshot and cdk-nag tests over the synthesized templates.
//
// Every CDK test lives in this one package so the suite starts one jsii runtime, and the app is
// built and synthesized once, in TestMain, from cdk.json's context: the same feature flags and
// environments as `cdk synth`.
package test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/example/codedeploy-fleet/config"
	"github.com/example/codedeploy-fleet/stacks"
)

var update = flag.Bool("update", false, "rewrite the golden templates in testdata/")

// built is one synthesized environment, shared by every test.
type built struct {
	stack    *stacks.EnvironmentStack
	template assertions.Template
	json     map[string]any // the template as plain Go values, for checks that need no jsii call
}

var (
	appConfig *config.Config
	envs      []*built
	// pipeline is the pipeline stack of the fixture's pipeline section; pipelineJSON its
	// template and stageJSON its stages' stack templates, by environment name.
	pipeline     *stacks.PipelineStack
	pipelineJSON map[string]any
	stageJSON    = map[string]map[string]any{}
	// missingContext lists the context lookups synthesis asked for; there must be none.
	missingContext []string
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if err := buildApp(); err != nil {
			fmt.Fprintln(os.Stderr, "building the app:", err)
			return 1
		}
		return m.Run()
	}()
	jsii.Close()
	os.Exit(code)
}

// buildApp synthesizes every environment in cdk.json once, with the AwsSolutions checks on.
func buildApp() error {
	context, err := cdkContext("../cdk.json")
	if err != nil {
		return err
	}
	if err := addFixtureEnvironments(context, "testdata/extra-environments.json"); err != nil {
		return err
	}
	outdir, err := os.MkdirTemp("", "cdk-test-")
	if err != nil {
		return err
	}
	// With this flag, `cdk synth` fails on any error annotation (a cdk-nag finding, say), which is
	// what users get. Here it would abort the suite inside TestMain; off, the findings stay on the
	// constructs and TestNag reports each one. It changes reporting only, not the templates.
	context["@aws-cdk/core:annotationsInValidationReport"] = false
	// No bundling: the handler's Go build is tested on its own (constructs/delivery), and
	// building it here would cost every test run a cross-compile.
	context["aws:cdk:bundling-stacks"] = []any{}
	app := awscdk.NewApp(&awscdk.AppProps{
		Context: &context,
		Outdir:  jsii.String(outdir),
		// Template validation costs ~2 s a process; `make synth` keeps it on.
		BuiltinCloudFormationValidation: jsii.Bool(false),
	})
	appConfig, err = stacks.LoadConfig(app)
	if err != nil {
		return err
	}
	result, err := stacks.Build(app, appConfig, stacks.Options{RevisionDir: "../assets", ModuleRoot: ".."})
	if err != nil {
		return err
	}
	all := result.Environments
	pipeline = result.Pipeline
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{}), nil)
	// One synthesis for every test; the templates come from its cloud assembly.
	assembly := app.Synth(nil)
	if pipeline != nil {
		if pipelineJSON, err = templateJSON(assembly.GetStackArtifact(pipeline.ArtifactId()).Template()); err != nil {
			return err
		}
		for _, stage := range pipeline.Stages {
			nested := assembly.GetNestedAssembly(stage.ArtifactId())
			tmpl, err := templateJSON(nested.GetStackArtifact(stage.Environment.ArtifactId()).Template())
			if err != nil {
				return err
			}
			stageJSON[stage.Environment.Env.Name] = tmpl
		}
	}
	manifest, err := os.ReadFile(filepath.Join(*assembly.Directory(), "manifest.json"))
	if err != nil {
		return err
	}
	var parsed struct {
		Missing []struct {
			Key string `json:"key"`
		} `json:"missing"`
	}
	if err := json.Unmarshal(manifest, &parsed); err != nil {
		return err
	}
	for _, m := range parsed.Missing {
		missingContext = append(missingContext, m.Key)
	}
	for _, s := range all {
		raw, err := json.Marshal(assembly.GetStackArtifact(s.ArtifactId()).Template())
		if err != nil {
			return err
		}
		b := &built{stack: s}
		if err := json.Unmarshal(raw, &b.json); err != nil {
			return err
		}
		b.template = assertions.Template_FromString(jsii.String(string(raw)), nil)
		envs = append(envs, b)
	}
	return nil
}

// templateJSON turns a template from the cloud assembly into plain Go values.
func templateJSON(template any) (map[string]any, error) {
	raw, err := json.Marshal(template)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(raw, &out)
}

// addFixtureEnvironments appends test-only environments to cdk.json's: they exercise settings
// the shipped configuration leaves at defaults (HTTPS, restricted CIDRs, a desired capacity), and
// a pipeline section.
func addFixtureEnvironments(context map[string]any, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var fixture struct {
		Environments []any `json:"environments"`
		Pipeline     any   `json:"pipeline"`
	}
	if err := json.Unmarshal(data, &fixture); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	app, ok := context[config.ContextKey].(map[string]any)
	if !ok {
		return fmt.Errorf("cdk.json has no %q object", config.ContextKey)
	}
	envs, _ := app["environments"].([]any)
	app["environments"] = append(envs, fixture.Environments...)
	if fixture.Pipeline != nil {
		app["pipeline"] = fixture.Pipeline
	}
	return nil
}

// cdkContext reads the "context" object of cdk.json, as the CDK CLI hands it to `cdk synth`.
func cdkContext(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var file struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return file.Context, nil
}

// forEachEnv runs fn as a subtest per environment.
func forEachEnv(t *testing.T, fn func(t *testing.T, b *built)) {
	t.Helper()
	if len(envs) == 0 {
		t.Fatal("no environment was synthesized")
	}
	for _, b := range envs {
		t.Run(b.stack.Env.Name, func(t *testing.T) { fn(t, b) })
	}
}

// check runs a CDK assertion and turns its panic into a test error, so later checks still run.
func check(t *testing.T, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Error(r)
		}
	}()
	assertion()
}
