package scenario

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal"
)

// watching is the scenario's CloudWatch and what watches it: the template's alarms evaluated over
// the scenario's requests and its targets' health, from the start of the load to its end.
type watching struct {
	w *rehearsal.Watch
	// gating: the alarms stop deployments (the scenario's template attaches them); otherwise
	// they are evaluated, drawn and reported, and nothing acts on them.
	gating bool
	mu     sync.Mutex
	firing []string
}

// startWatching evaluates the scenario's alarms until ctx ends: the deployment group's gating
// alarms, or, where the scenario's template detaches them, the same alarms unwatched. An alarm
// the rehearsal cannot compute is named in the notes, not evaluated. The returned wait returns
// once the evaluation has stopped, so that the report is read after its last change.
func (p *run) startWatching(ctx context.Context) (wait func()) {
	candidates, gating := p.dep.Alarms, true
	if len(candidates) == 0 {
		candidates, gating = p.dep.Detached, false
	}
	var alarms []rehearsal.Alarm
	for _, a := range candidates {
		if err := rehearsal.Evaluable(a); err != nil {
			p.notef("alarm %s is not evaluated: %v", a.Name, err)
			continue
		}
		alarms = append(alarms, a)
	}
	if len(alarms) == 0 {
		return func() {}
	}
	w := &watching{w: &rehearsal.Watch{Alarms: alarms, Start: p.t0, Scale: p.opts.Scale, Delay: p.dep.MetricDelay}, gating: gating}
	p.alarms = w
	lanes := map[string]*AlarmLane{}
	for _, a := range alarms {
		l := &AlarmLane{Name: a.Name, Rule: describeAlarm(a), Gating: gating}
		lanes[a.Name] = l
		p.rep.Alarms = append(p.rep.Alarms, l)
	}
	// The ALB samples target health continuously; twice per health-check interval is enough
	// to see every change the checks make.
	healthEvery := p.scaled(p.tg.Interval) / 2
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var lastHealth time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				if now.Sub(lastHealth) >= healthEvery {
					if n, err := p.lb.Unhealthy(); err == nil {
						w.w.Health(now, n)
					}
					lastHealth = now
				}
				firing := w.w.InAlarm(now)
				w.mu.Lock()
				for _, name := range firing {
					if !slices.Contains(w.firing, name) {
						p.mu.Lock()
						lanes[name].Spans = append(lanes[name].Spans, AlarmSpan{Start: since(p.t0, now), End: -1})
						p.mu.Unlock()
						p.progress("   %6.1fs  ALARM %s%s\n", since(p.t0, now), name, map[bool]string{false: " (detached: nothing watches it)"}[gating])
					}
				}
				for _, name := range w.firing {
					if !slices.Contains(firing, name) {
						p.mu.Lock()
						spans := lanes[name].Spans
						spans[len(spans)-1].End = since(p.t0, now)
						p.mu.Unlock()
					}
				}
				w.firing = firing
				w.mu.Unlock()
			}
		}
	}()
	return func() { <-done }
}

// record counts one request for the alarms' metrics, when its answer came.
func (w *watching) record(s rehearsal.Sample) {
	w.w.Add(rehearsal.Response{At: s.Time.Add(s.Latency), Status: int(s.Code), FromTarget: s.FromTarget, Latency: s.Latency})
}

// gatingAlarm names a gating alarm in ALARM, "" when none is.
func (p *run) gatingAlarm() string {
	w := p.alarms
	if w == nil || !w.gating {
		return ""
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.firing) == 0 {
		return ""
	}
	return w.firing[0]
}

// alarmAt is the first time at or after t that an alarm went to ALARM: the alarm named, or any
// ("" for name). The alarm lanes of the report are the record.
func (p *run) alarmAt(name string, after time.Time) (string, time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	from := since(p.t0, after)
	found, at := "", -1.0
	for _, l := range p.rep.Alarms {
		if name != "" && l.Name != name {
			continue
		}
		for _, sp := range l.Spans {
			if sp.Start >= from && (at < 0 || sp.Start < at) {
				found, at = l.Name, sp.Start
			}
		}
	}
	if at < 0 {
		return "", time.Time{}, false
	}
	return found, p.at(at), true
}

// describeAlarm is an alarm's rule as the report shows it.
func describeAlarm(a rehearsal.Alarm) string {
	op := map[string]string{"GreaterThanOrEqualToThreshold": ">=", "GreaterThanThreshold": ">", "LessThanThreshold": "<", "LessThanOrEqualToThreshold": "<="}[a.Comparison]
	return fmt.Sprintf("%s %s %s %g for %d of %d periods of %g s (missing data: %s)", a.Metric, a.Statistic, op, a.Threshold,
		a.DatapointsToAlarm, a.EvaluationPeriods, a.Period.Seconds(), a.TreatMissingData)
}

// bake is what `cdk deploy`'s revision deployment and `fleetctl deploy` do after a deployment
// succeeds (package deployer, bake.go): watch the gating alarms for the template's BakeSeconds
// (on the rehearsal's clock), and on an alarm put the previous release back with a deployment of
// their own, its alarms overridden off (the alarm that fired is still in ALARM and would stop it)
// and CodeDeployDefault.HalfAtATime, the deployer's restore configuration. It returns the
// restore, nil when the bake passed or there is none.
func (p *run) bake(ctx context.Context, res rehearsal.Result, previous string) *rehearsal.Result {
	if judged, _ := res.Judged(); judged != rehearsal.Succeeded || p.dep.Bake <= 0 || len(p.dep.Alarms) == 0 || ctx.Err() != nil {
		return nil
	}
	start := time.Now()
	p.progress("   baking %s for %v (%v on the template's clock), watching %s\n", res.ID, p.scaled(p.dep.Bake).Round(time.Millisecond), p.dep.Bake, plural(len(p.dep.Alarms), "gating alarm"))
	alarm := rehearsal.WatchFor(ctx, p.scaled(p.dep.Bake), p.gatingAlarm)
	b := &BakeReport{Start: since(p.t0, start), End: since(p.t0, time.Now()), Alarm: alarm}
	p.setDeployment(res.ID, func(d *DeploymentReport) { d.Bake = b })
	if alarm == "" {
		p.progress("   the bake passed: no gating alarm in %v\n", p.dep.Bake)
		return nil
	}
	p.notef("the bake of %s saw %s in ALARM: restoring %s (CodeDeployDefault.HalfAtATime, alarms overridden off)", res.ID, alarm, previous)
	saved := p.fleet.Rollout
	zonal := p.fleet.Zonal
	p.fleet.Rollout, p.fleet.Zonal = rehearsal.HalfAtATime, nil
	restore := p.deploy(ctx, previous, "user", restoreDeployment)
	p.fleet.Rollout, p.fleet.Zonal = saved, zonal
	b.RestoredBy = restore.ID
	p.setDeployment(restore.ID, func(d *DeploymentReport) { d.Restores = res.ID })
	return &restore
}

// BlastRadius is how far a release got and whom it hurt, on the template's clock.
type BlastRadius struct {
	InstancesReached int `json:"instancesReached"`
	Instances        int `json:"instances"`
	ZonesReached     int `json:"zonesReached"`
	Zones            int `json:"zones"`
	// BadResponses are the errors the release itself answered (a target's 5xx, or any status
	// a user would call a failure), on the template's clock: the load's rate stands for
	// requests per second of the template's clock, as the alarms count them, so each error the
	// rehearsal saw stands for Scale. DroppedRequests are the requests the rollout's mechanics
	// cut (no response, or the load balancer's own error), as counted: a drain's end cuts the
	// requests in flight at that moment, whatever the clock.
	BadResponses    int `json:"badResponses"`
	DroppedRequests int `json:"droppedRequests"`
	// DetectSeconds runs from the first bad response to the first alarm in ALARM,
	// RecoverSeconds to the last instance the release reached serving the previous release
	// again; null when it never happened.
	DetectSeconds  *float64 `json:"detectSeconds"`
	RecoverSeconds *float64 `json:"recoverSeconds"`
	// Alarm is the alarm DetectSeconds counts to; Reached names the instances.
	Alarm   string   `json:"alarm,omitempty"`
	Reached []string `json:"reached"`
}

// blastRadius measures the scenario's release (the version its user deployment shipped), once
// the load has ended.
func (p *run) blastRadius() *BlastRadius {
	if p.release == "" {
		return nil
	}
	br := &BlastRadius{Instances: p.rep.Instances, Zones: len(distinct(p.zones[:p.rep.Instances]))}
	var zones []string
	for _, in := range p.members {
		if p.reached[in.ID] {
			br.Reached = append(br.Reached, in.ID)
			zones = append(zones, p.zoneOf(in.ID))
		}
	}
	br.InstancesReached, br.ZonesReached = len(br.Reached), len(distinct(zones))
	var firstBad time.Time
	for _, r := range p.rep.Load.Each {
		if !failed(r) {
			continue
		}
		if r.FromTarget {
			br.BadResponses++
			if firstBad.IsZero() {
				firstBad = p.at(r.At)
			}
		} else {
			br.DroppedRequests++
		}
	}
	br.BadResponses = int(math.Round(float64(br.BadResponses) * p.opts.Scale))
	if firstBad.IsZero() {
		return br
	}
	if name, at, ok := p.alarmAt("", firstBad); ok {
		// The alarms run wholly on the scaled clock.
		d := at.Sub(firstBad).Seconds() * p.opts.Scale
		br.DetectSeconds, br.Alarm = &d, name
	}
	var back time.Time
	for _, in := range br.Reached {
		t, ok := p.restoredAt[in]
		if !ok {
			return br
		}
		if t.After(back) {
			back = t
		}
	}
	r := p.templateSeconds(firstBad, back)
	br.RecoverSeconds = &r
	return br
}

// templateSeconds converts the time from a to b to the template's clock. The load balancer's
// durations, the monitor durations, the bake and the alarms run Scale times faster than the
// template's; the hooks, downloads and installs run in real time. So a stretch of the
// rehearsal is Scale times its length, less what the real-time events took of it (the union of
// their spans on every instance) counted once instead of Scale times. Exact where instances go
// one at a time; where they go side by side, a hook on one while another drains is counted as
// real time, and the conversion errs short.
func (p *run) templateSeconds(a, b time.Time) float64 {
	real := p.realTime(a, b)
	return b.Sub(a).Seconds()*p.opts.Scale - (p.opts.Scale-1)*real
}

// realTime is the time between a and b during which a hook, a download or an install ran on
// some instance, each moment counted once.
func (p *run) realTime(a, b time.Time) float64 {
	from, to := since(p.t0, a), since(p.t0, b)
	p.mu.Lock()
	var spans [][2]float64
	for _, l := range p.rep.Lanes {
		for _, s := range l.Spans {
			if s.Kind != "traffic" && s.End > from && s.Start < to {
				spans = append(spans, [2]float64{max(s.Start, from), min(s.End, to)})
			}
		}
	}
	p.mu.Unlock()
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	total, end := 0.0, from
	for _, s := range spans {
		if s[1] <= end {
			continue
		}
		total += s[1] - max(s[0], end)
		end = s[1]
	}
	return total
}

// raceHeld checks that the rehearsal's verdict on a race between the alarms and the rollout is
// the one the template's clock gives. The alarm fired at alarmAt; the rollout would have gone on
// at deadline (the end of the first zone's monitor duration, or of the bake). Between the first
// bad response and the moment the watching began (watchFrom: the end of the zone, or of the
// deployment), the hooks ran in real time, Scale times slower than the template's clock has
// them, which pushed the deadline later than it is on AWS by (Scale-1) x their time. When that
// is more than the alarm's margin, the scale decided the race, and the verdict is refused.
func (p *run) raceHeld(firstBad, watchFrom, alarmAt, deadline time.Time, what string) bool {
	s := p.opts.Scale
	margin := deadline.Sub(alarmAt).Seconds() * s
	hooks := p.realTime(firstBad, watchFrom)
	distortion := (s - 1) * hooks
	if margin <= 0 {
		p.problemf("the alarm went to ALARM %.0f s after %s would have begun, on the template's clock", -margin, what)
		return false
	}
	if distortion < margin {
		p.notef("the alarm beat %s by %.0f s on the template's clock; the hooks' %.2f s of real time would make it %.0f s less on AWS", what, margin, hooks, distortion)
		return true
	}
	p.problemf("at --scale %g the race with %s is decided by the scale, not by the template: the hooks ran %.2f s in real time, %.0f s too long on the template's clock, more than the alarm's margin of %.0f s; rehearse with --scale %d or less",
		s, what, hooks, distortion, margin, int(1+margin/max(hooks, 1e-3)))
	return false
}

// restoredAt notes, for each instance a deployment of another version than the release brought
// back into service, when it did.
func (p *run) noteRestored(res rehearsal.Result, version string) {
	if version == p.release {
		return
	}
	for _, rec := range res.Records {
		if rec.Event == rehearsal.AllowTraffic && rec.Err == nil && p.reached[rec.Instance] {
			p.restoredAt[rec.Instance] = rec.End
		}
	}
}

// setDeployment changes the report of deployment id.
func (p *run) setDeployment(id string, change func(*DeploymentReport)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.rep.Deployments {
		if p.rep.Deployments[i].ID == id {
			change(&p.rep.Deployments[i])
		}
	}
}

func (p *run) zoneOf(instance string) string {
	for i, in := range p.members {
		if in.ID == instance {
			return p.zones[i]
		}
	}
	return ""
}

// at is the time of a report's offset.
func (p *run) at(seconds float64) time.Time {
	return p.t0.Add(time.Duration(seconds * float64(time.Second)))
}
