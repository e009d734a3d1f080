package deployer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// fake is CodeDeploy and S3 in memory. statuses are returned by successive GetDeployment calls
// (the last one repeats); throttle makes the first N calls of every operation fail with
// ThrottlingException.
type fake struct {
	statuses  []cdtypes.DeploymentStatus
	errorInfo *cdtypes.ErrorInformation
	failed    *cdtypes.InstanceTarget
	throttle  int
	hang      bool

	calls     []string
	created   *codedeploy.CreateDeploymentInput
	copied    *s3.CopyObjectInput
	throttled map[string]int
}

func (f *fake) record(op string) error {
	f.calls = append(f.calls, op)
	if f.throttled == nil {
		f.throttled = map[string]int{}
	}
	if f.throttled[op] < f.throttle {
		f.throttled[op]++
		return &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	}
	return nil
}

func (f *fake) CopyObject(_ context.Context, in *s3.CopyObjectInput, _ ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	if err := f.record("CopyObject"); err != nil {
		return nil, err
	}
	f.copied = in
	return &s3.CopyObjectOutput{}, nil
}

func (f *fake) RegisterApplicationRevision(context.Context, *codedeploy.RegisterApplicationRevisionInput, ...func(*codedeploy.Options)) (*codedeploy.RegisterApplicationRevisionOutput, error) {
	return &codedeploy.RegisterApplicationRevisionOutput{}, f.record("RegisterApplicationRevision")
}

func (f *fake) CreateDeployment(_ context.Context, in *codedeploy.CreateDeploymentInput, _ ...func(*codedeploy.Options)) (*codedeploy.CreateDeploymentOutput, error) {
	if err := f.record("CreateDeployment"); err != nil {
		return nil, err
	}
	f.created = in
	return &codedeploy.CreateDeploymentOutput{DeploymentId: aws.String("d-TEST12345")}, nil
}

func (f *fake) GetDeployment(ctx context.Context, _ *codedeploy.GetDeploymentInput, _ ...func(*codedeploy.Options)) (*codedeploy.GetDeploymentOutput, error) {
	if f.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err := f.record("GetDeployment"); err != nil {
		return nil, err
	}
	status := f.statuses[0]
	if len(f.statuses) > 1 {
		f.statuses = f.statuses[1:]
	}
	return &codedeploy.GetDeploymentOutput{DeploymentInfo: &cdtypes.DeploymentInfo{
		DeploymentId: aws.String("d-TEST12345"), Status: status, ErrorInformation: f.errorInfo,
	}}, nil
}

func (f *fake) ListDeploymentTargets(_ context.Context, in *codedeploy.ListDeploymentTargetsInput, _ ...func(*codedeploy.Options)) (*codedeploy.ListDeploymentTargetsOutput, error) {
	if err := f.record("ListDeploymentTargets"); err != nil {
		return nil, err
	}
	if f.failed == nil {
		return &codedeploy.ListDeploymentTargetsOutput{}, nil
	}
	return &codedeploy.ListDeploymentTargetsOutput{TargetIds: []string{aws.ToString(f.failed.TargetId)}}, nil
}

func (f *fake) BatchGetDeploymentTargets(context.Context, *codedeploy.BatchGetDeploymentTargetsInput, ...func(*codedeploy.Options)) (*codedeploy.BatchGetDeploymentTargetsOutput, error) {
	if err := f.record("BatchGetDeploymentTargets"); err != nil {
		return nil, err
	}
	return &codedeploy.BatchGetDeploymentTargetsOutput{DeploymentTargets: []cdtypes.DeploymentTarget{{InstanceTarget: f.failed}}}, nil
}

var props = Properties{
	ApplicationName: "MyWebApp-dev", DeploymentGroupName: "MyWebApp-dev-fleet",
	SourceBucket: "cdk-assets", SourceKey: "abc.zip",
	RevisionBucket: "revisions-bucket", RevisionKey: "revisions/0123.zip",
	Deploy: "true", TimeoutMinutes: "30",
}

var start = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// newDeployer wires f with a clock frozen at start (moved by the test) and a sleep that only
// counts.
func newDeployer(f *fake) (*Deployer, *time.Time, *[]time.Duration) {
	now := start
	var slept []time.Duration
	d := &Deployer{CodeDeploy: f, S3: f, Retries: 5,
		Now:   func() time.Time { return now },
		Sleep: func(_ context.Context, dur time.Duration) error { slept = append(slept, dur); return nil },
	}
	return d, &now, &slept
}

// deploy runs OnEvent (Create) and then IsComplete until it completes or fails, at most 10 polls.
func deploy(t *testing.T, d *Deployer) (Response, error) {
	t.Helper()
	ctx := context.Background()
	res, err := d.OnEvent(ctx, Event{RequestType: "Create", ResourceProperties: props})
	if err != nil {
		return res, err
	}
	for range 10 {
		done, err := d.IsComplete(ctx, Event{RequestType: "Create", ResourceProperties: props, PhysicalResourceID: res.PhysicalResourceID, Data: res.Data})
		if err != nil || done.IsComplete {
			return done, err
		}
	}
	t.Fatal("still not complete after 10 polls")
	return Response{}, nil
}

func TestSuccess(t *testing.T) {
	f := &fake{statuses: []cdtypes.DeploymentStatus{cdtypes.DeploymentStatusCreated, cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusSucceeded}}
	d, _, _ := newDeployer(f)
	res, err := deploy(t, d)
	if err != nil || !res.IsComplete {
		t.Fatalf("IsComplete = %+v, %v", res, err)
	}
	if f.copied == nil || aws.ToString(f.copied.CopySource) != "cdk-assets/abc.zip" || aws.ToString(f.copied.Key) != "revisions/0123.zip" {
		t.Errorf("copy = %+v", f.copied)
	}
	if f.created == nil || aws.ToString(f.created.DeploymentGroupName) != "MyWebApp-dev-fleet" ||
		aws.ToString(f.created.Revision.S3Location.Key) != "revisions/0123.zip" || f.created.Revision.S3Location.BundleType != cdtypes.BundleTypeZip {
		t.Errorf("deployment = %+v", f.created)
	}
}

func TestPhysicalIDFollowsTheRevision(t *testing.T) {
	d, _, _ := newDeployer(&fake{statuses: []cdtypes.DeploymentStatus{cdtypes.DeploymentStatusSucceeded}})
	a, _ := d.OnEvent(context.Background(), Event{RequestType: "Create", ResourceProperties: props})
	changed := props
	changed.RevisionKey = "revisions/4567.zip"
	b, _ := d.OnEvent(context.Background(), Event{RequestType: "Update", ResourceProperties: changed, PhysicalResourceID: a.PhysicalResourceID})
	if a.PhysicalResourceID == b.PhysicalResourceID || !strings.HasSuffix(b.PhysicalResourceID, "revisions/4567.zip") {
		t.Errorf("physical IDs %q then %q: a new revision must be a new resource", a.PhysicalResourceID, b.PhysicalResourceID)
	}
}

func TestFailureNamesInstanceAndEvent(t *testing.T) {
	f := &fake{
		statuses:  []cdtypes.DeploymentStatus{cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusFailed},
		errorInfo: &cdtypes.ErrorInformation{Code: cdtypes.ErrorCodeHealthConstraints, Message: aws.String("The overall deployment failed because too many individual instances failed deployment")},
		failed: &cdtypes.InstanceTarget{TargetId: aws.String("i-0abc"), LifecycleEvents: []cdtypes.LifecycleEvent{
			{LifecycleEventName: aws.String("BeforeInstall"), Status: cdtypes.LifecycleEventStatusSucceeded},
			{LifecycleEventName: aws.String("ValidateService"), Status: cdtypes.LifecycleEventStatusFailed, Diagnostics: &cdtypes.Diagnostics{
				ErrorCode: cdtypes.LifecycleErrorCodeScriptFailed, ScriptName: aws.String("scripts/validate_service.sh"),
				Message: aws.String("Script at specified location: scripts/validate_service.sh run as user root failed with exit code 1"),
				LogTail: aws.String("[stdout]attempt 10: http://127.0.0.1/: 503\n[stdout]giving up after 10 attempts"),
			}},
		}},
	}
	d, _, _ := newDeployer(f)
	_, err := deploy(t, d)
	if err == nil {
		t.Fatal("a failed deployment completed")
	}
	for _, want := range []string{"deployment d-TEST12345 failed", "HEALTH_CONSTRAINTS", "instance i-0abc failed at ValidateService",
		"script scripts/validate_service.sh", "giving up after 10 attempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestStopped(t *testing.T) {
	f := &fake{statuses: []cdtypes.DeploymentStatus{cdtypes.DeploymentStatusStopped},
		errorInfo: &cdtypes.ErrorInformation{Code: cdtypes.ErrorCodeAlarmActive, Message: aws.String("alarm MyWebApp-dev-target-5xx is active")}}
	d, _, _ := newDeployer(f)
	_, err := deploy(t, d)
	if err == nil || !strings.Contains(err.Error(), "deployment d-TEST12345 stopped: ALARM_ACTIVE") {
		t.Errorf("error = %v", err)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	f := &fake{statuses: []cdtypes.DeploymentStatus{cdtypes.DeploymentStatusSucceeded}, throttle: 2}
	d, _, slept := newDeployer(f)
	if _, err := deploy(t, d); err != nil {
		t.Fatal(err)
	}
	// Two throttled calls per operation, each followed by a backoff of 1 s then 2 s.
	if want := 4 * 2; len(*slept) != want {
		t.Errorf("slept %v, want %d backoffs", *slept, want)
	}
	if (*slept)[0] != time.Second || (*slept)[1] != 2*time.Second {
		t.Errorf("backoff %v, want 1s then 2s", (*slept)[:2])
	}
}

func TestThrottlingGivesUp(t *testing.T) {
	d, _, _ := newDeployer(&fake{statuses: []cdtypes.DeploymentStatus{cdtypes.DeploymentStatusSucceeded}, throttle: 100})
	_, err := d.OnEvent(context.Background(), Event{RequestType: "Create", ResourceProperties: props})
	if err == nil || !strings.Contains(err.Error(), "still throttled after 5 retries") {
		t.Errorf("error = %v", err)
	}
}

func TestTimeout(t *testing.T) {
	f := &fake{statuses: []cdtypes.DeploymentStatus{cdtypes.DeploymentStatusInProgress}}
	d, now, _ := newDeployer(f)
	res, err := d.OnEvent(context.Background(), Event{RequestType: "Create", ResourceProperties: props})
	if err != nil {
		t.Fatal(err)
	}
	ev := Event{RequestType: "Create", ResourceProperties: props, Data: res.Data}
	*now = start.Add(29 * time.Minute)
	if r, err := d.IsComplete(context.Background(), ev); err != nil || r.IsComplete {
		t.Fatalf("before the deadline: %+v, %v; want not complete, no error", r, err)
	}
	*now = start.Add(31 * time.Minute)
	_, err = d.IsComplete(context.Background(), ev)
	if err == nil || !strings.Contains(err.Error(), "deployment d-TEST12345 is still InProgress after the configured timeout") {
		t.Errorf("error = %v", err)
	}
}

func TestCallBoundedByContext(t *testing.T) {
	d, _, _ := newDeployer(&fake{hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := d.IsComplete(ctx, Event{RequestType: "Create", ResourceProperties: props, Data: map[string]any{DataDeploymentID: "d-TEST12345"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want the context deadline", err)
	}
}

func TestUploadOnly(t *testing.T) {
	f := &fake{}
	d, _, _ := newDeployer(f)
	p := props
	p.Deploy = "false"
	res, err := d.OnEvent(context.Background(), Event{RequestType: "Create", ResourceProperties: p})
	if err != nil || f.created != nil || f.copied == nil {
		t.Fatalf("upload only: %+v, %v, created %v", res, err, f.created)
	}
	if done, err := d.IsComplete(context.Background(), Event{RequestType: "Create", Data: res.Data}); err != nil || !done.IsComplete {
		t.Errorf("IsComplete = %+v, %v", done, err)
	}
}

func TestDeleteLeavesTheFleetAlone(t *testing.T) {
	f := &fake{}
	d, _, _ := newDeployer(f)
	res, err := d.OnEvent(context.Background(), Event{RequestType: "Delete", PhysicalResourceID: "x", ResourceProperties: props})
	if err != nil || res.PhysicalResourceID != "x" || len(f.calls) != 0 {
		t.Errorf("delete: %+v, %v, calls %v", res, err, f.calls)
	}
}

func TestBadProperties(t *testing.T) {
	d, _, _ := newDeployer(&fake{})
	p := props
	p.RevisionKey, p.SourceBucket = "", ""
	_, err := d.OnEvent(context.Background(), Event{RequestType: "Create", ResourceProperties: p})
	if err == nil || !strings.Contains(err.Error(), "missing: RevisionKey, SourceBucket") {
		t.Errorf("error = %v", err)
	}
}

func TestUpdateWithTheSameRevisionDeploysNothing(t *testing.T) {
	f := &fake{}
	d, _, _ := newDeployer(f)
	changed := props
	changed.TimeoutMinutes = "60"
	old := props
	res, err := d.OnEvent(context.Background(), Event{RequestType: "Update", PhysicalResourceID: "same",
		ResourceProperties: changed, OldResourceProperties: &old})
	if err != nil || res.PhysicalResourceID != "same" || len(f.calls) != 0 {
		t.Errorf("update: %+v, %v, calls %v; want no call and the same physical ID", res, err, f.calls)
	}
}
