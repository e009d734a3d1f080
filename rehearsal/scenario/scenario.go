// Package scenario is the rehearsal: it starts a fleet in namespaces (package sandbox) behind
// HAProxy, sends steady load through it, plays CodeDeploy's deployments and Auto Scaling's
// scale-in on it (package rehearsal), and reports what every request saw.
//
// The fleet is the one the template describes (its Auto Scaling group's size and zones), and it
// runs a baseline (the release in service) when each story begins; the candidate, the revision
// under rehearsal, is the new release the stories deploy over it.
package scenario

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal"
	"github.com/example/codedeploy-fleet/rehearsal/sandbox"
)

// Options are a rehearsal's settings.
type Options struct {
	// Revision is the candidate: the revision directory rehearsed as the new release.
	Revision string
	// Baseline is the revision directory the fleet runs before the candidate (assets/ by
	// default).
	Baseline string
	// Template is the synthesized template the fleet, the target group and the deployment group
	// come from, and TemplateName where it was read.
	Template     []byte
	TemplateName string
	// Instances overrides the fleet's size; 0 takes it from the template's Auto Scaling group
	// (its desired capacity, else its minimum).
	Instances int
	// Scale divides the template's durations: the load balancer's (health check, deregistration
	// delay), the monitor durations, the bake, and the alarms' periods and delay. ScaleWhy says
	// why it is not the default (AutoScale).
	Scale    float64
	ScaleWhy string
	// Rate is the steady load, requests per second; half as much (at least 2/s) goes to the
	// slow probe besides.
	Rate int
	// Work is a scratch directory; Out receives the report.
	Work, Out string
	// Region is the one the metadata service reports; "" takes it from the template's zones.
	Region string
	// Only limits the rehearsal to these scenarios (all when empty).
	Only     []string
	Progress io.Writer
}

// Scenario is one rehearsed story and what it must show.
type Scenario struct {
	Name, Title string
	// Control scenarios prove that the rehearsal sees a fault: they pass when it shows. A graceful
	// scenario (not a control) fails on one dropped request.
	Control bool
	// MustDrop: a control whose fault shows as failed requests; it fails without any.
	MustDrop bool
	// BadRelease: the story deploys the bad release, whose errors are what it shows: they are
	// counted as its blast radius, not as dropped requests.
	BadRelease bool
	// Expect says, for the report, what passing means.
	Expect string
	// Initial are the versions deployed, in order, to every instance before the load starts:
	// the fleet as the story finds it.
	Initial []string
	// ScaleIn: the story scales the fleet in, so it starts one instance larger than the group,
	// as after a scale-out, where the group's maximum allows.
	ScaleIn bool
	// Template, when set, is the scenario's template, made from the one under rehearsal.
	Template func([]byte) ([]byte, error)
	// Applies, when set, says why the story does not apply to a fleet of n instances ("" when
	// it does): such a scenario is not played, and fails nothing.
	Applies func(n int) string
	play    func(*run)
	// check, when set, judges the load further (a control's cause).
	check func(*run)
}

// Scenarios are the rehearsal's scenarios, in the order they run.
var Scenarios = []Scenario{
	{Name: "rollout", Title: "v1 (the baseline) to v2 (the candidate), with the deployment group's configuration",
		Initial: []string{baseline}, play: playRollout,
		Expect: "no failed request; the deployment succeeds; every instance serves v2"},
	{Name: "failed-release", Title: "v2 with a ValidateService failure before the last instance, over v1",
		Initial: []string{baseline}, play: playFailedRelease,
		Expect: "no failed request; the deployment fails at that instance and rolls back to v1"},
	{Name: "last-instance", Title: "v2 with a ValidateService failure on the last instance, over v1",
		Initial: []string{baseline}, play: playLastInstance, Applies: beforeTheLast,
		Expect: "no failed request; reported as a failure although CodeDeploy calls it a success"},
	{Name: "bad-release", Title: "v2-bad over v1: passes ValidateService and the health check, answers 1 in 5 with a 500",
		Initial: []string{baseline}, BadRelease: true, play: playBadRelease, check: checkBadRelease,
		Expect: "stopped by a gating alarm in its first zone and rolled back (zonal), or restored by the bake (not zonal); no dropped request"},
	{Name: "control-unwatched", Title: "control: the same bad release, on a copy of the template with the alarms detached, no monitor duration and no bake",
		Initial: []string{baseline}, BadRelease: true, Control: true, Template: rehearsal.Unwatched, play: playUnwatched, check: checkUnwatched,
		Expect: "the bad release reaches every instance and stays: what a fleet without the safety net does"},
	{Name: "scale-in", Title: "one instance of v2 scaled in under load, with the template's termination hook",
		Initial: []string{baseline, candidate}, ScaleIn: true, play: playScaleIn,
		Expect: "no failed request; ApplicationStop runs to completion before the instance ends"},
	{Name: "control-short-drain", Title: "control: the same scale-in, deregistration delay shorter than a slow request",
		Initial: []string{baseline, candidate}, ScaleIn: true, Control: true, MustDrop: true, play: playShortDrain, check: checkShortDrain,
		Expect: "failed requests, and only the slow ones in flight on the draining instance, cut when the delay ends"},
	{Name: "control-early-stop", Title: "control: v1's BeforeBlockTraffic hook stops httpd while it takes traffic, then v2 deploys",
		Initial: []string{stopEarly}, Control: true, MustDrop: true, play: playEarlyStop,
		Expect: "failed requests: the instance refuses requests it is still sent"},
	{Name: "control-no-hook", Title: "control: the same scale-in, on a copy of the template with the termination hook off",
		Initial: []string{baseline, candidate}, ScaleIn: true, Control: true, Template: rehearsal.WithoutTerminationHook, play: playNoHook,
		Expect: "ApplicationStop never runs on the terminated instance"},
}

// run is one scenario being played.
type run struct {
	*session
	ctx context.Context
	sc  Scenario
	rep *ScenarioReport
	// tg and dep are the scenario's template's.
	tg      rehearsal.TargetGroup
	dep     rehearsal.Deployment
	fleet   *rehearsal.Fleet
	members []*sandbox.Instance
	lb      *sandbox.Balancer
	t0      time.Time
	// alarms evaluates the template's alarms over the scenario's requests.
	alarms *watching
	// release is the version the story's user deployment ships; reached are the instances where
	// its Install succeeded, and restoredAt when a later deployment put each back in service
	// with another version.
	release    string
	reached    map[string]bool
	restoredAt map[string]time.Time
	// story is the bad release's outcome, for its verdict.
	story *badStory
	// httpdAtEnd: httpd was still running when the last scaled-in instance was terminated.
	httpdAtEnd bool
	// drain is the last scale-in's deregistration, for the short-drain control's check.
	drain struct {
		instance   string
		delay      time.Duration
		start, end time.Time
	}
	mu sync.Mutex
}

// Run runs the scenarios and returns the report; the error is for what kept the rehearsal
// from running, or ctx's when it was interrupted (a scenario that fails its expectation is in
// the report, not an error).
func Run(ctx context.Context, opts Options) (*Report, error) {
	r, err := newSession(opts)
	if err != nil {
		return nil, err
	}
	defer r.net.Close()
	rep := r.report
	for _, sc := range Scenarios {
		if len(opts.Only) > 0 && !slices.Contains(opts.Only, sc.Name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			break
		}
		r.progress("\n== %s: %s\n", sc.Name, sc.Title)
		sr := r.play(ctx, sc)
		rep.Scenarios = append(rep.Scenarios, sr)
		var verdict string
		switch {
		case sr.Interrupted:
			verdict = "INTERRUPTED"
		case sr.NotApplicable:
			verdict = "DOES NOT APPLY: " + sr.NotPlayed
		case sr.NotPlayed != "":
			verdict = "NOT PLAYED: " + sr.NotPlayed
		case !sr.Passed:
			verdict = "FAIL: " + strings.Join(sr.Problems, "; ")
		default:
			verdict = "PASS"
		}
		r.progress("   %s  (%d requests, %d failed%s, %.1f s)\n", verdict, sr.Load.Requests, sr.Load.Failed, sr.Load.failedWhere(), sr.WallSeconds)
	}
	rep.Passed = len(rep.Scenarios) > 0
	for _, s := range rep.Scenarios {
		rep.Passed = rep.Passed && s.Passed
	}
	rep.Interrupted = errors.Is(ctx.Err(), context.Canceled)
	return rep, ctx.Err()
}

func deploymentID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "d-" + string(b)
}

// play runs one scenario on a fleet of its own, and always ends that fleet.
func (r *session) play(ctx context.Context, sc Scenario) *ScenarioReport {
	rep := &ScenarioReport{Name: sc.Name, Title: sc.Title, Control: sc.Control, Expect: sc.Expect, Template: r.opts.TemplateName}
	p := &run{session: r, ctx: ctx, sc: sc, rep: rep, reached: map[string]bool{}, restoredAt: map[string]time.Time{}}
	start := time.Now()
	defer func() {
		rep.WallSeconds = time.Since(start).Seconds()
		p.teardown()
		// Ctrl-C interrupts the scenario; the rehearsal's own time limit fails it.
		rep.Interrupted = errors.Is(ctx.Err(), context.Canceled)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			rep.Problems = append(rep.Problems, "the rehearsal's time limit ended it")
		}
		rep.Passed = len(rep.Problems) == 0 && (rep.NotPlayed == "" || rep.NotApplicable) && !rep.Interrupted
	}()
	if r.broken != "" {
		rep.NotPlayed = r.broken
		return rep
	}
	if sc.Applies != nil {
		if why := sc.Applies(p.fleetSize()); why != "" {
			rep.NotPlayed, rep.NotApplicable = why, true
			return rep
		}
	}
	t, name, err := r.scenarioTemplate(sc)
	if err != nil {
		rep.Problems = append(rep.Problems, "the scenario's template: "+err.Error())
		return rep
	}
	p.tg, p.dep, rep.Template = t.TargetGroup, t.Deployment, name
	if err := p.up(ctx); err != nil {
		if ctx.Err() == nil {
			rep.Problems = append(rep.Problems, "the fleet did not come up: "+err.Error())
		}
		return rep
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	p.t0 = time.Now()
	waitWatching := p.startWatching(loadCtx)
	loads := r.loads(p.listen())
	if p.alarms != nil {
		for i := range loads {
			loads[i].OnSample = p.alarms.record
		}
	}
	samples := make(chan []rehearsal.Sample, len(loads))
	var loadErr error
	var loadMu sync.Mutex
	for _, l := range loads {
		go func() {
			s, err := l.Run(loadCtx)
			if err != nil {
				loadMu.Lock()
				loadErr = err
				loadMu.Unlock()
			}
			samples <- s
		}()
	}
	// The load settles before the story starts; after it, the load goes on long enough for a
	// fault that comes soon after the last event to be counted (settleAfter).
	sleep(ctx, r.settle)
	func() {
		defer func() {
			if v := recover(); v != nil {
				if f, ok := v.(failure); ok {
					rep.Problems = append(rep.Problems, string(f))
					return
				}
				panic(v)
			}
		}()
		sc.play(p)
	}()
	sleep(ctx, r.after)
	stopLoad()
	waitWatching()
	var all []rehearsal.Sample
	for range loads {
		all = append(all, <-samples...)
	}
	if loadErr != nil {
		rep.Problems = append(rep.Problems, "the load: "+loadErr.Error())
	}
	rep.addLoad(all, p.t0)
	rep.BlastRadius = p.blastRadius()
	if ctx.Err() == nil {
		p.judge()
	}
	return rep
}

// failure ends a scenario's story early with a problem.
type failure string

func (p *run) fatalf(format string, a ...any) { panic(failure(fmt.Sprintf(format, a...))) }

func (p *run) problemf(format string, a ...any) {
	p.rep.Problems = append(p.rep.Problems, fmt.Sprintf(format, a...))
}

func (p *run) notef(format string, a ...any) {
	note := fmt.Sprintf(format, a...)
	p.rep.Notes = append(p.rep.Notes, note)
	p.progress("   %s\n", note)
}

// judge applies the scenario kind's rule on the load: a graceful scenario drops nothing, and
// its release answers no error unless the story deploys the bad release; a control that must
// drop requests drops some, and a control with a check proves their cause.
func (p *run) judge() {
	dropped := p.rep.Load.failures(func(r Request) bool { return !r.FromTarget })
	answered := p.rep.Load.failures(func(r Request) bool { return r.FromTarget })
	switch {
	case !p.sc.Control && len(dropped) > 0:
		p.problemf("%d of %d requests were dropped: %s", count(dropped), p.rep.Load.Requests, strings.Join(first(dropped, 4), ", "))
	case !p.sc.Control && !p.sc.BadRelease && len(answered) > 0:
		p.problemf("the fleet answered %d of %d requests with an error: %s", count(answered), p.rep.Load.Requests, strings.Join(first(answered, 4), ", "))
	case p.sc.MustDrop && p.rep.Load.Failed == 0:
		p.problemf("no request failed: the rehearsal did not see the fault this control injects")
	case p.sc.check != nil:
		p.sc.check(p)
	}
}

func (p *run) listen() string { return fmt.Sprintf("127.0.0.1:%d", 8000+len(p.report.Scenarios)) }

// fleetSize is how many instances the scenario starts: the group's, or one more for a scale-in
// where the group's maximum allows it (Auto Scaling never scales in below the minimum, so a
// scale-in starts from a fleet that scaled out once). With --instances, that many.
func (p *run) fleetSize() int {
	n := p.size
	if p.sc.ScaleIn && p.opts.Instances == 0 && n+1 <= p.template.Group.Max {
		n++
	}
	return n
}

// up starts the scenario's fleet and load balancer and deploys its initial versions to every
// instance at once, before any load: the fleet as it stands when the story begins.
func (p *run) up(ctx context.Context) error {
	n := p.fleetSize()
	p.rep.Instances = n
	for i := 1; i <= n; i++ {
		env := map[string]string{"DEPLOYMENT_GROUP_ID": p.groupID}
		in, err := p.net.NewInstance(ctx, instanceID(i), p.zones[i-1], env, p.slow)
		if err != nil {
			return err
		}
		p.members = append(p.members, in)
		p.rep.lane(in.ID).Zone = p.zones[i-1]
	}
	dir := filepath.Join(p.opts.Work, p.sc.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := rehearsal.HAProxy{TargetGroup: p.tg, Scale: p.opts.Scale, Listen: p.listen(),
		// An abstract socket: it lives in the rehearsal's own network namespace, where nothing
		// else can reach it, leaves no file, and no path length (a socket path has at most 107
		// bytes, HAProxy takes 97) limits where the work directory may be.
		AdminSocket: "abns@rehearsal-" + p.sc.Name,
		BadRelease:  filepath.Join(dir, "bad-release.map"), BadPercent: badPercent}
	if err := os.WriteFile(cfg.BadRelease, nil, 0o644); err != nil {
		return err
	}
	for _, in := range p.members {
		cfg.Servers = append(cfg.Servers, rehearsal.Server{Name: in.ID, Address: fmt.Sprintf("%s:%d", in.Address, p.tg.Port),
			Probe: fmt.Sprintf("%s:%d", in.Address, sandbox.ProbePort)})
	}
	lb, err := sandbox.StartBalancer(dir, cfg)
	if err != nil {
		return err
	}
	p.lb = lb
	lb.Events = func(instance, change string) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.t0.IsZero() {
			p.rep.lane(instance).Marks = append(p.rep.lane(instance).Marks, Mark{At: since(p.t0, time.Now()), What: change})
		}
	}
	p.fleet = &rehearsal.Fleet{LoadBalancer: lb, Rollout: rehearsal.Rollout{Kind: rehearsal.HostCount, Value: 0},
		Application: p.application, DeploymentGroup: p.groupName, DeploymentGroupID: p.groupID,
		Zones: map[string]string{}, Scaled: p.scaled}
	for i, in := range p.members {
		p.fleet.Instances = append(p.fleet.Instances, in)
		p.fleet.Zones[in.ID] = p.zones[i]
	}
	for _, version := range p.sc.Initial {
		res := p.deploy(ctx, version, "user", setupDeployment)
		if judged, _ := res.Judged(); judged != rehearsal.Succeeded {
			return fmt.Errorf("deploying %s (%s) to every instance before the load: %s", version, p.describe(version), describeFailure(res))
		}
	}
	p.fleet.Rollout, p.fleet.Zonal = p.dep.Rollout, p.dep.Zonal
	return nil
}

// describeZonal is the scenario's zonal waves, for the progress line.
func (p *run) describeZonal() string {
	z := p.fleet.Zonal
	if z == nil {
		return ""
	}
	return fmt.Sprintf(", zone by zone: %v after the first zone, %v after each later one but the last", z.FirstZoneMonitor, z.Monitor)
}

// describeWaves says how far a deployment got: its zones and instances.
func describeWaves(res rehearsal.Result) string {
	var parts []string
	for _, w := range res.Waves {
		zone := w.Zone
		if zone == "" {
			zone = "the fleet"
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", zone, strings.Join(w.Instances, ", ")))
	}
	if len(parts) == 0 {
		return "no instance"
	}
	return strings.Join(parts, ", then ")
}

// describe names the revision a version comes from.
func (p *run) describe(version string) string {
	switch {
	case version == baseline || version == stopEarly:
		return "the baseline, " + p.opts.Baseline
	default:
		return "the candidate, " + p.opts.Revision
	}
}

func (p *run) teardown() {
	if p.lb != nil {
		p.lb.Stop()
	}
	for _, in := range p.members {
		in.Stop()
	}
}

// deploy runs a deployment of version and records it; setup deployments (before the load) are
// not drawn. A deployment of the candidate (or of a version made from it) that fails where no
// failure was injected marks the candidate broken, and so does a baseline that does not deploy:
// the scenarios after it are not played.
func (p *run) deploy(ctx context.Context, version, creator string, kind deploymentKind) rehearsal.Result {
	setup := kind == setupDeployment
	rev, ok := p.versions[version]
	if !ok {
		p.fatalf("no version %s", version)
	}
	id := deploymentID()
	p.net.Deployments.Put(id, map[string]string{"creator": creator, "status": "InProgress", "deploymentGroupName": p.groupName})
	// A user's deployment is watched by the gating alarms. CodeDeploy's own rollback is not:
	// CodeDeploy does not document whether it watches the alarms during the rollback, and the
	// alarm that stopped the deployment is still in ALARM, so watching would stop the rollback
	// at once; the bake's restore overrides them off (deployer, bake.go).
	p.fleet.Alarm = nil
	if kind == inPlaceDeployment && creator == "user" {
		p.fleet.Alarm = p.gatingAlarm
	}
	if !setup {
		watched := "alarms not watched"
		if p.fleet.Alarm != nil && p.alarms != nil && p.alarms.gating {
			watched = "watched by " + plural(len(p.dep.Alarms), "gating alarm")
		}
		p.progress("   %s: deploying %s (%s%s, creator %s, %s)\n", id, version, p.fleet.Rollout.Describe(len(p.fleet.Instances)), p.describeZonal(), creator, watched)
	}
	p.fleet.Observe = p.observer(kind, version)
	res := p.fleet.Deploy(ctx, id, creator, rev)
	p.fleet.Alarm = nil
	p.net.Deployments.Put(id, map[string]string{"status": string(res.Outcome)})
	if !setup {
		p.addDeployment(res, version)
		p.noteRestored(res, version)
	}
	if judged, _ := res.Judged(); judged != rehearsal.Succeeded && res.Outcome != rehearsal.Stopped && ctx.Err() == nil && !injected(res) && p.broken == "" {
		// The failed script may be another revision's than the one deployed: a rollback to v1
		// runs v2's ApplicationStop where v2's Install succeeded.
		culprit := version
		if h := failedHook(res); h != nil && h.Revision != "" {
			culprit = h.Revision
		}
		p.broken = fmt.Sprintf("%s (%s) failed while %s was deployed in %s: %s", culprit, p.describe(culprit), version, p.sc.Name, describeFailure(res))
	}
	return res
}

// failedHook is the script that failed a deployment, if a script did.
func failedHook(res rehearsal.Result) *rehearsal.HookRun {
	if res.Failure == nil {
		return nil
	}
	for i, h := range res.Failure.Hooks {
		if h.Err != nil {
			return &res.Failure.Hooks[i]
		}
	}
	return nil
}

// injected reports whether a deployment failed where the rehearsal made it fail.
func injected(res rehearsal.Result) bool {
	h := failedHook(res)
	return h != nil && strings.HasPrefix(h.Script, injectedPrefix)
}

// deployWithRollback is a user's deployment, watched by the gating alarms, and rolled back when
// it fails or an alarm stops it and the deployment group says so (AutoRollbackConfiguration with
// DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM): CodeDeploy redeploys the last successful
// revision as a new deployment (CodeDeploy user guide, "Redeploy and roll back a deployment with
// CodeDeploy"), to the deployment group with its configuration.
func (p *run) deployWithRollback(ctx context.Context, version string) (rehearsal.Result, *rehearsal.Result) {
	previous := p.fleet.Current()
	if p.release == "" {
		p.release = version
	}
	res := p.deploy(ctx, version, "user", inPlaceDeployment)
	rollback := res.Outcome == rehearsal.Failed && p.dep.RollbackOnFailure || res.Outcome == rehearsal.Stopped && p.dep.RollbackOnAlarm
	if !rollback || ctx.Err() != nil {
		return res, nil
	}
	why := "failed at " + describeFailure(res)
	if res.Outcome == rehearsal.Stopped {
		why = fmt.Sprintf("was stopped by %s in ALARM after reaching %s", res.StoppedBy, describeWaves(res))
	}
	p.notef("%s %s: rolling back to %s", res.ID, why, previous)
	rb := p.deploy(ctx, previous, "codeDeployRollback", inPlaceDeployment)
	p.setDeployment(res.ID, func(d *DeploymentReport) { d.RolledBackBy = rb.ID })
	return res, &rb
}

// scaleIn takes instance out as Auto Scaling does when the group is attached to a target group
// (Amazon EC2 Auto Scaling user guide, "How lifecycle hooks work in Auto Scaling groups" and
// "Use Elastic Load Balancing to distribute incoming application traffic in your Auto Scaling
// group"): the instance is deregistered and drained first, then held in Terminating:Wait, where
// CodeDeploy's termination deployment runs when the scenario's template has the hook on
// (TerminationHookEnabled; CodeDeploy user guide, "Integrating CodeDeploy with Amazon EC2 Auto
// Scaling"), then terminated.
func (p *run) scaleIn(ctx context.Context, in *sandbox.Instance, drain time.Duration) *rehearsal.Result {
	p.progress("   Auto Scaling: scaling in %s (deregistration delay %v on the rehearsal's clock)\n", in.ID, p.scaled(drain))
	start := time.Now()
	p.drain.instance, p.drain.delay, p.drain.start = in.ID, p.scaled(drain), start
	if err := p.lb.DeregisterAfter(ctx, in.ID, drain); err != nil {
		p.fatalf("deregistering %s: %v", in.ID, err)
	}
	p.drain.end = time.Now()
	p.rep.addSpan(in.ID, Span{Label: "Auto Scaling deregisters", Start: since(p.t0, start), End: since(p.t0, time.Now()), Kind: "traffic"})
	var res *rehearsal.Result
	if p.dep.TerminationHook {
		id := deploymentID()
		p.net.Deployments.Put(id, map[string]string{"creator": "autoscalingTermination", "status": "InProgress", "deploymentGroupName": p.groupName})
		p.progress("   %s: termination deployment on %s (creator autoscalingTermination)\n", id, in.ID)
		p.fleet.Observe = p.observer(terminationDeployment, "")
		r := p.fleet.Terminate(ctx, id, in)
		p.net.Deployments.Put(id, map[string]string{"status": string(r.Outcome)})
		last, _ := p.fleet.LastGood(in.ID)
		p.addDeployment(r, last.Name)
		res = &r
	} else {
		p.progress("   the template's deployment group has the termination hook off: no termination deployment\n")
	}
	// What the instance is left running when it ends: the graceful stop's work, or its absence.
	_, err := in.Run(ctx, "pgrep", "-x", "httpd")
	p.httpdAtEnd = err == nil
	in.Stop()
	p.mu.Lock()
	p.rep.lane(in.ID).Marks = append(p.rep.lane(in.ID).Marks, Mark{At: since(p.t0, time.Now()), What: "terminated"})
	p.mu.Unlock()
	p.progress("   %s terminated\n", in.ID)
	kept := p.fleet.Instances[:0]
	for _, x := range p.fleet.Instances {
		if x.Name() != in.ID {
			kept = append(kept, x)
		}
	}
	p.fleet.Instances = kept
	return res
}

type deploymentKind int

const (
	setupDeployment deploymentKind = iota
	inPlaceDeployment
	// restoreDeployment is the bake's restore: in place, with the alarms overridden off.
	restoreDeployment
	terminationDeployment
)

// badPercent is the share of its requests the bad release answers with a 500: one in five.
const badPercent = 20

// observer prints each instance's progress and draws its events on the scenario's lanes.
// Once an instance has installed version, it serves the bad release's errors or stops serving
// them, and the release's reach counts it.
func (p *run) observer(kind deploymentKind, version string) func(rehearsal.Record) {
	setup := kind == setupDeployment
	started := map[string]time.Time{}
	var mu sync.Mutex
	return func(rec rehearsal.Record) {
		mu.Lock()
		defer mu.Unlock()
		if rec.Event == rehearsal.Install && rec.Err == nil {
			if err := p.lb.MarkBad(rec.Instance, version == badRelease); err != nil {
				p.progress("   %s: %v\n", rec.Instance, err)
			}
			if !setup && version == p.release {
				p.mu.Lock()
				p.reached[rec.Instance] = true
				p.mu.Unlock()
			}
		}
		if _, ok := started[rec.Instance+rec.DeploymentID]; !ok {
			started[rec.Instance+rec.DeploymentID] = rec.Start
		}
		if setup {
			if rec.Err != nil {
				p.progress("   setup: %s %s failed: %v\n", rec.Instance, rec.Event, rec.Err)
				p.printLog(rec)
			}
			return
		}
		p.mu.Lock()
		p.rep.addSpan(rec.Instance, spanOf(rec, p.t0))
		p.mu.Unlock()
		took := rec.End.Sub(started[rec.Instance+rec.DeploymentID]).Seconds()
		switch {
		case rec.Err != nil && p.ctx.Err() != nil:
			p.progress("   %6.1fs  %-5s %-18s interrupted after %.1f s\n", since(p.t0, rec.End), rec.Instance, rec.Event, took)
		case rec.Err != nil:
			p.progress("   %6.1fs  %-5s %-18s FAILED after %.1f s: %v\n", since(p.t0, rec.End), rec.Instance, rec.Event, took, rec.Err)
			p.printLog(rec)
		case rec.Event == rehearsal.AfterAllowTraffic || kind == terminationDeployment && rec.Event == rehearsal.ApplicationStop:
			p.progress("   %6.1fs  %-5s done in %.1f s\n", since(p.t0, rec.End), rec.Instance, took)
		}
	}
}

// printLog prints the log of a record's failed script, as the agent keeps it.
func (p *run) printLog(rec rehearsal.Record) {
	for _, h := range rec.Hooks {
		if h.Err != nil {
			for _, line := range strings.Split(strings.TrimSpace(h.Log), "\n") {
				p.progress("             %s\n", line)
			}
		}
	}
}

func (p *run) member(i int) *sandbox.Instance { return p.members[i] }

func (p *run) last() *sandbox.Instance { return p.members[len(p.members)-1] }

// expectServes checks, on each instance still running, the version its web server serves.
func (p *run) expectServes(ctx context.Context, version string) {
	for _, in := range p.members {
		if in.Terminated() {
			continue
		}
		body, err := in.Serves(ctx, "/")
		got := rehearsal.RevisionOf([]byte(body))
		if err != nil || got != version {
			p.problemf("%s serves %q, want %s (%v)", in.ID, got, version, err)
			continue
		}
		p.rep.Serving = append(p.rep.Serving, in.ID+": "+got)
	}
}

func describeFailure(res rehearsal.Result) string {
	f := res.Failure
	if f == nil {
		if _, missed := res.Judged(); len(missed) > 0 {
			return string(res.Outcome) + ", missed " + strings.Join(missed, ", ")
		}
		return string(res.Outcome)
	}
	return fmt.Sprintf("%s %s: %v%s", f.Instance, f.Event, f.Err, stderrOf(*f))
}

// stderrOf is the last lines the failed script wrote to its standard error, as the agent's
// scripts.log keeps them.
func stderrOf(rec rehearsal.Record) string {
	var lines []string
	for _, h := range rec.Hooks {
		if h.Err == nil {
			continue
		}
		for _, l := range strings.Split(strings.TrimSpace(h.Log), "\n") {
			if s, ok := strings.CutPrefix(l, "[stderr]"); ok {
				lines = append(lines, s)
			}
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return " (stderr: " + strings.Join(lines[max(0, len(lines)-3):], " | ") + ")"
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func since(t0, t time.Time) float64 { return t.Sub(t0).Seconds() }

// instanceID names the fleet's i-th instance, counted from 1: the scenarios' revisions that fail
// on one instance name it the same way.
func instanceID(i int) string { return fmt.Sprintf("i-%d", i) }
