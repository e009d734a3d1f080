package scenario

import (
	"fmt"
	"strings"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal"
	"github.com/example/codedeploy-fleet/rehearsal/sandbox"
)

// Each play is a scenario's story, on a fleet already serving its initial versions under load.

func playRollout(p *run) {
	previous := p.fleet.Current()
	res, rollback := p.deployWithRollback(p.ctx, candidate)
	if judged, missed := res.Judged(); judged != rehearsal.Succeeded {
		p.candidateFailed(res, rollback, missed)
		return
	}
	if restore := p.bake(p.ctx, res, previous); restore != nil {
		b := p.bakeOf(res.ID)
		p.problemf("the candidate (%s) deployed (%s), then its bake saw %s in ALARM: %s restored %s (%s)", candidate, res.ID, b.Alarm, restore.ID, previous, restore.Outcome)
		p.expectServes(p.ctx, previous)
		return
	}
	p.expectServes(p.ctx, candidate)
}

// bakeOf is the report of deployment id's bake.
func (p *run) bakeOf(id string) BakeReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.rep.Deployments {
		if d.ID == id && d.Bake != nil {
			return *d.Bake
		}
	}
	return BakeReport{}
}

// badStory is how the bad release's deployment ended: CodeDeploy's rollback, or the bake's
// restore.
type badStory struct {
	res               rehearsal.Result
	rollback, restore *rehearsal.Result
}

// playBadRelease ships the bad release as a user would, watched by the template's alarms: the
// verdict (checkBadRelease) comes once the load has been counted.
func playBadRelease(p *run) {
	previous := p.fleet.Current()
	res, rollback := p.deployWithRollback(p.ctx, badRelease)
	p.story = &badStory{res: res, rollback: rollback}
	if res.Outcome == rehearsal.Succeeded {
		p.story.restore = p.bake(p.ctx, res, previous)
	}
	if ok := func(r *rehearsal.Result) bool { return r != nil && r.Outcome == rehearsal.Succeeded }; ok(p.story.rollback) || ok(p.story.restore) {
		p.expectServes(p.ctx, previous)
	}
}

// zonal reports whether the scenario's deployments go zone by zone with a wait after the first.
func (p *run) zonal() bool {
	return p.dep.Zonal != nil && p.dep.Zonal.FirstZoneMonitor > 0 && len(distinct(p.zones[:len(p.members)])) > 1
}

// checkBadRelease is the bad release's verdict. Zonal: a gating alarm stops it in its first zone
// and CodeDeploy rolls it back. Not zonal (no wait between batches, so it reaches every batch
// before an alarm can fire): the bake catches it and restores the previous release. Either way
// the race between the alarm and the rollout must hold on the template's clock.
func checkBadRelease(p *run) {
	st, br := p.story, p.rep.BlastRadius
	if st == nil || br == nil {
		p.problemf("the bad release was not deployed")
		return
	}
	if br.BadResponses == 0 {
		p.problemf("the bad release answered no request with an error: the rehearsal did not see it")
		return
	}
	firstBad := p.firstBad()
	alarmAt := func(name string) time.Time {
		_, at, _ := p.alarmAt(name, firstBad)
		return at
	}
	switch {
	case len(p.dep.Alarms) == 0:
		p.problemf("the deployment group has no gating alarm: nothing can stop the bad release, which reached %d of %d instances", br.InstancesReached, br.Instances)
	case st.res.Outcome == rehearsal.Stopped:
		if p.zonal() && br.ZonesReached > 1 {
			p.problemf("%s stopped the bad release only after it reached %d zones (%s)", st.res.StoppedBy, br.ZonesReached, describeWaves(st.res))
			return
		}
		if st.rollback == nil || st.rollback.Outcome != rehearsal.Succeeded {
			p.problemf("%s stopped the bad release, and it was not rolled back (rollback on alarm: %v)", st.res.StoppedBy, p.dep.RollbackOnAlarm)
			return
		}
		if p.zonal() && len(st.res.Waves) == 0 {
			p.notef("%s was in ALARM before the bad release reached an instance", st.res.StoppedBy)
			return
		}
		if p.zonal() {
			first := st.res.Waves[0]
			deadline := first.End.Add(p.scaled(p.dep.Zonal.FirstZoneMonitor))
			if p.raceHeld(firstBad, first.End, alarmAt(st.res.StoppedBy), deadline, "the second zone") {
				p.notef("%s stopped the bad release in its first zone (%s) and CodeDeploy rolled it back with %s", st.res.StoppedBy, first.Zone, st.rollback.ID)
			}
			return
		}
		// Caught sooner than the bake needed: the verdict holds on any clock, and the reach is
		// the rehearsal's. The hooks ran in real time, Scale times slower than the template's
		// clock has them, so on AWS the rollout would have got further before the alarm.
		stretch := (p.opts.Scale - 1) * p.realTime(firstBad, alarmAt(st.res.StoppedBy))
		p.notef("%s stopped the bad release during its deployment, after %d of %d instances, and CodeDeploy rolled it back with %s; the hooks' real time slowed the rollout by %.0f s on the template's clock, so on AWS it may reach further first (the bake would still catch it)",
			st.res.StoppedBy, br.InstancesReached, br.Instances, st.rollback.ID, stretch)
	case p.zonal():
		p.problemf("the bad release was not stopped in its first zone: its deployment %s ended %s after reaching %s", st.res.ID, st.res.Outcome, describeWaves(st.res))
	case st.restore == nil && p.dep.Bake <= 0:
		p.problemf("the bad release reached %d of %d instances and stayed: the deployment is not zonal and the template has no bake (deployment.bakeSeconds)", br.InstancesReached, br.Instances)
	case st.restore == nil:
		p.problemf("the bad release reached %d of %d instances and stayed: the %v bake saw no gating alarm in ALARM", br.InstancesReached, br.Instances, p.dep.Bake)
	case st.restore.Outcome != rehearsal.Succeeded:
		p.problemf("the bake caught the bad release, and the restore %s failed: %s", st.restore.ID, describeFailure(*st.restore))
	default:
		b := p.bakeOf(st.res.ID)
		bakeStart := p.at(b.Start)
		if p.raceHeld(firstBad, lastEvent(st.res), alarmAt(b.Alarm), bakeStart.Add(p.scaled(p.dep.Bake)), "the end of the bake") {
			p.notef("the bake saw %s in ALARM and %s restored %s on every instance", b.Alarm, st.restore.ID, baseline)
		}
	}
}

// firstBad is when the first error the release answered was sent.
func (p *run) firstBad() time.Time {
	for _, r := range p.rep.Load.Each {
		if failed(r) && r.FromTarget {
			return p.at(r.At)
		}
	}
	return time.Time{}
}

// lastEvent is when a deployment's last event ended.
func lastEvent(res rehearsal.Result) time.Time {
	var end time.Time
	for _, r := range res.Records {
		if r.End.After(end) {
			end = r.End
		}
	}
	return end
}

// playUnwatched ships the bad release on the unwatched copy of the template, then lets it serve
// as long as the template's bake would have watched it: the detached alarms fire, and nothing
// acts on them.
func playUnwatched(p *run) {
	res, rollback := p.deployWithRollback(p.ctx, badRelease)
	p.story = &badStory{res: res, rollback: rollback}
	if judged, _ := res.Judged(); judged == rehearsal.Succeeded {
		if bake := p.template.Deployment.Bake; bake > 0 {
			p.progress("   serving the bad release for %v (the template's %v bake), unwatched\n", p.scaled(bake).Round(time.Millisecond), bake)
			sleep(p.ctx, p.scaled(bake))
		}
		p.expectServes(p.ctx, badRelease)
	}
}

// checkUnwatched proves the control's point: without the safety net the bad release reaches
// every instance and stays.
func checkUnwatched(p *run) {
	st, br := p.story, p.rep.BlastRadius
	switch {
	case st == nil || br == nil:
		p.problemf("the bad release was not deployed")
	case len(p.dep.Alarms) > 0 || p.dep.Bake > 0:
		p.problemf("the scenario's template %s still watches the release (%d gating alarms, a %v bake)", p.rep.Template, len(p.dep.Alarms), p.dep.Bake)
	case st.res.Outcome != rehearsal.Succeeded:
		p.problemf("the unwatched bad release ended %s (%s), want it deployed everywhere", st.res.Outcome, describeFailure(st.res))
	case br.InstancesReached != br.Instances:
		p.problemf("the unwatched bad release reached %d of %d instances, want every one", br.InstancesReached, br.Instances)
	case br.BadResponses == 0:
		p.problemf("the unwatched bad release answered no request with an error: the rehearsal did not see it")
	default:
		detected := "none of the detached alarms went to ALARM"
		if br.DetectSeconds != nil {
			detected = fmt.Sprintf("%s went to ALARM %.0f s after the first error, and nothing watched it", br.Alarm, *br.DetectSeconds)
		}
		p.notef("the bad release reached all %d instances in %d zones and stayed: %d errors answered; %s", br.Instances, br.Zones, br.BadResponses, detected)
	}
}

// candidateFailed reports a candidate that CodeDeploy would not deploy, as CodeDeploy shows it:
// where it failed, the script and what it wrote to its standard error, and the rollback; the
// table adds the requests that failed from the deployment's start to the rollback's end.
func (p *run) candidateFailed(res rehearsal.Result, rollback *rehearsal.Result, missed []string) {
	where := describeFailure(res)
	if res.Failure == nil && len(missed) > 0 {
		where = "missed " + strings.Join(missed, ", ")
	}
	switch {
	case res.Outcome == rehearsal.Stopped && rollback != nil && rollback.Outcome == rehearsal.Succeeded:
		p.problemf("the candidate (%s) was stopped by %s in ALARM during its deployment %s after reaching %s; CodeDeploy rolled back to %s", candidate, res.StoppedBy, res.ID, describeWaves(res), baseline)
		p.expectServes(p.ctx, baseline)
	case res.Outcome == rehearsal.Stopped:
		p.problemf("the candidate (%s) was stopped by %s in ALARM during its deployment %s after reaching %s, and not rolled back", candidate, res.StoppedBy, res.ID, describeWaves(res))
	case rollback == nil && res.Outcome == rehearsal.Succeeded:
		p.problemf("the candidate (%s) failed its deployment %s at %s; CodeDeploy called it a success (OneAtATime's rule for the last instance) and rolled nothing back", candidate, res.ID, where)
	case rollback == nil:
		p.problemf("the candidate (%s) failed its deployment %s at %s; the deployment group does not roll back", candidate, res.ID, where)
	case rollback.Outcome == rehearsal.Succeeded:
		p.problemf("the candidate (%s) failed its deployment %s at %s; CodeDeploy stopped it and rolled back to %s", candidate, res.ID, where, baseline)
		p.expectServes(p.ctx, baseline)
	default:
		p.problemf("the candidate (%s) failed its deployment %s at %s, and the rollback to %s failed too: %s", candidate, res.ID, where, baseline, describeFailure(*rollback))
	}
}

// failsOnlyWhereInjected checks that a deployment of a failing version failed at the injected
// ValidateService on instance, and nowhere before: otherwise the candidate itself failed, which
// the scenario reports as such.
func (p *run) failsOnlyWhereInjected(res rehearsal.Result, rollback *rehearsal.Result, instance string) {
	if res.Failure != nil && !injected(res) {
		_, missed := res.Judged()
		p.candidateFailed(res, rollback, missed)
		p.fatalf("the candidate failed before the injected failure on %s could show", instance)
	}
	if res.Failure == nil || res.Failure.Instance != instance || res.Failure.Event != rehearsal.ValidateService {
		p.fatalf("%s ended %s (%s), want it failed at %s ValidateService", failing(instance), res.Outcome, describeFailure(res), instance)
	}
}

func playFailedRelease(p *run) {
	at := p.member(p.failedReleaseAt() - 1).ID
	res, rollback := p.deployWithRollback(p.ctx, failing(at))
	p.failsOnlyWhereInjected(res, rollback, at)
	if res.Outcome != rehearsal.Failed {
		p.fatalf("%s ended %s, want Failed at %s", failing(at), res.Outcome, at)
	}
	if rollback == nil || rollback.Outcome != rehearsal.Succeeded {
		p.fatalf("no successful rollback after the failed release (the template's rollback on failure: %v)", p.dep.RollbackOnFailure)
	}
	p.expectServes(p.ctx, baseline)
}

// beforeTheLast: last-instance needs an instance that succeeds before the last one fails.
func beforeTheLast(n int) string {
	if n < 2 {
		return "a fleet of one instance has no instance before the last: failed-release covers its only instance"
	}
	return ""
}

func playLastInstance(p *run) {
	last := p.last().ID
	res, rollback := p.deployWithRollback(p.ctx, failing(last))
	p.failsOnlyWhereInjected(res, rollback, last)
	judged, missed := res.Judged()
	p.notef("CodeDeploy's outcome: %s; the project's (deployer, fleetctl deploy): %s, missed %s", res.Outcome, judged, strings.Join(missed, ", "))
	if p.dep.Rollout.Kind == rehearsal.OneAtATime && res.Outcome != rehearsal.Succeeded {
		p.problemf("CodeDeploy's outcome is %s; OneAtATime documents a failure on the last instance as a success", res.Outcome)
	}
	if judged != rehearsal.Failed || len(missed) != 1 || !strings.HasPrefix(missed[0], last+" ") {
		p.fatalf("reported as %s (missed %v), want a failure naming %s", judged, missed, last)
	}
	if rollback != nil {
		p.expectServes(p.ctx, baseline)
	}
}

func playScaleIn(p *run) {
	in := p.last()
	res := p.scaleIn(p.ctx, in, p.tg.DeregistrationDelay)
	p.expectApplicationStop(in.ID, res)
}

func playShortDrain(p *run) {
	// In the template's time: the rehearsal's clock divides it by the scale.
	drain := time.Duration(float64(p.slow/4) * p.opts.Scale)
	in := p.last()
	// The scale-in comes while the instance serves a slow request that started within the last
	// quarter of a slow request: it has three quarters left, three times the short delay. Under
	// steady load one soon does, and waiting for it keeps the control from passing by luck.
	p.waitSlowRequest(in, p.slow/4)
	res := p.scaleIn(p.ctx, in, drain)
	p.expectApplicationStop(in.ID, res)
}

// checkShortDrain proves the short-drain control's cause: every failed request is a slow one the
// draining instance was serving when the deregistration began, cut when the short delay ended
// (after it, and before the request would have ended on its own). Any other failure means the
// control saw something else fail.
func checkShortDrain(p *run) {
	d := p.drain
	if d.instance == "" {
		p.problemf("no instance was drained")
		return
	}
	// The cut is the load balancer's, once the delay has passed (DeregisterAfter closes what is
	// left when it returns); the client sees it within the grace.
	const grace = 250 * time.Millisecond
	earliest, latest := d.start.Add(d.delay), d.end.Add(grace)
	var wrong []string
	for _, r := range p.rep.Load.Each {
		if !failed(r) {
			continue
		}
		sent := p.t0.Add(time.Duration(r.At * float64(time.Second)))
		ended := sent.Add(time.Duration(r.LatencyMs * float64(time.Millisecond)))
		switch {
		case r.Load != "slow" || r.Instance != d.instance:
			wrong = append(wrong, fmt.Sprintf("%s on %s", r.Load, orNone(r.Instance)))
		case !sent.Before(d.start):
			wrong = append(wrong, fmt.Sprintf("a slow request sent %.2f s after the drain began", since(d.start, sent)))
		case ended.Before(earliest) || ended.After(latest) || !ended.Before(sent.Add(p.slow)):
			wrong = append(wrong, fmt.Sprintf("a slow request that failed %.2f s after the drain began, not when its %.2f s delay ended", since(d.start, ended), d.delay.Seconds()))
		}
	}
	if len(wrong) > 0 {
		p.problemf("%d of the %d failed requests are not slow requests cut on %s when the short delay ended: %s",
			len(wrong), p.rep.Load.Failed, d.instance, strings.Join(first(wrong, 5), "; "))
		return
	}
	p.notef("all %d failed requests were slow requests in flight on %s, cut when the %.2f s delay ended", p.rep.Load.Failed, d.instance, d.delay.Seconds())
}

func playEarlyStop(p *run) {
	res, _ := p.deployWithRollback(p.ctx, candidate)
	if res.Outcome != rehearsal.Succeeded {
		p.notef("the deployment ended %s: %s", res.Outcome, describeFailure(res))
	}
}

func playNoHook(p *run) {
	if p.dep.TerminationHook {
		p.fatalf("the scenario's template %s has the termination hook on", p.rep.Template)
	}
	in := p.last()
	if res := p.scaleIn(p.ctx, in, p.tg.DeregistrationDelay); res != nil {
		p.fatalf("a termination deployment ran with the hook off")
	}
	for _, l := range p.rep.Lanes {
		for _, s := range l.Spans {
			if l.Instance == in.ID && s.Label == string(rehearsal.ApplicationStop) {
				p.fatalf("ApplicationStop ran on %s with the termination hook off", in.ID)
			}
		}
	}
	// The proof that nothing else stopped the application either.
	if !p.httpdAtEnd {
		p.fatalf("httpd was not running on %s when it was terminated, though no ApplicationStop ran", in.ID)
	}
	p.notef("ApplicationStop never ran on %s: it was terminated with httpd still running", in.ID)
}

// expectApplicationStop checks that the termination deployment ran ApplicationStop to its end:
// every script exited 0, and the report keeps the last lines each logged.
func (p *run) expectApplicationStop(instance string, res *rehearsal.Result) {
	if res == nil {
		p.fatalf("no termination deployment ran on %s: the deployment group in %s has the termination hook off (TerminationHookEnabled), so scale-in runs no ApplicationStop", instance, p.rep.Template)
	}
	for _, rec := range res.Records {
		if rec.Event != rehearsal.ApplicationStop {
			continue
		}
		if rec.Err != nil {
			p.fatalf("ApplicationStop on %s failed: %v%s", instance, rec.Err, stderrOf(rec))
		}
		for _, h := range rec.Hooks {
			lines := strings.Split(strings.TrimSpace(h.Log), "\n")
			p.notef("ApplicationStop ran to completion on %s: %s's %s exited 0 after %.1f s; it logged: %s",
				instance, h.Revision, h.Script, h.Duration.Seconds(), lines[len(lines)-1])
		}
		if p.httpdAtEnd {
			p.notef("httpd was still running on %s when it was terminated: this revision's ApplicationStop does not stop it", instance)
		} else {
			p.notef("httpd had stopped on %s before it was terminated", instance)
		}
		return
	}
	p.fatalf("the termination deployment on %s has no ApplicationStop", instance)
}

// waitSlowRequest waits, at most 5 s, until in serves a slow request younger than age.
func (p *run) waitSlowRequest(in *sandbox.Instance, age time.Duration) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, started := range in.SlowInFlight() {
			if time.Since(started) < age {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.notef("%s served no slow request younger than %v within 5 s; scaling in anyway", in.ID, age)
}

func failed(r Request) bool { return r.Code < 200 || r.Code >= 400 }

func orNone(s string) string {
	if s == "" {
		return "no instance"
	}
	return s
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }
