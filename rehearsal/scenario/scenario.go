// Package scenario is the rehearsal: it starts a fleet in namespaces (package sandbox) behind
// HAProxy, sends steady load through it, plays CodeDeploy's deployments and Auto Scaling's
// scale-in on it (package rehearsal), and reports what every request saw.
package scenario

import (
	"context"
	"crypto/rand"
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
	// Revision is the revision directory rehearsed (assets/ by default).
	Revision string
	// Template is the synthesized template the target group and deployment group come from,
	// and TemplateName where it was read.
	Template     []byte
	TemplateName string
	// Instances is the fleet's size (3 by default; at least 3, so that the failed release
	// fails on an instance that is neither the first nor the last).
	Instances int
	// Scale divides the load balancer's durations (health check, deregistration delay).
	Scale float64
	// Rate is the steady load, requests per second; half as much (at least 2/s) goes to the
	// slow endpoint besides.
	Rate int
	// Work is a scratch directory; Out receives the report.
	Work, Out string
	Region    string
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
	// Expect says, for the report, what passing means.
	Expect string
	// Initial is the version the fleet runs when the load starts.
	Initial string
	play    func(*run)
}

// Scenarios are the rehearsal's scenarios, in the order they run.
var Scenarios = []Scenario{
	{Name: "rollout", Title: "v1 to v2, with the deployment group's configuration", Initial: "v1",
		Expect: "no failed request; the deployment succeeds; every instance serves v2", play: playRollout},
	{Name: "failed-release", Title: "v3 fails ValidateService on the second instance", Initial: "v2",
		Expect: "no failed request; the deployment fails at the second instance and rolls back to v2", play: playFailedRelease},
	{Name: "last-instance", Title: "v3 fails ValidateService on the last instance", Initial: "v2",
		Expect: "no failed request; reported as a failure although CodeDeploy calls it a success", play: playLastInstance},
	{Name: "scale-in", Title: "one instance scaled in under load, termination hook on", Initial: "v2",
		Expect: "no failed request; ApplicationStop runs to completion before the instance ends", play: playScaleIn},
	{Name: "control-short-drain", Title: "control: the same scale-in, deregistration delay shorter than a slow request", Initial: "v2", Control: true, MustDrop: true,
		Expect: "failed requests: the load balancer cuts the slow requests in flight", play: playShortDrain},
	{Name: "control-early-stop", Title: "control: a BeforeBlockTraffic hook stops httpd while it takes traffic", Initial: "v2-stops-early", Control: true, MustDrop: true,
		Expect: "failed requests: the instance refuses requests it is still sent", play: playEarlyStop},
	{Name: "control-no-hook", Title: "control: the same scale-in with the termination hook off", Initial: "v2", Control: true,
		Expect: "ApplicationStop never runs on the terminated instance", play: playNoHook},
}

// run is one scenario being played.
type run struct {
	*session
	ctx      context.Context
	sc       Scenario
	rep      *ScenarioReport
	fleet    *rehearsal.Fleet
	members  []*sandbox.Instance
	lb       *sandbox.Balancer
	t0       time.Time
	lastGood string // the deployment group's last successful version
	// httpdAtEnd: httpd was still running when the last scaled-in instance was terminated.
	httpdAtEnd bool
	mu         sync.Mutex
}

// Run runs the scenarios and returns the report; the error is for what kept the rehearsal
// from running (a scenario that fails its expectation is in the report, not an error).
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
			return rep, err
		}
		r.progress("\n== %s: %s\n", sc.Name, sc.Title)
		sr := r.play(ctx, sc)
		rep.Scenarios = append(rep.Scenarios, sr)
		verdict := "PASS"
		if !sr.Passed {
			verdict = "FAIL: " + strings.Join(sr.Problems, "; ")
		}
		r.progress("   %s  (%d requests, %d failed, %.1f s)\n", verdict, sr.Load.Requests, sr.Load.Failed, sr.WallSeconds)
	}
	rep.Passed = len(rep.Scenarios) > 0
	for _, s := range rep.Scenarios {
		rep.Passed = rep.Passed && s.Passed
	}
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
	rep := &ScenarioReport{Name: sc.Name, Title: sc.Title, Control: sc.Control, Expect: sc.Expect}
	p := &run{session: r, ctx: ctx, sc: sc, rep: rep}
	start := time.Now()
	defer func() {
		rep.WallSeconds = time.Since(start).Seconds()
		p.teardown()
		rep.Passed = len(rep.Problems) == 0
	}()
	if err := p.up(ctx); err != nil {
		rep.Problems = append(rep.Problems, "the fleet did not come up: "+err.Error())
		return rep
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	p.t0 = time.Now()
	loads := r.loads(p.listen())
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
	// The load settles before the story starts and after it ends, so the first and last
	// seconds of traffic are part of what is counted.
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
	sleep(ctx, r.settle)
	stopLoad()
	var all []rehearsal.Sample
	for range loads {
		all = append(all, <-samples...)
	}
	if loadErr != nil {
		rep.Problems = append(rep.Problems, "the load: "+loadErr.Error())
	}
	rep.addLoad(all, p.t0)
	p.judge()
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

// judge applies the scenario kind's rule on the load: a graceful scenario drops nothing; a
// control that must drop requests drops some.
func (p *run) judge() {
	switch {
	case !p.sc.Control && p.rep.Load.Failed > 0:
		p.problemf("%d of %d requests failed", p.rep.Load.Failed, p.rep.Load.Requests)
	case p.sc.MustDrop && p.rep.Load.Failed == 0:
		p.problemf("no request failed: the rehearsal did not see the fault this control injects")
	}
}

func (p *run) listen() string { return fmt.Sprintf("127.0.0.1:%d", 8000+len(p.report.Scenarios)) }

// up starts the scenario's fleet and load balancer and deploys its initial version to every
// instance at once, before any load: the fleet as it stands when the story begins.
func (p *run) up(ctx context.Context) error {
	for i := 1; i <= p.opts.Instances; i++ {
		env := map[string]string{"DEPLOYMENT_GROUP_ID": p.groupID}
		in, err := p.net.NewInstance(ctx, instanceID(i), env, p.slow)
		if err != nil {
			return err
		}
		p.members = append(p.members, in)
		p.rep.lane(in.ID)
	}
	cfg := rehearsal.HAProxy{TargetGroup: p.tg, Scale: p.opts.Scale, Listen: p.listen(),
		AdminSocket: filepath.Join(p.opts.Work, p.sc.Name+".haproxy.sock")}
	for _, in := range p.members {
		cfg.Servers = append(cfg.Servers, rehearsal.Server{Name: in.ID, Address: in.Address + ":80"})
	}
	dir := filepath.Join(p.opts.Work, p.sc.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
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
		Application: p.application, DeploymentGroup: p.groupName, DeploymentGroupID: p.groupID}
	for _, in := range p.members {
		p.fleet.Instances = append(p.fleet.Instances, in)
	}
	res := p.deploy(ctx, p.sc.Initial, "user", setupDeployment)
	if judged, _ := res.Judged(); judged != rehearsal.Succeeded {
		return fmt.Errorf("deploying %s: %s", p.sc.Initial, describeFailure(res))
	}
	p.fleet.Rollout = p.dep.Rollout
	return nil
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
// not drawn.
func (p *run) deploy(ctx context.Context, version, creator string, kind deploymentKind) rehearsal.Result {
	setup := kind == setupDeployment
	rev, ok := p.versions[version]
	if !ok {
		p.fatalf("no version %s", version)
	}
	id := deploymentID()
	p.net.Deployments.Put(id, map[string]string{"creator": creator, "status": "InProgress", "deploymentGroupName": p.groupName})
	if !setup {
		p.progress("   %s: deploying %s (%s, creator %s)\n", id, version, p.fleet.Rollout.Describe(len(p.fleet.Instances)), creator)
	}
	p.fleet.Observe = p.observer(kind)
	res := p.fleet.Deploy(ctx, id, creator, rev)
	p.net.Deployments.Put(id, map[string]string{"status": string(res.Outcome)})
	if res.Outcome == rehearsal.Succeeded {
		p.lastGood = version
	}
	if !setup {
		p.addDeployment(res, version)
	}
	return res
}

// deployWithRollback is a user's deployment, rolled back when it fails and the deployment
// group says so (AutoRollbackConfiguration with DEPLOYMENT_FAILURE): CodeDeploy redeploys the
// last successful revision as a new deployment (CodeDeploy user guide, "Redeploy and roll back
// a deployment with CodeDeploy").
func (p *run) deployWithRollback(ctx context.Context, version string) (rehearsal.Result, *rehearsal.Result) {
	previous := p.lastGood
	res := p.deploy(ctx, version, "user", inPlaceDeployment)
	if res.Outcome != rehearsal.Failed || !p.dep.RollbackOnFailure {
		return res, nil
	}
	p.notef("%s failed at %s: rolling back to %s", res.ID, describeFailure(res), previous)
	rb := p.deploy(ctx, previous, "codeDeployRollback", inPlaceDeployment)
	return res, &rb
}

// scaleIn takes instance out as Auto Scaling does when the group is attached to a target group
// (Amazon EC2 Auto Scaling user guide, "How lifecycle hooks work in Auto Scaling groups" and
// "Use Elastic Load Balancing to distribute incoming application traffic in your Auto Scaling
// group"): the instance is deregistered and drained first, then held in Terminating:Wait, where
// CodeDeploy's termination deployment runs when the hook is on (CodeDeploy user guide,
// "Integrating CodeDeploy with Amazon EC2 Auto Scaling"), then terminated.
func (p *run) scaleIn(ctx context.Context, in *sandbox.Instance, drain time.Duration, hook bool) *rehearsal.Result {
	p.progress("   Auto Scaling: scaling in %s (deregistration delay %v on the rehearsal's clock)\n", in.ID, p.scaled(drain))
	start := time.Now()
	if err := p.lb.DeregisterAfter(ctx, in.ID, drain); err != nil {
		p.fatalf("deregistering %s: %v", in.ID, err)
	}
	p.rep.addSpan(in.ID, Span{Label: "Auto Scaling deregisters", Start: since(p.t0, start), End: since(p.t0, time.Now()), Kind: "traffic"})
	var res *rehearsal.Result
	if hook {
		id := deploymentID()
		p.net.Deployments.Put(id, map[string]string{"creator": "autoscalingTermination", "status": "InProgress", "deploymentGroupName": p.groupName})
		p.progress("   %s: termination deployment on %s (creator autoscalingTermination)\n", id, in.ID)
		p.fleet.Observe = p.observer(terminationDeployment)
		r := p.fleet.Terminate(ctx, id, in)
		p.net.Deployments.Put(id, map[string]string{"status": string(r.Outcome)})
		p.addDeployment(r, p.lastGood)
		res = &r
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
	terminationDeployment
)

// observer prints each instance's progress and draws its events on the scenario's lanes.
func (p *run) observer(kind deploymentKind) func(rehearsal.Record) {
	setup := kind == setupDeployment
	started := map[string]time.Time{}
	var mu sync.Mutex
	return func(rec rehearsal.Record) {
		mu.Lock()
		defer mu.Unlock()
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

// expectServes checks, on each instance still running, the version its httpd serves.
func (p *run) expectServes(ctx context.Context, version string) {
	for _, in := range p.members {
		if in.Terminated() {
			continue
		}
		body, err := in.Serves(ctx, "/")
		got := RevisionOf([]byte(body))
		if err != nil || got != version {
			p.problemf("%s serves %q, want %s (%v)", in.ID, got, version, err)
			continue
		}
		p.rep.Serving = append(p.rep.Serving, in.ID+": "+got)
	}
}

func describeFailure(res rehearsal.Result) string {
	if res.Failure == nil {
		return string(res.Outcome)
	}
	f := res.Failure
	return fmt.Sprintf("%s %s: %v", f.Instance, f.Event, f.Err)
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
