// Command fleetctl is the operators' tool for a deployed environment: package a revision,
// deploy it and follow the rollout, test graceful termination on scale-in, and fetch an
// instance's CodeDeploy logs. It reads names from the stack's outputs and calls the AWS CLI.
//
// Run it through scripts/fleetctl from the repository root.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/example/codedeploy-fleet/config"
)

const usage = `Usage: scripts/fleetctl COMMAND [flags]

Commands:
  package        package a revision directory into a deterministic zip
  deploy         upload a revision, deploy it to an environment and follow it to the end
  scale-in-test  lower the fleet by one instance and follow its graceful termination
  logs           print an instance's CodeDeploy agent log and latest hook script log (SSM)

Every command but package takes --env NAME (an environment in cdk.json) and --dry-run
(print the calls that would change something; read-only calls still run).
Run 'scripts/fleetctl COMMAND --help' for a command's flags.
`

// clock is replaced in tests.
var (
	now   = time.Now
	sleep = time.Sleep
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run executes one command and returns the process exit code: 0 success, 1 failure of the
// operation (a failed or stopped deployment, say), 2 bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	commands := map[string]func([]string, io.Writer) error{
		"package": packageCmd, "deploy": deployCmd, "scale-in-test": scaleInCmd, "logs": logsCmd,
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "fleetctl: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	err := cmd(args[1:], stdout)
	var u usageError
	switch {
	case err == nil, errors.Is(err, errDryRun), errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "fleetctl %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "fleetctl %s: %v\n", args[0], err)
		return 1
	}
}

// usageError is bad input: exit code 2, and nothing was changed.
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// flags makes a flag set that reports errors instead of exiting.
func flags(name, summary string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: scripts/fleetctl %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// target is an environment and the names its stack published.
type target struct {
	env     config.Environment
	stack   string
	aws     *awsCLI
	outputs map[string]string
}

// envFlags adds --env, --config and --dry-run.
type envFlags struct {
	env, configPath *string
	dryRun          *bool
}

func addEnvFlags(fs *flag.FlagSet) envFlags {
	return envFlags{
		env:        fs.String("env", "", "environment name in cdk.json (required)"),
		configPath: fs.String("config", "cdk.json", "the CDK app's cdk.json"),
		dryRun:     fs.Bool("dry-run", false, "print the AWS calls that would change something instead of making them"),
	}
}

// environment finds --env in cdk.json; it makes no AWS call, so bad input fails before any.
func (f envFlags) environment() (config.Environment, string, error) {
	if *f.env == "" {
		return config.Environment{}, "", usagef("--env is required (an environment name from %s)", *f.configPath)
	}
	cfg, err := loadConfig(*f.configPath)
	if err != nil {
		return config.Environment{}, "", usageError{err}
	}
	one, err := cfg.Select(*f.env)
	if err != nil {
		return config.Environment{}, "", usageError{fmt.Errorf("--env %s: %w (in %s)", *f.env, err, *f.configPath)}
	}
	return one.Environments[0], cfg.StackName(one.Environments[0]), nil
}

// resolve finds the environment in cdk.json and reads its stack outputs.
func (f envFlags) resolve(out io.Writer, needed ...string) (*target, error) {
	env, stack, err := f.environment()
	if err != nil {
		return nil, err
	}
	t := &target{env: env, stack: stack, outputs: map[string]string{},
		aws: &awsCLI{region: env.Region, dryRun: *f.dryRun, out: out, sleep: sleep, retries: 5}}
	var described struct {
		Stacks []struct {
			Outputs []struct{ OutputKey, OutputValue string }
		}
	}
	if err := t.aws.read(&described, "cloudformation", "describe-stacks", "--stack-name", t.stack); err != nil {
		return nil, fmt.Errorf("reading the outputs of stack %s (deployed? right account?): %w", t.stack, err)
	}
	if len(described.Stacks) == 1 {
		for _, o := range described.Stacks[0].Outputs {
			t.outputs[o.OutputKey] = o.OutputValue
		}
	}
	for _, key := range needed {
		if t.outputs[key] == "" {
			return nil, fmt.Errorf("stack %s has no output %s: deploy the current version of the stack first", t.stack, key)
		}
	}
	return t, nil
}

// loadConfig reads the application section of cdk.json through the same validation as synthesis.
func loadConfig(path string) (*config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%v (run from the repository root, or pass --config)", err)
	}
	section, err := config.ApplicationSection(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg, err := config.Parse(section)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
