package test

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/example/codedeploy-fleet/config"
)

func TestDeploymentGroup(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		env, dep := b.stack.Env, b.stack.Deployment
		name := b.cfg.StackName(env)
		app := resource(t, b, logicalID(t, b, dep.Application))
		expect(t, app, "Properties.ApplicationName", name)
		expect(t, app, "Properties.ComputePlatform", "Server")

		groupID := logicalID(t, b, dep.Group)
		group := resource(t, b, groupID)
		expect(t, group, "Properties.DeploymentGroupName", name+"-fleet")
		expect(t, group, "Properties.ApplicationName", ref(logicalID(t, b, dep.Application)))
		expect(t, group, "Properties.AutoScalingGroups", []any{ref(logicalID(t, b, b.stack.Fleet.Group))})

		switch env.Deployment.Config {
		case config.DeploymentOneAtATime:
			expect(t, group, "Properties.DeploymentConfigName", "CodeDeployDefault.OneAtATime")
		case config.DeploymentHalfAtATime:
			expect(t, group, "Properties.DeploymentConfigName", "CodeDeployDefault.HalfAtATime")
		case config.DeploymentCustom, config.DeploymentZonal:
			configID, _ := at(group, "Properties", "DeploymentConfigName", "Ref").(string)
			cfg := resource(t, b, configID)
			expect(t, cfg, "Type", "AWS::CodeDeploy::DeploymentConfig")
			hosts := func(m config.MinimumHealthyHosts) map[string]any {
				if m.Count != nil {
					return map[string]any{"Type": "HOST_COUNT", "Value": *m.Count}
				}
				return map[string]any{"Type": "FLEET_PERCENT", "Value": *m.Percent}
			}
			expect(t, cfg, "Properties.MinimumHealthyHosts", hosts(env.Deployment.MinimumHealthyHosts))
			// The name stays CloudFormation's: a zonal configuration's properties require
			// replacement, which a fixed name would block.
			expect(t, cfg, "Properties.DeploymentConfigName", nil)
			if env.Deployment.Config == config.DeploymentZonal {
				z := env.Deployment.Zonal
				expect(t, cfg, "Properties.ZonalConfig", map[string]any{
					"FirstZoneMonitorDurationInSeconds": z.FirstZoneMonitorSeconds, "MonitorDurationInSeconds": z.MonitorSeconds,
					"MinimumHealthyHostsPerZone": hosts(z.MinimumHealthyHostsPerZone),
				})
			} else {
				expect(t, cfg, "Properties.ZonalConfig", nil)
			}
		}

		expect(t, group, "Properties.AutoRollbackConfiguration", map[string]any{"Enabled": true, "Events": []any{
			"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_STOP_ON_ALARM"}})
		expect(t, group, "Properties.TerminationHookEnabled", true)
		expect(t, group, "Properties.OutdatedInstancesStrategy", "UPDATE")
		expect(t, group, "Properties.DeploymentStyle.DeploymentOption", "WITH_TRAFFIC_CONTROL")
		expect(t, group, "Properties.LoadBalancerInfo.TargetGroupInfoList", []any{map[string]any{
			"Name": getAtt(logicalID(t, b, b.stack.Fleet.TargetGroup), "TargetGroupName")}})

		// Every alarm is attached (the load balancer's 5xx only where the fleet keeps two
		// instances, see TestLoadBalancer5xxAlarm), and the polling failure does not let a
		// deployment go on blind.
		expect(t, group, "Properties.AlarmConfiguration.Enabled", true)
		expect(t, group, "Properties.AlarmConfiguration.IgnorePollAlarmFailure", false)
		var attached []any
		for _, a := range dep.Alarms {
			if name, _ := at(resource(t, b, logicalID(t, b, a)), "Properties", "AlarmName").(string); strings.HasSuffix(name, "-elb-5xx") && b.stack.Env.MinCapacity < 2 {
				continue
			}
			attached = append(attached, map[string]any{"Name": ref(logicalID(t, b, a))})
		}
		expect(t, group, "Properties.AlarmConfiguration.Alarms", attached)

		roleID := logicalID(t, b, dep.Role)
		expect(t, group, "Properties.ServiceRoleArn", getAtt(roleID, "Arn"))
		dependsOn := strings.Join(toStrings(asList(group["DependsOn"])), ",")
		if policyID := logicalID(t, b, dep.Policy); !strings.Contains(dependsOn, policyID) {
			t.Errorf("deployment group DependsOn %q lacks the service policy %s", dependsOn, policyID)
		}
		for _, output := range []string{"ApplicationName", "DeploymentGroupName", "NotificationsTopicArn"} {
			if at(b.json, "Outputs", output) == nil {
				t.Errorf("output %s is missing", output)
			}
		}
	})
}

func toStrings(list []any) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i], _ = v.(string)
	}
	return out
}

func TestDeploymentAlarms(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		env, dep := b.stack.Env, b.stack.Deployment
		name := b.cfg.StackName(env) + "-" + b.cfg.StackName(env) + "-fleet"
		want := map[string]struct {
			metric, statistic string
			threshold         float64
		}{
			name + "-target-5xx":      {"HTTPCode_Target_5XX_Count", "Sum", float64(env.Deployment.Alarms.Target5xxCount)},
			name + "-unhealthy-hosts": {"UnHealthyHostCount", "Maximum", float64(env.Deployment.Alarms.UnhealthyHosts)},
			name + "-elb-5xx":         {"HTTPCode_ELB_5XX_Count", "Sum", float64(env.Deployment.Alarms.ELB5xxCount)},
		}
		if env.Deployment.Alarms.P99LatencySeconds > 0 {
			want[name+"-p99-latency"] = struct {
				metric, statistic string
				threshold         float64
			}{"TargetResponseTime", "p99", env.Deployment.Alarms.P99LatencySeconds}
		}
		if len(dep.Alarms) != len(want) {
			t.Errorf("%d alarms, want %d", len(dep.Alarms), len(want))
		}
		for _, a := range dep.Alarms {
			alarm := resource(t, b, logicalID(t, b, a))
			alarmName, _ := at(alarm, "Properties", "AlarmName").(string)
			w, ok := want[alarmName]
			if !ok {
				t.Errorf("unexpected alarm %q", alarmName)
				continue
			}
			expect(t, alarm, "Properties.Namespace", "AWS/ApplicationELB")
			expect(t, alarm, "Properties.MetricName", w.metric)
			expect(t, alarm, "Properties.Threshold", w.threshold)
			expect(t, alarm, "Properties.ComparisonOperator", "GreaterThanOrEqualToThreshold")
			expect(t, alarm, "Properties.Period", 60)
			expect(t, alarm, "Properties.TreatMissingData", "notBreaching")
			if w.statistic == "p99" {
				expect(t, alarm, "Properties.ExtendedStatistic", "p99")
			} else {
				expect(t, alarm, "Properties.Statistic", w.statistic)
			}
			dims := map[string]bool{}
			for _, d := range asList(at(alarm, "Properties", "Dimensions")) {
				dims[at(d, "Name").(string)] = true
			}
			// The load balancer's own 5xx have no target group; every other alarm watches the targets.
			if w.metric == "HTTPCode_ELB_5XX_Count" {
				if !dims["LoadBalancer"] || dims["TargetGroup"] {
					t.Errorf("%s does not watch this environment's load balancer: dimensions %v", alarmName, dims)
				}
			} else if !dims["TargetGroup"] || !dims["LoadBalancer"] {
				t.Errorf("%s does not watch this environment's target group: dimensions %v", alarmName, dims)
			}
		}
	})
}

// serviceActions is the CodeDeploy service role's whole permission model: each allowed action
// and the kind of resource it may name. Anything else fails TestServiceRole.
var serviceActions = map[string]string{
	"autoscaling:PutLifecycleHook": "asg", "autoscaling:DeleteLifecycleHook": "asg",
	"autoscaling:CompleteLifecycleAction": "asg", "autoscaling:RecordLifecycleActionHeartbeat": "asg",
	"autoscaling:SuspendProcesses": "asg", "autoscaling:ResumeProcesses": "asg",
	"autoscaling:CreateOrUpdateTags": "asg", "autoscaling:UpdateAutoScalingGroup": "asg",
	"elasticloadbalancing:RegisterTargets": "tg", "elasticloadbalancing:DeregisterTargets": "tg",
	"cloudwatch:DescribeAlarms":             "alarm",
	"ec2:RunInstances":                      "launch",
	"ec2:CreateTags":                        "launch",
	"iam:PassRole":                          "instance-role",
	"autoscaling:DescribeAutoScalingGroups": "*", "autoscaling:DescribeLifecycleHooks": "*",
	"autoscaling:DescribeScalingActivities": "*", "ec2:DescribeInstances": "*", "ec2:DescribeInstanceStatus": "*",
	"tag:GetResources": "*", "elasticloadbalancing:DescribeTargetGroups": "*",
	"elasticloadbalancing:DescribeTargetGroupAttributes": "*", "elasticloadbalancing:DescribeTargetHealth": "*",
	"elasticloadbalancing:DescribeLoadBalancers": "*", "elasticloadbalancing:DescribeLoadBalancerAttributes": "*",
}

func TestServiceRole(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		env, dep := b.stack.Env, b.stack.Deployment
		roleID := logicalID(t, b, dep.Role)
		role := resource(t, b, roleID)
		expect(t, role, "Properties.ManagedPolicyArns", nil)
		expect(t, role, "Properties.Policies", nil)
		expect(t, role, "Properties.AssumeRolePolicyDocument.Statement", []any{map[string]any{
			"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "codedeploy.amazonaws.com"},
			"Condition": map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": env.Account},
				"ArnLike": map[string]any{"aws:SourceArn": "arn:aws:codedeploy:" + env.Region + ":" + env.Account +
					":deploymentgroup:" + b.cfg.StackName(env) + "/*"},
			},
		}})

		asgArn := map[string]any{"Fn::Join": []any{"", []any{
			"arn:aws:autoscaling:" + env.Region + ":" + env.Account + ":autoScalingGroup:*:autoScalingGroupName/",
			ref(logicalID(t, b, b.stack.Fleet.Group))}}}
		tgArn := ref(logicalID(t, b, b.stack.Fleet.TargetGroup))
		instanceRoleArn := getAtt(logicalID(t, b, b.stack.Fleet.Role), "Arn")
		alarmArns := map[string]bool{}
		for _, a := range dep.Alarms {
			alarmArns[logicalID(t, b, a)] = true
		}
		seen := map[string]bool{}
		for _, st := range statements(t, b, roleID) {
			for _, a := range asList(st["Action"]) {
				action := a.(string)
				seen[action] = true
				kind, known := serviceActions[action]
				if !known {
					t.Errorf("service role has %s, which an in-place deployment does not need", action)
					continue
				}
				for _, r := range asList(st["Resource"]) {
					ok := false
					switch kind {
					case "*":
						ok = r == "*"
					case "asg":
						ok = reflectEqual(r, asgArn)
					case "tg":
						ok = reflectEqual(r, tgArn)
					case "alarm":
						id, _ := at(r, "Fn::GetAtt", "0").(string)
						ok = alarmArns[id]
					case "instance-role":
						ok = reflectEqual(r, instanceRoleArn) && reflectEqual(st["Condition"],
							map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ec2.amazonaws.com"}})
					case "launch":
						ok = launchResource(t, b, action, r)
						if action == "ec2:CreateTags" {
							ok = ok && reflectEqual(st["Condition"], map[string]any{"StringEquals": map[string]any{"ec2:CreateAction": "RunInstances"}})
						}
					}
					if !ok {
						t.Errorf("%s on %s is wider than it needs", action, show(r))
					}
				}
			}
		}
		for action := range serviceActions {
			if !seen[action] {
				t.Errorf("service role lacks %s", action)
			}
		}
	})
}

func TestNotifications(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		env, n := b.stack.Env, b.stack.Notifications
		topicID := logicalID(t, b, n.Topic)
		topic := resource(t, b, topicID)
		expect(t, topic, "Properties.KmsMasterKeyId", getAtt(logicalID(t, b, n.Key), "Arn"))
		key := resource(t, b, logicalID(t, b, n.Key))
		expect(t, key, "Properties.EnableKeyRotation", true)
		// EventBridge can use the key to publish, for this topic only (TestNotificationsOnlyFromOwnRules
		// checks the rules).
		topicArn := "arn:aws:sns:" + env.Region + ":" + env.Account + ":" + b.cfg.StackName(env) + "-notifications"
		expect(t, topic, "Properties.TopicName", b.cfg.StackName(env)+"-notifications")
		for _, st := range asList(at(key, path("Properties.KeyPolicy.Statement")...)) {
			if !reflectEqual(at(st, "Principal"), map[string]any{"Service": "events.amazonaws.com"}) {
				continue
			}
			if !reflectEqual(at(st, "Action"), []any{"kms:Decrypt", "kms:GenerateDataKey*"}) ||
				at(st, "Condition", "StringEquals", "kms:EncryptionContext:aws:sns:topicArn") != topicArn {
				t.Errorf("key policy statement for EventBridge: %s; want Decrypt and GenerateDataKey* for %s only", show(st), topicArn)
			}
		}

		tlsOnly := false
		for _, p := range resourcesOfType(b, "AWS::SNS::TopicPolicy") {
			for _, st := range asList(at(p, path("Properties.PolicyDocument.Statement")...)) {
				tlsOnly = tlsOnly || (at(st, "Effect") == "Deny" &&
					reflectEqual(at(st, "Condition"), map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}))
			}
		}
		if !tlsOnly {
			t.Error("topic policy does not deny publishing without TLS")
		}

		var states []any
		for _, rule := range resourcesOfType(b, "AWS::Events::Rule") {
			targets := asList(at(rule, "Properties", "Targets"))
			if len(targets) != 1 || !reflectEqual(at(targets[0], "Arn"), ref(topicID)) {
				t.Errorf("rule %v does not target the topic", at(rule, "Properties", "Description"))
			}
			pattern := at(rule, "Properties", "EventPattern")
			if reflectEqual(at(pattern, "detail-type"), []any{"CodeDeploy Deployment State-change Notification"}) {
				states = append(states, asList(at(pattern, "detail", "state"))...)
				expect(t, pattern.(map[string]any), "detail.deploymentGroup", []any{b.cfg.StackName(env) + "-fleet"})
			}
		}
		if !reflectEqual(sorted(states), []any{"FAILURE", "STOP", "SUCCESS"}) {
			t.Errorf("deployment outcomes forwarded: %s; want FAILURE, STOP and SUCCESS", show(states))
		}

		subscriptions := resourcesOfType(b, "AWS::SNS::Subscription")
		if env.NotificationEmail == "" && len(subscriptions) != 0 {
			t.Errorf("%d subscriptions without notificationEmail", len(subscriptions))
		}
		if env.NotificationEmail != "" {
			found := false
			for _, s := range subscriptions {
				found = found || (at(s, "Properties", "Protocol") == "email" && at(s, "Properties", "Endpoint") == env.NotificationEmail)
			}
			if !found {
				t.Errorf("no e-mail subscription for %s", env.NotificationEmail)
			}
		}
	})
}

// launchResource: RunInstances and CreateTags may name new instances, volumes and interfaces and
// AMIs of this account and region, and, for RunInstances, this launch template, the private
// subnets and the instance security group, nothing else.
func launchResource(t *testing.T, b *built, action string, r any) bool {
	env := b.stack.Env
	_, private := subnets(b)
	if s, ok := r.(string); ok {
		for _, id := range private {
			if id, isID := id.(string); isID && s == "arn:aws:ec2:"+env.Region+":"+env.Account+":subnet/"+id && action == "ec2:RunInstances" {
				return true
			}
		}
		kinds := "instance|volume|network-interface"
		if action == "ec2:RunInstances" {
			kinds += "|image"
		}
		pattern := `^arn:aws:ec2:` + regexp.QuoteMeta(env.Region) + `:(` + env.Account + `)?:(` + kinds + `)/\*$`
		return regexp.MustCompile(pattern).MatchString(s) && (strings.Contains(s, ":image/") == (s == "arn:aws:ec2:"+env.Region+"::image/*"))
	}
	if action != "ec2:RunInstances" {
		return false
	}
	prefix := "arn:aws:ec2:" + env.Region + ":" + env.Account + ":"
	allowed := []any{
		map[string]any{"Fn::Join": []any{"", []any{prefix + "launch-template/", ref(logicalID(t, b, b.stack.Fleet.LaunchTemplate))}}},
		map[string]any{"Fn::Join": []any{"", []any{prefix + "security-group/", getAtt(logicalID(t, b, b.stack.Fleet.InstanceSecurityGroup), "GroupId")}}},
	}
	for _, id := range private {
		allowed = append(allowed, map[string]any{"Fn::Join": []any{"", []any{prefix + "subnet/", id}}})
	}
	for _, a := range allowed {
		if reflectEqual(r, a) {
			return true
		}
	}
	return false
}

func sorted(list []any) []any {
	out := append([]any(nil), list...)
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out
}

// TestShippedProdIsZonal: prod deploys one zone at a time, a whole zone at once (66% of its three
// zones' fleet stays in service), watching the first zone for 5 minutes and each after for 3.
func TestShippedProdIsZonal(t *testing.T) {
	forEachFixture(t, func(t *testing.T, b *built) {
		if b.stack.Env.Name != "prod" {
			return
		}
		configID, _ := at(resource(t, b, logicalID(t, b, b.stack.Deployment.Group)), "Properties", "DeploymentConfigName", "Ref").(string)
		cfg := resource(t, b, configID)
		expect(t, cfg, "Properties.MinimumHealthyHosts", map[string]any{"Type": "FLEET_PERCENT", "Value": 66})
		expect(t, cfg, "Properties.ZonalConfig", map[string]any{"FirstZoneMonitorDurationInSeconds": 300, "MonitorDurationInSeconds": 180,
			"MinimumHealthyHostsPerZone": map[string]any{"Type": "FLEET_PERCENT", "Value": 0}})
	})
}

// TestAlarmTiming: every alarm is timed as the time to detect assumes (config.AlarmPeriodSeconds,
// AlarmDatapointsToAlarm of AlarmEvaluationPeriods), and synthesis warns exactly where a release
// can get further than its alarms could stop it.
func TestAlarmTiming(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		for _, a := range b.stack.Deployment.Alarms {
			alarm := resource(t, b, logicalID(t, b, a))
			expect(t, alarm, "Properties.Period", config.AlarmPeriodSeconds)
			expect(t, alarm, "Properties.DatapointsToAlarm", config.AlarmDatapointsToAlarm)
			expect(t, alarm, "Properties.EvaluationPeriods", config.AlarmEvaluationPeriods)
		}
		var got []string
		for _, m := range find(b.messages, "warning", `a (bad release reaches the next zone|deployment can end) before its alarms could stop`) {
			// The annotation ends with the id that acknowledges it.
			got = append(got, strings.TrimSuffix(m.text, " [ack: stacks:unwatched-"+strings.Fields(m.text)[0]+"]"))
		}
		var want []string
		for _, w := range b.stack.Env.Unwatched() {
			want = append(want, w.Message)
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}
