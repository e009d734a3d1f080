package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/example/codedeploy-fleet/config"
)

// bake watches the stack's gating alarms (its GatingAlarmNames output) for bake after the
// deployment succeeded (its BakeSeconds output when bake is negative): CodeDeploy watches a
// group's alarms only while one of its deployments runs, so a bad release on the last instances
// would be watched by nothing. On an alarm the previous release is deployed again, with the
// alarms off (the alarm still fires, and would stop it) and restoreConfig, and followed; the
// command then fails naming the alarm. A deployment that ran with the alarms off (a first
// deployment, a restore) is not baked: an alarm then speaks of the release it replaced. The bake
// counts from the deployment's end, as the revision deployment of `cdk deploy` does: following
// a deployment that ended longer ago than the bake (--follow) watches nothing, and never puts
// back a release the stack's own rollback may be restoring already.
func (t *target) bake(deployed info, bake, poll time.Duration, out io.Writer) error {
	if bake < 0 {
		seconds, _ := strconv.Atoi(t.outputs["BakeSeconds"])
		bake = time.Duration(seconds) * time.Second
	}
	var alarms []string
	for _, n := range strings.Split(t.outputs["GatingAlarmNames"], ",") {
		if n = strings.TrimSpace(n); n != "" {
			alarms = append(alarms, n)
		}
	}
	if bake <= 0 || len(alarms) == 0 {
		return nil
	}
	if o := deployed.OverrideAlarmConfiguration; o != nil && !o.Enabled {
		fmt.Fprintf(out, "deployment %s ran with the alarms off: no bake\n", deployed.DeploymentId)
		return nil
	}
	start := now()
	if !deployed.CompleteTime.IsZero() && deployed.CompleteTime.Before(start) {
		start = deployed.CompleteTime.Time
	}
	if now().Sub(start) >= bake {
		fmt.Fprintf(out, "deployment %s ended %v ago: its %v bake is over\n", deployed.DeploymentId, now().Sub(start).Round(time.Second), bake)
		return nil
	}
	fmt.Fprintf(out, "baking: watching %s for %v\n", strings.Join(alarms, ", "), bake)
	for {
		firing, err := t.firing(alarms)
		if err != nil {
			return err
		}
		if len(firing) > 0 {
			why := fmt.Sprintf("alarm %s went to ALARM %v after deployment %s succeeded", strings.Join(firing, ", "),
				now().Sub(start).Round(time.Second), deployed.DeploymentId)
			fmt.Fprintln(out, why)
			return t.restore(deployed, why, poll, out)
		}
		if now().Sub(start) >= bake {
			fmt.Fprintf(out, "%7s  baked: no alarm for %v\n", elapsed(start), bake)
			return nil
		}
		sleep(min(poll, bake-now().Sub(start)))
	}
}

// firing returns the alarms among names that are in ALARM.
func (t *target) firing(names []string) ([]string, error) {
	var got struct {
		MetricAlarms []struct{ AlarmName, StateValue string }
	}
	args := append([]string{"cloudwatch", "describe-alarms", "--alarm-types", "MetricAlarm", "--alarm-names"}, names...)
	if err := t.aws.read(&got, args...); err != nil {
		return nil, err
	}
	var firing []string
	for _, a := range got.MetricAlarms {
		if a.StateValue == "ALARM" {
			firing = append(firing, a.AlarmName)
		}
	}
	slices.Sort(firing)
	return firing, nil
}

// restore deploys the group's previous release again and follows it, then fails with why.
func (t *target) restore(bad info, why string, poll time.Duration, out io.Writer) error {
	previous, err := t.previousRelease(bad)
	if err != nil {
		return err
	}
	if previous == nil {
		return fmt.Errorf("%s, and the group has no earlier release to put back: the fleet stays on it", why)
	}
	loc := previous.Revision.S3Location
	var created struct{ DeploymentId string }
	if err := t.aws.write(&created, "deploy", "create-deployment",
		"--application-name", t.outputs["ApplicationName"], "--deployment-group-name", t.outputs["DeploymentGroupName"],
		"--s3-location", fmt.Sprintf("bucket=%s,key=%s,bundleType=zip", loc.Bucket, loc.Key),
		"--deployment-config-name", config.RestoreDeploymentConfig, "--override-alarm-configuration", "enabled=false",
		"--description", "fleetctl deploy restoring "+loc.Key+" after an alarm"); err != nil {
		return fmt.Errorf("%s; restoring %s: %w", why, loc.Key, err)
	}
	fmt.Fprintf(out, "restoring the previous release %s with deployment %s (alarms off, %s)\n", loc.Key, created.DeploymentId, config.RestoreDeploymentConfig)
	if _, err := t.followDeployment(created.DeploymentId, poll, out); err != nil {
		return fmt.Errorf("%s; the restore of %s failed too: %w", why, loc.Key, err)
	}
	return fmt.Errorf("%s: the previous release %s was put back by deployment %s", why, loc.Key, created.DeploymentId)
}

// previousRelease is the newest release of the group before bad that succeeded with another
// revision: what the fleet ran before. Releases are what callers and CodeDeploy's rollbacks
// create; Auto Scaling's deployments concern single instances.
func (t *target) previousRelease(bad info) (*info, error) {
	var list struct{ Deployments []string }
	if err := t.aws.read(&list, "deploy", "list-deployments", "--application-name", t.outputs["ApplicationName"],
		"--deployment-group-name", t.outputs["DeploymentGroupName"], "--include-only-statuses", "Succeeded"); err != nil {
		return nil, err
	}
	var newest *info
	for ids := range slices.Chunk(list.Deployments, 25) {
		var got struct{ DeploymentsInfo []info }
		if err := t.aws.read(&got, append([]string{"deploy", "batch-get-deployments", "--deployment-ids"}, ids...)...); err != nil {
			return nil, err
		}
		for _, d := range got.DeploymentsInfo {
			release := d.Creator == "user" || d.Creator == "codeDeployRollback"
			if !release || d.Revision == nil || d.Revision.S3Location == nil || !d.CreateTime.Before(bad.CreateTime.Time) ||
				(bad.Revision != nil && bad.Revision.S3Location != nil && *d.Revision.S3Location == *bad.Revision.S3Location) {
				continue
			}
			if newest == nil || d.CreateTime.After(newest.CreateTime.Time) {
				newest = &d
			}
		}
	}
	return newest, nil
}
