// Command rehearse rehearses a revision's lifecycle offline: the fleet a synthesized template
// describes (its Auto Scaling group's size and zones), as local instances in namespaces, each
// with a real web server, behind a real HAProxy configured from the template's target group,
// under steady load from vegeta. The fleet runs a baseline release; the revision rehearsed is
// the candidate, deployed over it through CodeDeploy's rollout, a failed release, scale-in and
// the controls that prove the rehearsal sees faults. Every request is counted.
//
//	rehearse [--revision DIR] [--baseline DIR] [--template FILE] [--instances N] [--scale X] [--rate N] [--out DIR] [--only a,b]
//
// It needs root and Debian's apache2 and haproxy. The binary is also the instances' stand-ins
// (systemctl, rpm, dnf, yum, aws), called by those names.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal"
	"github.com/example/codedeploy-fleet/rehearsal/sandbox"
	"github.com/example/codedeploy-fleet/rehearsal/scenario"
	"github.com/example/codedeploy-fleet/rehearsal/standin"
)

func main() {
	sandbox.RunRole()
	if name := filepath.Base(os.Args[0]); slices.Contains(standin.Commands, name) {
		os.Exit(standin.Instance().Run(name, os.Args[1:]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	scenario.Options
	only  string
	keep  bool
	check bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("rehearse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Revision, "revision", "assets", "the candidate: the revision directory rehearsed as the new release (its appspec.yml and files)")
	fs.StringVar(&o.Baseline, "baseline", "assets", "the revision the fleet runs before the candidate is deployed over it")
	fs.StringVar(&o.TemplateName, "template", "", "a synthesized stack template (default: the first fleet stack in cdk.out)")
	fs.IntVar(&o.Instances, "instances", 0, "instances in the fleet (default: the template's Auto Scaling group: desired capacity, else minimum)")
	fs.Float64Var(&o.Scale, "scale", 0, "the rehearsal's clock (load balancer, monitor durations, bake, alarms) runs this many times faster than the template's (default: 10, faster where the template's monitor durations and bake are long; at most 30)")
	fs.IntVar(&o.Rate, "rate", 50, "requests per second through the load balancer")
	fs.StringVar(&o.Out, "out", "rehearsal-report", "where the JSON report and the SVG timelines go")
	fs.StringVar(&o.Region, "region", "", "the region the metadata stand-in reports (default: the template's zones')")
	fs.BoolVar(&o.check, "check", false, "only check that this machine can rehearse (root, apache2, haproxy, ...)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (each instance's logs and deployment root) and print where it is")
	fs.StringVar(&o.only, "only", "", "comma-separated scenarios to run (default: all): "+strings.Join(names(), ", "))
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	if o.check {
		return o, nil
	}
	switch {
	case o.Instances < 0 || o.Instances > 20:
		return o, fmt.Errorf("--instances %d: use 1 to 20, or leave it out for the template's fleet", o.Instances)
	case o.Scale != 0 && (o.Scale < 1 || o.Scale > 100):
		return o, fmt.Errorf("--scale %g: use 1 (real time) to 100", o.Scale)
	case o.Rate < 1 || o.Rate > 500:
		return o, fmt.Errorf("--rate %d: use 1 to 500 requests per second", o.Rate)
	}
	if o.only != "" {
		for _, n := range strings.Split(o.only, ",") {
			if !slices.Contains(names(), n) {
				return o, fmt.Errorf("--only: no scenario %q (scenarios: %s)", n, strings.Join(names(), ", "))
			}
			o.Only = append(o.Only, n)
		}
	}
	// Validated as `make synth` and `fleetctl package` validate them, with the same messages,
	// before anything starts.
	for _, r := range []struct{ flag, dir string }{{"--revision", o.Revision}, {"--baseline", o.Baseline}} {
		if _, err := rehearsal.LoadRevision(r.dir); err != nil {
			return o, fmt.Errorf("%s %s: the revision is not valid:\n%w", r.flag, r.dir, err)
		}
	}
	// The revision stays as given (the report names it so); the director shares this directory.
	var err error
	if o.Out, err = filepath.Abs(o.Out); err != nil {
		return o, err
	}
	if o.TemplateName == "" {
		if o.TemplateName, err = findTemplate("cdk.out"); err != nil {
			return o, err
		}
	}
	if o.Template, err = os.ReadFile(o.TemplateName); err != nil {
		return o, fmt.Errorf("--template: %w", err)
	}
	t, err := rehearsal.FromTemplate(o.Template)
	if err != nil {
		return o, fmt.Errorf("--template %s: %w", o.TemplateName, err)
	}
	if o.Scale == 0 {
		o.Scale, o.ScaleWhy = scenario.AutoScale(t, o.Instances)
	}
	return o, nil
}

func parenthesized(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func names() []string {
	var out []string
	for _, s := range scenario.Scenarios {
		out = append(out, s.Name)
	}
	return out
}

// findTemplate is the first template in dir (by name) with one target group and one
// deployment group: an environment's stack, not the pipeline's.
func findTemplate(dir string) (string, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.template.json"))
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if _, err := rehearsal.FromTemplate(data); err == nil {
			return f, nil
		}
	}
	return "", fmt.Errorf("no fleet stack template in %s/: run `make synth` first, or pass --template FILE", dir)
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "rehearse: %v\n", err)
		return 2
	}
	if sandbox.IsDirector() {
		return direct(o, stdout, stderr)
	}
	if err := sandbox.Check(); err != nil {
		fmt.Fprintf(stderr, "rehearse: %v\n", err)
		return 2
	}
	if o.check {
		fmt.Fprintln(stdout, "rehearse: this machine can rehearse")
		return 0
	}
	work, err := sandbox.MakeWorkDir()
	if err != nil {
		fmt.Fprintf(stderr, "rehearse: %v\n", err)
		return 1
	}
	if o.keep {
		defer fmt.Fprintf(stdout, "Work directory kept: %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	if err := os.Setenv("REHEARSAL_WORK", work); err != nil {
		fmt.Fprintf(stderr, "rehearse: %v\n", err)
		return 1
	}
	status, err := sandbox.StartDirector(args)
	if err != nil {
		fmt.Fprintf(stderr, "rehearse: %v\n", err)
		return 1
	}
	return status
}

// direct is the director: it runs the scenarios in the rehearsal's namespace and writes the
// report. SIGTERM (the parent's answer to Ctrl-C) stops the scenario and cleans up.
func direct(o options, stdout, stderr io.Writer) int {
	o.Work = os.Getenv("REHEARSAL_WORK")
	if o.Work == "" {
		fmt.Fprintln(stderr, "rehearse: the director was started without a work directory")
		return 1
	}
	o.Progress = stdout
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// Every scenario is bounded; so is the whole.
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	fmt.Fprintf(stdout, "Rehearsing the candidate %s over the baseline %s with %s (clock x%g%s, %d req/s)\n", o.Revision, o.Baseline, o.TemplateName, o.Scale, parenthesized(o.ScaleWhy), o.Rate)
	rep, err := scenario.Run(ctx, o.Options)
	if rep != nil {
		if werr := write(rep, o.Out, stdout); werr != nil {
			fmt.Fprintf(stderr, "rehearse: writing the report: %v\n", werr)
		}
	}
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		fmt.Fprintln(stderr, "rehearse: the rehearsal did not finish within 15 minutes; the fleet is gone")
		return 1
	case err != nil && ctx.Err() != nil:
		fmt.Fprintln(stderr, "rehearse: interrupted; the fleet is gone")
		return 130
	case err != nil:
		fmt.Fprintf(stderr, "rehearse: %v\n", err)
		return 1
	case !rep.Passed:
		fmt.Fprintln(stderr, "rehearse: FAILED: a scenario did not show what it must (see above)")
		return 1
	}
	return 0
}

func write(rep *scenario.Report, out string, stdout io.Writer) error {
	fmt.Fprintf(stdout, "\n%s", rep.Table())
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	// The folder holds this run's report only: an earlier run's timelines (of scenarios this run
	// did not play) would read as this run's. Nothing else in it is touched.
	stale, _ := filepath.Glob(filepath.Join(out, "*.svg"))
	for _, f := range append(stale, filepath.Join(out, "rehearsal.json")) {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	jsonPath := filepath.Join(out, "rehearsal.json")
	if err := rep.WriteJSON(jsonPath); err != nil {
		return err
	}
	var svgs []string
	for _, s := range rep.Scenarios {
		p := filepath.Join(out, s.Name+".svg")
		if err := os.WriteFile(p, []byte(s.SVG(rep)), 0o644); err != nil {
			return err
		}
		svgs = append(svgs, p)
	}
	// Run with sudo, the report belongs to the user who asked for it.
	if uid, gid := os.Getenv("SUDO_UID"), os.Getenv("SUDO_GID"); uid != "" && gid != "" {
		u, errU := strconv.Atoi(uid)
		g, errG := strconv.Atoi(gid)
		if errU == nil && errG == nil {
			for _, p := range append([]string{out, jsonPath}, svgs...) {
				_ = os.Chown(p, u, g)
			}
		}
	}
	fmt.Fprintf(stdout, "\nReport: %s\nTimelines: %s\n", jsonPath, strings.Join(svgs, " "))
	return nil
}
