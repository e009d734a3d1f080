package deployer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
)

// alarms is CloudWatch in memory: each alarm goes to ALARM at its time, if it has one.
type alarms struct {
	now     *time.Time
	alarmAt map[string]time.Time
	asked   [][]string
}

func (a *alarms) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	a.asked = append(a.asked, in.AlarmNames)
	out := &cloudwatch.DescribeAlarmsOutput{}
	for _, name := range in.AlarmNames {
		state := cwtypes.StateValueOk
		if at, ok := a.alarmAt[name]; ok && !a.now.Before(at) {
			state = cwtypes.StateValueAlarm
		}
		out.MetricAlarms = append(out.MetricAlarms, cwtypes.MetricAlarm{AlarmName: aws.String(name), StateValue: state})
	}
	return out, nil
}

var baking = func() Properties {
	p := props
	p.BakeSeconds, p.AlarmNames = "300", "MyWebApp-dev-fleet-target-5xx,MyWebApp-dev-fleet-elb-5xx"
	p.FirstConfig, p.RestoreConfig = "CodeDeployDefault.AllAtOnce", "CodeDeployDefault.HalfAtATime"
	return p
}()

// newBakeHarness is a group whose previous release (revisions/old.zip) succeeded an hour ago.
func newBakeHarness(script ...cdtypes.DeploymentStatus) (*harness, *alarms) {
	h := newHarness(script...)
	cw := &alarms{now: h.now, alarmAt: map[string]time.Time{}}
	h.d.CloudWatch = cw
	h.f.add("d-OLD", "revisions/old.zip", cdtypes.DeploymentCreatorUser, start.Add(-time.Hour), cdtypes.DeploymentStatusSucceeded)
	return h, cw
}

func update(p Properties) Event {
	old := p
	old.RevisionKey = "revisions/old.zip"
	return Event{RequestType: "Update", ResourceProperties: p, OldResourceProperties: &old, PhysicalResourceID: "x"}
}

// A release whose alarms stay quiet completes once it has baked for BakeSeconds after its
// deployment ended, not before; the alarms are read on every poll of the bake.
func TestBakeCompletesWhenQuiet(t *testing.T) {
	h, cw := newBakeHarness(cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusSucceeded)
	res, err := h.run(t, update(baking))
	if err != nil || !res.IsComplete {
		t.Fatalf("%+v, %v", res, err)
	}
	ended := h.f.deployments["d-NEW0"].completed
	if waited := h.now.Sub(ended); waited < 300*time.Second || waited > 330*time.Second {
		t.Errorf("completed %v after the deployment ended, want the 300 s bake", waited)
	}
	if len(cw.asked) < 10 || strings.Join(cw.asked[0], ",") != baking.AlarmNames {
		t.Errorf("the alarms were read %d times (%v)", len(cw.asked), cw.asked)
	}
	if n := h.f.count("CreateDeployment"); n != 1 {
		t.Errorf("%d deployments created, want the release alone", n)
	}
}

// An alarm during the bake puts the previous release back, with the alarms off (the alarm still
// fires) and the restore configuration, and fails naming the alarm; CloudFormation's rollback
// then sends the previous revision, which finds the restore, waits for it and completes without
// deploying again.
func TestBakeAlarmRestoresThePreviousRelease(t *testing.T) {
	h, cw := newBakeHarness(cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusSucceeded)
	cw.alarmAt["MyWebApp-dev-fleet-target-5xx"] = start.Add(3 * time.Minute)
	_, err := h.run(t, update(baking))
	if err == nil {
		t.Fatal("the release completed although its alarm fired during the bake")
	}
	for _, want := range []string{"alarm MyWebApp-dev-fleet-target-5xx went to ALARM", "after deployment d-NEW0 of revisions/0123.zip ended",
		"the previous release revisions/old.zip is being put back (alarms off, CodeDeployDefault.HalfAtATime)", "CloudFormation rolls back"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	restore := h.f.deployments["d-NEW1"]
	if restore == nil || restore.key != "revisions/old.zip" {
		t.Fatalf("no deployment of the previous revision: %+v", h.f.deployments)
	}
	if in := restore.input; in.OverrideAlarmConfiguration == nil || in.OverrideAlarmConfiguration.Enabled ||
		aws.ToString(in.DeploymentConfigName) != "CodeDeployDefault.HalfAtATime" {
		t.Errorf("the restore runs with %+v, %q; want alarms off and HalfAtATime", in.OverrideAlarmConfiguration, aws.ToString(in.DeploymentConfigName))
	}
	// CloudFormation's rollback, a moment later: the previous revision again, while the restore
	// runs (and the alarm still fires).
	*h.now = h.now.Add(20 * time.Second)
	restore.statuses = []cdtypes.DeploymentStatus{cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusSucceeded}
	back := baking
	back.RevisionKey = "revisions/old.zip"
	bad := baking
	res, err := h.run(t, Event{RequestType: "Update", ResourceProperties: back, OldResourceProperties: &bad, PhysicalResourceID: "y"})
	if err != nil || !res.IsComplete || res.Data[DataDeploymentID] != "d-NEW1" {
		t.Fatalf("the rollback: %+v, %v; want it complete on the restore d-NEW1", res, err)
	}
	if n := h.f.count("CreateDeployment"); n != 2 {
		t.Errorf("%d deployments created, want the release and its restore alone", n)
	}
}

// The restore never collides with another deployment: CodeDeploy refuses it while one is
// active, and the bake tries again on the next poll instead of failing without a restore.
func TestBakeRestoreWaitsForAnActiveDeployment(t *testing.T) {
	h, cw := newBakeHarness(cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusSucceeded)
	cw.alarmAt["MyWebApp-dev-fleet-elb-5xx"] = start
	res, err := h.d.OnEvent(context.Background(), update(baking))
	if err != nil {
		t.Fatal(err)
	}
	refused := false
	for range 10 {
		*h.now = h.now.Add(30 * time.Second)
		for _, dep := range h.f.deployments {
			dep.advance()
		}
		// The first poll that finds the release succeeded: CodeDeploy refuses the restore once.
		first := false
		if d := h.f.deployments["d-NEW0"]; d != nil && d.status() == cdtypes.DeploymentStatusSucceeded && !refused {
			refused, first, h.f.limitOnce = true, true, true
		}
		r, err := h.d.IsComplete(context.Background(), Event{RequestType: "Update", ResourceProperties: baking, Data: res.Data})
		switch {
		case first && (err != nil || r.IsComplete):
			t.Fatalf("refused restore: %+v, %v; want a wait", r, err)
		case refused && !first:
			if err == nil || !strings.Contains(err.Error(), "being put back") {
				t.Fatalf("the poll after the refusal: %v; want the restore made and the failure", err)
			}
			if n := h.f.count("CreateDeployment"); n != 3 {
				t.Errorf("%d CreateDeployment calls, want the release, the refused restore and the restore", n)
			}
			return
		case err != nil:
			t.Fatal(err)
		}
	}
	t.Fatal("the release never succeeded")
}

// A release with nothing before it to put back (its group's history holds no other succeeded
// release) fails saying so.
func TestBakeAlarmWithoutAnEarlierRelease(t *testing.T) {
	h := newHarness()
	h.d.CloudWatch = &alarms{now: h.now, alarmAt: map[string]time.Time{"MyWebApp-dev-fleet-target-5xx": start}}
	h.f.add("d-REL", baking.RevisionKey, cdtypes.DeploymentCreatorUser, start.Add(-time.Minute), cdtypes.DeploymentStatusSucceeded)
	info := h.f.info("d-REL")
	_, baked, err := h.d.bake(context.Background(), Event{ResourceProperties: baking}, &info)
	if baked || err == nil || !strings.Contains(err.Error(), "no earlier release to put back: the fleet stays on revisions/0123.zip") {
		t.Fatalf("baked %v, %v", baked, err)
	}
}

// A first deployment names the first configuration, every instance at once, with the alarms
// off; a restoring one the restore configuration.
func TestFirstAndRestoringConfigurations(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusSucceeded)
	p := baking
	p.BakeSeconds = "0"
	if _, err := h.run(t, Event{RequestType: "Create", ResourceProperties: p}); err != nil {
		t.Fatal(err)
	}
	if in := h.f.deployments["d-NEW0"].input; aws.ToString(in.DeploymentConfigName) != "CodeDeployDefault.AllAtOnce" || in.OverrideAlarmConfiguration.Enabled {
		t.Errorf("first deployment: %q, alarms %+v", aws.ToString(in.DeploymentConfigName), in.OverrideAlarmConfiguration)
	}
	h = newHarness(cdtypes.DeploymentStatusSucceeded)
	h.f.add("d-BAD", "revisions/bad.zip", cdtypes.DeploymentCreatorUser, start.Add(-time.Hour), cdtypes.DeploymentStatusFailed)
	if _, err := h.run(t, update(p)); err != nil {
		t.Fatal(err)
	}
	if in := h.f.deployments["d-NEW0"].input; aws.ToString(in.DeploymentConfigName) != "CodeDeployDefault.HalfAtATime" || in.OverrideAlarmConfiguration.Enabled {
		t.Errorf("restoring deployment: %q, alarms %+v", aws.ToString(in.DeploymentConfigName), in.OverrideAlarmConfiguration)
	}
}

// A deployment that ran with the alarms off (a first deployment, a restore) is not baked: an
// alarm that fires meanwhile speaks of the release it replaced.
func TestNoBakeWithTheAlarmsOff(t *testing.T) {
	h := newHarness()
	h.d.CloudWatch = &alarms{now: h.now, alarmAt: map[string]time.Time{"MyWebApp-dev-fleet-target-5xx": start}}
	h.f.add("d-RESTORE", baking.RevisionKey, cdtypes.DeploymentCreatorUser, start.Add(-time.Minute), cdtypes.DeploymentStatusSucceeded)
	info := h.f.info("d-RESTORE")
	info.OverrideAlarmConfiguration = &cdtypes.AlarmConfiguration{Enabled: false}
	if _, baked, err := h.d.bake(context.Background(), Event{ResourceProperties: baking}, &info); !baked || err != nil {
		t.Errorf("baked %v, %v; want no bake", baked, err)
	}
}
