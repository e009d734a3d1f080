package scenario

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal"
)

// Report is a rehearsal's outcome, as the JSON file has it.
type Report struct {
	// Candidate is the revision rehearsed as the new release (v2), Baseline the one the fleet
	// runs before it (v1).
	Candidate string  `json:"candidate"`
	Baseline  string  `json:"baseline"`
	Template  string  `json:"template"`
	Scale     float64 `json:"timeScale"`
	// ScaleWhy says why the clock is faster than the default.
	ScaleWhy string `json:"timeScaleWhy,omitempty"`
	// Instances is the fleet's size, InstancesFrom where it comes from, and Zones each
	// instance's Availability Zone.
	Instances     int      `json:"instances"`
	InstancesFrom string   `json:"instancesFrom"`
	Zones         []string `json:"zones"`
	Rate          int      `json:"requestsPerSecond"`
	SlowRate      int      `json:"slowRequestsPerSecond"`
	SlowSeconds   float64  `json:"slowRequestSeconds"`
	// SettleAfterSeconds is how long the load goes on after each story's last event.
	SettleAfterSeconds float64           `json:"settleAfterSeconds"`
	TargetGroup        TargetGroupReport `json:"targetGroup"`
	Rollout            string            `json:"rollout"`
	TerminationHook    bool              `json:"terminationHook"`
	Scenarios          []*ScenarioReport `json:"scenarios"`
	Passed             bool              `json:"passed"`
	// Interrupted: the run was stopped (Ctrl-C) before it ended.
	Interrupted bool `json:"interrupted,omitempty"`
}

// TargetGroupReport is the template's target group, in its own (unscaled) seconds.
type TargetGroupReport struct {
	HealthCheckPath            string  `json:"healthCheckPath"`
	IntervalSeconds            float64 `json:"intervalSeconds"`
	TimeoutSeconds             float64 `json:"timeoutSeconds"`
	HealthyThreshold           int     `json:"healthyThreshold"`
	UnhealthyThreshold         int     `json:"unhealthyThreshold"`
	DeregistrationDelaySeconds float64 `json:"deregistrationDelaySeconds"`
	// AllowTrafficBoundSeconds is how long AllowTraffic waits, in real time, for a registered
	// target to pass a health check.
	AllowTrafficBoundSeconds float64 `json:"allowTrafficBoundSeconds"`
}

// ScenarioReport is one scenario's outcome. Times are seconds from the start of its load.
type ScenarioReport struct {
	Name      string `json:"scenario"`
	Title     string `json:"title"`
	Control   bool   `json:"control"`
	Expect    string `json:"expect"`
	Template  string `json:"template"`
	Instances int    `json:"instances"`
	Passed    bool   `json:"passed"`
	// NotPlayed says why the scenario's story was not played: NotApplicable when it does not
	// apply to the fleet (which fails nothing), else because an earlier deployment of the
	// candidate failed. Interrupted: the run was stopped (Ctrl-C) while it was played.
	NotPlayed     string             `json:"notPlayed,omitempty"`
	NotApplicable bool               `json:"notApplicable,omitempty"`
	Interrupted   bool               `json:"interrupted,omitempty"`
	Problems      []string           `json:"problems,omitempty"`
	Notes         []string           `json:"notes,omitempty"`
	WallSeconds   float64            `json:"wallSeconds"`
	Load          LoadReport         `json:"load"`
	Deployments   []DeploymentReport `json:"deployments"`
	Lanes         []*Lane            `json:"lanes"`
	PerInstance   PerInstance        `json:"perInstance"`
	Serving       []string           `json:"servingAtEnd,omitempty"`
	// Alarms are the template's alarms as the rehearsal's CloudWatch evaluated them.
	Alarms []*AlarmLane `json:"alarms,omitempty"`
	// BlastRadius is how far the story's release got, for a scenario with a user deployment.
	BlastRadius *BlastRadius `json:"blastRadius,omitempty"`
	lanes       map[string]*Lane
}

// AlarmLane is one alarm over the scenario: when it was in ALARM.
type AlarmLane struct {
	Name string `json:"name"`
	Rule string `json:"rule"`
	// Gating: the deployment group watched it; otherwise nothing did.
	Gating bool        `json:"gating"`
	Spans  []AlarmSpan `json:"inAlarm"`
}

// AlarmSpan is a stretch in ALARM; End is -1 while it still was when the load ended.
type AlarmSpan struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// BakeReport is the bake after a deployment: how long it watched, the alarm that ended it and
// the deployment that restored the previous release.
type BakeReport struct {
	Start      float64 `json:"start"`
	End        float64 `json:"end"`
	Alarm      string  `json:"alarm,omitempty"`
	RestoredBy string  `json:"restoredBy,omitempty"`
}

// WaveReport is one wave of a deployment: its zone, its instances, and how long it was watched
// after its last event.
type WaveReport struct {
	Zone      string   `json:"zone,omitempty"`
	Instances []string `json:"instances"`
	Start     float64  `json:"start"`
	End       float64  `json:"end"`
	Watched   float64  `json:"watchedUntil"`
}

// LoadReport is what the load saw. P50Ms and P99Ms are the page's latency; the slow endpoint's
// requests are counted, not timed.
type LoadReport struct {
	Requests   int             `json:"requests"`
	Failed     int             `json:"failed"`
	P50Ms      float64         `json:"p50Ms"`
	P99Ms      float64         `json:"p99Ms"`
	BinSeconds float64         `json:"binSeconds"`
	Bins       []Bin           `json:"bins"`
	Failures   []FailedRequest `json:"firstFailures,omitempty"`
	// ServedBy counts the requests each version answered.
	ServedBy map[string]int `json:"servedBy"`
	// PerInstance counts the requests the load balancer sent each instance, and their failures.
	PerInstance map[string]*Count `json:"perInstance"`
	// Each is every request, in the order they were sent.
	Each    []Request `json:"each"`
	Seconds float64   `json:"seconds"`
}

// Request is one request of the load, as the load generator saw it.
type Request struct {
	At        float64 `json:"at"`
	Load      string  `json:"load"`
	Code      uint16  `json:"code"`
	LatencyMs float64 `json:"latencyMs"`
	Instance  string  `json:"instance,omitempty"`
	Revision  string  `json:"revision,omitempty"`
	Error     string  `json:"error,omitempty"`
	// FromTarget: an instance sent the response; otherwise the load balancer did, or nobody.
	FromTarget bool `json:"fromTarget,omitempty"`
}

// Count is requests and failures.
type Count struct {
	Requests int `json:"requests"`
	Failed   int `json:"failed"`
}

// Bin is the load in one slice of time.
type Bin struct {
	At     float64 `json:"at"`
	OK     int     `json:"ok"`
	Failed int     `json:"failed"`
	// Served counts the answered requests by the version that answered them.
	Served map[string]int `json:"served"`
}

// FailedRequest is one request a user would have seen fail.
type FailedRequest struct {
	At     float64 `json:"at"`
	Code   uint16  `json:"code"`
	Error  string  `json:"error,omitempty"`
	Load   string  `json:"load"`
	Server string  `json:"instance,omitempty"`
}

// DeploymentReport is one deployment of the scenario.
type DeploymentReport struct {
	ID       string         `json:"id"`
	Creator  string         `json:"creator"`
	Revision string         `json:"revision"`
	Outcome  string         `json:"codeDeployOutcome"`
	Judged   string         `json:"reportedOutcome"`
	Missed   []string       `json:"missedInstances,omitempty"`
	Failure  *FailureReport `json:"failure,omitempty"`
	// Start and End are the deployment's first and last event, in seconds from the load's
	// start, and TemplateSeconds the time in between on the template's clock; Requests and
	// Failed count the load in between.
	Start           float64 `json:"start"`
	End             float64 `json:"end"`
	TemplateSeconds float64 `json:"templateSeconds"`
	Requests        int     `json:"requests"`
	Failed          int     `json:"failed"`
	// RolledBackBy is the deployment that rolled this one back; UntilRestored counts the load
	// from this one's start to that one's end.
	RolledBackBy  string `json:"rolledBackBy,omitempty"`
	UntilRestored *Count `json:"untilRestored,omitempty"`
	// StoppedBy is the gating alarm that stopped it; Waves are the zones it reached; Bake is
	// the bake after it.
	StoppedBy string `json:"stoppedBy,omitempty"`
	// Restores names the deployment whose bake this deployment is the restore of.
	Restores string       `json:"restores,omitempty"`
	Waves    []WaveReport `json:"waves,omitempty"`
	Bake     *BakeReport  `json:"bake,omitempty"`
}

// FailureReport names where a deployment failed, with the script's log as the agent keeps it.
type FailureReport struct {
	Instance string `json:"instance"`
	Event    string `json:"event"`
	Script   string `json:"script,omitempty"`
	// Revision is the version the failed script came from.
	Revision string `json:"scriptRevision,omitempty"`
	Error    string `json:"error"`
	Log      string `json:"log,omitempty"`
}

// Lane is one instance's events and load-balancer marks.
type Lane struct {
	Instance string `json:"instance"`
	Zone     string `json:"zone,omitempty"`
	Spans    []Span `json:"events"`
	Marks    []Mark `json:"marks"`
}

// Span is one lifecycle event (or Auto Scaling's deregistration) on an instance.
type Span struct {
	Label  string  `json:"event"`
	Start  float64 `json:"start"`
	End    float64 `json:"end"`
	Kind   string  `json:"kind"` // traffic, hook, install
	Failed bool    `json:"failed,omitempty"`
}

// Mark is a moment on an instance's lane: a target state change or its termination.
type Mark struct {
	At   float64 `json:"at"`
	What string  `json:"what"`
}

// PerInstance compares the time an instance took with the model's: deregistration delay + one
// health-check interval (both on the rehearsal's clock) + the hooks' own time.
type PerInstance struct {
	MeasuredSeconds float64 `json:"measuredSeconds"`
	ModelSeconds    float64 `json:"modelSeconds"`
	Samples         int     `json:"samples"`
}

func (s *ScenarioReport) lane(instance string) *Lane {
	if s.lanes == nil {
		s.lanes = map[string]*Lane{}
	}
	l, ok := s.lanes[instance]
	if !ok {
		l = &Lane{Instance: instance}
		s.lanes[instance] = l
		s.Lanes = append(s.Lanes, l)
	}
	return l
}

func (s *ScenarioReport) addSpan(instance string, sp Span) {
	l := s.lane(instance)
	l.Spans = append(l.Spans, sp)
}

func spanOf(rec rehearsal.Record, t0 time.Time) Span {
	kind := "hook"
	switch rec.Event {
	case rehearsal.BlockTraffic, rehearsal.AllowTraffic:
		kind = "traffic"
	case rehearsal.DownloadBundle, rehearsal.Install:
		kind = "install"
	}
	return Span{Label: string(rec.Event), Start: since(t0, rec.Start), End: since(t0, rec.End), Kind: kind, Failed: rec.Err != nil}
}

// addDeployment records a deployment and its instances' times against the model.
func (p *run) addDeployment(res rehearsal.Result, version string) {
	judged, missed := res.Judged()
	d := DeploymentReport{ID: res.ID, Creator: res.Creator, Revision: version, Outcome: string(res.Outcome), Judged: string(judged), Missed: missed, StoppedBy: res.StoppedBy}
	for _, w := range res.Waves {
		d.Waves = append(d.Waves, WaveReport{Zone: w.Zone, Instances: w.Instances, Start: since(p.t0, w.Start), End: since(p.t0, w.End), Watched: since(p.t0, w.Watched)})
	}
	if f := res.Failure; f != nil {
		fr := &FailureReport{Instance: f.Instance, Event: string(f.Event), Error: fmt.Sprint(f.Err)}
		for _, h := range f.Hooks {
			if h.Err != nil {
				fr.Script, fr.Log, fr.Revision = h.Script, h.Log, h.Revision
			}
		}
		d.Failure = fr
	}
	if len(res.Records) > 0 {
		start, end := res.Records[0].Start, res.Records[0].End
		for _, rec := range res.Records {
			if rec.Start.Before(start) {
				start = rec.Start
			}
			if rec.End.After(end) {
				end = rec.End
			}
		}
		d.Start, d.End = since(p.t0, start), since(p.t0, end)
		d.TemplateSeconds = p.templateSeconds(start, end)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rep.Deployments = append(p.rep.Deployments, d)
	if res.Creator == "autoscalingTermination" {
		return
	}
	// A registered target is in service after one passing health check, which comes within an
	// interval (HAProxy.InService).
	model := p.scaled(p.tg.DeregistrationDelay) + p.scaled(p.tg.Interval)
	for _, in := range res.Instances {
		if res.TargetStatus(in) != "Succeeded" {
			continue
		}
		var first, last time.Time
		hooks := time.Duration(0)
		for _, rec := range res.Records {
			if rec.Instance != in {
				continue
			}
			if first.IsZero() {
				first = rec.Start
			}
			last = rec.End
			for _, h := range rec.Hooks {
				hooks += h.Duration
			}
		}
		pi := &p.rep.PerInstance
		n := float64(pi.Samples)
		pi.MeasuredSeconds = (pi.MeasuredSeconds*n + last.Sub(first).Seconds()) / (n + 1)
		pi.ModelSeconds = (pi.ModelSeconds*n + (model + hooks).Seconds()) / (n + 1)
		pi.Samples++
	}
}

// addLoad summarizes the samples into the report: counts, percentiles, bins, the first
// failures and which version answered.
func (s *ScenarioReport) addLoad(samples []rehearsal.Sample, t0 time.Time) {
	sum := rehearsal.Summarize(samples)
	// Latency is the page's: the slow endpoint's is what the rehearsal makes it.
	var page []rehearsal.Sample
	for _, x := range samples {
		if x.Load == "page" {
			page = append(page, x)
		}
	}
	lat := rehearsal.Summarize(page)
	l := LoadReport{Requests: sum.Requests, Failed: sum.Failed, P50Ms: ms(lat.P50), P99Ms: ms(lat.P99), BinSeconds: 0.25, ServedBy: map[string]int{}, PerInstance: map[string]*Count{}}
	for _, x := range samples {
		at := since(t0, x.Time)
		l.Seconds = max(l.Seconds, at)
		i := int(at / l.BinSeconds)
		for len(l.Bins) <= i {
			l.Bins = append(l.Bins, Bin{At: float64(len(l.Bins)) * l.BinSeconds})
		}
		l.Each = append(l.Each, Request{At: at, Load: x.Load, Code: x.Code, LatencyMs: ms(x.Latency), Instance: x.Server, Revision: x.Revision, Error: x.Err, FromTarget: x.FromTarget})
		server := x.Server
		if server == "" {
			server = "none"
		}
		if l.PerInstance[server] == nil {
			l.PerInstance[server] = &Count{}
		}
		l.PerInstance[server].Requests++
		if x.Failed() {
			l.PerInstance[server].Failed++
			l.Bins[i].Failed++
			if len(l.Failures) < 20 {
				l.Failures = append(l.Failures, FailedRequest{At: at, Code: x.Code, Error: x.Err, Load: x.Load, Server: x.Server})
			}
			continue
		}
		l.Bins[i].OK++
		if l.Bins[i].Served == nil {
			l.Bins[i].Served = map[string]int{}
		}
		l.Bins[i].Served[orUnknown(x.Revision)]++
		l.ServedBy[orUnknown(x.Revision)]++
	}
	s.Load = l
	count := func(from, to float64) (c Count) {
		for _, r := range l.Each {
			if r.At >= from && r.At <= to {
				c.Requests++
				if failed(r) {
					c.Failed++
				}
			}
		}
		return c
	}
	for i := range s.Deployments {
		d := &s.Deployments[i]
		c := count(d.Start, d.End)
		d.Requests, d.Failed = c.Requests, c.Failed
		for _, rb := range s.Deployments {
			if rb.ID == d.RolledBackBy && rb.ID != "" {
				c := count(d.Start, rb.End)
				d.UntilRestored = &c
			}
		}
	}
}

// failures groups the failed requests (those which, when given, pass) by path and status (or
// error), most frequent first: "12 x GET / 500".
func (l LoadReport) failures(which ...func(Request) bool) []string {
	counts := map[string]int{}
	var keys []string
	for _, r := range l.Each {
		if !failed(r) || len(which) > 0 && !which[0](r) {
			continue
		}
		path := "/"
		if r.Load == "slow" {
			path = rehearsal.ProbePath + " (the rehearsal's probe)"
		}
		status := fmt.Sprint(r.Code)
		if r.Code == 0 {
			status = "no response: " + shortError(r.Error)
		}
		k := "GET " + path + " " + status
		if counts[k] == 0 {
			keys = append(keys, k)
		}
		counts[k]++
	}
	sort.SliceStable(keys, func(i, j int) bool { return counts[keys[i]] > counts[keys[j]] })
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%d x %s", counts[k], k)
	}
	return out
}

// count adds up the counts of failures' groups.
func count(groups []string) int {
	n := 0
	for _, g := range groups {
		var k int
		fmt.Sscanf(g, "%d x", &k)
		n += k
	}
	return n
}

// failedWhat says which requests failed, by path and status.
func (l LoadReport) failedWhat() string { return strings.Join(first(l.failures(), 4), ", ") }

// failedWhere is failedWhat for the progress line, empty when nothing failed.
func (l LoadReport) failedWhere() string {
	if l.Failed == 0 {
		return ""
	}
	return ": " + l.failedWhat()
}

// shortError is the end of a Go HTTP client's error, what a user would recognise ("connection
// refused", "EOF").
func shortError(err string) string {
	if i := strings.LastIndex(err, ": "); i >= 0 {
		return err[i+2:]
	}
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Table is the report as the terminal shows it.
func (r *Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Rehearsal of the candidate %s over the baseline %s (%s).\n", r.Candidate, r.Baseline, r.describeVersions())
	fmt.Fprintf(&b, "Fleet of %s (%s) in %s; %s; template %s.\n", plural(r.Instances, "instance"), r.InstancesFrom, strings.Join(distinct(r.Zones), ", "), r.Rollout, r.Template)
	if r.ScaleWhy != "" {
		fmt.Fprintf(&b, "The clock runs x%g, faster than the default x%d: %s.\n", r.Scale, DefaultScale, r.ScaleWhy)
	}
	fmt.Fprintf(&b, "Load balancer clock %gx faster: health check every %.2f s, deregistration delay %.2f s (template: %g s and %g s); AllowTraffic waits up to %g s of real time. Load: %d req/s, plus %d req/s of %.2f s requests, for %.1f s after each story.\n\n",
		r.Scale, r.TargetGroup.IntervalSeconds/r.Scale, r.TargetGroup.DeregistrationDelaySeconds/r.Scale,
		r.TargetGroup.IntervalSeconds, r.TargetGroup.DeregistrationDelaySeconds, r.TargetGroup.AllowTrafficBoundSeconds,
		r.Rate, r.SlowRate, r.SlowSeconds, r.SettleAfterSeconds)
	fmt.Fprintf(&b, "%-20s %9s %8s %7s %8s %8s %7s %19s  %s\n", "scenario", "instances", "requests", "failed", "p50", "p99", "wall", "per instance/model", "result")
	for _, s := range r.Scenarios {
		per := "-"
		if s.PerInstance.Samples > 0 {
			per = fmt.Sprintf("%.1f s / %.1f s", s.PerInstance.MeasuredSeconds, s.PerInstance.ModelSeconds)
		}
		fmt.Fprintf(&b, "%-20s %9d %8d %7d %6.1fms %6.1fms %6.1fs %19s  %s\n", s.Name, s.Instances, s.Load.Requests, s.Load.Failed, s.Load.P50Ms, s.Load.P99Ms, s.WallSeconds, per, s.result())
	}
	if r.hasBlastRadius() {
		fmt.Fprintf(&b, "\nBlast radius of each scenario's release, on the template's clock (the rehearsal's times and the errors answered x%g, the hooks' real time counted once):\n", r.Scale)
		fmt.Fprintf(&b, "%-20s %8s %9s %7s %6s %8s %8s %8s  %s\n", "scenario", "rollout", "reached", "zones", "bad", "dropped", "detect", "recover", "how it ended")
		for _, s := range r.Scenarios {
			br := s.BlastRadius
			if br == nil {
				continue
			}
			fmt.Fprintf(&b, "%-20s %8s %9s %7s %6d %8d %8s %8s  %s\n", s.Name, s.rolloutSeconds(), fmt.Sprintf("%d of %d", br.InstancesReached, br.Instances),
				fmt.Sprintf("%d of %d", br.ZonesReached, br.Zones), br.BadResponses, br.DroppedRequests, seconds(br.DetectSeconds), seconds(br.RecoverSeconds), s.ended())
		}
	}
	for _, s := range r.Scenarios {
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "\n%s: %s\n", s.Name, n)
		}
		for _, d := range s.Deployments {
			if f := d.Failure; f != nil && !s.Interrupted {
				script := ""
				if f.Script != "" {
					script = fmt.Sprintf(" (%s's %s)", f.Revision, f.Script)
				}
				meanwhile := fmt.Sprintf("%d of the %d requests sent meanwhile failed", d.Failed, d.Requests)
				if c := d.UntilRestored; c != nil {
					meanwhile = fmt.Sprintf("%d of the %d requests sent from its start to the end of its rollback (%s) failed", c.Failed, c.Requests, d.RolledBackBy)
				}
				fmt.Fprintf(&b, "\n%s: deployment %s of %s failed on %s at %s%s: %s; %s\n",
					s.Name, d.ID, d.Revision, f.Instance, f.Event, script, f.Error, meanwhile)
				for _, line := range strings.Split(strings.TrimSpace(f.Log), "\n") {
					if strings.HasPrefix(line, "[stderr]") {
						fmt.Fprintf(&b, "    %s\n", line)
					}
				}
			}
		}
		if s.Load.Failed > 0 {
			fmt.Fprintf(&b, "\n%s: failed requests: %s\n", s.Name, strings.Join(s.Load.failures(), ", "))
		}
		switch {
		case s.Interrupted:
			fmt.Fprintf(&b, "\n%s: interrupted\n", s.Name)
		case s.NotApplicable:
			fmt.Fprintf(&b, "\n%s: does not apply: %s\n", s.Name, s.NotPlayed)
		case s.NotPlayed != "":
			fmt.Fprintf(&b, "\n%s: not played: %s\n", s.Name, s.NotPlayed)
		}
		for _, p := range s.Problems {
			if !s.Interrupted {
				fmt.Fprintf(&b, "\n%s: FAILED: %s\n", s.Name, p)
			}
		}
	}
	return b.String()
}

func (r *Report) hasBlastRadius() bool {
	for _, s := range r.Scenarios {
		if s.BlastRadius != nil {
			return true
		}
	}
	return false
}

// seconds is a blast radius time, "-" when it never came.
func seconds(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f s", *v)
}

// rolloutSeconds is the time the scenario's first user deployment took on the template's clock.
func (s *ScenarioReport) rolloutSeconds() string {
	for _, d := range s.Deployments {
		if d.Creator == "user" {
			return fmt.Sprintf("%.0f s", d.TemplateSeconds)
		}
	}
	return "-"
}

// ended says how the scenario's user deployment ended: stopped by an alarm and rolled back,
// restored by the bake, or left in place.
func (s *ScenarioReport) ended() string {
	for _, d := range s.Deployments {
		if d.Creator != "user" {
			continue
		}
		switch {
		case d.StoppedBy != "" && d.RolledBackBy != "":
			return "stopped by " + d.StoppedBy + ", rolled back"
		case d.StoppedBy != "":
			return "stopped by " + d.StoppedBy
		case d.RolledBackBy != "":
			return d.Judged + ", rolled back"
		case d.Bake != nil && d.Bake.RestoredBy != "":
			return "the bake saw " + d.Bake.Alarm + ", restored"
		case d.Bake != nil:
			return d.Judged + ", bake passed"
		default:
			return d.Judged
		}
	}
	return "-"
}

// result is the scenario's verdict in the table.
func (s *ScenarioReport) result() string {
	var result string
	switch {
	case s.Interrupted:
		return "interrupted"
	case s.NotApplicable:
		return "does not apply"
	case s.NotPlayed != "":
		return "not played"
	case s.Passed:
		result = "pass"
	default:
		result = "FAIL"
	}
	if s.Control {
		result += " (control)"
	}
	return result
}

// distinct is zones without repeats, in order.
func distinct(zones []string) []string {
	var out []string
	for _, z := range zones {
		if !slices.Contains(out, z) {
			out = append(out, z)
		}
	}
	return out
}

// plural is "1 instance", "3 instances".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
