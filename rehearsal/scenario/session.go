package scenario

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal"
	"github.com/example/codedeploy-fleet/rehearsal/sandbox"
)

// session is what the scenarios share: the options, the template's settings, the versions of
// the revisions, and the director's network.
type session struct {
	opts     Options
	template rehearsal.Template
	versions map[string]rehearsal.Revision
	net      *sandbox.Network
	report   *Report
	// size is the fleet the template describes (or --instances); zones name the zone of each
	// instance i-1, i-2, ... of the largest fleet a scenario starts.
	size  int
	zones []string
	// slow is how long the probe takes; settle is the load alone before each story, and after
	// is the load alone after it, long enough for a fault that comes soon after the last event
	// to be counted (settleAfter).
	slow, settle, after time.Duration
	// broken, once a deployment of the candidate (or a baseline that does not come up) has
	// failed in this run, says where: every story deploys both, so the scenarios after it are
	// not played, and a hook that hangs costs its timeout once per run, not once per scenario.
	broken string

	application, groupName, groupID string
}

// The versions the scenarios deploy. Each is a copy of its revision with its own scripts and
// pages (tagged with its name), as releases differ: a script changed in the candidate runs only
// where the story runs the candidate's.
const (
	baseline  = "v1"             // the release the fleet runs when a story begins
	candidate = "v2"             // the revision under rehearsal, the new release
	stopEarly = "v1-stops-early" // the baseline with the early-stop control's mistake
	// badRelease is the candidate as a bad release: its files and hooks are the candidate's, so
	// it passes ValidateService and the health check; once installed, the load balancer answers
	// badPercent of the requests it sends the instance with a 500, as the instance's own
	// response (HAProxy.BadRelease). The errors are injected at the load balancer because the
	// rehearsal cannot make any revision's own server fail one request in five; everything
	// else about the release is the candidate's.
	badRelease = "v2-bad"
)

// failing is the candidate with a ValidateService failure injected on instance.
func failing(instance string) string { return candidate + "-fails-on-" + instance }

func newSession(opts Options) (*session, error) {
	t, err := rehearsal.FromTemplate(opts.Template)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.TemplateName, err)
	}
	if opts.Scale == 0 {
		opts.Scale, opts.ScaleWhy = AutoScale(t, opts.Instances)
	}
	if opts.Scale < 0 || opts.Rate <= 0 {
		return nil, fmt.Errorf("the time scale and the rate must be positive")
	}
	if !t.Deployment.TrafficControl {
		return nil, fmt.Errorf("%s: the deployment group has no traffic control (WITH_TRAFFIC_CONTROL): the rehearsal plays deployments behind a load balancer", opts.TemplateName)
	}
	s := &session{opts: opts, template: t, versions: map[string]rehearsal.Revision{}, settle: time.Second}
	s.size = t.Group.Size()
	if opts.Instances > 0 {
		s.size = opts.Instances
	}
	if opts.Region == "" {
		opts.Region = regionOf(t.Group.Zones)
		s.opts.Region = opts.Region
	}
	s.zones = t.Group.Named(opts.Region).Spread(s.size + 1)
	// A slow request takes half the deregistration delay (at most 2 s, well inside the load's 5 s
	// timeout and HAProxy's): a graceful scale-in lets it finish with time to spare on a busy
	// machine, and the short-drain control's delay (a quarter of a slow request) cuts it.
	s.slow = min(s.scaled(t.TargetGroup.DeregistrationDelay)/2, 2*time.Second)
	s.after = settleAfter(t.TargetGroup, opts.Scale)
	s.application, s.groupName = "rehearsal", t.Deployment.Name
	if s.groupName == "" {
		s.groupName = "rehearsal"
	}
	s.groupID = uuid()

	dir := filepath.Join(opts.Work, "revisions")
	for _, b := range s.builds() {
		rev, err := makeVersion(b.from, filepath.Join(dir, b.name), b.name, b.extra...)
		if err != nil {
			return nil, fmt.Errorf("preparing %s from %s: %w", b.name, b.from, err)
		}
		s.versions[b.name] = rev
	}

	s.net = &sandbox.Network{Work: filepath.Join(opts.Work, "instances"), Bin: filepath.Join(opts.Work, "bin"), Region: opts.Region}
	if err := os.MkdirAll(s.net.Work, 0o755); err != nil {
		return nil, err
	}
	if err := s.net.Setup(); err != nil {
		s.net.Close()
		return nil, err
	}
	tg := t.TargetGroup
	s.report = &Report{
		Candidate: opts.Revision, Baseline: opts.Baseline, Template: opts.TemplateName, Scale: opts.Scale, ScaleWhy: opts.ScaleWhy, Instances: s.size,
		InstancesFrom: s.sizeSource(), Zones: s.zones[:s.size], Rate: opts.Rate, SlowRate: s.slowRate(), SlowSeconds: s.slow.Seconds(),
		SettleAfterSeconds: s.after.Seconds(),
		TargetGroup: TargetGroupReport{
			HealthCheckPath: tg.HealthCheckPath, IntervalSeconds: tg.Interval.Seconds(), TimeoutSeconds: tg.Timeout.Seconds(),
			HealthyThreshold: tg.HealthyThreshold, UnhealthyThreshold: tg.UnhealthyThreshold,
			DeregistrationDelaySeconds: tg.DeregistrationDelay.Seconds(), AllowTrafficBoundSeconds: tg.AllowTrafficBound().Seconds(),
		},
		Rollout:         t.Deployment.Rollout.Describe(s.size),
		TerminationHook: t.Deployment.TerminationHook,
	}
	return s, nil
}

// The clock: DefaultScale, unless the template's waits would make one deployment wait longer
// than waitBudget of real time, and then as much faster as that takes, at most MaxAutoScale
// (the load balancer's health-check timeout, 5 s in the template, becomes 170 ms there).
const (
	DefaultScale = 10
	MaxAutoScale = 30
	waitBudget   = 20 * time.Second
)

// AutoScale is the clock for a template's fleet of n instances (0: the template's size), and why
// when it is not DefaultScale: the monitor durations of a zonal rollout and the bake are waits of
// minutes, which the rehearsal plays several times (a rollout, a failed release, a rollback).
func AutoScale(t rehearsal.Template, n int) (float64, string) {
	if n == 0 {
		n = t.Group.Size()
	}
	d := t.Deployment
	waits := d.Bake
	if z := d.Zonal; z != nil {
		zones := min(len(distinct(t.Group.Named(regionOf(t.Group.Zones)).Spread(n))), n)
		if zones > 1 {
			waits += z.FirstZoneMonitor + time.Duration(zones-2)*z.Monitor
		}
	}
	scale := min(max(float64(DefaultScale), math.Ceil(waits.Seconds()/waitBudget.Seconds())), MaxAutoScale)
	if scale == DefaultScale {
		return scale, ""
	}
	return scale, fmt.Sprintf("the template's monitor durations and bake wait %v per deployment, %v at x%d", waits, time.Duration(float64(waits)/scale).Round(100*time.Millisecond), int(scale))
}

// build is a version the scenarios deploy: its name, the revision it is made from, and the
// hooks the rehearsal adds to it.
type build struct {
	name, from string
	extra      []extraHook
}

// builds are the versions of a session: the baseline as v1, the candidate as v2, the baseline
// with the early-stop control's mistake, and the candidate failing on the instance where
// failed-release and last-instance make it fail.
func (s *session) builds() []build {
	out := []build{
		{baseline, s.opts.Baseline, nil},
		{candidate, s.opts.Revision, nil},
		{stopEarly, s.opts.Baseline, []extraHook{stopsEarly}},
		{badRelease, s.opts.Revision, nil},
		{failing(instanceID(s.failedReleaseAt())), s.opts.Revision, []extraHook{failOn(instanceID(s.failedReleaseAt()))}},
	}
	if last := instanceID(s.size); last != instanceID(s.failedReleaseAt()) {
		out = append(out, build{failing(last), s.opts.Revision, []extraHook{failOn(last)}})
	}
	return out
}

// sizeSource says where the fleet's size comes from, for the report.
func (s *session) sizeSource() string {
	g := s.template.Group
	if s.opts.Instances > g.Max {
		return fmt.Sprintf("--instances, beyond the Auto Scaling group's maximum of %d", g.Max)
	}
	if s.opts.Instances > 0 {
		return "--instances"
	}
	if g.Desired > 0 {
		return "the Auto Scaling group's desired capacity"
	}
	return "the Auto Scaling group's minimum size"
}

// failedReleaseAt is the instance (counted from 1) where failed-release's candidate fails: one
// before the last, so that the deployment stops there (the second where there are three or
// more, so that one instance has taken the failing release and succeeded first).
func (s *session) failedReleaseAt() int {
	if s.size >= 3 {
		return 2
	}
	return 1
}

// settleAfter is how long the load and the verdict go on after a story's last event, on the
// rehearsal's clock: the time the load balancer needs to take a target that fails once it is
// in service out of it (unhealthy threshold x interval), plus the deregistration delay that
// lets its requests in flight end, so that a fault that comes soon after the deployment (a
// server that dies once warmed up, a restart a hook scheduled for a few seconds later) is
// counted. At least the second the story's start has.
func settleAfter(tg rehearsal.TargetGroup, scale float64) time.Duration {
	h := rehearsal.HAProxy{Scale: scale}
	return max(h.Scaled(time.Duration(tg.UnhealthyThreshold)*tg.Interval+tg.DeregistrationDelay), time.Second)
}

// regionOf is the region of the template's zones ("eu-west-1a" is in eu-west-1), or us-east-1
// when the template names none.
func regionOf(zones []string) string {
	for _, z := range zones {
		if len(z) > 1 {
			return z[:len(z)-1]
		}
	}
	return "us-east-1"
}

func (s *session) scaled(d time.Duration) time.Duration {
	return rehearsal.HAProxy{Scale: s.opts.Scale}.Scaled(d)
}

// slowRate keeps several slow requests in flight on every instance, so that the short-drain
// control always has some to cut.
func (s *session) slowRate() int { return max(2, s.opts.Rate/2) }

func (s *session) progress(format string, a ...any) {
	if s.opts.Progress != nil {
		fmt.Fprintf(s.opts.Progress, format, a...)
	}
}

// loads are the scenario's steady traffic: the page, and half as much to the rehearsal's slow
// probe. Each is bounded in time, whatever happens to the scenario, by the rehearsal's own
// limit: it never ends before the scenario does.
func (s *session) loads(listen string) []rehearsal.Load {
	const bound = 15 * time.Minute
	return []rehearsal.Load{
		{Name: "page", URL: "http://" + listen + "/", Rate: s.opts.Rate, Max: bound, RevisionOf: rehearsal.RevisionOf},
		{Name: "slow", URL: "http://" + listen + rehearsal.ProbePath, Rate: s.slowRate(), Max: bound, RevisionOf: rehearsal.RevisionOf},
	}
}

// scenarioTemplate is the template a scenario rehearses: the one given, or, for a scenario that
// needs another setting (the no-hook control), a copy of it the rehearsal writes, so that what
// the scenario shows follows from a template, never from a setting the rehearsal assumes.
func (s *session) scenarioTemplate(sc Scenario) (rehearsal.Template, string, error) {
	if sc.Template == nil {
		return s.template, s.opts.TemplateName, nil
	}
	data, err := sc.Template(s.opts.Template)
	if err != nil {
		return rehearsal.Template{}, "", err
	}
	name := filepath.Join(s.opts.Work, sc.Name+".template.json")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		return rehearsal.Template{}, "", err
	}
	t, err := rehearsal.FromTemplate(data)
	return t, name, err
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// WriteJSON writes the report as JSON.
func (r *Report) WriteJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// describeVersions says which revision each version of the report comes from.
func (r *Report) describeVersions() string {
	return fmt.Sprintf("%s = baseline %s, %s = candidate %s", baseline, r.Baseline, candidate, strings.TrimSpace(r.Candidate))
}
