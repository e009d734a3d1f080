package rehearsal

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal/internal/execfile"
)

// journal is what happened, in order: the fakes and the hook scripts append to one file.
type journal struct {
	file string
}

// all is the journal's lines, each "instance event [revision]".
func (j *journal) all(t *testing.T) []string {
	t.Helper()
	data, _ := os.ReadFile(j.file)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

type fakeInstance struct {
	name string
	j    *journal
}

func (i *fakeInstance) Name() string { return i.name }
func (i *fakeInstance) Agent() Agent {
	return Agent{Path: "/usr/bin:/bin", Env: map[string]string{"INSTANCE": i.name, "JOURNAL": i.j.file}}
}
func (i *fakeInstance) Download(_ context.Context, _ string, rev Revision) (Revision, error) {
	return rev, nil
}
func (i *fakeInstance) Install(_ context.Context, rev Revision) error {
	appendLine(i.j.file, i.name+" Install "+filepath.Base(rev.Dir))
	return nil
}

type fakeLB struct{ j *journal }

func (l *fakeLB) Deregister(_ context.Context, name string) error {
	appendLine(l.j.file, name+" BlockTraffic")
	return nil
}
func (l *fakeLB) Register(_ context.Context, name string) error {
	appendLine(l.j.file, name+" AllowTraffic")
	return nil
}

var journalMu sync.Mutex

func appendLine(file, line string) {
	journalMu.Lock()
	defer journalMu.Unlock()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}

// revision writes a revision named name whose every hook logs "<instance> <event> <name>"; the
// ValidateService hook fails on failOn.
func writeRevision(t *testing.T, name, failOn string) Revision {
	t.Helper()
	return writeRevisionFailing(t, name, failOn, ValidateService)
}

// writeRevisionFailing is writeRevision with the failure at another event.
func writeRevisionFailing(t *testing.T, name, failOn string, failAt Event) Revision {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "scripts"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "index.html"), []byte(name), 0o644))
	spec := "version: 0.0\nos: linux\nfiles:\n  - source: index.html\n    destination: /var/www/html/\nhooks:\n"
	for _, e := range []Event{BeforeBlockTraffic, AfterBlockTraffic, ApplicationStop, BeforeInstall, AfterInstall, ApplicationStart, ValidateService, BeforeAllowTraffic, AfterAllowTraffic} {
		script := fmt.Sprintf("#!/bin/bash\necho \"$INSTANCE $LIFECYCLE_EVENT %s\" >>\"$JOURNAL\"\n", name)
		if e == failAt && failOn != "" {
			script += fmt.Sprintf("if [ \"$INSTANCE\" = %s ]; then echo 'page not served' >&2; exit 1; fi\n", failOn)
		}
		file := "scripts/" + string(e) + ".sh"
		must(execfile.Write(filepath.Join(dir, file), []byte(script), 0o755))
		spec += fmt.Sprintf("  %s:\n    - location: %s\n      timeout: 10\n", e, file)
	}
	must(os.WriteFile(filepath.Join(dir, "appspec.yml"), []byte(spec), 0o644))
	rev, err := LoadRevision(dir)
	if err != nil {
		t.Fatal(err)
	}
	rev.Name = name
	return rev
}

func newFleet(t *testing.T, rollout Rollout, names ...string) (*Fleet, *journal) {
	j := &journal{file: filepath.Join(t.TempDir(), "journal")}
	f := &Fleet{LoadBalancer: &fakeLB{j}, Rollout: rollout}
	for _, n := range names {
		f.Instances = append(f.Instances, &fakeInstance{n, j})
	}
	return f, j
}

// TestLifecycleOrder: each instance goes through every event in CodeDeploy's order, one
// instance at a time; ApplicationStop and the traffic-blocking hooks come from the last
// successful revision, so the first deployment has none of them.
func TestLifecycleOrder(t *testing.T) {
	t.Parallel()
	f, j := newFleet(t, Rollout{Kind: OneAtATime}, "i-1", "i-2")
	v1, v2 := writeRevision(t, "v1", ""), writeRevision(t, "v2", "")
	if res := f.Deploy(context.Background(), "d-1", "user", v1); res.Outcome != Succeeded {
		t.Fatalf("v1: %s, %+v", res.Outcome, res.Failure)
	}
	first := j.all(t)
	want := []string{"i-1 BlockTraffic", "i-1 BeforeInstall v1", "i-1 Install v1", "i-1 AfterInstall v1", "i-1 ApplicationStart v1",
		"i-1 ValidateService v1", "i-1 BeforeAllowTraffic v1", "i-1 AllowTraffic", "i-1 AfterAllowTraffic v1"}
	if !slices.Equal(first[:len(want)], want) || len(first) != 2*len(want) || !strings.HasPrefix(first[len(want)], "i-2 ") {
		t.Errorf("first deployment:\n%s\nwant i-1 then i-2, each:\n%s", strings.Join(first, "\n"), strings.Join(want, "\n"))
	}
	if err := os.Remove(j.file); err != nil {
		t.Fatal(err)
	}
	if res := f.Deploy(context.Background(), "d-2", "user", v2); res.Outcome != Succeeded {
		t.Fatalf("v2: %s", res.Outcome)
	}
	second := j.all(t)
	if want := []string{"i-1 BeforeBlockTraffic v1", "i-1 BlockTraffic", "i-1 AfterBlockTraffic v1", "i-1 ApplicationStop v1", "i-1 BeforeInstall v2"}; !slices.Equal(second[:5], want) {
		t.Errorf("second deployment starts:\n%s\nwant:\n%s", strings.Join(second[:5], "\n"), strings.Join(want, "\n"))
	}
}

// TestFailedReleaseAndRollback: v2's ValidateService fails on the second instance; the deployment
// stops there (the third is skipped) and the rollback redeploys v1 everywhere, its ApplicationStop
// coming from each instance's last successful revision: v2 where v2's Install succeeded (i-1,
// and i-2, which failed only after it), v1 where v2 never came (i-3).
func TestFailedReleaseAndRollback(t *testing.T) {
	t.Parallel()
	f, j := newFleet(t, Rollout{Kind: OneAtATime}, "i-1", "i-2", "i-3")
	v1, v2 := writeRevision(t, "v1", ""), writeRevision(t, "v2", "i-2")
	f.Deploy(context.Background(), "d-1", "user", v1)
	_ = os.Remove(j.file)
	res := f.Deploy(context.Background(), "d-2", "user", v2)
	if res.Outcome != Failed || res.Failure == nil || res.Failure.Instance != "i-2" || res.Failure.Event != ValidateService {
		t.Fatalf("outcome %s, failure %+v; want Failed at i-2 ValidateService", res.Outcome, res.Failure)
	}
	for in, want := range map[string]string{"i-1": "Succeeded", "i-2": "Failed", "i-3": "Skipped"} {
		if got := res.TargetStatus(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	if log := res.Failure.Hooks[len(res.Failure.Hooks)-1].Log; !strings.Contains(log, "[stderr]page not served") {
		t.Errorf("the failure's log %q lacks the script's stderr", log)
	}
	for _, line := range j.all(t) {
		if strings.HasPrefix(line, "i-3 ") {
			t.Errorf("deployed to i-3 after the failure: %s", line)
		}
	}
	if last, _ := f.LastGood("i-1"); filepath.Base(last.Dir) != "v2" {
		t.Errorf("i-1's last good revision %s, want v2", last.Dir)
	}
	_ = os.Remove(j.file)
	// CodeDeploy's rollback: the last successful revision deployed again, as a new deployment.
	rb := f.Deploy(context.Background(), "d-3", "codeDeployRollback", v1)
	if rb.Outcome != Succeeded || rb.Creator != "codeDeployRollback" {
		t.Fatalf("rollback %s by %s", rb.Outcome, rb.Creator)
	}
	lines := j.all(t)
	for _, want := range []string{"i-1 ApplicationStop v2", "i-2 BeforeBlockTraffic v2", "i-2 AfterBlockTraffic v2", "i-2 ApplicationStop v2",
		"i-3 ApplicationStop v1", "i-3 ValidateService v1"} {
		if !slices.Contains(lines, want) {
			t.Errorf("rollback lacks %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

// TestLastInstanceFailureIsASuccess: OneAtATime's documented quirk, played.
func TestLastInstanceFailureIsASuccess(t *testing.T) {
	t.Parallel()
	f, _ := newFleet(t, Rollout{Kind: OneAtATime}, "i-1", "i-2", "i-3")
	res := f.Deploy(context.Background(), "d-1", "user", writeRevision(t, "v1", "i-3"))
	if res.Outcome != Succeeded || res.Failure == nil || res.Failure.Instance != "i-3" {
		t.Errorf("outcome %s, failure %+v; want Succeeded with i-3 failed", res.Outcome, res.Failure)
	}
	// The project does not take CodeDeploy's word for it.
	if judged, missed := res.Judged(); judged != Failed || !slices.Equal(missed, []string{"i-3 Failed"}) {
		t.Errorf("judged %s, missed %v; want Failed, i-3", judged, missed)
	}
}

// TestTermination: a termination deployment runs the traffic-blocking events and ApplicationStop
// from the instance's last successful revision, and deploys nothing.
func TestTermination(t *testing.T) {
	t.Parallel()
	f, j := newFleet(t, HalfAtATime, "i-1", "i-2")
	f.Deploy(context.Background(), "d-1", "user", writeRevision(t, "v1", ""))
	_ = os.Remove(j.file)
	res := f.Terminate(context.Background(), "d-2", f.Instances[1])
	if res.Outcome != Succeeded || res.Creator != "autoscalingTermination" {
		t.Fatalf("%s by %s", res.Outcome, res.Creator)
	}
	want := []string{"i-2 BeforeBlockTraffic v1", "i-2 BlockTraffic", "i-2 AfterBlockTraffic v1", "i-2 ApplicationStop v1"}
	if got := j.all(t); !slices.Equal(got, want) {
		t.Errorf("termination:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLastSuccessfulIsLastInstall: the agent's last successful revision is the last whose
// Install succeeded on the instance (command_executor.rb, update_last_successful_install), so a
// termination after a release that failed later than Install runs that release's
// traffic-blocking hooks and ApplicationStop, and one that failed before Install leaves the
// previous revision's; the hooks say which revision they came from.
func TestLastSuccessfulIsLastInstall(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		failAt Event
		want   string
	}{{ApplicationStart, "v2"}, {ValidateService, "v2"}, {BeforeInstall, "v1"}} {
		t.Run(string(tc.failAt), func(t *testing.T) {
			f, j := newFleet(t, Rollout{Kind: OneAtATime}, "i-1")
			f.Deploy(context.Background(), "d-1", "user", writeRevision(t, "v1", ""))
			if res := f.Deploy(context.Background(), "d-2", "user", writeRevisionFailing(t, "v2", "i-1", tc.failAt)); res.Outcome != Failed {
				t.Fatalf("v2 failing at %s: %s", tc.failAt, res.Outcome)
			}
			if last, _ := f.LastGood("i-1"); last.Name != tc.want {
				t.Errorf("last successful revision %q, want %s", last.Name, tc.want)
			}
			_ = os.Remove(j.file)
			res := f.Terminate(context.Background(), "d-3", f.Instances[0])
			want := []string{"i-1 BeforeBlockTraffic " + tc.want, "i-1 BlockTraffic", "i-1 AfterBlockTraffic " + tc.want, "i-1 ApplicationStop " + tc.want}
			if got := j.all(t); !slices.Equal(got, want) {
				t.Errorf("termination:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for _, rec := range res.Records {
				for _, h := range rec.Hooks {
					if h.Revision != tc.want {
						t.Errorf("%s's hook came from %q, want %s", rec.Event, h.Revision, tc.want)
					}
				}
			}
		})
	}
}

// TestStopOnAlarm: a zonal deployment watched by an alarm that fires during the first zone's
// monitor duration stops there, Stopped by that alarm: the first zone got the release, the
// others nothing.
func TestStopOnAlarm(t *testing.T) {
	t.Parallel()
	f, j := newFleet(t, Rollout{Kind: FleetPercent, Value: 66}, "i-1", "i-2", "i-3")
	f.Zones = map[string]string{"i-1": "a", "i-2": "b", "i-3": "c"}
	f.Zonal = &Zonal{FirstZoneMonitor: 10 * time.Minute, Monitor: 10 * time.Minute, PerZone: Rollout{Kind: FleetPercent}}
	f.Scaled = func(d time.Duration) time.Duration { return d / 3000 } // 200 ms
	var fired atomic.Bool
	f.Alarm = func() string {
		if fired.Load() {
			return "target-5xx"
		}
		return ""
	}
	f.Observe = func(r Record) {
		if r.Instance == "i-1" && r.Event == AfterAllowTraffic {
			go func() { time.Sleep(50 * time.Millisecond); fired.Store(true) }()
		}
	}
	start := time.Now()
	res := f.Deploy(context.Background(), "d-1", "user", writeRevision(t, "v1", ""))
	if res.Outcome != Stopped || res.StoppedBy != "target-5xx" {
		t.Fatalf("outcome %s by %q, want Stopped by target-5xx", res.Outcome, res.StoppedBy)
	}
	if len(res.Waves) != 1 || res.Waves[0].Zone != "a" || !slices.Equal(res.Waves[0].Instances, []string{"i-1"}) {
		t.Errorf("waves %+v, want zone a alone", res.Waves)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("stopping took %v: the monitor duration was waited out", took)
	}
	for _, line := range j.all(t) {
		if !strings.HasPrefix(line, "i-1 ") {
			t.Errorf("deployed beyond the first zone: %s", line)
		}
	}
	if judged, _ := res.Judged(); judged != Stopped {
		t.Errorf("judged %s", judged)
	}
}

// TestScheduleOrder: CodeDeploy deploys to unhealthy instances first, then those whose revision
// is unknown, old, and current: the rollback after a failure on i-2 starts there.
func TestScheduleOrder(t *testing.T) {
	t.Parallel()
	f, _ := newFleet(t, Rollout{Kind: OneAtATime}, "i-1", "i-2", "i-3")
	v1 := writeRevision(t, "v1", "")
	if res := f.Deploy(context.Background(), "d-1", "user", v1); res.Outcome != Succeeded {
		t.Fatalf("v1: %s", res.Outcome)
	}
	// i-1 gets v2; i-2 fails ValidateService after its Install, which stops the deployment
	// before i-3.
	res := f.Deploy(context.Background(), "d-2", "user", writeRevision(t, "v2", "i-2"))
	if res.Outcome != Failed {
		t.Fatalf("v2: %s", res.Outcome)
	}
	rb := f.Deploy(context.Background(), "d-3", "codeDeployRollback", v1)
	// i-2 unhealthy; i-1 healthy with v2, an old revision; i-3 current (v1).
	if want := []string{"i-2", "i-1", "i-3"}; !slices.Equal(rb.Instances, want) {
		t.Errorf("the rollback took %v, want %v", rb.Instances, want)
	}
}

// TestZonalFailureEndsAtOnce: in a zonal rollout of 66% of three, a failure in the second zone
// leaves too few healthy instances to go on: the deployment fails there, without waiting out
// the zone's monitor duration, and the third zone is never touched.
func TestZonalFailureEndsAtOnce(t *testing.T) {
	t.Parallel()
	f, j := newFleet(t, Rollout{Kind: FleetPercent, Value: 66}, "i-1", "i-2", "i-3")
	f.Zones = map[string]string{"i-1": "a", "i-2": "b", "i-3": "c"}
	f.Zonal = &Zonal{FirstZoneMonitor: time.Minute, Monitor: 10 * time.Minute, PerZone: Rollout{Kind: FleetPercent}}
	f.Scaled = func(d time.Duration) time.Duration { return d / 600 } // 100 ms, then 1 s
	res := f.Deploy(context.Background(), "d-1", "user", writeRevision(t, "v1", "i-2"))
	if res.Outcome != Failed || res.Failure == nil || res.Failure.Instance != "i-2" {
		t.Fatalf("outcome %s, failure %+v; want Failed at i-2", res.Outcome, res.Failure)
	}
	if len(res.Waves) != 2 || res.Waves[1].Watched.Sub(res.Waves[1].End) > 500*time.Millisecond {
		t.Errorf("waves %+v: want a and b, b's monitor duration not waited out", res.Waves)
	}
	for _, line := range j.all(t) {
		if strings.HasPrefix(line, "i-3 ") {
			t.Errorf("deployed to the third zone after the failure: %s", line)
		}
	}
}
