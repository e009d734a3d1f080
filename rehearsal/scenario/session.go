package scenario

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal"
	"github.com/example/codedeploy-fleet/rehearsal/sandbox"
)

// session is what the scenarios share: the options, the template's settings, the versions of
// the revision, and the director's network.
type session struct {
	opts     Options
	tg       rehearsal.TargetGroup
	dep      rehearsal.Deployment
	versions map[string]rehearsal.Revision
	net      *sandbox.Network
	report   *Report
	// slow is how long the slow endpoint takes; settle is the load alone before and after
	// each story.
	slow, settle time.Duration

	application, groupName, groupID string
}

func newSession(opts Options) (*session, error) {
	if opts.Instances < 3 {
		return nil, fmt.Errorf("the rehearsal needs at least 3 instances (got %d): the failed release fails on one that is neither the first nor the last", opts.Instances)
	}
	if opts.Scale <= 0 || opts.Rate <= 0 {
		return nil, fmt.Errorf("the time scale and the rate must be positive")
	}
	tg, dep, err := rehearsal.FromTemplate(opts.Template)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.TemplateName, err)
	}
	if !dep.TrafficControl {
		return nil, fmt.Errorf("%s: the deployment group has no traffic control (WITH_TRAFFIC_CONTROL): the rehearsal plays deployments behind a load balancer", opts.TemplateName)
	}
	s := &session{opts: opts, tg: tg, dep: dep, versions: map[string]rehearsal.Revision{}, settle: time.Second}
	// A slow request takes half the deregistration delay (at most 2 s, well inside the load's 5 s
	// timeout and HAProxy's): a graceful scale-in lets it finish with time to spare on a busy
	// machine, and the short-drain control's delay (a quarter of a slow request) cuts it.
	s.slow = min(s.scaled(tg.DeregistrationDelay)/2, 2*time.Second)
	s.application, s.groupName = "rehearsal", dep.Name
	if s.groupName == "" {
		s.groupName = "rehearsal"
	}
	s.groupID = uuid()

	dir := filepath.Join(opts.Work, "revisions")
	type build struct {
		name  string
		extra []extraHook
	}
	builds := []build{{"v1", nil}, {"v2", nil}, {"v2-stops-early", []extraHook{stopsEarly}}}
	// A release that fails on the second instance (failed-release) and one that fails on the last
	// (last-instance); the fleet has at least three.
	for _, in := range []string{instanceID(2), instanceID(opts.Instances)} {
		builds = append(builds, build{"v3-fail-" + in, []extraHook{failOn(in)}})
	}
	for _, b := range builds {
		rev, err := makeVersion(opts.Revision, filepath.Join(dir, b.name), b.name, b.extra...)
		if err != nil {
			return nil, fmt.Errorf("preparing %s of %s: %w", b.name, opts.Revision, err)
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
	s.report = &Report{
		Revision: opts.Revision, Template: opts.TemplateName, Scale: opts.Scale, Instances: opts.Instances,
		Rate: opts.Rate, SlowRate: s.slowRate(), SlowSeconds: s.slow.Seconds(),
		TargetGroup: TargetGroupReport{
			HealthCheckPath: tg.HealthCheckPath, IntervalSeconds: tg.Interval.Seconds(), TimeoutSeconds: tg.Timeout.Seconds(),
			HealthyThreshold: tg.HealthyThreshold, UnhealthyThreshold: tg.UnhealthyThreshold,
			DeregistrationDelaySeconds: tg.DeregistrationDelay.Seconds(),
		},
		Rollout:         dep.Rollout.Describe(opts.Instances),
		TerminationHook: dep.TerminationHook,
	}
	return s, nil
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

// loads are the scenario's steady traffic: the page, and half as much to the slow endpoint.
// Each is bounded in time, whatever happens to the scenario, by the rehearsal's own limit: it
// never ends before the scenario does.
func (s *session) loads(listen string) []rehearsal.Load {
	const bound = 15 * time.Minute
	return []rehearsal.Load{
		{Name: "page", URL: "http://" + listen + "/", Rate: s.opts.Rate, Max: bound, RevisionOf: RevisionOf},
		{Name: "slow", URL: "http://" + listen + "/rehearsal/slow", Rate: s.slowRate(), Max: bound, RevisionOf: RevisionOf},
	}
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
