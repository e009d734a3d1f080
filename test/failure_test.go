package test

import (
	"fmt"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"slices"
	"strings"
	"testing"

	"github.com/example/codedeploy-fleet/stacks"
)

// TestAutoScalingProcessesSuspendedWhileDeploying: CodeDeploy suspends the configured processes
// (all four by default) and its role may suspend and resume them on this group only.
func TestAutoScalingProcessesSuspendedWhileDeploying(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		group := resource(t, b, logicalID(t, b, b.stack.Deployment.Group.Node().DefaultChild()))
		got := at(group, "Properties", "Ec2DeploymentOptions", "AutoScalingGroupProcessesToSuspend")
		want := b.stack.Env.Deployment.SuspendProcesses
		if len(want) == 0 {
			if got != nil {
				t.Errorf("no process configured, but the group suspends %s", show(got))
			}
			return
		}
		if !reflectEqual(got, toAny(want)) {
			t.Errorf("suspends %s, want %v", show(got), want)
		}
		policy := resource(t, b, logicalID(t, b, b.stack.Deployment.Policy))
		granted := false
		for _, st := range asList(at(policy, "Properties", "PolicyDocument", "Statement")) {
			s := st.(map[string]any)
			actions := asList(s["Action"])
			if slices.Contains(actions, any("autoscaling:SuspendProcesses")) && slices.Contains(actions, any("autoscaling:ResumeProcesses")) {
				granted = reflectEqual(s["Resource"], ref(logicalID(t, b, b.stack.Fleet.Group.Node().DefaultChild()))) ||
					strings.Contains(show(s["Resource"]), logicalID(t, b, b.stack.Fleet.Group.Node().DefaultChild()))
			}
		}
		if !granted {
			t.Error("the service role cannot suspend and resume this group's processes")
		}
	})
}

// TestLoadBalancer5xxAlarm: the load balancer's own 5xx are alarmed on and notified, and stop a
// deployment of a fleet of two or more.
func TestLoadBalancer5xxAlarm(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		var found map[string]any
		var id string
		for k, a := range resourcesOfType(b, "AWS::CloudWatch::Alarm") {
			if at(a, "Properties", "MetricName") == "HTTPCode_ELB_5XX_Count" {
				found, id = a, k
			}
		}
		if found == nil {
			t.Fatal("no alarm on HTTPCode_ELB_5XX_Count")
		}
		expect(t, found, "Properties.Namespace", "AWS/ApplicationELB")
		expect(t, found, "Properties.Statistic", "Sum")
		expect(t, found, "Properties.Threshold", float64(b.stack.Env.Deployment.Alarms.ELB5xxCount))
		// It stops deployments, except where the fleet can be down to one instance: deploying to
		// that instance empties the target group, and its 503s would stop every deployment.
		group := resource(t, b, logicalID(t, b, b.stack.Deployment.Group.Node().DefaultChild()))
		attached := strings.Contains(show(at(group, "Properties", "AlarmConfiguration", "Alarms")), id)
		if want := b.stack.Env.MinCapacity >= 2; attached != want {
			t.Errorf("minCapacity %d: the ELB 5xx alarm stops deployments: %v, want %v", b.stack.Env.MinCapacity, attached, want)
		}
		notified := false
		for _, r := range resourcesOfType(b, "AWS::Events::Rule") {
			if strings.Contains(show(at(r, "Properties", "EventPattern")), id) {
				notified = true
			}
		}
		if !notified {
			t.Error("no rule forwards the ELB 5xx alarm's state changes to the notifications topic")
		}
	})
}

// TestDashboard: one dashboard per environment with the widgets an operator needs, and its URL
// as an output.
func TestDashboard(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		dashboards := resourcesOfType(b, "AWS::CloudWatch::Dashboard")
		if len(dashboards) != 1 {
			t.Fatalf("%d dashboards, want 1", len(dashboards))
		}
		var body string
		for _, d := range dashboards {
			body = show(at(d, "Properties", "DashboardBody"))
		}
		for _, metric := range []string{"MatchedEvents", "HealthyHostCount", "UnHealthyHostCount", "HTTPCode_ELB_5XX_Count",
			"HTTPCode_Target_5XX_Count", "TargetResponseTime", "p99", "GroupInServiceInstances", "GroupDesiredCapacity"} {
			if !strings.Contains(body, metric) {
				t.Errorf("dashboard lacks %s", metric)
			}
		}
		url, _ := at(b.json, "Outputs", "DashboardURL", "Value").(string)
		if !strings.HasPrefix(url, "https://"+b.stack.Env.Region+".console.aws.amazon.com/cloudwatch/") {
			t.Errorf("DashboardURL output %q", url)
		}
		// The group metrics exist only while the group collects them.
		group := resource(t, b, logicalID(t, b, b.stack.Fleet.Group.Node().DefaultChild()))
		for _, metric := range []string{"GroupInServiceInstances", "GroupDesiredCapacity"} {
			if !strings.Contains(show(at(group, "Properties", "MetricsCollection")), metric) {
				t.Errorf("the Auto Scaling group does not collect %s", metric)
			}
		}
	})
}

// TestSingleInstanceWarning: a fleet that can be down to one instance drops every request while
// it deploys; synthesis says so.
func TestSingleInstanceWarning(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		warned := len(find(b.messages, "warning", `^minCapacity 1: .* Set minCapacity to at least 2`)) > 0
		if want := b.stack.Env.MinCapacity == 1; warned != want {
			t.Errorf("minCapacity %d: warned %v, want %v", b.stack.Env.MinCapacity, warned, want)
		}
	})
}

// TestNotificationsOnlyFromOwnRules: EventBridge may publish to the topic only for this
// environment's rules in this account, and use the key only for this topic.
func TestNotificationsOnlyFromOwnRules(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		rules := map[string]bool{}
		for id, r := range resourcesOfType(b, "AWS::Events::Rule") {
			if strings.Contains(show(at(r, "Properties", "Targets")), logicalID(t, b, b.stack.Notifications.Topic.Node().DefaultChild())) {
				rules[id] = true
			}
		}
		if len(rules) == 0 {
			t.Fatal("no rule targets the topic")
		}
		check := func(what string, statementsOf []any) {
			covered := map[string]bool{}
			for _, st := range statementsOf {
				s := st.(map[string]any)
				if !strings.Contains(show(s["Principal"]), "events.amazonaws.com") {
					continue
				}
				cond, _ := s["Condition"].(map[string]any)
				account := at(cond, "StringEquals", "aws:SourceAccount")
				source := at(cond, "ArnEquals", "aws:SourceArn")
				if account == nil || source == nil {
					t.Errorf("%s: statement %v allows EventBridge without aws:SourceAccount and aws:SourceArn", what, s["Sid"])
					continue
				}
				if account != b.stack.Env.Account {
					t.Errorf("%s: aws:SourceAccount %s", what, show(account))
				}
				for id := range rules {
					if reflectEqual(source, getAtt(id, "Arn")) {
						covered[id] = true
					}
				}
			}
			for id := range rules {
				if !covered[id] {
					t.Errorf("%s: rule %s cannot publish", what, id)
				}
			}
		}
		topicPolicies := resourcesOfType(b, "AWS::SNS::TopicPolicy")
		var topicStatements []any
		for _, p := range topicPolicies {
			topicStatements = append(topicStatements, asList(at(p, "Properties", "PolicyDocument", "Statement"))...)
		}
		check("topic policy", topicStatements)
		// The key: EventBridge, for this topic only (source conditions are not supported there).
		key := resource(t, b, logicalID(t, b, b.stack.Notifications.Key.Node().DefaultChild()))
		topicArn := fmt.Sprintf("arn:aws:sns:%s:%s:%s-notifications", b.stack.Env.Region, b.stack.Env.Account, *b.stack.StackName())
		events := 0
		for _, st := range asList(at(key, "Properties", "KeyPolicy", "Statement")) {
			if !strings.Contains(show(at(st, "Principal")), "events.amazonaws.com") {
				continue
			}
			events++
			if want := map[string]any{"StringEquals": map[string]any{"kms:EncryptionContext:aws:sns:topicArn": topicArn}}; !reflectEqual(at(st, "Condition"), want) {
				t.Errorf("key policy statement for EventBridge has condition %s, want %s", show(at(st, "Condition")), show(want))
			}
		}
		if events != 1 {
			t.Errorf("%d key policy statements for EventBridge, want 1", events)
		}
	})
}

// TestConnectionActionMatchesTheARN: the pipeline's source action may use the connection with
// the IAM prefix of its ARN (codeconnections for connections made since mid-2024).
func TestConnectionActionMatchesTheARN(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:codeconnections:eu-west-1:444444444444:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789":      "codeconnections:UseConnection",
		"arn:aws:codestar-connections:eu-west-1:444444444444:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789": "codestar-connections:UseConnection",
	} {
		if got := stacks.ConnectionAction(arn); got != want {
			t.Errorf("ConnectionAction(%s) = %s, want %s", arn, got, want)
		}
	}
	if pipelineJSON == nil {
		t.Fatal("the fixture has no pipeline")
	}
	arn := fixtureConfig.Pipeline.ConnectionARN
	// The fixture's connection is an AWS CodeConnections one.
	want := "codeconnections:UseConnection"
	if !strings.HasPrefix(arn, "arn:aws:codeconnections:") {
		t.Fatalf("the fixture's connection %s is not a codeconnections ARN; this test expects one", arn)
	}
	granted := false
	for _, r := range pipelineJSON["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] != "AWS::IAM::Policy" {
			continue
		}
		for _, st := range asList(at(res, "Properties", "PolicyDocument", "Statement")) {
			s := st.(map[string]any)
			if slices.Contains(asList(s["Action"]), any(want)) && s["Resource"] == arn {
				granted = true
			}
		}
	}
	if !granted {
		t.Errorf("no pipeline policy grants %s on %s", want, arn)
	}
}

// TestNothingLeftBehind: deleting a destroy: true environment deletes every resource, and a
// retained environment's log groups and keys are retained except when its creation fails (but
// the protection handler's, whose account of that rollback an operator reads next); every log
// group keeps the environment's retention.
func TestNothingLeftBehind(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		env := b.stack.Env
		guardLogs := logicalID(t, b, b.stack.Protection.Function.LogGroup())
		for id, r := range b.json["Resources"].(map[string]any) {
			res := r.(map[string]any)
			typ := res["Type"].(string)
			deletion, _ := res["DeletionPolicy"].(string)
			replace, _ := res["UpdateReplacePolicy"].(string)
			if env.Destroy {
				if deletion == "Retain" || deletion == "RetainExceptOnCreate" || deletion == "Snapshot" || replace == "Retain" || replace == "Snapshot" {
					t.Errorf("%s (%s): DeletionPolicy %q, UpdateReplacePolicy %q in a destroy: true environment", id, typ, deletion, replace)
				}
			}
			switch typ {
			case "AWS::Logs::LogGroup":
				if days := at(res, "Properties", "RetentionInDays"); days != float64(env.LogRetentionDays) {
					t.Errorf("%s keeps logs %v days, want logRetentionDays %d", id, days, env.LogRetentionDays)
				}
				if id == guardLogs {
					break // TestFailedCreateCanRollBack
				}
				if !env.Destroy && (deletion != "RetainExceptOnCreate" || replace != "Retain") {
					t.Errorf("%s: DeletionPolicy %q, UpdateReplacePolicy %q; want RetainExceptOnCreate and Retain", id, deletion, replace)
				}
			case "AWS::KMS::Key":
				if !env.Destroy && deletion != "RetainExceptOnCreate" {
					t.Errorf("%s: DeletionPolicy %q; want RetainExceptOnCreate", id, deletion)
				}
			case "Custom::LogRetention":
				t.Errorf("%s: a Custom::LogRetention resource; log groups are resources of the stack", id)
			}
		}
	})
}

// TestFailedCreateCanRollBack: a retained environment is protected from deletion, yet a failed
// first create rolls back completely (nothing protected in the template for the rollback to trip
// on) and leaves a stack the next `cdk deploy` can delete and create again: the stack's protection
// resource is created before, and deleted after, every other resource; the load balancer's is
// deleted before the load balancer. A throwaway environment (destroy: true) has the same guard,
// which lifts both protections: switching destroy on and deploying leaves nothing that stops
// `cdk destroy`. The fixture's environments are the pipeline's stage stacks, so this also shows
// stacks deployed by CDK Pipelines (which ignores terminationProtection) protected.
func TestFailedCreateCanRollBack(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		env := b.stack.Env
		alb := resource(t, b, logicalID(t, b, b.stack.Fleet.LoadBalancer))
		for _, a := range asList(at(alb, "Properties", "LoadBalancerAttributes")) {
			if at(a, "Key") == "deletion_protection.enabled" {
				t.Errorf("the template sets the load balancer's deletion protection (%v): a failed create could not delete it", at(a, "Value"))
			}
		}
		if got := *b.stack.TerminationProtection(); got == env.Destroy {
			t.Errorf("stack termination protection %v for destroy: %v", got, env.Destroy)
		}
		stackGuards := resourcesOfType(b, "Custom::StackProtection")
		lbGuards := resourcesOfType(b, "Custom::LoadBalancerProtection")
		if len(stackGuards) != 1 || len(lbGuards) != 1 {
			t.Fatalf("%d stack and %d load balancer protection resources, want 1 each", len(stackGuards), len(lbGuards))
		}
		g := b.stack.Protection
		stackGuard := logicalID(t, b, g.Stack)
		lbGuard := resource(t, b, logicalID(t, b, g.LoadBalancer))
		want := fmt.Sprint(!env.Destroy)
		for _, r := range []map[string]any{resource(t, b, stackGuard), lbGuard} {
			if got := at(r, "Properties", "Protect"); got != want {
				t.Errorf("%s: Protect %v, want %q for destroy: %v", at(r, "Type"), got, want, env.Destroy)
			}
			// Minutes, not CloudFormation's default hour: a handler that cannot start must not
			// hold a failed create's rollback for an hour.
			if got := at(r, "Properties", "ServiceTimeout"); fmt.Sprint(got) != "300" {
				t.Errorf("%s: ServiceTimeout %s, want 300", at(r, "Type"), show(got))
			}
		}
		// What the stack's protection resource needs to exist: the handler, and nothing else.
		own := map[string]bool{stackGuard: true}
		for _, c := range []constructs.IConstruct{g.Function, g.Function.Role(), g.Function.LogGroup()} {
			own[logicalID(t, b, c)] = true
		}
		own[logicalID(t, b, g.Function.Role().Node().FindChild(jsii.String("DefaultPolicy")))] = true
		for id, r := range b.json["Resources"].(map[string]any) {
			deps := asList(at(r, "DependsOn"))
			if own[id] {
				for _, d := range deps {
					if !own[d.(string)] {
						t.Errorf("%s, which the stack's protection needs, waits for %v", id, d)
					}
				}
				continue
			}
			if !slices.Contains(deps, any(stackGuard)) {
				t.Errorf("%s (%v) does not depend on %s: a failed create could delete the protection first", id, at(r, "Type"), stackGuard)
			}
		}
		if !reflectEqual(at(lbGuard, "Properties", "LoadBalancerArn"), ref(logicalID(t, b, b.stack.Fleet.LoadBalancer))) {
			t.Errorf("the load balancer's protection names %s", show(at(lbGuard, "Properties", "LoadBalancerArn")))
		}
		// The handler's log group outlives a failed create's rollback (what the handler could not
		// do is what an operator reads next), and goes with a throwaway environment.
		logGroup := resource(t, b, logicalID(t, b, g.Function.LogGroup()))
		if want := map[bool]string{false: "Retain", true: "Delete"}[env.Destroy]; at(logGroup, "DeletionPolicy") != want {
			t.Errorf("the protection handler's log group: DeletionPolicy %v, want %s", at(logGroup, "DeletionPolicy"), want)
		}
		// The load balancer carries the tags the handler's permission asks for.
		tags := map[string]string{}
		for _, tag := range asList(at(alb, "Properties", "Tags")) {
			tags[fmt.Sprint(at(tag, "Key"))] = fmt.Sprint(at(tag, "Value"))
		}
		// The handler may switch exactly these, on this stack, and on the load balancers that carry
		// this stack's tags: the current one, and one it replaced, whose ARN it no longer names.
		for _, p := range resourcesOfType(b, "AWS::IAM::Policy") {
			roles := show(at(p, "Properties", "Roles"))
			if !strings.Contains(roles, logicalID(t, b, g.Function.Role())) {
				continue
			}
			for _, st := range asList(at(p, "Properties", "PolicyDocument", "Statement")) {
				for _, a := range asList(at(st, "Action")) {
					res := show(at(st, "Resource"))
					switch a {
					case "cloudformation:DescribeStacks", "cloudformation:ListStackResources", "cloudformation:UpdateTerminationProtection":
						if res != fmt.Sprintf("%q", fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/*", env.Region, env.Account, *b.stack.StackName())) {
							t.Errorf("%s on %s", a, res)
						}
					case "elasticloadbalancing:ModifyLoadBalancerAttributes":
						if !strings.Contains(res, fmt.Sprintf(":elasticloadbalancing:%s:%s:loadbalancer/app/*", env.Region, env.Account)) {
							t.Errorf("%s on %s", a, res)
						}
						equals, _ := at(st, "Condition", "StringEquals").(map[string]any)
						if len(equals) != 2 || equals["aws:ResourceTag/App"] != tags["App"] || equals["aws:ResourceTag/Environment"] != tags["Environment"] ||
							tags["Environment"] != env.Name {
							t.Errorf("%s on load balancers tagged %v; the load balancer is tagged %v", a, equals, tags)
						}
					case "logs:CreateLogStream", "logs:PutLogEvents":
					default:
						t.Errorf("the protection handler may %s", a)
					}
				}
			}
		}
	})
}

// TestDocumentedExampleIsWhatWeRecommend: the "Adding an environment" example of docs/configuration.md, added to a
// copy of the shipped configuration (the fixture), passes every assertion of the suite and
// synthesizes without a warning: what the documentation shows is what we recommend.
func TestDocumentedExampleIsWhatWeRecommend(t *testing.T) {
	found := false
	forEachFixture(t, func(t *testing.T, b *built) {
		if b.stack.Env.Name != exampleEnvironment {
			return
		}
		found = true
		for _, m := range find(b.messages, "warning", "") {
			t.Errorf("the documented example warns at %s: %s", m.path, m.text)
		}
	})
	if !found {
		t.Errorf("the documented example environment %q was not synthesized", exampleEnvironment)
	}
}
