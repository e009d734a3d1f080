// Package test holds the assertion, snapshot and cdk-nag tests over the synthesized templates.
//
// Every CDK test lives in this one package so the suite starts one jsii runtime, and one app is
// built and synthesized once, in TestMain, with cdk.json's feature flags. It holds two
// configurations side by side:
//   - the user's: the environments in cdk.json, whatever they are. Tests check over them only
//     what must hold for any environment (forEachEnv), plus their snapshots, which
//     `make update-snapshots` rewrites;
//   - the fixture's (testdata/fixture.json, application "Fixture"): a copy of the shipped
//     environments (their snapshots are what `make rehearse` rehearses in CI, whatever cdk.json
//     holds), an environment with every setting away from its default (tls), the "Adding an
//     environment" example of docs/configuration.md, added as a user would add it, and a pipeline that
//     deploys those two. Tests of specific behaviour use these (forEachFixture), so they never
//     depend on what a user keeps in cdk.json.
package test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/example/codedeploy-fleet/config"
	"github.com/example/codedeploy-fleet/stacks"
)

var update = flag.Bool("update", false, "rewrite the golden templates in testdata/")

// fixtureTLS names the fixture's environment with every setting away from its default.
const fixtureTLS = "tls"

// built is one synthesized environment, shared by every test.
type built struct {
	stack *stacks.EnvironmentStack
	// cfg is the configuration the environment comes from: the user's or the fixture's.
	cfg *config.Config
	// user: from cdk.json. fixture: from testdata/fixture.json (a copy of a shipped environment,
	// tls or the documented example). stage: one of the fixture pipeline's stages.
	user, fixture, stage bool
	json                 map[string]any // the template as plain Go values, for checks that need no jsii call
	// messages are the warnings and errors synthesis attached to the stack's constructs.
	messages []message
}

// message is a warning or error annotation, as the cloud assembly records it.
type message struct {
	path, level, text string
}

var (
	userConfig *config.Config
	// fixtureConfig is the fixture's pipeline and the environments it deploys: the fixture's own
	// (tls and the documented example), whatever the user keeps in cdk.json.
	fixtureConfig *config.Config
	envs          []*built
	// pipeline is the fixture's pipeline stack; pipelineJSON its template and pipelineMessages
	// its annotations. The fixture's own environments (tls, the documented example) are its stages'
	// stacks.
	pipeline         *stacks.PipelineStack
	pipelineJSON     map[string]any
	pipelineMessages []message
	// standalone is the fixture environment also built as a stack of its own (what `cdk deploy`
	// deploys): its name, its template and its annotations.
	standalone struct {
		env      string
		json     map[string]any
		messages []message
	}
	// exampleEnvironment is the name of the documented example environment in the fixture.
	exampleEnvironment string
	// missingContext lists the context lookups synthesis asked for; there must be none.
	missingContext []string
	// assemblyDir is the cloud assembly's directory, removed after the tests.
	assemblyDir string
	// featureFlags is cdk.json's context without the application section.
	featureFlags map[string]any
)

func TestMain(m *testing.M) {
	if os.Getenv(asApp) != "" {
		os.Exit(stacks.Main(stacks.AtRepositoryRoot))
	}
	flag.Parse()
	code := func() int {
		if err := buildApp(); err != nil {
			fmt.Fprintln(os.Stderr, "building the app:", err)
			return 1
		}
		return m.Run()
	}()
	// The cloud assembly (4 MiB) and the app's run directory would otherwise pile up in the
	// temporary directory, one of each per run. A failed run keeps the assembly to look into, if
	// synthesis got as far as writing one.
	if entries, _ := os.ReadDir(assemblyDir); code != 0 && len(entries) > 0 {
		fmt.Fprintln(os.Stderr, "the synthesized cloud assembly is kept in", assemblyDir)
	} else if assemblyDir != "" {
		os.RemoveAll(assemblyDir)
	}
	if appRun != nil {
		os.RemoveAll(appRun().root)
	}
	jsii.Close()
	os.Exit(code)
}

// buildApp synthesizes the user's and the fixture's environments once, with the AwsSolutions
// checks on.
func buildApp() error {
	context, err := cdkContext("../cdk.json")
	if err != nil {
		return err
	}
	featureFlags = map[string]any{}
	for k, v := range context {
		if k != config.ContextKey {
			featureFlags[k] = v
		}
	}
	startAppBinary()
	fixtureSection, err := fixtureApplication("testdata/fixture.json", "../docs/configuration.md")
	if err != nil {
		return err
	}
	if assemblyDir, err = os.MkdirTemp("", "cdk-test-"); err != nil {
		return err
	}
	// With this flag, `cdk synth` fails on any error annotation (a cdk-nag finding, say), which is
	// what users get. Here it would abort the suite inside TestMain; off, the findings stay in the
	// assembly and TestNag reports each one. It changes reporting only, not the templates.
	context["@aws-cdk/core:annotationsInValidationReport"] = false
	// No bundling: the handler's Go build is tested on its own (constructs/delivery), and
	// building it here would cost every test run a cross-compile.
	context["aws:cdk:bundling-stacks"] = []any{}
	app := awscdk.NewApp(&awscdk.AppProps{
		Context: &context,
		Outdir:  jsii.String(assemblyDir),
		// `make synth` validates the templates; here it would cost seconds on every run.
		BuiltinCloudFormationValidation: jsii.Bool(false),
	})
	if userConfig, err = stacks.LoadConfig(app); err != nil {
		return err
	}
	// The whole fixture must be a valid configuration: the documented example added beside the
	// shipped environments.
	fullFixture, err := config.Parse(fixtureSection)
	if err != nil {
		return fmt.Errorf("testdata/fixture.json with the documented example: %w", err)
	}
	// Both build stacks in one app, named after their application.
	if userConfig.Name == fullFixture.Name {
		return fmt.Errorf("../cdk.json: the application's name %q is the test fixture's (testdata/fixture.json): name it anything else", userConfig.Name)
	}
	// The pipeline deploys the fixture's own environments, so neither it nor its snapshot depends
	// on cdk.json. The copies of the shipped environments are built as stacks of their own,
	// always: their snapshots are the templates CI rehearses (make rehearse), whatever cdk.json
	// holds.
	fixtureConfig = &config.Config{Name: fullFixture.Name, Pipeline: fullFixture.Pipeline}
	copies := &config.Config{Name: fullFixture.Name}
	for _, env := range fullFixture.Environments {
		if env.Name == fixtureTLS || env.Name == exampleEnvironment {
			fixtureConfig.Environments = append(fixtureConfig.Environments, env)
		} else {
			copies.Environments = append(copies.Environments, env)
		}
	}
	nag := cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{})
	opts := stacks.Options{RevisionDir: "../assets", ModuleRoot: "..", Aspects: []awscdk.IAspect{nag}}
	user, err := stacks.Build(app, userConfig, opts)
	if err != nil {
		return err
	}
	var shippedCopies []*stacks.EnvironmentStack
	for _, env := range copies.Environments {
		shippedCopies = append(shippedCopies, stacks.NewEnvironmentStack(app, copies.StackName(env), copies.Name, env, opts))
	}
	// The fixture's own environments are built once each, as the stages of its pipeline; only the
	// last (the documented example) is also built as a stack of its own, which is what `cdk deploy`
	// deploys, so TestPipelineDeploysTheSameTemplates can compare the two. Every stack costs the
	// suite most of a second.
	var direct *stacks.EnvironmentStack
	if n := len(fixtureConfig.Environments); n > 0 {
		last := fixtureConfig.Environments[n-1]
		// Without cdk-nag: TestPipelineDeploysTheSameTemplates proves its template is the checked
		// stage's own.
		plain := opts
		plain.Aspects = nil
		direct = stacks.NewEnvironmentStack(app, fixtureConfig.StackName(last), fixtureConfig.Name, last, plain)
	}
	if fixtureConfig.Pipeline != nil {
		pipeline = stacks.NewPipelineStack(app, fixtureConfig, opts)
		awscdk.Aspects_Of(pipeline.Stack).Add(nag, nil)
	}
	// One synthesis for every test; the templates and messages come from its cloud assembly, read
	// from the files `cdk deploy` reads. (Through jsii, each template would cross two pipes as
	// JSON and be decoded twice.)
	root, err := readManifest(*app.Synth(nil).Directory())
	if err != nil {
		return err
	}
	missingContext = root.missing
	add := func(s *stacks.EnvironmentStack, cfg *config.Config, isUser, isStage bool, m manifest) error {
		id := *s.ArtifactId()
		b := &built{stack: s, cfg: cfg, user: isUser, fixture: !isUser, stage: isStage, messages: m.messages[id]}
		var err error
		b.json, err = m.template(id)
		envs = append(envs, b)
		return err
	}
	for _, s := range user.Environments {
		if err := add(s, userConfig, true, false, root); err != nil {
			return err
		}
	}
	for _, s := range shippedCopies {
		if err := add(s, copies, false, false, root); err != nil {
			return err
		}
	}
	if direct != nil {
		standalone.env = direct.Env.Name
		if standalone.json, err = root.template(*direct.ArtifactId()); err != nil {
			return err
		}
		standalone.messages = root.messages[*direct.ArtifactId()]
	}
	if pipeline != nil {
		if pipelineJSON, err = root.template(*pipeline.ArtifactId()); err != nil {
			return err
		}
		pipelineMessages = root.messages[*pipeline.ArtifactId()]
		for _, stage := range pipeline.Stages {
			nested, err := root.stage(*stage.ArtifactId())
			if err != nil {
				return err
			}
			if err := add(stage.Environment, fixtureConfig, false, true, nested); err != nil {
				return err
			}
		}
	}
	return nil
}

type entry struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

type manifest struct {
	dir      string
	missing  []string
	messages map[string][]message // by artifact ID
	// templates are the stack artifacts' template files in dir, and nested the stage artifacts'
	// assembly folders, by artifact ID.
	templates, nested map[string]string
}

// readManifest reads an assembly's manifest.json: its context lookups, its annotations (the
// messages `cdk synth` prints, without synthesizing again as assertions.Annotations would) and
// where its templates and nested assemblies are.
func readManifest(dir string) (manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return manifest{}, err
	}
	var parsed struct {
		Missing []struct {
			Key string `json:"key"`
		} `json:"missing"`
		Artifacts map[string]struct {
			Properties struct {
				TemplateFile  string `json:"templateFile"`
				DirectoryName string `json:"directoryName"`
			} `json:"properties"`
			Metadata               map[string][]entry `json:"metadata"`
			AdditionalMetadataFile string             `json:"additionalMetadataFile"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(data, &parsed); err != nil {
		return manifest{}, err
	}
	m := manifest{dir: dir, messages: map[string][]message{}, templates: map[string]string{}, nested: map[string]string{}}
	for _, missing := range parsed.Missing {
		m.missing = append(m.missing, missing.Key)
	}
	for id, artifact := range parsed.Artifacts {
		if f := artifact.Properties.TemplateFile; f != "" {
			m.templates[id] = f
		}
		if d := artifact.Properties.DirectoryName; d != "" {
			m.nested[id] = d
		}
		metadata := artifact.Metadata
		if f := artifact.AdditionalMetadataFile; f != "" {
			// Newer assemblies keep a stack's metadata in a file of its own.
			more := map[string][]entry{}
			data, err := os.ReadFile(filepath.Join(dir, f))
			if err == nil {
				err = json.Unmarshal(data, &more)
			}
			if err != nil {
				return manifest{}, fmt.Errorf("%s: %w", f, err)
			}
			if metadata == nil {
				metadata = map[string][]entry{}
			}
			for path, entries := range more {
				metadata[path] = append(metadata[path], entries...)
			}
		}
		for path, entries := range metadata {
			for _, e := range entries {
				if level, ok := strings.CutPrefix(e.Type, "aws:cdk:"); ok && (level == "warning" || level == "error") {
					m.messages[id] = append(m.messages[id], message{path: path, level: level, text: fmt.Sprint(e.Data)})
				}
			}
		}
	}
	return m, nil
}

// template is the template of the stack artifact id, as plain Go values.
func (m manifest) template(id string) (map[string]any, error) {
	file, ok := m.templates[id]
	if !ok {
		return nil, fmt.Errorf("the assembly in %s has no template for %s", m.dir, id)
	}
	data, err := os.ReadFile(filepath.Join(m.dir, file))
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(data, &out)
}

// stage reads the nested assembly of the stage artifact id.
func (m manifest) stage(id string) (manifest, error) {
	dir, ok := m.nested[id]
	if !ok {
		return manifest{}, fmt.Errorf("the assembly in %s has no nested assembly %s", m.dir, id)
	}
	return readManifest(filepath.Join(m.dir, dir))
}

// find returns the messages of level whose text matches pattern.
func find(messages []message, level, pattern string) []message {
	re := regexp.MustCompile(pattern)
	var out []message
	for _, m := range messages {
		if m.level == level && re.MatchString(m.text) {
			out = append(out, m)
		}
	}
	return out
}

// fixtureApplication is the fixture's application section with the documented example environment
// appended, as "Adding an environment" tells a user to do.
func fixtureApplication(fixturePath, docPath string) ([]byte, error) {
	data, err := os.ReadFile(fixturePath)
	if err != nil {
		return nil, err
	}
	var section map[string]any
	if err := json.Unmarshal(data, &section); err != nil {
		return nil, fmt.Errorf("%s: %w", fixturePath, err)
	}
	example, err := documentedExample(docPath)
	if err != nil {
		return nil, err
	}
	exampleEnvironment, _ = example["name"].(string)
	environments, _ := section["environments"].([]any)
	section["environments"] = append(environments, example)
	return json.Marshal(section)
}

// documentedExample is the environment in the first JSON block under "### Adding an environment".
func documentedExample(path string) (map[string]any, error) {
	readme, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	_, after, ok := strings.Cut(string(readme), "### Adding an environment")
	if !ok {
		return nil, fmt.Errorf("%s has no \"### Adding an environment\" section", path)
	}
	_, block, ok := strings.Cut(after, "```json\n")
	if !ok {
		return nil, fmt.Errorf("%s: \"Adding an environment\" has no JSON example", path)
	}
	block, _, _ = strings.Cut(block, "```")
	var env map[string]any
	if err := json.Unmarshal([]byte(block), &env); err != nil {
		return nil, fmt.Errorf("%s: the \"Adding an environment\" example is not a JSON object: %w", path, err)
	}
	return env, nil
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

// forEachEnv runs fn as a subtest per environment, the user's and the fixture's: for what must
// hold for any environment.
func forEachEnv(t *testing.T, fn func(t *testing.T, b *built)) {
	t.Helper()
	forEach(t, func(*built) bool { return true }, fn)
}

// forEachFixture runs fn as a subtest per fixture environment: for behaviour that depends on
// configured values.
func forEachFixture(t *testing.T, fn func(t *testing.T, b *built)) {
	t.Helper()
	forEach(t, func(b *built) bool { return b.fixture }, fn)
}

// forEachStage runs fn as a subtest per environment the fixture's pipeline deploys.
func forEachStage(t *testing.T, fn func(t *testing.T, b *built)) {
	t.Helper()
	forEach(t, func(b *built) bool { return b.stage }, fn)
}

func forEach(t *testing.T, include func(*built) bool, fn func(t *testing.T, b *built)) {
	t.Helper()
	n := 0
	for _, b := range envs {
		if include(b) {
			n++
			t.Run(*b.stack.StackName(), func(t *testing.T) { fn(t, b) })
		}
	}
	if n == 0 {
		t.Fatal("no environment was synthesized")
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
