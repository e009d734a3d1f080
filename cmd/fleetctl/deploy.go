package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/example/codedeploy-fleet/appspec"
	"github.com/example/codedeploy-fleet/revision"
)

func packageCmd(args []string, out io.Writer) error {
	fs := flags("package", "Packages a revision directory into a deterministic zip: the same content gives the same bytes\n"+
		"and the same key (revisions/<sha256>.zip) as the one cdk deploy uploads.", out)
	dir := fs.String("dir", "assets", "revision directory (appspec.yml at its root)")
	output := fs.String("out", "", "write the zip here (default: only print the hash and key)")
	if err := parse(fs, args); err != nil {
		return err
	}
	pkg, err := validatedPackage(*dir, out)
	if err != nil {
		return err
	}
	if *output != "" {
		if err := os.WriteFile(*output, pkg.Zip, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s (%d bytes)\n", *output, len(pkg.Zip))
	}
	fmt.Fprintf(out, "sha256 %s\nkey    %s\n", pkg.SHA256, pkg.Key("revisions/"))
	return nil
}

// validatedPackage checks the revision as synthesis does (the appspec and its scripts), then
// zips it. What could not be checked is printed to out.
func validatedPackage(dir string, out io.Writer) (revision.Package, error) {
	spec, err := appspec.Validate(dir, appspec.Shipped)
	if err != nil {
		return revision.Package{}, usageError{fmt.Errorf("the revision is not valid:\n%w", err)}
	}
	for _, w := range spec.Warnings {
		fmt.Fprintln(out, "warning:", w)
	}
	return revision.Zip(dir)
}

func deployCmd(args []string, out io.Writer) error {
	fs := flags("deploy", "Uploads a revision to the environment's revision bucket, deploys it with CodeDeploy and shows\n"+
		"each instance's lifecycle events until the deployment ends. Exits 1 if it fails or is stopped.", out)
	ef := addEnvFlags(fs)
	dir := fs.String("dir", "assets", "revision directory (appspec.yml at its root)")
	follow := fs.String("follow", "", "follow this existing deployment (d-XXXXXXXXX) instead of creating one")
	poll := fs.Duration("poll", 5*time.Second, "how often to poll CodeDeploy")
	bake := fs.Duration("bake", -1, "how long to watch the gating alarms after the deployment succeeded (default: the stack's BakeSeconds output; 0: no bake)")
	alarms := fs.Bool("alarms", true, "watch the deployment group's gating alarms; --alarms=false overrides them off for this deployment (a repair while an alarm still fires), and no bake follows")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *follow != "" && !strings.HasPrefix(*follow, "d-") {
		return usagef("--follow %q is not a deployment id (d-XXXXXXXXX)", *follow)
	}
	if *poll < time.Second {
		return usagef("--poll %v is too short; use 1s or more", *poll)
	}
	if _, _, err := ef.environment(); err != nil {
		return err
	}
	var pkg revision.Package
	if *follow == "" {
		var err error
		if pkg, err = validatedPackage(*dir, out); err != nil {
			return err
		}
	}
	t, err := ef.resolve(out, "RevisionBucketName", "ApplicationName", "DeploymentGroupName")
	if err != nil {
		return err
	}
	id := *follow
	if id == "" {
		if id, err = t.createDeployment(pkg, *alarms, out); err != nil {
			return err
		}
	}
	info, err := t.followDeployment(id, *poll, out)
	if err != nil {
		return err
	}
	if !*alarms {
		// The bake watches the alarms this deployment was told to ignore.
		return nil
	}
	return t.bake(info, *bake, *poll, out)
}

func (t *target) createDeployment(pkg revision.Package, alarms bool, out io.Writer) (string, error) {
	bucket, key := t.outputs["RevisionBucketName"], pkg.Key("revisions/")
	file := filepath.Join(os.TempDir(), filepath.Base(key))
	if err := os.WriteFile(file, pkg.Zip, 0o644); err != nil {
		return "", err
	}
	defer os.Remove(file)
	if err := t.aws.read(nil, "s3api", "head-object", "--bucket", bucket, "--key", key); err == nil {
		fmt.Fprintf(out, "s3://%s/%s is already uploaded\n", bucket, key)
	} else {
		fmt.Fprintf(out, "uploading s3://%s/%s\n", bucket, key)
		if err := t.aws.write(nil, "s3", "cp", file, "s3://"+bucket+"/"+key); err != nil {
			return "", err
		}
	}
	args := []string{"deploy", "create-deployment",
		"--application-name", t.outputs["ApplicationName"], "--deployment-group-name", t.outputs["DeploymentGroupName"],
		"--s3-location", fmt.Sprintf("bucket=%s,key=%s,bundleType=zip", bucket, key),
		"--description", "fleetctl deploy " + key}
	if !alarms {
		// CreateDeployment's overrideAlarmConfiguration, as the deployer's restore sends it (its
		// UpdateDeploymentGroup permission is what CodeDeploy asks for it).
		args = append(args, "--override-alarm-configuration", "enabled=false")
	}
	var created struct{ DeploymentId string }
	if err := t.aws.write(&created, args...); err != nil {
		return "", err
	}
	fmt.Fprintf(out, "created deployment %s\n", created.DeploymentId)
	return created.DeploymentId, nil
}

// deploymentInfo is the part of get-deployment fleetctl reads.
type deploymentInfo struct {
	DeploymentInfo info
}

type info struct {
	DeploymentId     string
	Status           string
	Creator          string
	CreateTime       awsTime
	CompleteTime     awsTime
	ErrorInformation *struct{ Code, Message string }
	Revision         *struct {
		S3Location *struct{ Bucket, Key string }
	}
	OverrideAlarmConfiguration *struct{ Enabled bool }
}

type lifecycleEvent struct {
	LifecycleEventName string
	Status             string
	Diagnostics        *struct{ ErrorCode, ScriptName, Message, LogTail string }
}

type instanceTarget struct {
	TargetId        string
	Status          string
	LifecycleEvents []lifecycleEvent
}

// followDeployment prints a line whenever an instance's lifecycle event changes status, until
// the deployment ends. A failed or stopped deployment is an error naming the failing instance,
// event and the tail of its hook log.
func (t *target) followDeployment(id string, poll time.Duration, out io.Writer) (info, error) {
	start := now()
	seen := map[string]string{}
	for {
		var d deploymentInfo
		if err := t.aws.read(&d, "deploy", "get-deployment", "--deployment-id", id); err != nil {
			return info{}, err
		}
		targets, err := t.targets(id)
		if err != nil {
			return info{}, err
		}
		for _, target := range targets {
			for _, ev := range target.LifecycleEvents {
				k := target.TargetId + " " + ev.LifecycleEventName
				if ev.Status != "" && seen[k] != ev.Status {
					seen[k] = ev.Status
					fmt.Fprintf(out, "%7s  %-21s %-20s %s\n", elapsed(start), target.TargetId, ev.LifecycleEventName, ev.Status)
				}
			}
		}
		status := d.DeploymentInfo.Status
		switch status {
		case "Succeeded":
			if missed := missedInstances(targets); missed != "" {
				return info{}, fmt.Errorf("deployment %s succeeded, but not on every instance:%s", id, missed)
			}
			fmt.Fprintf(out, "%7s  deployment %s succeeded\n", elapsed(start), id)
			d.DeploymentInfo.DeploymentId = id
			return d.DeploymentInfo, nil
		case "Failed", "Stopped":
			return info{}, deploymentError(id, status, d, targets)
		}
		sleep(poll)
	}
}

func (t *target) targets(id string) ([]instanceTarget, error) {
	var list struct{ TargetIds []string }
	if err := t.aws.read(&list, "deploy", "list-deployment-targets", "--deployment-id", id); err != nil {
		return nil, err
	}
	if len(list.TargetIds) == 0 {
		return nil, nil
	}
	var out []instanceTarget
	// batch-get-deployment-targets takes at most 25 targets a call.
	for ids := range slices.Chunk(list.TargetIds, 25) {
		var got struct {
			DeploymentTargets []struct{ InstanceTarget *instanceTarget }
		}
		args := append([]string{"deploy", "batch-get-deployment-targets", "--deployment-id", id, "--target-ids"}, ids...)
		if err := t.aws.read(&got, args...); err != nil {
			return nil, err
		}
		for _, dt := range got.DeploymentTargets {
			if dt.InstanceTarget != nil {
				out = append(out, *dt.InstanceTarget)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TargetId < out[j].TargetId })
	return out, nil
}

func deploymentError(id, status string, d deploymentInfo, targets []instanceTarget) error {
	msg := fmt.Sprintf("deployment %s %s", id, strings.ToLower(status))
	if ei := d.DeploymentInfo.ErrorInformation; ei != nil {
		msg += fmt.Sprintf(": %s: %s", ei.Code, ei.Message)
	}
	for _, target := range targets {
		msg += failedEvents(target)
	}
	return fmt.Errorf("%s", msg)
}

// missedInstances describes the instances of a succeeded deployment that did not get the
// revision, or "" when every instance did. CodeDeploy counts a deployment as succeeded when the
// minimum healthy hosts held: with OneAtATime, "if the deployment to the last instance fails, the
// overall deployment is still successful" (CodeDeploy API reference, MinimumHealthyHosts), and
// that instance stays out of the load balancer. Skipped and Unknown instances did not get it either.
func missedInstances(targets []instanceTarget) string {
	var msg string
	for _, target := range targets {
		switch target.Status {
		case "Failed":
			if events := failedEvents(target); events != "" {
				msg += events
			} else {
				msg += fmt.Sprintf("\ninstance %s failed", target.TargetId)
			}
		case "Skipped", "Unknown":
			msg += fmt.Sprintf("\ninstance %s did not get the revision (%s)", target.TargetId, target.Status)
		}
	}
	return msg
}

// failedEvents describes target's failed lifecycle events with their script's error and log tail.
func failedEvents(target instanceTarget) string {
	var msg string
	for _, ev := range target.LifecycleEvents {
		if ev.Status != "Failed" {
			continue
		}
		msg += fmt.Sprintf("\ninstance %s failed at %s", target.TargetId, ev.LifecycleEventName)
		if dg := ev.Diagnostics; dg != nil {
			msg += fmt.Sprintf(" (%s, %s): %s\nlog tail:\n%s", dg.ErrorCode, dg.ScriptName, dg.Message, strings.TrimRight(dg.LogTail, "\n"))
		}
	}
	return msg
}

func elapsed(start time.Time) string {
	d := now().Sub(start).Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

// awsTime is a timestamp as the AWS CLI prints it: ISO 8601 (version 2's default) or seconds
// since the epoch (version 1's).
type awsTime struct{ time.Time }

func (a *awsTime) UnmarshalJSON(data []byte) error {
	var seconds float64
	if err := json.Unmarshal(data, &seconds); err == nil {
		a.Time = time.Unix(0, int64(seconds*float64(time.Second))).UTC()
		return nil
	}
	var text string
	if err := json.Unmarshal(data, &text); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, text)
	a.Time = t
	return err
}
