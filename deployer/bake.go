package deployer

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
)

// bake watches the group's gating alarms after the release's deployment succeeded, for
// BakeSeconds from the deployment's end. CodeDeploy watches a group's alarms only while one of
// its deployments runs ("If any of the specified alarms are activated, the deployment stops",
// CodeDeploy user guide, "Monitoring deployments with CloudWatch alarms"), and a zonal
// configuration waits only "before starting a deployment to the next Availability Zone" (API
// reference, ZonalConfig): the last instances would otherwise be watched by nothing. baked
// reports the bake over (or none configured); until then the response is the poll's answer.
//
// On an alarm the previous release is put back by a deployment of its own, with the alarms off
// (the alarm that fired still is in ALARM, and would stop it) and the restore configuration,
// and the poll fails, so that CloudFormation rolls the stack back. The rollback's update of the
// previous revision then finds that deployment, waits for it and completes (IsComplete's
// groupState), without deploying a second time. Keeping no state of its own, each poll derives
// the bake from the deployment's end time.
func (d *Deployer) bake(ctx context.Context, e Event, ours *cdtypes.DeploymentInfo) (res Response, baked bool, err error) {
	p := e.ResourceProperties
	bake, alarms := p.bake()
	if bake == 0 || len(alarms) == 0 || d.CloudWatch == nil {
		return Response{}, true, nil
	}
	if o := ours.OverrideAlarmConfiguration; o != nil && !o.Enabled {
		// A first or restoring deployment, with the alarms off: an alarm that fires now speaks
		// of the release it replaced (the one a restore puts right), not of this one.
		return Response{}, true, nil
	}
	ended := aws.ToTime(ours.CompleteTime)
	if ended.IsZero() {
		ended = aws.ToTime(ours.CreateTime)
	}
	id := aws.ToString(ours.DeploymentId)
	firing, err := d.firing(ctx, alarms)
	if err != nil {
		return Response{}, false, err
	}
	if len(firing) == 0 {
		if left := ended.Add(bake).Sub(d.Now()); left > 0 {
			res, err := d.wait(e, fmt.Sprintf("deployment %s is baking: its alarms are watched for %v more", id, left.Round(time.Second)))
			return res, false, err
		}
		return Response{}, true, nil
	}
	why := fmt.Sprintf("alarm %s went to ALARM %v after deployment %s of %s ended (the bake watches for %v)",
		strings.Join(firing, ", "), d.Now().Sub(ended).Round(time.Second), id, p.RevisionKey, bake)
	previous, err := d.previousRelease(ctx, p, ours)
	if err != nil {
		return Response{}, false, err
	}
	if previous == nil {
		return Response{}, false, fmt.Errorf("%s, and the group has no earlier release to put back: the fleet stays on %s", why, p.RevisionKey)
	}
	refused, err := d.create(ctx, p, previous.Revision, restoring)
	if err != nil {
		return Response{}, false, fmt.Errorf("%s; restoring %s failed: %w", why, revisionKey(previous), err)
	}
	if refused != "" {
		// Another deployment is active (an instance launched meanwhile, say): the next poll tries
		// again, and fails only once the restore is under way.
		res, err := d.wait(e, why+"; the restore waits for another deployment: "+refused)
		return res, false, err
	}
	return Response{}, false, fmt.Errorf("%s: the previous release %s is being put back (alarms off, %s), "+
		"and the stack update fails so that CloudFormation rolls back to it", why, revisionKey(previous), orGroups(p.RestoreConfig))
}

// bake is the configured bake time and the alarms it watches.
func (p Properties) bake() (time.Duration, []string) {
	seconds, _ := strconv.Atoi(p.BakeSeconds)
	var names []string
	for _, n := range strings.Split(p.AlarmNames, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return time.Duration(seconds) * time.Second, names
}

// firing returns the alarms among names that are in ALARM.
func (d *Deployer) firing(ctx context.Context, names []string) ([]string, error) {
	var out *cloudwatch.DescribeAlarmsOutput
	if err := d.retry(ctx, "DescribeAlarms", func() (err error) {
		out, err = d.CloudWatch.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{
			AlarmNames: names, AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm},
		})
		return err
	}); err != nil {
		return nil, fmt.Errorf("reading the alarms %s: %w", strings.Join(names, ", "), err)
	}
	var firing []string
	for _, a := range out.MetricAlarms {
		if a.StateValue == cwtypes.StateValueAlarm {
			firing = append(firing, aws.ToString(a.AlarmName))
		}
	}
	slices.Sort(firing)
	return firing, nil
}

// previousRelease is the newest release before ours that succeeded with another revision: what
// the fleet ran before.
func (d *Deployer) previousRelease(ctx context.Context, p Properties, ours *cdtypes.DeploymentInfo) (*cdtypes.DeploymentInfo, error) {
	var previous *cdtypes.DeploymentInfo
	err := d.endedNewestFirst(ctx, p, func(info *cdtypes.DeploymentInfo) bool {
		if isRelease(info) && info.Status == cdtypes.DeploymentStatusSucceeded && !isRevision(info, p) &&
			aws.ToTime(info.CreateTime).Before(aws.ToTime(ours.CreateTime)) {
			previous = info
			return false
		}
		return true
	})
	return previous, err
}

func revisionKey(info *cdtypes.DeploymentInfo) string {
	if info.Revision == nil || info.Revision.S3Location == nil {
		return aws.ToString(info.DeploymentId)
	}
	return aws.ToString(info.Revision.S3Location.Key)
}

func orGroups(config string) string {
	if config == "" {
		return "the group's configuration"
	}
	return config
}
