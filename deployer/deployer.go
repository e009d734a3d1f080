// Package deployer is the logic of the custom resource that deploys the stack's revision during
// `cdk deploy`: on create and whenever the revision changes it copies the revision into the
// revision bucket and registers it; then, polled, it deploys it with CodeDeploy, waits for the
// result, and fails (so CloudFormation rolls back) when the deployment fails or is stopped. On
// delete it does nothing to the fleet.
//
// It follows the CDK custom resource provider framework: OnEvent starts the work, IsComplete is
// called every query interval until it reports completion or returns an error. IsComplete keeps
// no state of its own: each poll reads the deployment group's state from CodeDeploy and takes the
// next step. That makes CloudFormation's rollback safe: the rollback's Update (the old revision)
// waits for CodeDeploy's own automatic rollback to finish and then finds the fleet already on the
// old revision, instead of colliding with it.
package deployer

import (
	"context"
	"errors"
	"fmt"
	"log"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// CodeDeploy is the part of the CodeDeploy API the deployer uses.
type CodeDeploy interface {
	RegisterApplicationRevision(context.Context, *codedeploy.RegisterApplicationRevisionInput, ...func(*codedeploy.Options)) (*codedeploy.RegisterApplicationRevisionOutput, error)
	CreateDeployment(context.Context, *codedeploy.CreateDeploymentInput, ...func(*codedeploy.Options)) (*codedeploy.CreateDeploymentOutput, error)
	BatchGetDeployments(context.Context, *codedeploy.BatchGetDeploymentsInput, ...func(*codedeploy.Options)) (*codedeploy.BatchGetDeploymentsOutput, error)
	ListDeployments(context.Context, *codedeploy.ListDeploymentsInput, ...func(*codedeploy.Options)) (*codedeploy.ListDeploymentsOutput, error)
	ListDeploymentTargets(context.Context, *codedeploy.ListDeploymentTargetsInput, ...func(*codedeploy.Options)) (*codedeploy.ListDeploymentTargetsOutput, error)
	BatchGetDeploymentTargets(context.Context, *codedeploy.BatchGetDeploymentTargetsInput, ...func(*codedeploy.Options)) (*codedeploy.BatchGetDeploymentTargetsOutput, error)
}

// CloudWatch is the part of the CloudWatch API the bake uses.
type CloudWatch interface {
	DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// S3 is the part of the S3 API the deployer uses.
type S3 interface {
	CopyObject(context.Context, *s3.CopyObjectInput, ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Event is a custom resource event as the provider framework passes it.
type Event struct {
	RequestType           string         `json:"RequestType"`
	PhysicalResourceID    string         `json:"PhysicalResourceId,omitempty"`
	ResourceProperties    Properties     `json:"ResourceProperties"`
	OldResourceProperties *Properties    `json:"OldResourceProperties,omitempty"`
	Data                  map[string]any `json:"Data,omitempty"`
}

// Properties are the custom resource's properties (CloudFormation passes them as strings).
type Properties struct {
	ApplicationName     string `json:"ApplicationName"`
	DeploymentGroupName string `json:"DeploymentGroupName"`
	SourceBucket        string `json:"SourceBucket"`
	SourceKey           string `json:"SourceKey"`
	RevisionBucket      string `json:"RevisionBucket"`
	RevisionKey         string `json:"RevisionKey"`
	// Deploy is "true" to create a deployment, anything else to only upload the revision.
	Deploy string `json:"Deploy"`
	// TimeoutMinutes bounds the wait for the deployment.
	TimeoutMinutes string `json:"TimeoutMinutes"`
	// RevisionsToKeep is how many of the group's last released revisions stay in the bucket after
	// a successful deployment; empty keeps every revision.
	RevisionsToKeep string `json:"RevisionsToKeep,omitempty"`
	// BakeSeconds is how long the release is watched after its deployment succeeded, and
	// AlarmNames (comma-separated) the alarms watched; "0" or empty: no bake.
	BakeSeconds string `json:"BakeSeconds,omitempty"`
	AlarmNames  string `json:"AlarmNames,omitempty"`
	// FirstConfig and RestoreConfig are the deployment configurations a first deployment and a
	// restoring one use instead of the group's; empty: the group's.
	FirstConfig   string `json:"FirstConfig,omitempty"`
	RestoreConfig string `json:"RestoreConfig,omitempty"`
}

// Response is what OnEvent and IsComplete return to the framework.
type Response struct {
	PhysicalResourceID string         `json:"PhysicalResourceId,omitempty"`
	IsComplete         bool           `json:"IsComplete"`
	Data               map[string]any `json:"Data,omitempty"`
}

// Data keys: what OnEvent hands to every IsComplete poll.
const (
	DataDeploymentID = "DeploymentId"
	// DataSince is when OnEvent ran: deployments of the revision created since then are ours.
	DataSince = "Since"
	// DataDeadline is when waiting ends with an error.
	DataDeadline = "Deadline"
)

// Deployer holds the clients and the clock.
type Deployer struct {
	CodeDeploy CodeDeploy
	S3         S3
	CloudWatch CloudWatch
	// Now and Sleep are replaced in tests.
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
	// Retries is how many times a throttled call is retried. Default: 5.
	Retries int
	// Margin is how long before the invocation's deadline a call gives up, so the handler still
	// has time to answer. Default: DefaultMargin.
	Margin time.Duration
}

// DefaultMargin leaves a handler time to log and return its answer after its calls give up.
const DefaultMargin = 10 * time.Second

// New returns a Deployer with the real clock.
func New(cd CodeDeploy, s S3, cw CloudWatch) *Deployer {
	return &Deployer{CodeDeploy: cd, S3: s, CloudWatch: cw, Now: time.Now, Sleep: sleep, Retries: 5, Margin: DefaultMargin}
}

// beforeDeadline bounds ctx by the invocation's deadline less the margin. Lambda passes the
// deadline in the handler's context (Lambda developer guide, "Using the Lambda context object to
// retrieve Go function information": ctx.Deadline()); a function still running at the deadline is
// killed with "Task timed out", which the provider framework reports as a failure of the stack.
// A call that gives up at the margin instead lets IsComplete answer "not yet" and be polled again.
func (d *Deployer) beforeDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline.Add(-d.Margin))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// OnEvent handles Create, Update and Delete.
func (d *Deployer) OnEvent(ctx context.Context, e Event) (Response, error) {
	ctx, cancel := d.beforeDeadline(ctx)
	defer cancel()
	p := e.ResourceProperties
	if e.RequestType == "Delete" {
		// Deleting the stack (or replacing this resource with a newer revision) must not touch
		// the fleet or its deployment history.
		return Response{PhysicalResourceID: e.PhysicalResourceID}, nil
	}
	if e.RequestType != "Create" && e.RequestType != "Update" {
		return Response{}, fmt.Errorf("unknown request type %q", e.RequestType)
	}
	if err := p.validate(); err != nil {
		return Response{}, err
	}
	if old := e.OldResourceProperties; e.RequestType == "Update" && old != nil && old.RevisionKey == p.RevisionKey &&
		old.RevisionBucket == p.RevisionBucket && old.ApplicationName == p.ApplicationName && old.DeploymentGroupName == p.DeploymentGroupName &&
		(old.Deploy == p.Deploy || p.Deploy != "true") {
		// Only a setting such as the timeout changed: there is nothing new to deploy.
		return Response{PhysicalResourceID: e.PhysicalResourceID}, nil
	}
	// The physical ID names the revision: a new revision replaces the resource, and the old
	// one's Delete is the no-op above.
	id := p.ApplicationName + "/" + p.DeploymentGroupName + "/" + p.RevisionKey

	source := p.SourceBucket + "/" + p.SourceKey
	if err := d.retry(ctx, "s3 CopyObject", func() error {
		_, err := d.S3.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String(p.RevisionBucket), Key: aws.String(p.RevisionKey), CopySource: aws.String(source),
		})
		return err
	}); err != nil {
		return Response{}, fmt.Errorf("copying the revision from s3://%s to s3://%s/%s: %w", source, p.RevisionBucket, p.RevisionKey, err)
	}
	if err := d.retry(ctx, "RegisterApplicationRevision", func() error {
		_, err := d.CodeDeploy.RegisterApplicationRevision(ctx, &codedeploy.RegisterApplicationRevisionInput{
			ApplicationName: aws.String(p.ApplicationName), Revision: p.location(),
			Description: aws.String("uploaded by cdk deploy"),
		})
		return err
	}); err != nil {
		return Response{}, fmt.Errorf("registering the revision with %s: %w", p.ApplicationName, err)
	}
	if p.Deploy != "true" {
		return Response{PhysicalResourceID: id}, nil
	}
	minutes, _ := timeoutMinutes(p.TimeoutMinutes)
	now := d.Now().UTC()
	return Response{PhysicalResourceID: id, Data: map[string]any{
		DataSince:    now.Format(time.RFC3339),
		DataDeadline: now.Add(time.Duration(minutes) * time.Minute).Format(time.RFC3339),
	}}, nil
}

func (p Properties) location() *cdtypes.RevisionLocation {
	return &cdtypes.RevisionLocation{
		RevisionType: cdtypes.RevisionLocationTypeS3,
		S3Location: &cdtypes.S3Location{
			Bucket: aws.String(p.RevisionBucket), Key: aws.String(p.RevisionKey), BundleType: cdtypes.BundleTypeZip,
		},
	}
}

// IsComplete takes the next step towards the revision running on the fleet:
//   - a deployment of the revision created since OnEvent succeeded on every instance: done;
//     succeeded with an instance that failed, was skipped or is unknown (OneAtATime reports a
//     failure on the last instance as a success), failed or stopped: an error naming the
//     deployment, the instance, event and script; running: wait;
//   - another deployment is running (CodeDeploy's automatic rollback, an operator's): wait for it;
//   - the fleet's last successful deployment is this revision already: done;
//   - otherwise: create the deployment, and wait.
func (d *Deployer) IsComplete(ctx context.Context, e Event) (Response, error) {
	since, err := time.Parse(time.RFC3339, fmt.Sprint(e.Data[DataSince]))
	if e.RequestType == "Delete" || err != nil {
		return Response{IsComplete: true}, nil // nothing was started
	}
	ctx, cancel := d.beforeDeadline(ctx)
	defer cancel()
	res, err := d.step(ctx, e, since)
	if err != nil && transient(ctx, err) {
		// The framework fails the stack on any error from a poll. Keeping no state, a poll can
		// simply be repeated: report "not yet" and let the next one (30 s later) try again.
		log.Printf("poll of %s ended early, trying again next time: %v", e.ResourceProperties.RevisionKey, err)
		return d.wait(e, "the deployment could not be followed ("+err.Error()+")")
	}
	return res, err
}

func (d *Deployer) step(ctx context.Context, e Event, since time.Time) (Response, error) {
	p := e.ResourceProperties
	group := p.ApplicationName + "/" + p.DeploymentGroupName

	ours, err := d.deploymentsOf(ctx, p, &cdtypes.TimeRange{Start: aws.Time(since)})
	if err != nil {
		return Response{}, err
	}
	if len(ours) > 0 {
		latest := ours[0]
		id := aws.ToString(latest.DeploymentId)
		switch latest.Status {
		case cdtypes.DeploymentStatusSucceeded:
			if missed, err := d.missedTargets(ctx, id); err != nil || len(missed) > 0 {
				if err != nil {
					return Response{}, err
				}
				return Response{}, fmt.Errorf("deployment %s succeeded, but not on every instance, so the stack update fails "+
					"and CloudFormation deploys the previous revision again: %s", id, strings.Join(missed, "; "))
			}
			if res, baked, err := d.bake(ctx, e, latest); !baked {
				return res, err
			}
			d.prune(ctx, p)
			return Response{IsComplete: true, Data: map[string]any{DataDeploymentID: id}}, nil
		case cdtypes.DeploymentStatusFailed, cdtypes.DeploymentStatusStopped:
			return Response{}, d.failure(ctx, id, latest)
		}
		return d.wait(e, fmt.Sprintf("deployment %s is still %s", id, latest.Status))
	}

	active, err := d.list(ctx, &codedeploy.ListDeploymentsInput{
		ApplicationName: aws.String(p.ApplicationName), DeploymentGroupName: aws.String(p.DeploymentGroupName),
		IncludeOnlyStatuses: activeStatuses,
	})
	if err != nil {
		return Response{}, err
	}
	if len(active) > 0 {
		return d.wait(e, fmt.Sprintf("deployment %s of another revision is still running in %s", active[0], group))
	}

	state, err := d.groupState(ctx, p)
	if err != nil {
		return Response{}, err
	}
	if state.onRevision != "" {
		return Response{IsComplete: true, Data: map[string]any{DataDeploymentID: state.onRevision}}, nil
	}
	refused, err := d.create(ctx, p, p.location(), state.kind)
	if err != nil {
		return Response{}, err
	}
	if refused != "" {
		return d.wait(e, "CodeDeploy refused the deployment: "+refused)
	}
	return d.wait(e, "")
}

// groupState is what the group's releases say about the fleet.
type groupState struct {
	// onRevision is the release that put the whole fleet on the revision: the newest release,
	// succeeded, of this revision. Empty otherwise.
	onRevision string
	// kind is the deployment the revision needs.
	kind deploymentKind
}

// deploymentKind is what a deployment the handler creates is for; each but a release runs with
// the group's alarms off and a deployment configuration of its own.
type deploymentKind int

const (
	// release: the group's configuration and alarms.
	release deploymentKind = iota
	// first: no release ever succeeded (a new fleet, whose instances fail the health check until
	// this deployment reaches them, so the unhealthy-hosts alarm would stop the very deployment
	// that fixes them, and no instance serves that could be kept in service).
	first
	// restoring: the newest release failed, was stopped, missed instances, or a bad release is
	// being put back after an alarm during its bake, possibly while that alarm still fires.
	restoring
)

// Releases are the deployments that roll a revision out to the whole group: those a caller
// created (this handler, fleetctl, the console) and CodeDeploy's automatic rollbacks. Auto
// Scaling's launch and termination deployments and the follow-ups for outdated instances
// (creators autoscaling, autoscalingTermination, CodeDeployAutoUpdate) concern single
// instances: a failed scale-out says nothing about the release the fleet runs (CodeDeploy API
// reference, DeploymentInfo.creator).
func isRelease(info *cdtypes.DeploymentInfo) bool {
	return info.Creator == cdtypes.DeploymentCreatorUser || info.Creator == cdtypes.DeploymentCreatorCodeDeployRollback
}

// releaseWindows are how far back, in growing steps, the group's history is searched for its
// newest release: one listing in the common case, and a bounded number of calls for a group
// whose recent history is all scaling.
var releaseWindows = []time.Duration{24 * time.Hour, 30 * 24 * time.Hour, 400 * 24 * time.Hour, 0}

func (d *Deployer) groupState(ctx context.Context, p Properties) (groupState, error) {
	release, err := d.newestRelease(ctx, p)
	if err != nil {
		return groupState{}, err
	}
	if release == nil {
		return groupState{kind: first}, nil
	}
	if release.Status != cdtypes.DeploymentStatusSucceeded {
		return groupState{kind: restoring}, nil
	}
	if isRevision(release, p) {
		// The release of this revision succeeded, but possibly not on every instance (OneAtATime's
		// last instance; see missedTargets): then the fleet is not on it, and deploying it again,
		// alarms off, puts the missed instance back.
		missed, err := d.missedTargets(ctx, aws.ToString(release.DeploymentId))
		if err != nil {
			return groupState{}, err
		}
		if len(missed) > 0 {
			log.Printf("release %s of %s missed instances, deploying it again: %s", aws.ToString(release.DeploymentId), p.RevisionKey, strings.Join(missed, "; "))
			return groupState{kind: restoring}, nil
		}
		return groupState{onRevision: aws.ToString(release.DeploymentId)}, nil
	}
	return groupState{}, nil
}

// newestRelease returns the group's newest ended release, or nil when it has none.
func (d *Deployer) newestRelease(ctx context.Context, p Properties) (*cdtypes.DeploymentInfo, error) {
	var newest *cdtypes.DeploymentInfo
	err := d.endedNewestFirst(ctx, p, func(info *cdtypes.DeploymentInfo) bool {
		if isRelease(info) {
			newest = info
			return false
		}
		return true
	})
	return newest, err
}

// endedNewestFirst calls visit with the group's ended deployments (Succeeded, Failed, Stopped),
// newest first, until visit returns false. It searches back one window at a time
// (releaseWindows), so the common case reads a day of history, not the group's whole life.
func (d *Deployer) endedNewestFirst(ctx context.Context, p Properties, visit func(*cdtypes.DeploymentInfo) bool) error {
	end := d.Now().UTC()
	for _, back := range releaseWindows {
		window := &cdtypes.TimeRange{End: aws.Time(end)}
		if back > 0 {
			window.Start = aws.Time(d.Now().UTC().Add(-back))
		}
		ids, err := d.list(ctx, &codedeploy.ListDeploymentsInput{
			ApplicationName: aws.String(p.ApplicationName), DeploymentGroupName: aws.String(p.DeploymentGroupName),
			CreateTimeRange: window,
			IncludeOnlyStatuses: []cdtypes.DeploymentStatus{
				cdtypes.DeploymentStatusSucceeded, cdtypes.DeploymentStatusFailed, cdtypes.DeploymentStatusStopped,
			},
		})
		if err != nil {
			return err
		}
		infos, err := d.batchGet(ctx, ids)
		if err != nil {
			return err
		}
		sortNewestFirst(infos)
		for _, info := range infos {
			if !visit(info) {
				return nil
			}
		}
		if window.Start == nil {
			return nil
		}
		end = *window.Start
	}
	return nil
}

// batchGet reads deployments 25 at a time, BatchGetDeployments' limit.
func (d *Deployer) batchGet(ctx context.Context, ids []string) ([]*cdtypes.DeploymentInfo, error) {
	var infos []*cdtypes.DeploymentInfo
	for chunk := range slices.Chunk(ids, 25) {
		var out *codedeploy.BatchGetDeploymentsOutput
		if err := d.retry(ctx, "BatchGetDeployments", func() (err error) {
			out, err = d.CodeDeploy.BatchGetDeployments(ctx, &codedeploy.BatchGetDeploymentsInput{DeploymentIds: chunk})
			return err
		}); err != nil {
			return nil, fmt.Errorf("reading deployments %s: %w", strings.Join(chunk, ", "), err)
		}
		for i := range out.DeploymentsInfo {
			infos = append(infos, &out.DeploymentsInfo[i])
		}
	}
	return infos, nil
}

// wait reports "not yet", or the timeout error once the deadline has passed.
func (d *Deployer) wait(e Event, state string) (Response, error) {
	deadline, err := time.Parse(time.RFC3339, fmt.Sprint(e.Data[DataDeadline]))
	if err == nil && d.Now().After(deadline) && state != "" {
		if e.RequestType == "Create" {
			// A failed create's rollback deletes the deployment group, and the deployment with it.
			return Response{}, fmt.Errorf("%s after the configured timeout (delivery.timeoutMinutes); the stack's rollback "+
				"deletes the deployment group with it: read the instances' user-data and codedeploy-deployments logs before "+
				"the rollback deletes them, raise delivery.timeoutMinutes if the fleet was only slow, and deploy again", state)
		}
		return Response{}, fmt.Errorf("%s after the configured timeout (delivery.timeoutMinutes); it goes on in CodeDeploy, "+
			"and the stack's rollback waits for it, then deploys the previous revision again: follow it with "+
			"scripts/fleetctl deploy --env <environment> --follow <deployment id>", state)
	}
	return Response{IsComplete: false}, nil
}

// create starts a deployment of revision. A release uses the group's configuration and alarms.
// Alarms are overridden off for a first or a restoring deployment (see deploymentKind), which
// also name their own configuration: CreateDeployment takes one that overrides the group's
// ("If not specified, the value configured in the deployment group is used", CodeDeploy API
// reference, CreateDeployment). It returns CodeDeploy's message when it refuses because another
// deployment is active (one started since the listing, or not listed yet): the next poll waits
// for it.
func (d *Deployer) create(ctx context.Context, p Properties, revision *cdtypes.RevisionLocation, kind deploymentKind) (refused string, err error) {
	in := &codedeploy.CreateDeploymentInput{
		ApplicationName: aws.String(p.ApplicationName), DeploymentGroupName: aws.String(p.DeploymentGroupName),
		Revision: revision, Description: aws.String("cdk deploy of " + p.RevisionKey),
	}
	switch kind {
	case first:
		in.OverrideAlarmConfiguration = &cdtypes.AlarmConfiguration{Enabled: false}
		in.DeploymentConfigName = nonEmpty(p.FirstConfig)
	case restoring:
		in.OverrideAlarmConfiguration = &cdtypes.AlarmConfiguration{Enabled: false}
		in.DeploymentConfigName = nonEmpty(p.RestoreConfig)
		if key := aws.ToString(revision.S3Location.Key); key != p.RevisionKey {
			in.Description = aws.String("cdk deploy restoring " + key + " after " + p.RevisionKey)
		}
	}
	err = d.retry(ctx, "CreateDeployment", func() error {
		_, err := d.CodeDeploy.CreateDeployment(ctx, in)
		return err
	})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "DeploymentLimitExceededException" {
		return apiErr.ErrorMessage(), nil
	}
	return "", err
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// deploymentsOf returns the deployments of p's revision created in window, newest first.
func (d *Deployer) deploymentsOf(ctx context.Context, p Properties, window *cdtypes.TimeRange) ([]*cdtypes.DeploymentInfo, error) {
	ids, err := d.list(ctx, &codedeploy.ListDeploymentsInput{
		ApplicationName: aws.String(p.ApplicationName), DeploymentGroupName: aws.String(p.DeploymentGroupName),
		CreateTimeRange: window,
	})
	if err != nil {
		return nil, err
	}
	infos, err := d.batchGet(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []*cdtypes.DeploymentInfo
	for _, info := range infos {
		// Only deployments a caller created (this handler, or an operator): CodeDeploy's own
		// follow-ups of the same revision (CodeDeployAutoUpdate for instances launched meanwhile,
		// autoscaling, autoscalingTermination) concern single instances, not this rollout.
		if isRevision(info, p) && info.Creator == cdtypes.DeploymentCreatorUser {
			out = append(out, info)
		}
	}
	sortNewestFirst(out)
	return out, nil
}

func sortNewestFirst(infos []*cdtypes.DeploymentInfo) {
	sort.SliceStable(infos, func(i, j int) bool { return aws.ToTime(infos[i].CreateTime).After(aws.ToTime(infos[j].CreateTime)) })
}

func isRevision(info *cdtypes.DeploymentInfo, p Properties) bool {
	if info == nil || info.Revision == nil || info.Revision.S3Location == nil {
		return false
	}
	loc := info.Revision.S3Location
	return aws.ToString(loc.Bucket) == p.RevisionBucket && aws.ToString(loc.Key) == p.RevisionKey
}

func (d *Deployer) list(ctx context.Context, in *codedeploy.ListDeploymentsInput) ([]string, error) {
	var ids []string
	for {
		var out *codedeploy.ListDeploymentsOutput
		if err := d.retry(ctx, "ListDeployments", func() (err error) {
			out, err = d.CodeDeploy.ListDeployments(ctx, in)
			return err
		}); err != nil {
			return nil, fmt.Errorf("listing deployments of %s/%s: %w", aws.ToString(in.ApplicationName), aws.ToString(in.DeploymentGroupName), err)
		}
		ids = append(ids, out.Deployments...)
		if out.NextToken == nil {
			return ids, nil
		}
		next := *in
		next.NextToken = out.NextToken
		in = &next
	}
}

// failure describes a failed or stopped deployment with the first failing instance's lifecycle
// event, script and log tail, so the CloudFormation event says what to fix.
func (d *Deployer) failure(ctx context.Context, id string, info *cdtypes.DeploymentInfo) error {
	msg := fmt.Sprintf("deployment %s %s", id, strings.ToLower(string(info.Status)))
	if ei := info.ErrorInformation; ei != nil {
		msg += fmt.Sprintf(": %s: %s", ei.Code, aws.ToString(ei.Message))
	}
	// Best effort: the deployment's own error is the message; the instance's is detail.
	if details, err := d.describeTargets(ctx, id, 1, cdtypes.TargetStatusFailed); err == nil && len(details) > 0 {
		msg += "; " + details[0]
	}
	return errors.New(msg)
}

// missedTargets describes the instances of a succeeded deployment that did not get the revision.
// CodeDeploy counts a deployment as succeeded when the minimum healthy hosts held, so with
// OneAtATime "if the deployment to the last instance fails, the overall deployment is still
// successful" (CodeDeploy API reference, MinimumHealthyHosts): that instance was deregistered at
// BlockTraffic and is never registered again. Skipped and Unknown instances did not get it either.
func (d *Deployer) missedTargets(ctx context.Context, id string) ([]string, error) {
	return d.describeTargets(ctx, id, 25,
		cdtypes.TargetStatusFailed, cdtypes.TargetStatusSkipped, cdtypes.TargetStatusUnknown)
}

// describeTargets returns up to limit lines, one per instance of deployment id in one of
// statuses: the instance, its status and, for a failure, the lifecycle event, script and log tail.
func (d *Deployer) describeTargets(ctx context.Context, id string, limit int, statuses ...cdtypes.TargetStatus) ([]string, error) {
	filter := make([]string, len(statuses))
	for i, s := range statuses {
		filter[i] = string(s)
	}
	var ids []string
	var token *string
	for len(ids) < limit {
		var list *codedeploy.ListDeploymentTargetsOutput
		if err := d.retry(ctx, "ListDeploymentTargets", func() (err error) {
			list, err = d.CodeDeploy.ListDeploymentTargets(ctx, &codedeploy.ListDeploymentTargetsInput{
				DeploymentId: aws.String(id), NextToken: token,
				TargetFilters: map[string][]string{string(cdtypes.TargetFilterNameTargetStatus): filter},
			})
			return err
		}); err != nil {
			return nil, fmt.Errorf("listing the instances of deployment %s: %w", id, err)
		}
		ids = append(ids, list.TargetIds...)
		if token = list.NextToken; token == nil {
			break
		}
	}
	ids = ids[:min(limit, len(ids))]
	if len(ids) == 0 {
		return nil, nil
	}
	var targets *codedeploy.BatchGetDeploymentTargetsOutput
	if err := d.retry(ctx, "BatchGetDeploymentTargets", func() (err error) {
		targets, err = d.CodeDeploy.BatchGetDeploymentTargets(ctx, &codedeploy.BatchGetDeploymentTargetsInput{
			DeploymentId: aws.String(id), TargetIds: ids,
		})
		return err
	}); err != nil {
		return nil, fmt.Errorf("reading the instances of deployment %s: %w", id, err)
	}
	var out []string
	for _, t := range targets.DeploymentTargets {
		if t.InstanceTarget != nil {
			out = append(out, describeTarget(t.InstanceTarget))
		}
	}
	sort.Strings(out)
	return out, nil
}

func describeTarget(target *cdtypes.InstanceTarget) string {
	for _, ev := range target.LifecycleEvents {
		if ev.Status != cdtypes.LifecycleEventStatusFailed {
			continue
		}
		detail := fmt.Sprintf("instance %s failed at %s", aws.ToString(target.TargetId), aws.ToString(ev.LifecycleEventName))
		if dg := ev.Diagnostics; dg != nil {
			detail += fmt.Sprintf(" (%s, script %s): %s", dg.ErrorCode, aws.ToString(dg.ScriptName), aws.ToString(dg.Message))
			if tail := strings.TrimSpace(aws.ToString(dg.LogTail)); tail != "" {
				lines := strings.Split(tail, "\n")
				detail += " | log tail: " + strings.Join(lines[max(0, len(lines)-5):], " / ")
			}
		}
		return detail
	}
	if target.Status == cdtypes.TargetStatusFailed {
		return "instance " + aws.ToString(target.TargetId) + " failed"
	}
	return fmt.Sprintf("instance %s did not get the revision (%s)", aws.ToString(target.TargetId), target.Status)
}

// retry runs call again while AWS throttles it, waiting 1, 2, 4, ... s, up to d.Retries times.
func (d *Deployer) retry(ctx context.Context, what string, call func() error) error {
	wait := time.Second
	for attempt := 0; ; attempt++ {
		err := call()
		if err == nil || !throttled(err) || attempt >= d.Retries {
			if err != nil && throttled(err) {
				return fmt.Errorf("%s still throttled after %d retries: %w", what, attempt, err)
			}
			return err
		}
		if err := d.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		wait *= 2
	}
}

// transient errors end a poll, not the deployment: throttling that outlasted the retries,
// server errors, and the poll's own time running out.
func transient(ctx context.Context, err error) bool {
	if throttled(err) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return true
	}
	var httpErr interface{ HTTPStatusCode() int }
	return errors.As(err, &httpErr) && httpErr.HTTPStatusCode() >= 500
}

func throttled(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode() {
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown":
		return true
	}
	return false
}

func (p Properties) validate() error {
	var missing []string
	for name, v := range map[string]string{
		"ApplicationName": p.ApplicationName, "DeploymentGroupName": p.DeploymentGroupName,
		"SourceBucket": p.SourceBucket, "SourceKey": p.SourceKey, "RevisionBucket": p.RevisionBucket, "RevisionKey": p.RevisionKey,
	} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("custom resource properties missing: %s", strings.Join(missing, ", "))
	}
	if _, err := timeoutMinutes(p.TimeoutMinutes); err != nil {
		return err
	}
	if n, err := strconv.Atoi(p.RevisionsToKeep); p.RevisionsToKeep != "" && (err != nil || n < 1) {
		return fmt.Errorf("RevisionsToKeep %q is not a positive number", p.RevisionsToKeep)
	}
	return nil
}

func timeoutMinutes(s string) (int, error) {
	var m int
	if _, err := fmt.Sscan(s, &m); err != nil || m <= 0 {
		return 0, fmt.Errorf("TimeoutMinutes %q is not a positive number of minutes", s)
	}
	return m, nil
}
