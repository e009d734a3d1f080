package scenario

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal"
	"github.com/example/codedeploy-fleet/rehearsal/internal/execfile"
	"github.com/example/codedeploy-fleet/rehearsal/sandbox"
)

// A version of the revision: its pages tell which version served them, the scenario's hook
// runs after the revision's own, and the revision itself is not touched.
func TestMakeVersion(t *testing.T) {
	before, err := os.ReadFile("../../assets/appspec.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "v2")
	name := failing("i-2")
	rev, err := makeVersion("../../assets", dir, name, failOn("i-2"))
	if err != nil {
		t.Fatal(err)
	}
	if rev.Name != name {
		t.Errorf("the version is named %q", rev.Name)
	}
	page, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	if got := rehearsal.RevisionOf(page); got != name {
		t.Errorf("the page says it is %q", got)
	}
	if !strings.Contains(string(page), "Hello, CodeDeploy!") {
		t.Error("the tag changed what ValidateService looks for")
	}
	var scripts []string
	for _, s := range rev.Spec.Hooks[string(rehearsal.ValidateService)] {
		scripts = append(scripts, s.Location)
	}
	if want := []string{"scripts/validate_service.sh", "rehearsal/fail-on-i-2.sh"}; !slices.Equal(scripts, want) {
		t.Errorf("ValidateService runs %v, want %v", scripts, want)
	}
	if len(rev.Spec.Hooks[string(rehearsal.ApplicationStop)]) != 1 {
		t.Error("the revision's other hooks were lost")
	}
	after, _ := os.ReadFile("../../assets/appspec.yml")
	if string(before) != string(after) {
		t.Error("making a version changed the revision's appspec")
	}
}

// A revision without hooks gets the scenario's; one that installs no page cannot be told
// apart and is refused with the reason.
func TestMakeVersionEdges(t *testing.T) {
	src := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("index.html", "<p>hi</p>\n")
	write("appspec.yml", "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /var/www/html\n")
	rev, err := makeVersion(src, filepath.Join(t.TempDir(), "v"), stopEarly, stopsEarly)
	if err != nil {
		t.Fatal(err)
	}
	if got := rev.Spec.Hooks[string(rehearsal.BeforeBlockTraffic)]; len(got) != 1 || got[0].Location != "rehearsal/stop-before-block.sh" {
		t.Errorf("BeforeBlockTraffic: %+v", got)
	}
	write("appspec.yml", "version: 0.0\nos: linux\nfiles:\n  - source: app.js\n    destination: /srv\n")
	write("app.js", "1\n")
	if _, err := makeVersion(src, filepath.Join(t.TempDir(), "w"), baseline); err == nil || !strings.Contains(err.Error(), "no HTML page") {
		t.Errorf("a revision without a page: %v", err)
	}
}

// The versions come from the revisions the story says: v1 and the early-stop control's from the
// baseline, v2 and the failing releases from the candidate, which fail where the scenarios
// expect (before the last instance, and on the last).
func TestBuilds(t *testing.T) {
	for _, tc := range []struct {
		size int
		want []string
	}{
		{3, []string{"v1 base", "v2 cand", "v1-stops-early base", "v2-bad cand", "v2-fails-on-i-2 cand", "v2-fails-on-i-3 cand"}},
		{2, []string{"v1 base", "v2 cand", "v1-stops-early base", "v2-bad cand", "v2-fails-on-i-1 cand", "v2-fails-on-i-2 cand"}},
		{1, []string{"v1 base", "v2 cand", "v1-stops-early base", "v2-bad cand", "v2-fails-on-i-1 cand"}},
	} {
		s := &session{opts: Options{Baseline: "base", Revision: "cand"}, size: tc.size}
		var got []string
		for _, b := range s.builds() {
			got = append(got, b.name+" "+b.from)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%d instances: %v, want %v", tc.size, got, tc.want)
		}
	}
}

// Versions differ as releases do: deploying v2 over v1 runs v1's ApplicationStop, whatever v2's
// says, and only the next deployment runs v2's; each hook says whose it is. A fleet of one
// instance whose hooks run here, with v1 from one revision and v2 from another.
func TestPreviousReleaseStops(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal")
	revision := func(says string) string {
		dir := t.TempDir()
		for name, content := range map[string]string{
			"index.html":  "<p>hello</p>\n",
			"appspec.yml": "version: 0.0\nos: linux\nfiles:\n  - source: index.html\n    destination: /var/www/html/\nhooks:\n  ApplicationStop:\n    - location: stop.sh\n      timeout: 10\n",
			"stop.sh":     "#!/bin/bash\necho \"" + says + "\" >>\"$JOURNAL\"\n",
		} {
			if err := execfile.Write(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	s := &session{opts: Options{Baseline: revision("the baseline's stop"), Revision: revision("the candidate's stop")}, size: 1}
	versions := map[string]rehearsal.Revision{}
	for _, b := range s.builds()[:2] {
		rev, err := makeVersion(b.from, filepath.Join(t.TempDir(), b.name), b.name, b.extra...)
		if err != nil {
			t.Fatal(err)
		}
		versions[b.name] = rev
	}
	f := &rehearsal.Fleet{Instances: []rehearsal.Instance{localInstance{journal}}, LoadBalancer: noBalancer{}, Rollout: rehearsal.Rollout{Kind: rehearsal.OneAtATime}}
	var stops []string
	for i, v := range []string{baseline, candidate, candidate} {
		res := f.Deploy(context.Background(), "d-"+v, "user", versions[v])
		if res.Outcome != rehearsal.Succeeded {
			t.Fatalf("deploying %s: %s %v", v, res.Outcome, res.Failure)
		}
		for _, rec := range res.Records {
			for _, h := range rec.Hooks {
				stops = append(stops, v+" ran "+h.Revision+"'s "+h.Script)
			}
		}
		if i == 0 && len(stops) > 0 {
			t.Errorf("the first deployment ran %v: an instance's first deployment has no ApplicationStop", stops)
		}
	}
	if want := []string{"v2 ran v1's stop.sh", "v2 ran v2's stop.sh"}; !slices.Equal(stops, want) {
		t.Errorf("%v, want %v", stops, want)
	}
	data, _ := os.ReadFile(journal)
	if got := string(data); got != "the baseline's stop\nthe candidate's stop\n" {
		t.Errorf("the stop scripts wrote %q", got)
	}
}

// localInstance runs its hooks on this machine and installs nothing.
type localInstance struct{ journal string }

func (localInstance) Name() string { return "i-1" }
func (i localInstance) Agent() rehearsal.Agent {
	return rehearsal.Agent{Path: "/usr/bin:/bin", Env: map[string]string{"JOURNAL": i.journal}}
}
func (localInstance) Download(_ context.Context, _ string, rev rehearsal.Revision) (rehearsal.Revision, error) {
	return rev, nil
}
func (localInstance) Install(context.Context, rehearsal.Revision) error { return nil }

type noBalancer struct{}

func (noBalancer) Deregister(context.Context, string) error { return nil }
func (noBalancer) Register(context.Context, string) error   { return nil }

// The load and the verdict go on after the story for the time the load balancer needs to take
// a failing target out of service and drain it: unhealthy threshold x interval + deregistration
// delay, on the rehearsal's clock.
func TestSettleAfter(t *testing.T) {
	for _, tc := range []struct {
		file string
		want time.Duration
	}{{"Fixture-dev", 3 * time.Second}, {"Fixture-prod", 5 * time.Second}, {"Fixture-tls", 6500 * time.Millisecond}} {
		data, err := os.ReadFile("../../test/testdata/" + tc.file + ".template.json")
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := rehearsal.FromTemplate(data)
		if err != nil {
			t.Fatal(err)
		}
		if got := settleAfter(tmpl.TargetGroup, 10); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.file, got, tc.want)
		}
	}
	if got := settleAfter(rehearsal.TargetGroup{Interval: time.Second, UnhealthyThreshold: 2}, 10); got != time.Second {
		t.Errorf("a short health check: %v, want the second the story's start has", got)
	}
}

// The fleet is the template's: its size, and one more for a scale-in where the group's maximum
// allows (Auto Scaling never scales in below the minimum); --instances overrides both.
func TestFleetSize(t *testing.T) {
	byName := map[string]Scenario{}
	for _, s := range Scenarios {
		byName[s.Name] = s
	}
	for _, tc := range []struct {
		scenario       string
		size, max, opt int
		want           int
	}{
		{"rollout", 2, 3, 0, 2},
		{"scale-in", 2, 3, 0, 3},
		{"control-no-hook", 3, 3, 0, 3},
		{"control-short-drain", 3, 6, 0, 4},
		{"scale-in", 5, 6, 5, 5},
	} {
		p := &run{session: &session{size: tc.size, opts: Options{Instances: tc.opt}, template: rehearsal.Template{Group: rehearsal.Group{Max: tc.max}}}, sc: byName[tc.scenario]}
		if got := p.fleetSize(); got != tc.want {
			t.Errorf("%s on %d (max %d, --instances %d): %d instances, want %d", tc.scenario, tc.size, tc.max, tc.opt, got, tc.want)
		}
	}
}

// Every scenario but the no-hook control rehearses the template as given; the control rehearses
// a copy with the termination hook off, which the rehearsal writes, so that what it shows
// follows from a template.
func TestScenarioTemplate(t *testing.T) {
	data, err := os.ReadFile("../../test/testdata/Fixture-prod.template.json")
	if err != nil {
		t.Fatal(err)
	}
	s := &session{opts: Options{Template: data, TemplateName: "prod.template.json", Work: t.TempDir()}}
	if s.template, err = rehearsal.FromTemplate(data); err != nil {
		t.Fatal(err)
	}
	for _, sc := range Scenarios {
		tmpl, name, err := s.scenarioTemplate(sc)
		if err != nil {
			t.Fatal(err)
		}
		if want := sc.Name != "control-no-hook"; tmpl.Deployment.TerminationHook != want {
			t.Errorf("%s: termination hook %v, want %v", sc.Name, tmpl.Deployment.TerminationHook, want)
		}
		if sc.Name == "control-no-hook" {
			written, err := os.ReadFile(name)
			if err != nil {
				t.Fatalf("the control's template is not where the report says: %v", err)
			}
			if c, _ := rehearsal.FromTemplate(written); c.Deployment.TerminationHook {
				t.Errorf("%s has the hook on", name)
			}
		}
	}
}

// The verdicts on the scenarios as shipped: a graceful one fails on one dropped request (no
// response, or the load balancer's own error), and on one error its release answered unless it
// ships the bad release; a control that must show failed requests fails without any; the no-hook
// control is judged on ApplicationStop (in its play), not on the load.
func TestJudge(t *testing.T) {
	byName := map[string]Scenario{}
	for _, s := range Scenarios {
		byName[s.Name] = s
	}
	for _, tc := range []struct {
		name              string
		dropped, answered int
		problem           string // "" when the scenario passes
	}{
		{"rollout", 0, 0, ""},
		{"rollout", 1, 0, "1 of 100 requests were dropped: 1 x GET / 502"},
		{"rollout", 0, 2, "the fleet answered 2 of 100 requests with an error: 2 x GET / 500"},
		{"scale-in", 1, 0, "1 of 100 requests were dropped"},
		{"bad-release", 1, 20, "1 of 100 requests were dropped"},
		// The bad release's errors are its blast radius; its verdict is its own (checkBadRelease).
		{"bad-release", 0, 20, "the bad release was not deployed"},
		{"control-short-drain", 0, 0, "no request failed"},
		{"control-early-stop", 0, 0, "no request failed"},
		{"control-early-stop", 3, 0, ""},
		{"control-no-hook", 0, 0, ""},
	} {
		sc, ok := byName[tc.name]
		if !ok {
			t.Fatalf("no scenario %s", tc.name)
		}
		load := LoadReport{Requests: 100, Failed: tc.dropped + tc.answered}
		for i := 0; i < tc.dropped; i++ {
			load.Each = append(load.Each, Request{Load: "page", Code: 502})
		}
		for i := 0; i < tc.answered; i++ {
			load.Each = append(load.Each, Request{Load: "page", Code: 500, FromTarget: true})
		}
		p := &run{session: &session{}, sc: sc, rep: &ScenarioReport{Load: load}}
		p.judge()
		got := strings.Join(p.rep.Problems, "; ")
		if tc.problem == "" && got != "" || tc.problem != "" && !strings.HasPrefix(got, tc.problem) {
			t.Errorf("%s with %d dropped, %d answered errors: problems %q, want %q", tc.name, tc.dropped, tc.answered, got, tc.problem)
		}
	}
}

// The short-drain control passes only on its cause: slow requests in flight on the drained
// instance, cut when its short delay ends. A failure anywhere else fails it.
func TestShortDrainProvesItsCause(t *testing.T) {
	var sc Scenario
	for _, s := range Scenarios {
		if s.Name == "control-short-drain" {
			sc = s
		}
	}
	t0 := time.Now()
	at := func(d time.Duration) float64 { return d.Seconds() }
	// The drain of i-3 begins at 2 s with a 0.125 s delay; the load balancer closed what was left
	// at 2.13 s. A slow request takes 0.5 s.
	cut := Request{At: at(1800 * time.Millisecond), Load: "slow", Instance: "i-3", Code: 502, LatencyMs: 335}
	for _, tc := range []struct {
		name     string
		failures []Request
		pass     bool
	}{
		{"slow requests cut on the drained instance", []Request{cut, {At: at(1900 * time.Millisecond), Load: "slow", Instance: "i-3", LatencyMs: 240}}, true},
		{"a page request failed too", []Request{cut, {At: at(2050 * time.Millisecond), Load: "page", Code: 503}}, false},
		{"a slow request failed on another instance", []Request{cut, {At: at(1800 * time.Millisecond), Load: "slow", Instance: "i-1", Code: 502, LatencyMs: 335}}, false},
		{"a slow request sent after the drain began", []Request{{At: at(2010 * time.Millisecond), Load: "slow", Instance: "i-3", Code: 503, LatencyMs: 1}}, false},
		{"a slow request cut before the delay ended", []Request{{At: at(1800 * time.Millisecond), Load: "slow", Instance: "i-3", Code: 502, LatencyMs: 250}}, false},
		{"a slow request cut long after", []Request{{At: at(1950 * time.Millisecond), Load: "slow", Instance: "i-3", Code: 502, LatencyMs: 490}}, false},
		{"a slow request that failed when it would have ended anyway", []Request{{At: at(1620 * time.Millisecond), Load: "slow", Instance: "i-3", Code: 500, LatencyMs: 505}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &ScenarioReport{}
			rep.Load.Each = append([]Request{{At: 1, Load: "page", Code: 200}}, tc.failures...)
			rep.Load.Requests, rep.Load.Failed = len(rep.Load.Each), len(tc.failures)
			p := &run{session: &session{slow: 500 * time.Millisecond}, sc: sc, rep: rep, t0: t0}
			p.drain.instance, p.drain.delay = "i-3", 125*time.Millisecond
			p.drain.start, p.drain.end = t0.Add(2*time.Second), t0.Add(2130*time.Millisecond)
			p.judge()
			if pass := len(rep.Problems) == 0; pass != tc.pass {
				t.Errorf("pass %v, want %v (%v)", pass, tc.pass, rep.Problems)
			}
		})
	}
}

// The report counts every request, per instance and per version, and its timeline is an SVG
// with a lane per instance and the failures in red.
func TestReport(t *testing.T) {
	t0 := time.Now()
	var samples []rehearsal.Sample
	for i := 0; i < 40; i++ {
		s := rehearsal.Sample{Time: t0.Add(time.Duration(i) * 50 * time.Millisecond), Latency: time.Millisecond, Code: 200, Load: "page", Server: "i-1", Revision: "v1"}
		if i >= 20 {
			s.Revision, s.Server = "v2", "i-2"
		}
		if i == 30 {
			s.Code, s.Err, s.Revision = 502, "502 Bad Gateway", ""
		}
		if i == 31 {
			s.Load, s.Code, s.Err, s.Revision = "slow", 0, `Get "http://127.0.0.1:8000/rehearsal/slow": EOF`, ""
		}
		samples = append(samples, s)
	}
	rep := &ScenarioReport{Name: "rollout", Title: "v1 to v2", Deployments: []DeploymentReport{
		{ID: "d-1", Start: 1.4, End: 1.6, RolledBackBy: "d-2", Failure: &FailureReport{Instance: "i-2", Event: "ValidateService", Error: "ScriptFailed"}},
		{ID: "d-2", Start: 1.65, End: 1.9},
	}}
	rep.addLoad(samples, t0)
	l := rep.Load
	if l.Requests != 40 || l.Failed != 2 || l.ServedBy["v1"] != 20 || l.ServedBy["v2"] != 18 || l.PerInstance["i-2"].Failed != 2 {
		t.Errorf("load %+v, per instance i-1 %+v i-2 %+v", l, l.PerInstance["i-1"], l.PerInstance["i-2"])
	}
	if len(l.Each) != 40 || l.Each[30].Code != 502 || l.Each[30].Instance != "i-2" || l.Each[0].Revision != "v1" {
		t.Errorf("requests: %d recorded, the 31st %+v", len(l.Each), l.Each[30])
	}
	if len(l.Failures) != 2 || l.Failures[0].Server != "i-2" || l.Failures[0].Code != 502 {
		t.Errorf("failures %+v", l.Failures)
	}
	// Requests 28 to 32 were sent during the deployment, 28 to 38 until its rollback ended: two
	// of them failed.
	if d := rep.Deployments[0]; d.Requests != 5 || d.Failed != 2 || d.UntilRestored == nil || *d.UntilRestored != (Count{Requests: 11, Failed: 2}) {
		t.Errorf("during the deployment: %d requests, %d failed, until restored %+v; want 5, 2 and 11, 2", d.Requests, d.Failed, d.UntilRestored)
	}
	if table := (&Report{Scale: 10, Scenarios: []*ScenarioReport{rep}}).Table(); !strings.Contains(table,
		"deployment d-1 of  failed on i-2 at ValidateService: ScriptFailed; 2 of the 11 requests sent from its start to the end of its rollback (d-2) failed") {
		t.Errorf("the table does not count the failed deployment's requests until it was restored:\n%s", table)
	}
	// The terminal names the paths and statuses that failed.
	if got, want := l.failedWhat(), "1 x GET / 502, 1 x GET /rehearsal/slow (the rehearsal's probe) no response: EOF"; got != want {
		t.Errorf("failed requests %q, want %q", got, want)
	}
	rep.addSpan("i-1", Span{Label: "BlockTraffic", Start: 0.2, End: 1.2, Kind: "traffic"})
	rep.addSpan("i-2", Span{Label: "ValidateService", Start: 1.3, End: 1.4, Kind: "hook", Failed: true})
	rep.lane("i-2").Marks = append(rep.lane("i-2").Marks, Mark{At: 1.5, What: "terminated"})
	svg := rep.SVG(&Report{Scale: 10})
	if err := xml.Unmarshal([]byte(svg), new(struct{ XMLName xml.Name })); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	for _, want := range []string{">i-1</text>", ">i-2</text>", "#cf222e", "served by v1", "served by v2", "2 failed", "✕"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the SVG lacks %q", want)
		}
	}
	// The verdict column follows the scenario's verdict, whichever it is; an interrupted
	// scenario or one not played is neither passed nor failed.
	for _, tc := range []struct {
		set       func(*ScenarioReport)
		want, not string
	}{
		{func(s *ScenarioReport) { s.Passed = false }, "FAIL", "pass"},
		{func(s *ScenarioReport) { s.Passed = true }, "pass", "FAIL"},
		{func(s *ScenarioReport) { s.Interrupted, s.Problems = true, []string{"the load: context canceled"} }, "interrupted", "FAIL"},
		{func(s *ScenarioReport) { s.Interrupted, s.NotPlayed = false, "v2 did not deploy in rollout" }, "not played: v2 did not deploy", "pass"},
		{func(s *ScenarioReport) { s.Passed, s.NotApplicable, s.Problems = true, true, nil }, "does not apply: v2 did not deploy", "FAIL"},
	} {
		tc.set(rep)
		table := (&Report{Scale: 10, Scenarios: []*ScenarioReport{rep}}).Table()
		if !strings.Contains(table, "rollout") || !strings.Contains(table, tc.want) || strings.Contains(table, tc.not) {
			t.Errorf("want %q and no %q in the table:\n%s", tc.want, tc.not, table)
		}
	}
}

// The clock: x10 unless the template's waits would make a deployment wait more than 20 s, then
// faster, at most x30; prod's monitor durations and bake (660 s) run at x30, dev's bake at x10.
func TestAutoScale(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		want    float64
	}{{"Fixture-dev", 10}, {"Fixture-prod", 30}} {
		data, err := os.ReadFile("../../test/testdata/" + tc.fixture + ".template.json")
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := rehearsal.FromTemplate(data)
		if err != nil {
			t.Fatal(err)
		}
		got, why := AutoScale(tmpl, 0)
		if got != tc.want || (got == DefaultScale) != (why == "") {
			t.Errorf("%s: x%g (%q), want x%g", tc.fixture, got, why, tc.want)
		}
	}
}

// The template's clock: the scaled stretches count Scale times, the hooks' real time once; a
// race whose margin the hooks' stretch exceeds is refused, naming the scale that would do.
func TestTemplateClockAndRace(t *testing.T) {
	t0 := time.Now()
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	rep := &ScenarioReport{}
	// Hooks on two instances from 1 to 2 s and 1.5 to 2.5 s: 1.5 s of real time; a drain beside.
	rep.addSpan("i-1", Span{Label: "ApplicationStop", Start: 1, End: 2, Kind: "hook"})
	rep.addSpan("i-2", Span{Label: "BeforeInstall", Start: 1.5, End: 2.5, Kind: "hook"})
	rep.addSpan("i-1", Span{Label: "BlockTraffic", Start: 0, End: 1, Kind: "traffic"})
	p := &run{session: &session{opts: Options{Scale: 10}}, rep: rep, t0: t0}
	if got := p.realTime(at(0), at(3)); got != 1.5 {
		t.Errorf("real time %g, want 1.5", got)
	}
	if got := p.templateSeconds(at(0), at(3)); got != 3*10-9*1.5 {
		t.Errorf("template seconds %g, want 16.5", got)
	}
	// The alarm fires at 5 s, the deadline is 6 s: a margin of 10 s on the template's clock,
	// against 13.5 s of stretched hooks: refused.
	if p.raceHeld(at(0), at(3), at(5), at(6), "the second zone") {
		t.Error("a race decided by the hooks' stretch was accepted")
	}
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "rehearse with --scale 7 or less") {
		t.Errorf("problems %v", rep.Problems)
	}
	rep.Problems = nil
	if !p.raceHeld(at(0), at(3), at(4), at(6), "the second zone") || len(rep.Problems) > 0 {
		t.Errorf("a 20 s margin against 13.5 s was refused: %v", rep.Problems)
	}
}

// The blast radius of a release stopped in its first zone: the instances its Install reached and
// their zones, the errors the targets answered (each standing for Scale on the template's clock)
// apart from the requests the load balancer dropped,
// the time to ALARM on CloudWatch's clock and to the last reached instance back in service on the
// template's; the report has it under the field names tools read, beside the scenario's name.
func TestBlastRadius(t *testing.T) {
	t0 := time.Now()
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	rep := &ScenarioReport{Name: "bad-release", Instances: 3}
	p := &run{session: &session{opts: Options{Scale: 10}, zones: []string{"a", "b", "c", "a"}}, rep: rep, t0: t0,
		members: []*sandbox.Instance{{ID: "i-1"}, {ID: "i-2"}, {ID: "i-3"}},
		release: badRelease, reached: map[string]bool{"i-1": true}, restoredAt: map[string]time.Time{"i-1": at(9)}}
	// The alarm lanes are the record: an ALARM before the first bad response (the load balancer's
	// 5xx at 0.5 s) is not the detection; the target's 5xx at 4 s is.
	rep.Alarms = []*AlarmLane{
		{Name: "elb-5xx", Spans: []AlarmSpan{{Start: 0.5, End: 1}}},
		{Name: "target-5xx", Spans: []AlarmSpan{{Start: 4, End: -1}}},
	}
	rep.Load.Each = []Request{
		{At: 1, Code: 200, FromTarget: true}, {At: 2, Code: 500, FromTarget: true}, {At: 3, Code: 500, FromTarget: true},
		{At: 3.5, Code: 503}, // the load balancer's own: a dropped request
	}
	// The rollback's hooks on i-1 ran 1 s of real time before it was back.
	rep.addSpan("i-1", Span{Label: "ApplicationStop", Start: 7, End: 8, Kind: "hook"})
	br := p.blastRadius()
	if br.InstancesReached != 1 || br.Instances != 3 || br.ZonesReached != 1 || br.Zones != 3 || br.BadResponses != 20 || br.DroppedRequests != 1 {
		t.Errorf("blast radius %+v", br)
	}
	// Detected 2 s after the first bad response (x10); recovered 7 s after it, 1 s of it hooks.
	if br.DetectSeconds == nil || *br.DetectSeconds != 20 || br.RecoverSeconds == nil || *br.RecoverSeconds != 7*10-9 || br.Alarm != "target-5xx" {
		t.Errorf("detect %v, recover %v by %s; want 20 and 61", br.DetectSeconds, br.RecoverSeconds, br.Alarm)
	}
	rep.BlastRadius = br
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"scenario":"bad-release"`, `"blastRadius":{"instancesReached":1,"instances":3,"zonesReached":1,"zones":3,"badResponses":20,"droppedRequests":1,"detectSeconds":20,"recoverSeconds":61`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("rehearsal.json lacks %s:\n%s", want, data)
		}
	}
	// A reached instance never put back: no recovery.
	delete(p.restoredAt, "i-1")
	if br := p.blastRadius(); br.RecoverSeconds != nil {
		t.Errorf("recovered %v with i-1 still on the release", *br.RecoverSeconds)
	}
}

// The timeline draws CodeDeploy's row (waves, monitor durations, the stop, the rollback, the
// bake and its restore) and a lane per alarm; the table gives the blast radius and how the
// release ended.
func TestSafetyNetReport(t *testing.T) {
	rep := &ScenarioReport{Name: "bad-release", Title: "v2-bad over v1", Instances: 3, Passed: true,
		Deployments: []DeploymentReport{
			{ID: "d-1", Creator: "user", Revision: "v2-bad", Start: 1, End: 3, TemplateSeconds: 20, StoppedBy: "p-fleet-target-5xx", RolledBackBy: "d-2",
				Waves: []WaveReport{{Zone: "eu-west-1a", Instances: []string{"i-1"}, Start: 1, End: 3, Watched: 8}}},
			{ID: "d-2", Creator: "codeDeployRollback", Revision: "v1", Start: 8, End: 10, Waves: []WaveReport{{Zone: "eu-west-1a", Instances: []string{"i-1"}, Start: 8, End: 10, Watched: 10}}},
		},
		Alarms:      []*AlarmLane{{Name: "p-fleet-target-5xx", Rule: "HTTPCode_Target_5XX_Count Sum >= 5", Gating: true, Spans: []AlarmSpan{{Start: 8, End: -1}}}},
		BlastRadius: &BlastRadius{InstancesReached: 1, Instances: 3, ZonesReached: 1, Zones: 3, BadResponses: 18},
	}
	svg := rep.SVG(&Report{Scale: 30})
	if err := xml.Unmarshal([]byte(svg), new(struct{ XMLName xml.Name })); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	for _, want := range []string{">CodeDeploy</text>", "monitor", "rollback to v1", "stopped by p-fleet-target-5xx", "target-5xx <tspan", "gating", "ALARM 8.00"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the SVG lacks %q", want)
		}
	}
	table := (&Report{Scale: 30, Scenarios: []*ScenarioReport{rep}}).Table()
	if !regexp.MustCompile(`bad-release\s+20 s\s+1 of 3\s+1 of 3\s+18\s+0\s+-\s+-\s+stopped by p-fleet-target-5xx, rolled back`).MatchString(table) {
		t.Errorf("the table lacks the blast radius:\n%s", table)
	}
}
