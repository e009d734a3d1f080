// Package stacks composes the constructs into one stack per configured environment.
package stacks

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/example/codedeploy-fleet/appspec"
	"github.com/example/codedeploy-fleet/config"
)

// LoadConfig reads the application section from the app's context (cdk.json, or -c on the
// command line), validates it and narrows it to the environment named by `-c env=NAME`, if any.
func LoadConfig(app awscdk.App) (*config.Config, error) {
	section := app.Node().TryGetContext(jsii.String(config.ContextKey))
	if section == nil {
		return nil, fmt.Errorf("cdk.json: context key %q is missing; add the application section described in the README", config.ContextKey)
	}
	data, err := json.Marshal(section)
	if err != nil {
		return nil, fmt.Errorf("cdk.json: context key %q: %w", config.ContextKey, err)
	}
	cfg, err := config.Parse(data)
	if err != nil {
		return nil, err
	}
	selected := ""
	if v := app.Node().TryGetContext(jsii.String(config.EnvContextKey)); v != nil {
		name, ok := v.(string)
		if !ok || name == "" {
			// An empty -c env= is a mistake (an unset shell variable, say), not a request for
			// every environment: that is what leaving -c env out means.
			var known []string
			for _, env := range cfg.Environments {
				known = append(known, env.Name)
			}
			return nil, fmt.Errorf("-c %s=%v: not an environment name; use -c %s=NAME with one of %s, or leave -c %s out for every environment",
				config.EnvContextKey, v, config.EnvContextKey, strings.Join(known, ", "), config.EnvContextKey)
		}
		selected = name
	}
	one, err := cfg.Select(selected)
	if err != nil {
		return nil, fmt.Errorf("-c %s=%s: %w", config.EnvContextKey, selected, err)
	}
	return one, nil
}

// AtRepositoryRoot are the options of `cdk synth`, which runs the app at the repository root.
var AtRepositoryRoot = Options{RevisionDir: "assets", ModuleRoot: "."}

// Main is the app's main: it runs the app with opts, shuts jsii down and returns the exit status,
// with the error, if any, on stderr as one message a user can act on (never a stack trace).
func Main(opts Options) int {
	err := run(opts)
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}

// run is the app: it validates the revision, reads the configuration from the context `cdk synth`
// passes, builds every selected stack and synthesizes them. A bad revision or configuration is
// an error before anything is written. The revision needs no configuration, so it comes first:
// a broken hook script fails in a fraction of a second, before jsii starts Node.js and loads the
// CDK (about a second).
func run(opts Options) error {
	spec, err := validateRevision(opts.RevisionDir)
	if err != nil {
		return err
	}
	app := awscdk.NewApp(nil)
	cfg, err := LoadConfig(app)
	if err != nil {
		return err
	}
	built := build(app, cfg, opts, spec)
	for _, w := range built.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	app.Synth(nil)
	return nil
}

// Options are what Build needs besides the configuration.
type Options struct {
	// RevisionDir is the application revision (appspec.yml at its root). Relative paths are
	// relative to the working directory: "assets" for `cdk synth` at the repository root.
	RevisionDir string
	// ModuleRoot is the Go module's root, where the deployment handler is built: "." for
	// `cdk synth`, ".." for the tests in test/.
	ModuleRoot string
	// Aspects are added to every environment's stack, a pipeline stage's included: an aspect
	// added to the app stops at a Stage (CDK synthesizes a nested stage with its own aspects), and
	// CDK Pipelines synthesizes each stage as soon as it is added. The tests add cdk-nag here.
	Aspects []awscdk.IAspect
}

// Built is everything Build defined.
type Built struct {
	// Environments, one stack each, in cfg's order: what `cdk deploy <App>-<env>` deploys.
	Environments []*EnvironmentStack
	// Pipeline is nil unless the configuration has a pipeline section.
	Pipeline *PipelineStack
	// Warnings are what the revision's validation could not check.
	Warnings []string
}

// Build validates the revision, then defines one EnvironmentStack per environment in cfg, in
// cfg's order, and the pipeline when configured. A bad revision is an error before any stack
// exists, so nothing is synthesized.
func Build(app awscdk.App, cfg *config.Config, opts Options) (*Built, error) {
	spec, err := validateRevision(opts.RevisionDir)
	if err != nil {
		return nil, err
	}
	return build(app, cfg, opts, spec), nil
}

func validateRevision(dir string) (*appspec.AppSpec, error) {
	spec, err := appspec.Validate(dir, appspec.Shipped)
	if err != nil {
		return nil, fmt.Errorf("the application revision is not valid:\n%w", err)
	}
	return spec, nil
}

// build defines the stacks of a validated revision.
func build(app awscdk.App, cfg *config.Config, opts Options, spec *appspec.AppSpec) *Built {
	b := &Built{Warnings: spec.Warnings}
	for _, env := range cfg.Environments {
		b.Environments = append(b.Environments, NewEnvironmentStack(app, cfg.StackName(env), cfg.Name, env, opts))
	}
	if cfg.Pipeline != nil {
		b.Pipeline = NewPipelineStack(app, cfg, opts)
	}
	return b
}
