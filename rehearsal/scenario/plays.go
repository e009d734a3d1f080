package scenario

import (
	"strings"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal"
	"github.com/example/codedeploy-fleet/rehearsal/sandbox"
)

// Each play is a scenario's story, on a fleet already serving its initial version under load.

func playRollout(p *run) {
	res, _ := p.deployWithRollback(p.ctx, "v2")
	if judged, missed := res.Judged(); judged != rehearsal.Succeeded {
		p.fatalf("the rollout %s: %s (missed: %s)", judged, describeFailure(res), strings.Join(missed, ", "))
	}
	p.expectServes(p.ctx, "v2")
}

func playFailedRelease(p *run) {
	second := p.member(1).ID
	res, rollback := p.deployWithRollback(p.ctx, "v3-fail-"+second)
	if res.Outcome != rehearsal.Failed || res.Failure == nil || res.Failure.Instance != second || res.Failure.Event != rehearsal.ValidateService {
		p.fatalf("v3 ended %s (%s), want Failed at %s ValidateService", res.Outcome, describeFailure(res), second)
	}
	if rollback == nil || rollback.Outcome != rehearsal.Succeeded {
		p.fatalf("no successful rollback after the failed release (the template's rollback on failure: %v)", p.dep.RollbackOnFailure)
	}
	p.expectServes(p.ctx, "v2")
}

func playLastInstance(p *run) {
	last := p.last().ID
	res, rollback := p.deployWithRollback(p.ctx, "v3-fail-"+last)
	judged, missed := res.Judged()
	p.notef("CodeDeploy's outcome: %s; the project's (deployer, fleetctl deploy): %s, missed %s", res.Outcome, judged, strings.Join(missed, ", "))
	if p.dep.Rollout.Kind == rehearsal.OneAtATime && res.Outcome != rehearsal.Succeeded {
		p.problemf("CodeDeploy's outcome is %s; OneAtATime documents a failure on the last instance as a success", res.Outcome)
	}
	if judged != rehearsal.Failed || len(missed) != 1 || !strings.HasPrefix(missed[0], last+" ") {
		p.fatalf("reported as %s (missed %v), want a failure naming %s", judged, missed, last)
	}
	if rollback != nil {
		p.expectServes(p.ctx, "v2")
	}
}

func playScaleIn(p *run) {
	if !p.dep.TerminationHook {
		p.fatalf("the template's deployment group has the termination hook off (TerminationHookEnabled): scale-in runs no ApplicationStop")
	}
	in := p.last()
	res := p.scaleIn(p.ctx, in, p.tg.DeregistrationDelay, true)
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
	res := p.scaleIn(p.ctx, in, drain, true)
	p.expectApplicationStop(in.ID, res)
}

func playEarlyStop(p *run) {
	res, _ := p.deployWithRollback(p.ctx, "v2")
	if res.Outcome != rehearsal.Succeeded {
		p.notef("the deployment ended %s: %s", res.Outcome, describeFailure(res))
	}
}

func playNoHook(p *run) {
	in := p.last()
	if res := p.scaleIn(p.ctx, in, p.tg.DeregistrationDelay, false); res != nil {
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
		p.fatalf("no termination deployment ran on %s", instance)
	}
	for _, rec := range res.Records {
		if rec.Event != rehearsal.ApplicationStop {
			continue
		}
		if rec.Err != nil {
			p.fatalf("ApplicationStop on %s failed: %v", instance, rec.Err)
		}
		for _, h := range rec.Hooks {
			lines := strings.Split(strings.TrimSpace(h.Log), "\n")
			p.notef("ApplicationStop ran to completion on %s: %s exited 0 after %.1f s; it logged: %s",
				instance, h.Script, h.Duration.Seconds(), lines[len(lines)-1])
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
