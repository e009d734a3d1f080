package scenario

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal"
)

// A version of the revision: its pages tell which version served them, the scenario's hook
// runs after the revision's own, and the revision itself is not touched.
func TestMakeVersion(t *testing.T) {
	before, err := os.ReadFile("../../assets/appspec.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "v3")
	rev, err := makeVersion("../../assets", dir, "v3-fail-i-2", failOn("i-2"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	if got := RevisionOf(page); got != "v3-fail-i-2" {
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
	rev, err := makeVersion(src, filepath.Join(t.TempDir(), "v"), "v2-stops-early", stopsEarly)
	if err != nil {
		t.Fatal(err)
	}
	if got := rev.Spec.Hooks[string(rehearsal.BeforeBlockTraffic)]; len(got) != 1 || got[0].Location != "rehearsal/stop-before-block.sh" {
		t.Errorf("BeforeBlockTraffic: %+v", got)
	}
	write("appspec.yml", "version: 0.0\nos: linux\nfiles:\n  - source: app.js\n    destination: /srv\n")
	write("app.js", "1\n")
	if _, err := makeVersion(src, filepath.Join(t.TempDir(), "w"), "v1"); err == nil || !strings.Contains(err.Error(), "no HTML page") {
		t.Errorf("a revision without a page: %v", err)
	}
}

// The verdicts on the scenarios as shipped: a graceful one fails on one dropped request; a
// control that must show failed requests fails without any; the no-hook control is judged on
// ApplicationStop (in its play), not on the load.
func TestJudge(t *testing.T) {
	byName := map[string]Scenario{}
	for _, s := range Scenarios {
		byName[s.Name] = s
	}
	for _, tc := range []struct {
		name   string
		failed int
		pass   bool
	}{
		{"rollout", 0, true},
		{"rollout", 1, false},
		{"scale-in", 1, false},
		{"control-short-drain", 0, false},
		{"control-short-drain", 3, true},
		{"control-early-stop", 0, false},
		{"control-no-hook", 0, true},
	} {
		sc, ok := byName[tc.name]
		if !ok {
			t.Fatalf("no scenario %s", tc.name)
		}
		p := &run{session: &session{}, sc: sc, rep: &ScenarioReport{Load: LoadReport{Requests: 100, Failed: tc.failed}}}
		p.judge()
		if pass := len(p.rep.Problems) == 0; pass != tc.pass {
			t.Errorf("%s with %d failed: pass %v, want %v (%v)", tc.name, tc.failed, pass, tc.pass, p.rep.Problems)
		}
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
		samples = append(samples, s)
	}
	rep := &ScenarioReport{Name: "rollout", Title: "v1 to v2"}
	rep.addLoad(samples, t0)
	l := rep.Load
	if l.Requests != 40 || l.Failed != 1 || l.ServedBy["v1"] != 20 || l.ServedBy["v2"] != 19 || l.PerInstance["i-2"].Failed != 1 {
		t.Errorf("load %+v, per instance i-1 %+v i-2 %+v", l, l.PerInstance["i-1"], l.PerInstance["i-2"])
	}
	if len(l.Each) != 40 || l.Each[30].Code != 502 || l.Each[30].Instance != "i-2" || l.Each[0].Revision != "v1" {
		t.Errorf("requests: %d recorded, the 31st %+v", len(l.Each), l.Each[30])
	}
	if len(l.Failures) != 1 || l.Failures[0].Server != "i-2" || l.Failures[0].Code != 502 {
		t.Errorf("failures %+v", l.Failures)
	}
	rep.addSpan("i-1", Span{Label: "BlockTraffic", Start: 0.2, End: 1.2, Kind: "traffic"})
	rep.addSpan("i-2", Span{Label: "ValidateService", Start: 1.3, End: 1.4, Kind: "hook", Failed: true})
	rep.lane("i-2").Marks = append(rep.lane("i-2").Marks, Mark{At: 1.5, What: "terminated"})
	svg := rep.SVG(&Report{Scale: 10})
	if err := xml.Unmarshal([]byte(svg), new(struct{ XMLName xml.Name })); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	for _, want := range []string{">i-1</text>", ">i-2</text>", "#cf222e", "served by v1", "served by v2", "1 failed", "✕"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the SVG lacks %q", want)
		}
	}
	// The verdict column follows the scenario's verdict, whichever it is.
	for _, passed := range []bool{false, true} {
		rep.Passed = passed
		table := (&Report{Scale: 10, Scenarios: []*ScenarioReport{rep}}).Table()
		want, not := "FAIL", "pass"
		if passed {
			want, not = not, want
		}
		if !strings.Contains(table, "rollout") || !strings.Contains(table, want) || strings.Contains(table, not) {
			t.Errorf("passed %v, table:\n%s", passed, table)
		}
	}
}
