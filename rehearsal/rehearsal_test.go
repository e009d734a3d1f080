package rehearsal

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/example/codedeploy-fleet/appspec"
)

// TestDocumentedExamples: the numbers the CodeDeploy API reference gives for nine instances.
func TestDocumentedExamples(t *testing.T) {
	nine := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9"}
	for _, tc := range []struct {
		rollout    Rollout
		minHealthy int
		batch      int
	}{
		{Rollout{Kind: HostCount, Value: 6}, 6, 3},
		{Rollout{Kind: FleetPercent, Value: 40}, 4, 5}, // 3.6 rounds up to 4
		{Rollout{Kind: OneAtATime}, 8, 1},
		{HalfAtATime, 5, 4},
	} {
		t.Run(fmt.Sprintf("%s %d", tc.rollout.Kind, tc.rollout.Value), func(t *testing.T) {
			if got := tc.rollout.MinHealthy(len(nine)); got != tc.minHealthy {
				t.Errorf("MinHealthy(9) = %d, want %d", got, tc.minHealthy)
			}
			if got := tc.rollout.BatchSize(len(nine)); got != tc.batch {
				t.Errorf("BatchSize(9) = %d, want %d", got, tc.batch)
			}
			total := 0
			for _, b := range tc.rollout.Batches(nine) {
				if len(b) > tc.batch || len(b) == 0 {
					t.Errorf("batch %v", b)
				}
				total += len(b)
			}
			if total != 9 {
				t.Errorf("batches cover %d instances", total)
			}
		})
	}
}

// TestBatchOfAtLeastOne: a minimum as large as the fleet still deploys, one at a time.
func TestBatchOfAtLeastOne(t *testing.T) {
	if got := (Rollout{Kind: HostCount, Value: 3}).BatchSize(3); got != 1 {
		t.Errorf("BatchSize = %d, want 1", got)
	}
}

// TestDecide walks deployments batch by batch, as Fleet.Deploy does: where they stop, how they end.
func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rollout Rollout
		results []bool // per instance, in deployment order
		want    Outcome
		stopAt  int // instances deployed to before the end
	}{
		{"one at a time, all succeed", Rollout{Kind: OneAtATime}, []bool{true, true, true}, Succeeded, 3},
		{"one at a time, the second fails", Rollout{Kind: OneAtATime}, []bool{true, false, true}, Failed, 2},
		{"one at a time, the first fails", Rollout{Kind: OneAtATime}, []bool{false, true, true}, Failed, 1},
		{"one at a time, the last fails: still a success", Rollout{Kind: OneAtATime}, []bool{true, true, false}, Succeeded, 3},
		{"one instance that fails", Rollout{Kind: OneAtATime}, []bool{false}, Failed, 1},
		// CodeDeploy's example: 85% of 10 must stay healthy, and one failure fails the deployment.
		{"85% of ten, the first fails", Rollout{Kind: FleetPercent, Value: 85}, []bool{false, true, true, true, true, true, true, true, true, true}, Failed, 1},
		// One failure in the first half leaves three healthy: the rest go one at a time.
		{"half at a time, one of four fails", HalfAtATime, []bool{true, false, true, true}, Succeeded, 4},
		{"half at a time, two of four fail", HalfAtATime, []bool{false, true, false, true}, Failed, 3},
		{"half at a time, the first half fails", HalfAtATime, []bool{false, false, true, true}, Failed, 2},
		{"66% of three, the second fails", Rollout{Kind: FleetPercent, Value: 66}, []bool{true, false, true}, Failed, 2},
		{"all at once, one of three succeeds", Rollout{Kind: HostCount}, []bool{false, true, false}, Succeeded, 3},
		{"all at once, every instance fails", Rollout{Kind: HostCount}, []bool{false, false, false}, Failed, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(tc.results)
			names := make([]string, n)
			healthy := map[string]bool{}
			result := map[string]bool{}
			for i := range names {
				names[i] = fmt.Sprint(i + 1)
				healthy[names[i]], result[names[i]] = true, tc.results[i]
			}
			pending, deployed, succeeded := tc.rollout.Batches(names), 0, 0
			got := Outcome("")
			for len(pending) > 0 {
				batch := tc.rollout.Next(pending[0], healthy, n)
				if len(batch) == 0 {
					got = Failed
					break
				}
				pending[0] = pending[0][len(batch):]
				if len(pending[0]) == 0 {
					pending = pending[1:]
				}
				for _, in := range batch {
					healthy[in] = result[in]
					deployed++
					if result[in] {
						succeeded++
					}
				}
			}
			if got == "" {
				got = tc.rollout.Decide(n, succeeded)
			}
			if got != tc.want || deployed != tc.stopAt {
				t.Errorf("outcome %s after %d instances, want %s after %d", got, deployed, tc.want, tc.stopAt)
			}
		})
	}
}

// TestLifecycle: the order of the events and which ones a revision cannot hook or runs from the
// last successful revision.
func TestLifecycle(t *testing.T) {
	if len(InPlace) != 13 || InPlace[0] != BeforeBlockTraffic || InPlace[len(InPlace)-1] != AfterAllowTraffic {
		t.Errorf("in-place order %v", InPlace)
	}
	// Traffic is blocked before the application stops, and allowed only after it was validated.
	if slices.Index(InPlace, BlockTraffic) > slices.Index(InPlace, ApplicationStop) ||
		slices.Index(InPlace, AllowTraffic) < slices.Index(InPlace, ValidateService) {
		t.Errorf("traffic control out of order: %v", InPlace)
	}
	if !slices.Equal(Termination, InPlace[:4]) {
		t.Errorf("a termination deployment runs %v, want the first four in-place events", Termination)
	}
	var reserved, previous []Event
	var scriptable []string
	for _, e := range InPlace {
		// The events the agent runs itself, which no revision can hook: the validator's list.
		if slices.Contains(appspec.ReservedEvents, string(e)) {
			reserved = append(reserved, e)
		} else {
			scriptable = append(scriptable, string(e))
		}
		if e.FromLastSuccessfulRevision() {
			previous = append(previous, e)
		}
	}
	if !slices.Equal(reserved, []Event{BlockTraffic, DownloadBundle, Install, AllowTraffic}) {
		t.Errorf("reserved %v", reserved)
	}
	// The events a revision may hook, in the order the validator documents them.
	if !slices.Equal(scriptable, appspec.ScriptableEvents) {
		t.Errorf("scriptable events %v, the appspec validator's %v", scriptable, appspec.ScriptableEvents)
	}
	if !slices.Equal(previous, []Event{BeforeBlockTraffic, AfterBlockTraffic, ApplicationStop}) {
		t.Errorf("from the last successful revision %v", previous)
	}
}

// TestFromTemplate reads the settings from templates the suite keeps as snapshots: the fixture's
// copies of the shipped environments (what CI rehearses) and tls, with every setting away from
// its default (a custom rollout of 50%, /health, 45 s, an existing VPC's subnets, whose zones the
// template does not say). The user's own snapshots are not used: their environments are theirs
// to change.
func TestFromTemplate(t *testing.T) {
	tg := func(path string, drain time.Duration) TargetGroup {
		return TargetGroup{Port: 80, HealthCheckPath: path, HealthCheckPort: 80, Interval: 10 * time.Second, Timeout: 5 * time.Second,
			HealthyThreshold: 2, UnhealthyThreshold: 2, HealthyHTTPCodes: "200", DeregistrationDelay: drain}
	}
	for _, tc := range []struct {
		file    string
		tg      TargetGroup
		rollout Rollout
		zonal   *Zonal
		alarms  []string
		bake    time.Duration
		group   Group
		size    int
	}{
		{"Fixture-dev", tg("/", 10*time.Second), Rollout{Kind: OneAtATime}, nil,
			[]string{"target-5xx", "unhealthy-hosts", "elb-5xx"}, 180 * time.Second,
			Group{Min: 2, Max: 3, Zones: []string{"eu-west-1a", "eu-west-1b"}}, 2},
		{"Fixture-prod", tg("/", 30*time.Second), Rollout{Kind: FleetPercent, Value: 66},
			&Zonal{FirstZoneMonitor: 300 * time.Second, Monitor: 180 * time.Second, PerZone: Rollout{Kind: FleetPercent}},
			[]string{"target-5xx", "unhealthy-hosts", "elb-5xx", "p99-latency"}, 180 * time.Second,
			Group{Min: 3, Max: 6, Zones: []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}}, 3},
		// A one-instance fleet's load balancer 5xx alarm notifies only.
		{"Fixture-tls", tg("/health", 45*time.Second), Rollout{Kind: FleetPercent, Value: 50}, nil,
			[]string{"target-5xx", "unhealthy-hosts", "p99-latency"}, 10 * time.Minute,
			Group{Min: 1, Max: 4, Desired: 2, Zones: []string{"", ""}}, 2},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile("../test/testdata/" + tc.file + ".template.json")
			if err != nil {
				t.Fatal(err)
			}
			got, err := FromTemplate(data)
			if err != nil {
				t.Fatal(err)
			}
			if got.TargetGroup != tc.tg {
				t.Errorf("target group %+v, want %+v", got.TargetGroup, tc.tg)
			}
			d := got.Deployment
			if d.Rollout != tc.rollout || !d.TrafficControl || !d.RollbackOnFailure || !d.TerminationHook || d.Name == "" {
				t.Errorf("deployment %+v, want %+v with traffic control, rollback on failure, the termination hook and a name", d, tc.rollout)
			}
			if !reflect.DeepEqual(got.Group, tc.group) || got.Group.Size() != tc.size {
				t.Errorf("group %+v (size %d), want %+v (size %d)", got.Group, got.Group.Size(), tc.group, tc.size)
			}
			if !reflect.DeepEqual(d.Zonal, tc.zonal) || !d.RollbackOnAlarm || d.Bake != tc.bake || d.MetricDelay != time.Minute {
				t.Errorf("zonal %+v, rollback on alarm %v, bake %v, metric delay %v; want %+v, true, %v, 1m", d.Zonal, d.RollbackOnAlarm, d.Bake, d.MetricDelay, tc.zonal, tc.bake)
			}
			var alarms []string
			for _, a := range d.Alarms {
				alarms = append(alarms, a.Name[strings.LastIndex(a.Name, "-fleet-")+len("-fleet-"):])
				if a.Period != time.Minute || a.EvaluationPeriods != 3 || a.DatapointsToAlarm != 2 || a.Comparison != "GreaterThanOrEqualToThreshold" || a.TreatMissingData != "notBreaching" {
					t.Errorf("alarm %+v", a)
				}
			}
			if !slices.Equal(alarms, tc.alarms) {
				t.Errorf("gating alarms %v, want %v", alarms, tc.alarms)
			}
		})
	}
}

// TestSpread: instances go round the group's zones, as Auto Scaling balances them; two subnets
// in one zone are one zone; a zone the template does not say is named after its subnet's place.
func TestSpread(t *testing.T) {
	g := Group{Zones: []string{"a", "b", "c"}}
	if got := g.Spread(5); !slices.Equal(got, []string{"a", "b", "c", "a", "b"}) {
		t.Errorf("spread %v", got)
	}
	if got := (Group{Zones: []string{"a", "a", "b"}}).Spread(4); !slices.Equal(got, []string{"a", "b", "a", "b"}) {
		t.Errorf("two subnets in one zone: %v", got)
	}
	if got := (Group{}).Spread(2); !slices.Equal(got, []string{"", ""}) {
		t.Errorf("no zones: %v", got)
	}
	unknown := Group{Zones: []string{"", ""}}.Named("us-east-1")
	if got := unknown.Spread(3); !slices.Equal(got, []string{"us-east-1a", "us-east-1b", "us-east-1a"}) {
		t.Errorf("zones the template does not say: %v", got)
	}
}

// TestWithoutTerminationHook: the no-hook control's copy differs from the template in the hook
// alone.
func TestWithoutTerminationHook(t *testing.T) {
	data, err := os.ReadFile("../test/testdata/Fixture-prod.template.json")
	if err != nil {
		t.Fatal(err)
	}
	copied, err := WithoutTerminationHook(data)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := FromTemplate(data)
	after, err := FromTemplate(copied)
	if err != nil {
		t.Fatal(err)
	}
	if !before.Deployment.TerminationHook || after.Deployment.TerminationHook {
		t.Errorf("hook before %v, after %v", before.Deployment.TerminationHook, after.Deployment.TerminationHook)
	}
	after.Deployment.TerminationHook = true
	if !reflect.DeepEqual(before, after) {
		t.Errorf("the copy changed more than the hook:\n%+v\n%+v", before, after)
	}
	if _, err := WithoutTerminationHook([]byte(`{"Resources": {}}`)); err == nil {
		t.Error("a template without a deployment group was accepted")
	}
}

func TestFromTemplateDefaultsAndErrors(t *testing.T) {
	const asg = `"ASG": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {"MinSize": "2", "MaxSize": 4, "VPCZoneIdentifier": [{"Ref": "S1"}, "subnet-0123"]}},
		"S1": {"Type": "AWS::EC2::Subnet", "Properties": {"AvailabilityZone": "us-west-2b"}}`
	got, err := FromTemplate([]byte(`{"Resources": {` + asg + `,
		"TG": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {"Port": 8080, "HealthCheckPort": "8081"}},
		"DG": {"Type": "AWS::CodeDeploy::DeploymentGroup", "Properties": {}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	tg, d, g := got.TargetGroup, got.Deployment, got.Group
	// ELB's defaults: 30 s interval, 5 healthy and 2 unhealthy checks, 300 s deregistration delay.
	if tg.Interval != 30*time.Second || tg.HealthyThreshold != 5 || tg.DeregistrationDelay != 300*time.Second || tg.Port != 8080 || tg.HealthCheckPort != 8081 {
		t.Errorf("defaults %+v", tg)
	}
	if d.Rollout.Kind != OneAtATime || d.TrafficControl {
		t.Errorf("deployment %+v: want CodeDeploy's default OneAtATime, no traffic control", d)
	}
	// A size given as a number or a string; a subnet the template does not define has no zone.
	if g.Size() != 2 || g.Max != 4 || !slices.Equal(g.Zones, []string{"us-west-2b", ""}) {
		t.Errorf("group %+v", g)
	}
	got, err = FromTemplate([]byte(`{"Resources": {` + asg + `,
		"TG": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {}},
		"DG": {"Type": "AWS::CodeDeploy::DeploymentGroup", "Properties": {"DeploymentConfigName": "CodeDeployDefault.HalfAtATime",
			"DeploymentStyle": {"DeploymentOption": "WITH_TRAFFIC_CONTROL"}}}}}`))
	if err != nil || got.Deployment.Rollout != HalfAtATime || !got.Deployment.TrafficControl {
		t.Errorf("deployment %+v, %v: want HalfAtATime with traffic control", got.Deployment, err)
	}
	const tgdg = `"TG": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {}}, "DG": {"Type": "AWS::CodeDeploy::DeploymentGroup", "Properties": {}}`
	for _, bad := range []string{`{`, `{"Resources": {}}`,
		`{"Resources": {` + asg + `, "TG": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {}}, "DG": {"Type": "AWS::CodeDeploy::DeploymentGroup", "Properties": {"DeploymentConfigName": "Mine"}}}}`,
		`{"Resources": {` + tgdg + `}}`,
		`{"Resources": {` + tgdg + `, "ASG": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {"MinSize": {"Ref": "Size"}, "MaxSize": "2"}}}}`,
		`{"Resources": {` + tgdg + `, "ASG": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {"MinSize": "0", "MaxSize": "0"}}}}`,
	} {
		if _, err := FromTemplate([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// TestHAProxyConfig renders the load balancer from the fixture's target group and has HAProxy
// itself check the configuration.
func TestHAProxyConfig(t *testing.T) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Fatal("haproxy is missing: apt-get install -y haproxy (.ci/run installs it)")
	}
	tg := TargetGroup{HealthCheckPath: "/health", HealthCheckPort: 80, Interval: 10 * time.Second, Timeout: 5 * time.Second,
		HealthyThreshold: 2, UnhealthyThreshold: 3, HealthyHTTPCodes: "200-202,302", DeregistrationDelay: 45 * time.Second}
	dir := t.TempDir()
	h := HAProxy{TargetGroup: tg, Scale: 10, Listen: "127.0.0.1:18080", AdminSocket: filepath.Join(dir, "admin.sock"),
		Servers:    []Server{{"i-1", "127.0.0.1:18081", "127.0.0.1:18091"}, {"i-2", "127.0.0.1:18082", "127.0.0.1:18092"}},
		BadRelease: filepath.Join(dir, "bad.map"), BadPercent: 20}
	if err := os.WriteFile(h.BadRelease, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := h.Config()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"option httpchk GET /health", "http-check expect rstatus ^(200|201|202|302)$", "timeout check 500ms",
		"inter 1000ms", "rise 2 fall 3", "server i-1 127.0.0.1:18081 check port 80 disabled", "retries 0",
		// The probe goes to each instance's own probe server, in and out of service with its target.
		"use_backend probes if { path /rehearsal/slow }", "server i-2 127.0.0.1:18092 track targets/i-2",
		// The targets' own responses are told from HAProxy's; a target in the bad release's map
		// answers one in five with a 500.
		"http-response set-header X-Rehearsal-Target 1",
		"http-response set-status 500 reason \"Internal Server Error (the rehearsal's bad release)\" if { srv_name,map(" + h.BadRelease + ") -m found } { rand(100) lt 20 }"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	file := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("haproxy", "-c", "-f", file).CombinedOutput(); err != nil {
		t.Errorf("haproxy rejects the configuration: %v\n%s\n%s", err, out, cfg)
	}
	if got := h.Scaled(tg.DeregistrationDelay); got != 4500*time.Millisecond {
		t.Errorf("drain time %v, want 4.5 s at scale 10", got)
	}
	if _, err := (HAProxy{TargetGroup: TargetGroup{HealthyHTTPCodes: "2xx"}, Scale: 1, Listen: "x", AdminSocket: "y", Servers: h.Servers}).Config(); err == nil {
		t.Error("accepted success codes 2xx")
	}
	if _, err := (HAProxy{TargetGroup: tg, Scale: 1, Listen: "x", AdminSocket: "y", Servers: []Server{{Name: "i-1", Address: "a:80"}}}).Config(); err == nil {
		t.Error("accepted a server without a probe")
	}
	if _, err := (HAProxy{TargetGroup: tg, Scale: 1, Listen: "x", AdminSocket: "y", Servers: h.Servers, BadRelease: "m", BadPercent: 0}).Config(); err == nil {
		t.Error("accepted a bad release that fails no request")
	}
}

// TestAllowTraffic: a registered target takes requests after one passing health check, as the
// ELB documents for a new target, not after the healthy threshold; AllowTraffic waits for it in
// real time for as long as the template's health check takes to find a target unhealthy and
// healthy again.
func TestAllowTraffic(t *testing.T) {
	h := HAProxy{}
	if got := h.Register("i-1"); got != "set server targets/i-1 state ready; set server targets/i-1 health down" {
		t.Errorf("register: %q", got)
	}
	if got := h.InService("i-1"); got != "set server targets/i-1 health up" {
		t.Errorf("in service: %q", got)
	}
	tg := TargetGroup{Interval: 10 * time.Second, Timeout: 5 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2}
	if got := tg.AllowTrafficBound(); got != 45*time.Second {
		t.Errorf("bound %v, want (2 + 2) x 10 s + 5 s", got)
	}
	tg = TargetGroup{Interval: 300 * time.Second, Timeout: 120 * time.Second, HealthyThreshold: 10, UnhealthyThreshold: 10}
	if got := tg.AllowTrafficBound(); got != time.Hour {
		t.Errorf("bound %v, want CodeDeploy's hour for a lifecycle event", got)
	}
}

// A zonal rollout goes one zone at a time, in the order the instances' zones come, each zone
// in batches as large as both minimums allow, with the first zone's monitor duration after the
// first zone, the other's after each later zone, and none after the last.
func TestZonalPlan(t *testing.T) {
	zones := map[string]string{}
	names := func(n int) []string {
		var out []string
		for i := 1; i <= n; i++ {
			name := fmt.Sprintf("i-%d", i)
			zones[name] = []string{"a", "b", "c"}[(i-1)%3]
			out = append(out, name)
		}
		return out
	}
	z := &Zonal{FirstZoneMonitor: 300 * time.Second, Monitor: 180 * time.Second, PerZone: Rollout{Kind: FleetPercent}}
	prod := Rollout{Kind: FleetPercent, Value: 66}
	describe := func(waves []Wave) string {
		var parts []string
		for _, w := range waves {
			parts = append(parts, fmt.Sprintf("%s%v+%v", w.Zone, w.Batches, w.Monitor))
		}
		return strings.Join(parts, " ")
	}
	for _, tc := range []struct {
		n       int
		rollout Rollout
		zonal   *Zonal
		want    string
	}{
		// 66% of 3 keeps 2: one at a time, each zone's single instance.
		{3, prod, z, "a[[i-1]]+5m0s b[[i-2]]+3m0s c[[i-3]]+0s"},
		// 66% of 6 keeps 4: two at a time, a whole zone.
		{6, prod, z, "a[[i-1 i-4]]+5m0s b[[i-2 i-5]]+3m0s c[[i-3 i-6]]+0s"},
		{9, prod, z, "a[[i-1 i-4 i-7]]+5m0s b[[i-2 i-5 i-8]]+3m0s c[[i-3 i-6 i-9]]+0s"},
		// A zone's own minimum can be the tighter: half of each zone of three stays up.
		{9, prod, &Zonal{Monitor: time.Minute, FirstZoneMonitor: time.Minute, PerZone: Rollout{Kind: FleetPercent, Value: 50}},
			"a[[i-1] [i-4] [i-7]]+1m0s b[[i-2] [i-5] [i-8]]+1m0s c[[i-3] [i-6] [i-9]]+0s"},
		// Not zonal: one wave, the rollout's batches.
		{3, Rollout{Kind: OneAtATime}, nil, "[[i-1] [i-2] [i-3]]+0s"},
	} {
		if got := describe(tc.rollout.Plan(names(tc.n), zones, tc.zonal)); got != tc.want {
			t.Errorf("%d instances, %s: %s\nwant %s", tc.n, tc.rollout.Describe(tc.n), got, tc.want)
		}
	}
}

// The unwatched copy detaches the alarms (kept, and read as detached), takes the monitor
// durations and the bake away, and changes nothing else.
func TestUnwatched(t *testing.T) {
	data, err := os.ReadFile("../test/testdata/Fixture-prod.template.json")
	if err != nil {
		t.Fatal(err)
	}
	orig, err := FromTemplate(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(orig.Deployment.Alarms) == 0 || orig.Deployment.Zonal == nil || orig.Deployment.Zonal.FirstZoneMonitor == 0 || orig.Deployment.Bake == 0 {
		t.Fatalf("the fixture's prod no longer has alarms, zonal monitors and a bake: %+v", orig.Deployment)
	}
	copied, err := Unwatched(data)
	if err != nil {
		t.Fatal(err)
	}
	c, err := FromTemplate(copied)
	if err != nil {
		t.Fatal(err)
	}
	d := c.Deployment
	if len(d.Alarms) != 0 || len(d.Detached) != len(orig.Deployment.Alarms) || d.Bake != 0 || d.Zonal == nil || d.Zonal.FirstZoneMonitor != 0 || d.Zonal.Monitor != 0 {
		t.Errorf("unwatched: %d gating alarms, %d detached, bake %v, zonal %+v", len(d.Alarms), len(d.Detached), d.Bake, d.Zonal)
	}
	if d.Rollout != orig.Deployment.Rollout || c.TargetGroup != orig.TargetGroup || d.TerminationHook != orig.Deployment.TerminationHook {
		t.Error("the unwatched copy changed more than the safety net")
	}
}
