package deployer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// deployment is one deployment in the fake: it walks through statuses, one per poll.
type deployment struct {
	key      string
	creator  cdtypes.DeploymentCreator
	created  time.Time
	statuses []cdtypes.DeploymentStatus
	input    *codedeploy.CreateDeploymentInput
	// completed is when the fake first reported it ended.
	completed time.Time
}

func (d *deployment) status() cdtypes.DeploymentStatus { return d.statuses[0] }

func (d *deployment) advance() {
	if len(d.statuses) > 1 {
		d.statuses = d.statuses[1:]
	}
}

// fake is CodeDeploy and S3 in memory, on the test's clock.
type fake struct {
	now         *time.Time
	deployments map[string]*deployment
	order       []string
	// script is the status sequence of deployments CreateDeployment starts.
	script    []cdtypes.DeploymentStatus
	errorInfo *cdtypes.ErrorInformation
	// targets are the instances of every deployment, as ListDeploymentTargets and
	// BatchGetDeploymentTargets report them; targetsOf, of one deployment, when it has an entry.
	targets   []cdtypes.InstanceTarget
	targetsOf map[string][]cdtypes.InstanceTarget
	// block makes every CodeDeploy call wait for its context to end, like a call that hangs.
	block     bool
	throttle  int
	hang      bool
	limitOnce bool
	// createdCount numbers the deployments CreateDeployment starts: d-NEW0, d-NEW1, ...
	createdCount int
	calls        []string
	throttled    map[string]int
	copied       *s3.CopyObjectInput
	registered   int
	// objects are the revision bucket's keys and their last-modified times; deleted what
	// DeleteObject removed; listErr fails ListObjectsV2.
	objects map[string]time.Time
	deleted []string
	listErr error
}

func newFake(now *time.Time, script ...cdtypes.DeploymentStatus) *fake {
	return &fake{now: now, deployments: map[string]*deployment{}, script: script, throttled: map[string]int{}}
}

// add records an existing deployment of key by creator, created at created.
func (f *fake) add(id, key string, creator cdtypes.DeploymentCreator, created time.Time, statuses ...cdtypes.DeploymentStatus) {
	f.deployments[id] = &deployment{key: key, creator: creator, created: created, statuses: statuses}
	f.order = append(f.order, id)
}

func (f *fake) record(op string) error {
	f.calls = append(f.calls, op)
	if f.throttled[op] < f.throttle {
		f.throttled[op]++
		return &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	}
	return nil
}

func (f *fake) count(op string) int {
	n := 0
	for _, c := range f.calls {
		if c == op {
			n++
		}
	}
	return n
}

func (f *fake) CopyObject(_ context.Context, in *s3.CopyObjectInput, _ ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	if err := f.record("CopyObject"); err != nil {
		return nil, err
	}
	f.copied = in
	return &s3.CopyObjectOutput{}, nil
}

func (f *fake) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	if err := f.record("ListObjectsV2"); err != nil {
		return nil, err
	}
	if f.listErr != nil {
		return nil, f.listErr
	}
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(false)}
	for _, key := range slices.Sorted(maps.Keys(f.objects)) {
		if strings.HasPrefix(key, aws.ToString(in.Prefix)) {
			out.Contents = append(out.Contents, s3types.Object{Key: aws.String(key), LastModified: aws.Time(f.objects[key])})
		}
	}
	return out, nil
}

func (f *fake) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	if err := f.record("DeleteObject"); err != nil {
		return nil, err
	}
	f.deleted = append(f.deleted, aws.ToString(in.Key))
	delete(f.objects, aws.ToString(in.Key))
	return &s3.DeleteObjectOutput{}, nil
}

func (f *fake) RegisterApplicationRevision(context.Context, *codedeploy.RegisterApplicationRevisionInput, ...func(*codedeploy.Options)) (*codedeploy.RegisterApplicationRevisionOutput, error) {
	return &codedeploy.RegisterApplicationRevisionOutput{}, f.record("RegisterApplicationRevision")
}

func (f *fake) CreateDeployment(_ context.Context, in *codedeploy.CreateDeploymentInput, _ ...func(*codedeploy.Options)) (*codedeploy.CreateDeploymentOutput, error) {
	if err := f.record("CreateDeployment"); err != nil {
		return nil, err
	}
	if f.limitOnce {
		f.limitOnce = false
		return nil, &smithy.GenericAPIError{Code: "DeploymentLimitExceededException", Message: "The deployment group already has an active deployment"}
	}
	id := fmt.Sprintf("d-NEW%d", f.createdCount)
	f.createdCount++
	f.add(id, aws.ToString(in.Revision.S3Location.Key), cdtypes.DeploymentCreatorUser, *f.now, f.script...)
	f.deployments[id].input = in
	return &codedeploy.CreateDeploymentOutput{DeploymentId: aws.String(id)}, nil
}

func (f *fake) ListDeployments(ctx context.Context, in *codedeploy.ListDeploymentsInput, _ ...func(*codedeploy.Options)) (*codedeploy.ListDeploymentsOutput, error) {
	if f.hang || f.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err := f.record("ListDeployments"); err != nil {
		return nil, err
	}
	out := &codedeploy.ListDeploymentsOutput{}
	for _, id := range f.order {
		d := f.deployments[id]
		if r := in.CreateTimeRange; r != nil && (r.Start != nil && d.created.Before(*r.Start) || r.End != nil && d.created.After(*r.End)) {
			continue
		}
		if len(in.IncludeOnlyStatuses) > 0 && !contains(in.IncludeOnlyStatuses, d.status()) {
			continue
		}
		out.Deployments = append(out.Deployments, id)
	}
	out.Deployments, out.NextToken = page(out.Deployments, in.NextToken)
	return out, nil
}

// page is one page of ids from token on: one id a page, as CodeDeploy would return them from a
// group with many deployments, so that every test that lists more than one goes through the
// deployer's paging.
func page(ids []string, token *string) ([]string, *string) {
	start := 0
	if token != nil {
		start, _ = strconv.Atoi(*token)
	}
	if start >= len(ids) {
		return nil, nil
	}
	var next *string
	if start+1 < len(ids) {
		next = aws.String(strconv.Itoa(start + 1))
	}
	return ids[start : start+1], next
}

func contains(list []cdtypes.DeploymentStatus, s cdtypes.DeploymentStatus) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (f *fake) info(id string) cdtypes.DeploymentInfo {
	d := f.deployments[id]
	info := cdtypes.DeploymentInfo{
		DeploymentId: aws.String(id), Status: d.status(), CreateTime: aws.Time(d.created), Creator: d.creator,
		Revision: &cdtypes.RevisionLocation{S3Location: &cdtypes.S3Location{Bucket: aws.String(props.RevisionBucket), Key: aws.String(d.key)}},
	}
	switch d.status() {
	case cdtypes.DeploymentStatusSucceeded, cdtypes.DeploymentStatusFailed, cdtypes.DeploymentStatusStopped:
		if d.completed.IsZero() {
			d.completed = *f.now
		}
		info.CompleteTime = aws.Time(d.completed)
	}
	if d.status() == cdtypes.DeploymentStatusFailed || d.status() == cdtypes.DeploymentStatusStopped {
		info.ErrorInformation = f.errorInfo
	}
	if d.input != nil {
		info.OverrideAlarmConfiguration = d.input.OverrideAlarmConfiguration
	}
	return info
}

func (f *fake) BatchGetDeployments(_ context.Context, in *codedeploy.BatchGetDeploymentsInput, _ ...func(*codedeploy.Options)) (*codedeploy.BatchGetDeploymentsOutput, error) {
	if err := f.record("BatchGetDeployments"); err != nil {
		return nil, err
	}
	if len(in.DeploymentIds) > 25 {
		return nil, &smithy.GenericAPIError{Code: "BatchLimitExceededException", Message: "more than 25 ids"}
	}
	out := &codedeploy.BatchGetDeploymentsOutput{}
	for _, id := range in.DeploymentIds {
		out.DeploymentsInfo = append(out.DeploymentsInfo, f.info(id))
	}
	return out, nil
}

func (f *fake) ListDeploymentTargets(_ context.Context, in *codedeploy.ListDeploymentTargetsInput, _ ...func(*codedeploy.Options)) (*codedeploy.ListDeploymentTargetsOutput, error) {
	if err := f.record("ListDeploymentTargets"); err != nil {
		return nil, err
	}
	statuses := in.TargetFilters[string(cdtypes.TargetFilterNameTargetStatus)]
	out := &codedeploy.ListDeploymentTargetsOutput{}
	for _, t := range f.targetsFor(aws.ToString(in.DeploymentId)) {
		if len(statuses) == 0 || slices.Contains(statuses, string(t.Status)) {
			out.TargetIds = append(out.TargetIds, aws.ToString(t.TargetId))
		}
	}
	out.TargetIds, out.NextToken = page(out.TargetIds, in.NextToken)
	return out, nil
}

func (f *fake) BatchGetDeploymentTargets(_ context.Context, in *codedeploy.BatchGetDeploymentTargetsInput, _ ...func(*codedeploy.Options)) (*codedeploy.BatchGetDeploymentTargetsOutput, error) {
	if err := f.record("BatchGetDeploymentTargets"); err != nil {
		return nil, err
	}
	out := &codedeploy.BatchGetDeploymentTargetsOutput{}
	for _, t := range f.targetsFor(aws.ToString(in.DeploymentId)) {
		if slices.Contains(in.TargetIds, aws.ToString(t.TargetId)) {
			out.DeploymentTargets = append(out.DeploymentTargets, cdtypes.DeploymentTarget{InstanceTarget: &t})
		}
	}
	return out, nil
}

func (f *fake) targetsFor(id string) []cdtypes.InstanceTarget {
	if t, ok := f.targetsOf[id]; ok {
		return t
	}
	return f.targets
}

var props = Properties{
	ApplicationName: "MyWebApp-dev", DeploymentGroupName: "MyWebApp-dev-fleet",
	SourceBucket: "cdk-assets", SourceKey: "abc.zip",
	RevisionBucket: "revisions-bucket", RevisionKey: "revisions/0123.zip",
	Deploy: "true", TimeoutMinutes: "30",
}

var start = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// harness is a Deployer on a fake whose clock moves 30 s per poll, as the provider's waiter does.
type harness struct {
	d     *Deployer
	f     *fake
	now   *time.Time
	slept []time.Duration
}

func newHarness(script ...cdtypes.DeploymentStatus) *harness {
	now := start
	h := &harness{now: &now}
	h.f = newFake(h.now, script...)
	h.d = &Deployer{CodeDeploy: h.f, S3: h.f, Retries: 5,
		Now:   func() time.Time { return *h.now },
		Sleep: func(_ context.Context, d time.Duration) error { h.slept = append(h.slept, d); return nil },
	}
	return h
}

// run sends event to OnEvent, then polls IsComplete (advancing the deployments) until it
// completes or fails, at most 20 polls.
func (h *harness) run(t *testing.T, e Event) (Response, error) {
	t.Helper()
	ctx := context.Background()
	res, err := h.d.OnEvent(ctx, e)
	if err != nil {
		return res, err
	}
	for range 20 {
		*h.now = h.now.Add(30 * time.Second)
		done, err := h.d.IsComplete(ctx, Event{RequestType: e.RequestType, ResourceProperties: e.ResourceProperties,
			PhysicalResourceID: res.PhysicalResourceID, Data: res.Data})
		if err != nil || done.IsComplete {
			return done, err
		}
		for _, dep := range h.f.deployments {
			dep.advance()
		}
	}
	t.Fatal("still not complete after 20 polls")
	return Response{}, nil
}

func create() Event { return Event{RequestType: "Create", ResourceProperties: props} }

func TestFirstDeploymentSucceeds(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusCreated, cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusSucceeded)
	res, err := h.run(t, create())
	if err != nil || !res.IsComplete || res.Data[DataDeploymentID] == "" {
		t.Fatalf("result %+v, %v", res, err)
	}
	if aws.ToString(h.f.copied.CopySource) != "cdk-assets/abc.zip" || aws.ToString(h.f.copied.Key) != "revisions/0123.zip" {
		t.Errorf("copy = %+v", h.f.copied)
	}
	if n := h.f.count("CreateDeployment"); n != 1 {
		t.Fatalf("%d deployments created, want 1", n)
	}
	in := h.f.deployments["d-NEW0"].input
	if aws.ToString(in.DeploymentGroupName) != "MyWebApp-dev-fleet" || in.Revision.S3Location.BundleType != cdtypes.BundleTypeZip {
		t.Errorf("deployment input %+v", in)
	}
	// The first deployment must not be stopped by the unhealthy-hosts alarm of instances that
	// have no application yet.
	if in.OverrideAlarmConfiguration == nil || in.OverrideAlarmConfiguration.Enabled {
		t.Error("the first deployment does not turn the group's alarms off")
	}
}

func TestLaterDeploymentsKeepTheAlarms(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusSucceeded)
	h.f.add("d-OLD", "revisions/old.zip", cdtypes.DeploymentCreatorUser, start.Add(-time.Hour), cdtypes.DeploymentStatusSucceeded)
	old := props
	old.RevisionKey = "revisions/old.zip"
	if _, err := h.run(t, Event{RequestType: "Update", ResourceProperties: props, OldResourceProperties: &old, PhysicalResourceID: "x"}); err != nil {
		t.Fatal(err)
	}
	if in := h.f.deployments["d-NEW0"].input; in.OverrideAlarmConfiguration != nil {
		t.Error("an update deployment overrides the alarms")
	}
}

func TestPhysicalIDFollowsTheRevision(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusSucceeded)
	a, _ := h.d.OnEvent(context.Background(), create())
	changed := props
	changed.RevisionKey = "revisions/4567.zip"
	b, _ := h.d.OnEvent(context.Background(), Event{RequestType: "Update", ResourceProperties: changed, OldResourceProperties: &props, PhysicalResourceID: a.PhysicalResourceID})
	if a.PhysicalResourceID == b.PhysicalResourceID || !strings.HasSuffix(b.PhysicalResourceID, "revisions/4567.zip") {
		t.Errorf("physical IDs %q then %q: a new revision must be a new resource", a.PhysicalResourceID, b.PhysicalResourceID)
	}
}

func TestFailureNamesInstanceAndEvent(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusFailed)
	h.f.errorInfo = &cdtypes.ErrorInformation{Code: cdtypes.ErrorCodeHealthConstraints, Message: aws.String("The overall deployment failed because too many individual instances failed deployment")}
	h.f.targets = []cdtypes.InstanceTarget{{TargetId: aws.String("i-0abc"), Status: cdtypes.TargetStatusFailed, LifecycleEvents: []cdtypes.LifecycleEvent{
		{LifecycleEventName: aws.String("BeforeInstall"), Status: cdtypes.LifecycleEventStatusSucceeded},
		{LifecycleEventName: aws.String("ValidateService"), Status: cdtypes.LifecycleEventStatusFailed, Diagnostics: &cdtypes.Diagnostics{
			ErrorCode: cdtypes.LifecycleErrorCodeScriptFailed, ScriptName: aws.String("scripts/validate_service.sh"),
			Message: aws.String("Script at specified location: scripts/validate_service.sh run as user root failed with exit code 1"),
			LogTail: aws.String("[stdout]attempt 10: http://127.0.0.1/: 503\n[stdout]giving up after 10 attempts"),
		}},
	}}}
	_, err := h.run(t, create())
	if err == nil {
		t.Fatal("a failed deployment completed")
	}
	for _, want := range []string{"deployment d-NEW0 failed", "HEALTH_CONSTRAINTS", "instance i-0abc failed at ValidateService",
		"script scripts/validate_service.sh", "giving up after 10 attempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestStopped(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusStopped)
	h.f.errorInfo = &cdtypes.ErrorInformation{Code: cdtypes.ErrorCodeAlarmActive, Message: aws.String("alarm MyWebApp-dev-target-5xx is active")}
	_, err := h.run(t, create())
	if err == nil || !strings.Contains(err.Error(), "deployment d-NEW0 stopped: ALARM_ACTIVE") {
		t.Errorf("error = %v", err)
	}
}

// TestCloudFormationRollback: a failed update makes CloudFormation send an Update back to the
// old revision while CodeDeploy's automatic rollback (of the same old revision) still runs. The
// deployer must wait for it and then find the fleet on the old revision: no second deployment,
// no DeploymentLimitExceededException, no UPDATE_ROLLBACK_FAILED.
func TestCloudFormationRollback(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusSucceeded)
	h.f.add("d-BROKEN", "revisions/broken.zip", cdtypes.DeploymentCreatorUser, start.Add(-10*time.Minute), cdtypes.DeploymentStatusFailed)
	h.f.add("d-ROLLBACK", props.RevisionKey, cdtypes.DeploymentCreatorCodeDeployRollback, start.Add(-time.Minute),
		cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusSucceeded)
	failedNew := props
	failedNew.RevisionKey = "revisions/broken.zip"
	res, err := h.run(t, Event{RequestType: "Update", ResourceProperties: props, OldResourceProperties: &failedNew, PhysicalResourceID: "x"})
	if err != nil || !res.IsComplete {
		t.Fatalf("rollback update: %+v, %v", res, err)
	}
	if n := h.f.count("CreateDeployment"); n != 0 {
		t.Errorf("%d deployments created during the rollback, want none: the fleet is back on the old revision", n)
	}
}

// TestWaitsForAnotherDeployment: an operator's deployment is running; ours starts after it.
func TestWaitsForAnotherDeployment(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusSucceeded)
	h.f.add("d-OPERATOR", "revisions/other.zip", cdtypes.DeploymentCreatorUser, start.Add(-time.Minute), cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusSucceeded)
	if _, err := h.run(t, create()); err != nil {
		t.Fatal(err)
	}
	if n := h.f.count("CreateDeployment"); n != 1 {
		t.Fatalf("%d deployments created, want 1", n)
	}
	if h.f.deployments["d-OPERATOR"].status() != cdtypes.DeploymentStatusSucceeded {
		t.Error("created our deployment while another one was running")
	}
}

func TestAlreadyDeployedByHand(t *testing.T) {
	h := newHarness()
	h.f.add("d-BYHAND", props.RevisionKey, cdtypes.DeploymentCreatorUser, start.Add(-time.Hour), cdtypes.DeploymentStatusSucceeded)
	res, err := h.run(t, create())
	if err != nil || !res.IsComplete || h.f.count("CreateDeployment") != 0 {
		t.Errorf("result %+v, %v, %d created; want done without a deployment", res, err, h.f.count("CreateDeployment"))
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusSucceeded)
	h.f.throttle = 2
	if _, err := h.run(t, create()); err != nil {
		t.Fatal(err)
	}
	if len(h.slept) == 0 || h.slept[0] != time.Second || h.slept[1] != 2*time.Second {
		t.Errorf("backoff %v, want 1s then 2s", h.slept)
	}
}

func TestThrottlingGivesUp(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusSucceeded)
	h.f.throttle = 100
	_, err := h.d.OnEvent(context.Background(), create())
	if err == nil || !strings.Contains(err.Error(), "still throttled after 5 retries") {
		t.Errorf("error = %v", err)
	}
}

// A deployment that outlasts delivery.timeoutMinutes fails the stack with what to do: after a
// first create, whose rollback deletes the deployment group, nothing is left to follow.
func TestTimeout(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusInProgress)
	_, err := h.run(t, Event{RequestType: "Create", ResourceProperties: func() Properties { p := props; p.TimeoutMinutes = "5"; return p }()})
	if err == nil || !strings.Contains(err.Error(), "deployment d-NEW0 is still InProgress after the configured timeout") ||
		!strings.Contains(err.Error(), "deletes the deployment group with it") || strings.Contains(err.Error(), "--follow") {
		t.Errorf("error = %v", err)
	}
}

// TestPollOutOfTime: a poll whose calls outlast its Lambda's time reports "not yet" instead of
// failing the stack; the next poll starts over.
func TestPollOutOfTime(t *testing.T) {
	h := newHarness()
	h.f.hang = true
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res, err := h.d.IsComplete(ctx, Event{RequestType: "Create", ResourceProperties: props, Data: map[string]any{
		DataSince: start.Format(time.RFC3339), DataDeadline: start.Add(time.Hour).Format(time.RFC3339)}})
	if err != nil || res.IsComplete {
		t.Errorf("IsComplete = %+v, %v; want not complete and no error", res, err)
	}
}

func TestPersistentThrottlingInAPollIsRetriedNextPoll(t *testing.T) {
	h := newHarness()
	h.f.throttle = 100
	res, err := h.d.IsComplete(context.Background(), Event{RequestType: "Create", ResourceProperties: props, Data: map[string]any{
		DataSince: start.Format(time.RFC3339), DataDeadline: start.Add(time.Hour).Format(time.RFC3339)}})
	if err != nil || res.IsComplete {
		t.Errorf("IsComplete = %+v, %v; want not complete and no error", res, err)
	}
}

// TestRestoringDeploymentRunsWithAlarmsOff: the newest release failed or was stopped, so the
// fleet is partly on the broken revision; CloudFormation's rollback sends the old revision back,
// and the deployer deploys it again with the alarms off (the alarm that stopped the release may
// still fire). Deployments that are not releases, such as a later successful scale-out, do not
// hide the failed release.
func TestRestoringDeploymentRunsWithAlarmsOff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		history func(f *fake)
	}{
		{"CodeDeploy's rollback was stopped", func(f *fake) {
			f.add("d-GOOD", props.RevisionKey, cdtypes.DeploymentCreatorUser, start.Add(-time.Hour), cdtypes.DeploymentStatusSucceeded)
			f.add("d-BROKEN", "revisions/broken.zip", cdtypes.DeploymentCreatorUser, start.Add(-10*time.Minute), cdtypes.DeploymentStatusFailed)
			f.add("d-ROLLBACK", props.RevisionKey, cdtypes.DeploymentCreatorCodeDeployRollback, start.Add(-5*time.Minute), cdtypes.DeploymentStatusStopped)
		}},
		{"the rollback failed, then a scale-out succeeded", func(f *fake) {
			f.add("d-GOOD", props.RevisionKey, cdtypes.DeploymentCreatorUser, start.Add(-72*time.Hour), cdtypes.DeploymentStatusSucceeded)
			f.add("d-BROKEN", "revisions/broken.zip", cdtypes.DeploymentCreatorUser, start.Add(-20*time.Minute), cdtypes.DeploymentStatusFailed)
			f.add("d-ROLLBACK", props.RevisionKey, cdtypes.DeploymentCreatorCodeDeployRollback, start.Add(-15*time.Minute), cdtypes.DeploymentStatusFailed)
			f.add("d-LAUNCH", props.RevisionKey, cdtypes.DeploymentCreatorAutoscaling, start.Add(-5*time.Minute), cdtypes.DeploymentStatusSucceeded)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(cdtypes.DeploymentStatusSucceeded)
			tc.history(h.f)
			broken := props
			broken.RevisionKey = "revisions/broken.zip"
			if _, err := h.run(t, Event{RequestType: "Update", ResourceProperties: props, OldResourceProperties: &broken, PhysicalResourceID: "x"}); err != nil {
				t.Fatal(err)
			}
			if h.f.count("CreateDeployment") != 1 {
				t.Fatalf("%d deployments created, want 1 to put the fleet back", h.f.count("CreateDeployment"))
			}
			if in := h.f.deployments["d-NEW0"].input; in.OverrideAlarmConfiguration == nil || in.OverrideAlarmConfiguration.Enabled {
				t.Error("the restoring deployment keeps the alarms")
			}
		})
	}
}

// TestFollowUpDeploymentsAreNotOurs: after our deployment succeeds, CodeDeploy deploys the same
// revision to an instance launched meanwhile; its outcome is not the rollout's.
func TestFollowUpDeploymentsAreNotOurs(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusSucceeded)
	h.f.add("d-FOLLOWUP", props.RevisionKey, cdtypes.DeploymentCreatorCodeDeployAutoUpdate, start.Add(10*time.Minute), cdtypes.DeploymentStatusFailed)
	res, err := h.run(t, create())
	if err != nil || !res.IsComplete || res.Data[DataDeploymentID] != "d-NEW0" {
		t.Errorf("result %+v, %v; want our deployment d-NEW0 to decide", res, err)
	}
}

func TestUploadOnly(t *testing.T) {
	h := newHarness()
	p := props
	p.Deploy = "false"
	res, err := h.run(t, Event{RequestType: "Create", ResourceProperties: p})
	if err != nil || !res.IsComplete || h.f.copied == nil || h.f.count("CreateDeployment") != 0 {
		t.Fatalf("upload only: %+v, %v, calls %v", res, err, h.f.calls)
	}
}

func TestTurningDeployOnDeploys(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusSucceeded)
	old := props
	old.Deploy = "false"
	if _, err := h.run(t, Event{RequestType: "Update", ResourceProperties: props, OldResourceProperties: &old, PhysicalResourceID: "x"}); err != nil {
		t.Fatal(err)
	}
	if h.f.count("CreateDeployment") != 1 {
		t.Error("switching deployOnCdkDeploy on did not deploy the revision")
	}
}

func TestUpdateWithTheSameRevisionDeploysNothing(t *testing.T) {
	h := newHarness()
	changed := props
	changed.TimeoutMinutes = "45"
	res, err := h.d.OnEvent(context.Background(), Event{RequestType: "Update", PhysicalResourceID: "same", ResourceProperties: changed, OldResourceProperties: &props})
	if err != nil || res.PhysicalResourceID != "same" || len(h.f.calls) != 0 || res.Data != nil {
		t.Errorf("update: %+v, %v, calls %v; want no call, no data and the same physical ID", res, err, h.f.calls)
	}
}

func TestDeleteLeavesTheFleetAlone(t *testing.T) {
	h := newHarness()
	res, err := h.d.OnEvent(context.Background(), Event{RequestType: "Delete", PhysicalResourceID: "x", ResourceProperties: props})
	if err != nil || res.PhysicalResourceID != "x" || len(h.f.calls) != 0 {
		t.Errorf("delete: %+v, %v, calls %v", res, err, h.f.calls)
	}
}

func TestBadProperties(t *testing.T) {
	h := newHarness()
	p := props
	p.RevisionKey, p.SourceBucket = "", ""
	_, err := h.d.OnEvent(context.Background(), Event{RequestType: "Create", ResourceProperties: p})
	if err == nil || !strings.Contains(err.Error(), "missing: RevisionKey, SourceBucket") {
		t.Errorf("error = %v", err)
	}
}

// TestProviderFrameworkContract decodes events as the CDK provider framework sends them and
// checks the field names of the responses it reads.
func TestProviderFrameworkContract(t *testing.T) {
	raw := `{"RequestType":"Update","ServiceToken":"arn:aws:lambda:eu-west-1:111111111111:function:x",
	  "ResponseURL":"https://example.invalid","StackId":"arn:aws:cloudformation:eu-west-1:111111111111:stack/MyWebApp-dev/1",
	  "RequestId":"r","LogicalResourceId":"Delivery","ResourceType":"Custom::RevisionDeployment",
	  "PhysicalResourceId":"MyWebApp-dev/MyWebApp-dev-fleet/revisions/old.zip",
	  "ResourceProperties":{"ServiceToken":"x","ApplicationName":"MyWebApp-dev","DeploymentGroupName":"MyWebApp-dev-fleet",
	    "SourceBucket":"cdk-assets","SourceKey":"abc.zip","RevisionBucket":"revisions-bucket","RevisionKey":"revisions/new.zip",
	    "Deploy":"true","TimeoutMinutes":"30"},
	  "OldResourceProperties":{"ServiceToken":"x","ApplicationName":"MyWebApp-dev","DeploymentGroupName":"MyWebApp-dev-fleet",
	    "SourceBucket":"cdk-assets","SourceKey":"old.zip","RevisionBucket":"revisions-bucket","RevisionKey":"revisions/old.zip",
	    "Deploy":"true","TimeoutMinutes":"30"}}`
	var e Event
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		t.Fatal(err)
	}
	if e.OldResourceProperties == nil || e.OldResourceProperties.RevisionKey != "revisions/old.zip" || e.ResourceProperties.RevisionKey != "revisions/new.zip" ||
		e.PhysicalResourceID == "" {
		t.Fatalf("decoded %+v", e)
	}
	h := newHarness()
	res, err := h.d.OnEvent(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(res)
	var fields map[string]any
	_ = json.Unmarshal(out, &fields)
	if fields["PhysicalResourceId"] != "MyWebApp-dev/MyWebApp-dev-fleet/revisions/new.zip" || fields["Data"] == nil {
		t.Errorf("onEvent response %s", out)
	}
	// The framework rejects Data with IsComplete false; the poll's "not yet" carries neither.
	waiting, _ := json.Marshal(Response{IsComplete: false})
	if string(waiting) != `{"IsComplete":false}` {
		t.Errorf("not-complete response %s", waiting)
	}
}

// TestActiveDeploymentNotListedYet: CreateDeployment finds a deployment the listing did not show;
// the poll waits and tries again instead of failing the stack.
func TestActiveDeploymentNotListedYet(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusSucceeded)
	h.f.limitOnce = true
	if _, err := h.run(t, create()); err != nil {
		t.Fatal(err)
	}
	if n := h.f.count("CreateDeployment"); n != 2 {
		t.Errorf("%d CreateDeployment calls, want 2 (refused once, then created)", n)
	}
}

func target(id string, status cdtypes.TargetStatus, events ...cdtypes.LifecycleEvent) cdtypes.InstanceTarget {
	return cdtypes.InstanceTarget{TargetId: aws.String(id), Status: status, LifecycleEvents: events}
}

var validateFailed = cdtypes.LifecycleEvent{LifecycleEventName: aws.String("ValidateService"), Status: cdtypes.LifecycleEventStatusFailed,
	Diagnostics: &cdtypes.Diagnostics{ErrorCode: cdtypes.LifecycleErrorCodeScriptFailed, ScriptName: aws.String("scripts/validate_service.sh"),
		Message: aws.String("Script at specified location: scripts/validate_service.sh run as user root failed with exit code 1"),
		LogTail: aws.String("[stdout]giving up after 10 attempts")}}

// TestSucceededDeploymentWithMissedInstances: CodeDeploy reports a OneAtATime deployment whose
// last instance failed as Succeeded. The stack update must fail anyway, naming the instance.
func TestSucceededDeploymentWithMissedInstances(t *testing.T) {
	ok := func(id string) cdtypes.InstanceTarget { return target(id, cdtypes.TargetStatusSucceeded) }
	for _, tc := range []struct {
		name    string
		targets []cdtypes.InstanceTarget
		want    []string // empty: the deployment completes
	}{
		{"all succeeded", []cdtypes.InstanceTarget{ok("i-1"), ok("i-2"), ok("i-3")}, nil},
		{"last instance failed", []cdtypes.InstanceTarget{ok("i-1"), ok("i-2"), target("i-3", cdtypes.TargetStatusFailed, validateFailed)},
			[]string{"deployment d-NEW0 succeeded, but not on every instance", "instance i-3 failed at ValidateService",
				"script scripts/validate_service.sh", "giving up after 10 attempts"}},
		{"middle instance failed", []cdtypes.InstanceTarget{ok("i-1"), target("i-2", cdtypes.TargetStatusFailed, validateFailed), ok("i-3")},
			[]string{"instance i-2 failed at ValidateService"}},
		{"skipped and unknown", []cdtypes.InstanceTarget{ok("i-1"), target("i-2", cdtypes.TargetStatusSkipped), target("i-3", cdtypes.TargetStatusUnknown)},
			[]string{"instance i-2 did not get the revision (Skipped)", "instance i-3 did not get the revision (Unknown)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusSucceeded)
			h.f.targets = tc.targets
			res, err := h.run(t, create())
			if len(tc.want) == 0 {
				if err != nil || !res.IsComplete {
					t.Fatalf("result %+v, %v; want complete", res, err)
				}
				return
			}
			if err == nil {
				t.Fatal("a deployment that missed an instance completed the stack update")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			for _, healthy := range []string{"i-1 "} {
				if strings.Contains(err.Error(), healthy) {
					t.Errorf("error %q names a healthy instance", err)
				}
			}
		})
	}
}

// TestAlarmsAfterAFailedScaleOut: an Auto Scaling launch deployment failed after the last
// release. It is not a release: the next release keeps the alarms on.
func TestAlarmsAfterAFailedScaleOut(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusSucceeded)
	h.f.add("d-OLD", "revisions/old.zip", cdtypes.DeploymentCreatorUser, start.Add(-48*time.Hour), cdtypes.DeploymentStatusSucceeded)
	h.f.add("d-LAUNCH", "revisions/old.zip", cdtypes.DeploymentCreatorAutoscaling, start.Add(-time.Hour), cdtypes.DeploymentStatusFailed)
	h.f.add("d-TERMINATE", "revisions/old.zip", cdtypes.DeploymentCreatorAutoscalingTermination, start.Add(-30*time.Minute), cdtypes.DeploymentStatusFailed)
	old := props
	old.RevisionKey = "revisions/old.zip"
	if _, err := h.run(t, Event{RequestType: "Update", ResourceProperties: props, OldResourceProperties: &old, PhysicalResourceID: "x"}); err != nil {
		t.Fatal(err)
	}
	if in := h.f.deployments["d-NEW0"].input; in.OverrideAlarmConfiguration != nil {
		t.Error("a failed scale-out switched the alarms off for the next release")
	}
}

// TestReleaseSearchGoesBackInTime: the newest release is older than the first window; a day of
// scaling deployments in between does not hide it.
func TestReleaseSearchGoesBackInTime(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusSucceeded)
	h.f.add("d-OLD", "revisions/old.zip", cdtypes.DeploymentCreatorUser, start.Add(-200*24*time.Hour), cdtypes.DeploymentStatusSucceeded)
	for i := range 30 {
		h.f.add(fmt.Sprintf("d-SCALE%d", i), "revisions/old.zip", cdtypes.DeploymentCreatorAutoscaling, start.Add(-time.Duration(i+1)*time.Minute), cdtypes.DeploymentStatusFailed)
	}
	if _, err := h.run(t, create()); err != nil {
		t.Fatal(err)
	}
	if in := h.f.deployments["d-NEW0"].input; in.OverrideAlarmConfiguration != nil {
		t.Error("a release 200 days ago was not found: the alarms were switched off")
	}
}

// TestPollGivesUpBeforeTheDeadline: every call hangs. The poll must answer "not yet" before the
// invocation's deadline (Lambda would otherwise end it with "Task timed out" and the framework
// would fail the stack).
func TestPollGivesUpBeforeTheDeadline(t *testing.T) {
	h := newHarness()
	h.f.block = true
	h.d.Margin = 300 * time.Millisecond
	invocation, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	res, err := h.d.IsComplete(invocation, Event{RequestType: "Create", ResourceProperties: props, Data: map[string]any{
		DataSince: start.Format(time.RFC3339), DataDeadline: start.Add(time.Hour).Format(time.RFC3339)}})
	if invocation.Err() != nil {
		t.Fatal("the poll ran into the invocation's deadline instead of stopping at the margin")
	}
	if err != nil || res.IsComplete {
		t.Errorf("IsComplete = %+v, %v; want not complete and no error", res, err)
	}
}

// TestPruneKeepsWhatTheGroupNeeds: after a successful deployment, revisions the group no longer
// needs are deleted; the last releases, the newest successful deployment's revision (Auto Scaling
// launches fetch it), running deployments' revisions and fresh uploads stay.
func TestPruneKeepsWhatTheGroupNeeds(t *testing.T) {
	h := newHarness()
	day := 24 * time.Hour
	key := func(name string) string { return "revisions/" + name + ".zip" }
	h.f.add("d-1", key("r1"), cdtypes.DeploymentCreatorUser, start.Add(-10*day), cdtypes.DeploymentStatusSucceeded)
	h.f.add("d-3", key("r3"), cdtypes.DeploymentCreatorUser, start.Add(-4*day), cdtypes.DeploymentStatusFailed)
	h.f.add("d-4", key("r2"), cdtypes.DeploymentCreatorCodeDeployRollback, start.Add(-4*day+time.Minute), cdtypes.DeploymentStatusSucceeded)
	h.f.add("d-5", key("launched"), cdtypes.DeploymentCreatorAutoscaling, start.Add(-time.Minute), cdtypes.DeploymentStatusSucceeded)
	h.f.add("d-6", key("running"), cdtypes.DeploymentCreatorUser, start.Add(-2*time.Minute), cdtypes.DeploymentStatusInProgress)
	h.f.add("d-7", props.RevisionKey, cdtypes.DeploymentCreatorUser, start.Add(-30*time.Minute), cdtypes.DeploymentStatusSucceeded)
	h.f.objects = map[string]time.Time{
		key("r0"): start.Add(-30 * day), key("r1"): start.Add(-10 * day), key("r2"): start.Add(-5 * day),
		key("r3"): start.Add(-4 * day), key("launched"): start.Add(-3 * day), key("running"): start.Add(-2 * day),
		key("fresh"): start.Add(-time.Hour), props.RevisionKey: start.Add(-30 * time.Minute),
		"elsewhere/r1.zip": start.Add(-10 * day),
	}
	p := props
	p.RevisionsToKeep = "2"
	h.d.prune(context.Background(), p)
	slices.Sort(h.f.deleted)
	if want := []string{key("r0"), key("r1"), key("r3")}; !slices.Equal(h.f.deleted, want) {
		t.Errorf("deleted %q, want %q (kept: the last 2 releases r2 and this one, the launch's, the running one's, a fresh upload)", h.f.deleted, want)
	}
}

func TestPruneOffWithoutASetting(t *testing.T) {
	h := newHarness()
	h.f.objects = map[string]time.Time{"revisions/old.zip": start.Add(-100 * 24 * time.Hour)}
	h.d.prune(context.Background(), props)
	if h.f.count("ListObjectsV2") != 0 || len(h.f.deleted) != 0 {
		t.Errorf("pruned without revisionsToKeep: %v", h.f.calls)
	}
}

// TestPruneFailureDoesNotFailTheDeployment: pruning is housekeeping after a success.
func TestPruneFailureDoesNotFailTheDeployment(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusSucceeded)
	h.f.listErr = errors.New("AccessDenied")
	p := props
	p.RevisionsToKeep = "10"
	res, err := h.run(t, Event{RequestType: "Create", ResourceProperties: p})
	if err != nil || !res.IsComplete {
		t.Errorf("result %+v, %v", res, err)
	}
	if h.f.count("ListObjectsV2") != 1 {
		t.Error("pruning was not attempted after the deployment succeeded")
	}
}

// TestReleaseThatMissedAnInstanceIsDeployedAgain: the group's newest release is this revision and
// succeeded, but its last instance failed (OneAtATime). The fleet is not on the revision: the
// deployer deploys it again, alarms off, instead of reporting it done.
func TestReleaseThatMissedAnInstanceIsDeployedAgain(t *testing.T) {
	h := newHarness(cdtypes.DeploymentStatusSucceeded)
	h.f.add("d-ROLLBACK", props.RevisionKey, cdtypes.DeploymentCreatorCodeDeployRollback, start.Add(-5*time.Minute), cdtypes.DeploymentStatusSucceeded)
	h.f.targetsOf = map[string][]cdtypes.InstanceTarget{
		"d-ROLLBACK": {target("i-1", cdtypes.TargetStatusSucceeded), target("i-2", cdtypes.TargetStatusFailed, validateFailed)},
		"d-NEW0":     {target("i-1", cdtypes.TargetStatusSucceeded), target("i-2", cdtypes.TargetStatusSucceeded)},
	}
	broken := props
	broken.RevisionKey = "revisions/broken.zip"
	res, err := h.run(t, Event{RequestType: "Update", ResourceProperties: props, OldResourceProperties: &broken, PhysicalResourceID: "x"})
	if err != nil || !res.IsComplete || res.Data[DataDeploymentID] != "d-NEW0" {
		t.Fatalf("result %+v, %v; want a new deployment of the revision", res, err)
	}
	if in := h.f.deployments["d-NEW0"].input; in.OverrideAlarmConfiguration == nil || in.OverrideAlarmConfiguration.Enabled {
		t.Error("the deployment that restores the missed instance keeps the alarms")
	}
}
