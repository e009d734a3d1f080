package main

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func scaleInCmd(args []string, out io.Writer) error {
	fs := flags("scale-in-test", "Tests graceful termination: lowers the Auto Scaling group's desired capacity by one, finds the\n"+
		"autoscalingTermination deployment CodeDeploy starts, follows it, reports the ApplicationStop\n"+
		"result and puts the capacity back, whatever happened.", out)
	ef := addEnvFlags(fs)
	wait := fs.Duration("wait", 10*time.Minute, "how long to wait for the termination deployment to appear")
	poll := fs.Duration("poll", 5*time.Second, "how often to poll")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *wait < time.Minute || *poll < time.Second {
		return usagef("--wait must be at least 1m and --poll at least 1s")
	}
	t, err := ef.resolve(out, "AutoScalingGroupName", "ApplicationName", "DeploymentGroupName")
	if err != nil {
		return err
	}
	group := t.outputs["AutoScalingGroupName"]
	var described struct {
		AutoScalingGroups []struct{ DesiredCapacity, MinSize int }
	}
	if err := t.aws.read(&described, "autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", group); err != nil {
		return err
	}
	if len(described.AutoScalingGroups) != 1 {
		return fmt.Errorf("no Auto Scaling group %s: was it replaced outside CloudFormation?", group)
	}
	desired, minimum := described.AutoScalingGroups[0].DesiredCapacity, described.AutoScalingGroups[0].MinSize
	if desired-1 < minimum {
		return fmt.Errorf("desired capacity %d is the group's minimum %d: scale out first, or lower minCapacity, so one instance can go", desired, minimum)
	}

	start := now()
	fmt.Fprintf(out, "lowering %s from %d to %d instances\n", group, desired, desired-1)
	if err := t.setDesired(group, desired-1); err != nil {
		return err
	}
	defer func() {
		fmt.Fprintf(out, "restoring desired capacity %d\n", desired)
		if err := t.setDesired(group, desired); err != nil {
			fmt.Fprintf(out, "could not restore the desired capacity: %v\n", err)
		}
	}()

	id, err := t.findTerminationDeployment(start, *wait, *poll, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "termination deployment %s\n", id)
	_, followErr := t.followDeployment(id, *poll, out)
	targets, err := t.targets(id)
	if err != nil {
		return err
	}
	for _, target := range targets {
		for _, ev := range target.LifecycleEvents {
			if ev.LifecycleEventName != "ApplicationStop" {
				continue
			}
			fmt.Fprintf(out, "ApplicationStop on %s: %s\n", target.TargetId, ev.Status)
			if ev.Diagnostics != nil && strings.TrimSpace(ev.Diagnostics.LogTail) != "" {
				fmt.Fprintf(out, "stop script log:\n%s\n", strings.TrimRight(ev.Diagnostics.LogTail, "\n"))
			}
		}
	}
	return followErr
}

func (t *target) setDesired(group string, n int) error {
	return t.aws.write(nil, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name", group,
		"--desired-capacity", strconv.Itoa(n))
}

// findTerminationDeployment waits for the deployment whose creator is autoscalingTermination.
func (t *target) findTerminationDeployment(since time.Time, wait, poll time.Duration, out io.Writer) (string, error) {
	deadline := since.Add(wait)
	checked := map[string]bool{}
	for {
		var list struct{ Deployments []string }
		if err := t.aws.read(&list, "deploy", "list-deployments",
			"--application-name", t.outputs["ApplicationName"], "--deployment-group-name", t.outputs["DeploymentGroupName"],
			"--create-time-range", fmt.Sprintf("start=%d", since.Add(-time.Minute).Unix())); err != nil {
			return "", err
		}
		for _, id := range list.Deployments {
			if checked[id] {
				continue
			}
			checked[id] = true
			var d deploymentInfo
			if err := t.aws.read(&d, "deploy", "get-deployment", "--deployment-id", id); err != nil {
				return "", err
			}
			if d.DeploymentInfo.Creator == "autoscalingTermination" {
				return id, nil
			}
		}
		if now().After(deadline) {
			return "", fmt.Errorf("no autoscalingTermination deployment within %v: is TerminationHookEnabled on the deployment group?", wait)
		}
		fmt.Fprintf(out, "%7s  waiting for the termination deployment\n", elapsed(since))
		sleep(poll)
	}
}

var instancePattern = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)

func logsCmd(args []string, out io.Writer) error {
	fs := flags("logs", "Prints an instance's CodeDeploy agent log and its latest hook script log (scripts.log),\n"+
		"fetched with SSM Run Command: no SSH, no open port.", out)
	ef := addEnvFlags(fs)
	instance := fs.String("instance", "", "instance id, i-... (required)")
	lines := fs.Int("lines", 100, "lines from the end of each log (1-2000)")
	poll := fs.Duration("poll", 2*time.Second, "how often to poll the command")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *instance == "" {
		return usagef("--instance is required (an instance id, i-0123456789abcdef0: scripts/fleetctl deploy prints them)")
	}
	if !instancePattern.MatchString(*instance) {
		return usagef("--instance %q is not an instance id (i-0123456789abcdef0)", *instance)
	}
	if *lines < 1 || *lines > 2000 {
		return usagef("--lines %d is out of range (1-2000; Run Command returns at most 24,000 characters)", *lines)
	}
	t, err := ef.resolve(out)
	if err != nil {
		return err
	}
	n := strconv.Itoa(*lines)
	commands := []string{
		"echo '== /var/log/aws/codedeploy-agent/codedeploy-agent.log'",
		"tail -n " + n + " /var/log/aws/codedeploy-agent/codedeploy-agent.log",
		"latest=$(ls -t /opt/codedeploy-agent/deployment-root/*/*/logs/scripts.log 2>/dev/null | head -n 1)",
		`if [ -n "$latest" ]; then echo "== $latest"; tail -n ` + n + ` "$latest"; else echo '== no scripts.log yet'; fi`,
	}
	params, _ := jsonString(map[string][]string{"commands": commands})
	var sent struct{ Command struct{ CommandId string } }
	if err := t.aws.write(&sent, "ssm", "send-command", "--document-name", "AWS-RunShellScript",
		"--instance-ids", *instance, "--comment", "fleetctl logs", "--parameters", params); err != nil {
		return err
	}
	for {
		var inv struct{ Status, StandardOutputContent, StandardErrorContent string }
		err := t.aws.read(&inv, "ssm", "get-command-invocation", "--command-id", sent.Command.CommandId, "--instance-id", *instance)
		// Right after send-command the invocation may not exist yet.
		if err != nil && !strings.Contains(err.Error(), "InvocationDoesNotExist") {
			return err
		}
		switch inv.Status {
		case "Success":
			fmt.Fprint(out, inv.StandardOutputContent)
			return nil
		case "Failed", "TimedOut", "Cancelled", "Undeliverable", "Terminated":
			fmt.Fprint(out, inv.StandardOutputContent)
			return fmt.Errorf("command %s %s on %s: %s", sent.Command.CommandId, inv.Status, *instance, inv.StandardErrorContent)
		}
		sleep(*poll)
	}
}
