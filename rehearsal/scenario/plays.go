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
	res, rollback := p.deployWithRollback(p.ctx, candidate)
	if judged, missed := res.Judged(); judged != rehearsal.Succeeded {
		p.candidateFailed(res, rollback, missed)
		return
	}
	p.expectServes(p.ctx, candidate)
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
