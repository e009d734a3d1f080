// Package deploygroup defines the CodeDeploy application and server deployment group that roll
// revisions out to an Auto Scaling group behind an ALB target group: explicit rollout policy,
// automatic rollback, alarms, the termination hook, traffic control, and a least-privilege
// service role instead of the managed AWSCodeDeployRole.
package deploygroup

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Rollout is the deployment configuration.
type Rollout struct {
	// HalfAtATime uses CodeDeployDefault.HalfAtATime. Default: false (CodeDeployDefault.OneAtATime).
	HalfAtATime bool
	// MinimumHealthyHosts, when set, defines a custom configuration instead: a count or a
	// percentage of the fleet that stays in service. Default: nil.
	MinimumHealthyHosts awscodedeploy.MinimumHealthyHosts
	// Zonal, with MinimumHealthyHosts, makes the custom configuration zonal: one Availability
	// Zone at a time, each watched for a monitor duration before the next (no predefined
	// configuration is zonal). Default: nil.
	Zonal *awscodedeploy.ZonalConfig
}

// Alarms are the thresholds of the alarms that stop and roll back a deployment.
type Alarms struct {
	// Target5xxCount is the number of 5xx responses from targets in a minute. Default: 5.
	Target5xxCount int
	// UnhealthyHosts is the number of unhealthy targets. Default: 1.
	UnhealthyHosts int
	// ELB5xxCount is the number of 5xx responses the load balancer itself sends in a minute.
	// Default: 5.
	ELB5xxCount int
	// ELB5xxNotifyOnly keeps the load balancer's 5xx alarm off the deployment group: for a fleet
	// that can be down to one instance, whose every deployment takes the load balancer's only
	// target away, so 503s are the deployment's nature, not a bad revision's. Default: false
	// (it stops and rolls back deployments like the others).
	ELB5xxNotifyOnly bool
	// P99Latency adds an alarm on the targets' p99 response time when above zero. Default: 0 (off).
	P99Latency time.Duration
	// Period, DatapointsToAlarm and EvaluationPeriods time every alarm: it goes to ALARM when
	// DatapointsToAlarm of the last EvaluationPeriods periods breach. Default: 1 minute, 2 of 3.
	Period                               time.Duration
	DatapointsToAlarm, EvaluationPeriods int
}

// Props configures a deployment group. Every field without a default is required.
type Props struct {
	// ApplicationName and DeploymentGroupName are explicit so the group's ARN is known at
	// synthesis: the service role's trust condition and the instance role name it without
	// creating a dependency cycle.
	ApplicationName, DeploymentGroupName string
	// Group is the Auto Scaling group deployed to.
	Group awsautoscaling.AutoScalingGroup
	// LaunchTemplate and InstanceRole are what Auto Scaling launches with; CodeDeploy needs to be
	// allowed to launch with them (ec2:RunInstances, iam:PassRole).
	LaunchTemplate awsec2.ILaunchTemplate
	InstanceRole   awsiam.IRole
	// Subnets and SecurityGroups the instances are launched into.
	Subnets        []awsec2.ISubnet
	SecurityGroups []awsec2.ISecurityGroup
	// TargetGroup CodeDeploy deregisters each instance from while it deploys to it.
	TargetGroup awselasticloadbalancingv2.ApplicationTargetGroup
	// LoadBalancer in front of TargetGroup: its own 5xx responses are alarmed on.
	LoadBalancer awselasticloadbalancingv2.IApplicationLoadBalancer
	// Rollout policy. Default: CodeDeployDefault.OneAtATime.
	Rollout Rollout
	// Alarms thresholds. Default: see Alarms.
	Alarms Alarms
	// SuspendProcesses are the Auto Scaling processes CodeDeploy suspends while it deploys
	// (Terminate, AZRebalance, InstanceRefresh, ScheduledActions). Default: none.
	SuspendProcesses []string
}

// DeploymentGroup is the application, the group, its alarms and its service role.
type DeploymentGroup struct {
	constructs.Construct
	Application awscodedeploy.ServerApplication
	Group       awscodedeploy.ServerDeploymentGroup
	Config      awscodedeploy.IServerDeploymentConfig
	// Alarms are every alarm of the group, for notifications and dashboards; Gates those attached
	// to it, which stop and roll back a deployment.
	Alarms, Gates []awscloudwatch.Alarm
	Role          awsiam.Role
	// Policy holds the service role's permissions; the group depends on it.
	Policy awsiam.Policy
	arn    string
	names  [2]string // application, deployment group
}

// New defines the deployment group.
func New(scope constructs.Construct, id string, props Props) *DeploymentGroup {
	p := withDefaults(id, props)
	d := &DeploymentGroup{names: [2]string{p.ApplicationName, p.DeploymentGroupName}}
	// Override makes the Go struct itself the construct, so it can be a scope for others.
	constructs.NewConstruct_Override(d, scope, jsii.String(id))
	stack := awscdk.Stack_Of(d)
	d.arn = *stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("codedeploy"), Resource: jsii.String("deploymentgroup"),
		ResourceName: jsii.String(p.ApplicationName + "/" + p.DeploymentGroupName), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
	applicationGroups := stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("codedeploy"), Resource: jsii.String("deploymentgroup"),
		ResourceName: jsii.String(p.ApplicationName + "/*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})

	d.Application = awscodedeploy.NewServerApplication(d, jsii.String("Application"), &awscodedeploy.ServerApplicationProps{
		ApplicationName: jsii.String(p.ApplicationName),
	})
	d.Config = deploymentConfig(d, p.Rollout)
	d.Alarms, d.Gates = d.defineAlarms(p)

	d.Role = awsiam.NewRole(d, jsii.String("ServiceRole"), &awsiam.RoleProps{
		Description: jsii.String("CodeDeploy in-place deployments to " + p.ApplicationName + "/" + p.DeploymentGroupName),
		// Confused-deputy protection: only CodeDeploy acting for this account's deployment
		// groups of this application may assume the role.
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("codedeploy.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
				"ArnLike":      map[string]any{"aws:SourceArn": applicationGroups},
			},
		}),
	})
	d.Policy = awsiam.NewPolicy(d, jsii.String("ServicePolicy"), &awsiam.PolicyProps{
		Statements: d.serviceStatements(p),
	})
	d.Policy.AttachToRole(d.Role)
	cdknag.NagSuppressions_AddResourceSuppressions(d.Policy, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Describe* and tag:GetResources support no resource-level permissions. ec2:RunInstances " +
			"and ec2:CreateTags name instances, volumes and network interfaces that do not exist yet and an AMI resolved " +
			"at deploy time, all limited to this account and region; CreateTags only as part of RunInstances. The " +
			"autoscaling ARN's wildcard is the group's UUID, which CloudFormation does not expose."),
		AppliesTo: &[]any{
			"Resource::*",
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:[a-z<>:-]+:ec2:[a-z0-9-]+:(\d{12})?:(instance|volume|network-interface|image)\/\*$/`)},
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:[a-z<>:-]+:autoscaling:[a-z0-9-]+:\d{12}:autoScalingGroup:\*:autoScalingGroupName\/<[A-Za-z0-9]+>$/`)},
		},
	}}, jsii.Bool(true))

	loadBalancer := awscodedeploy.LoadBalancer_Application(p.TargetGroup)
	alarms := make([]interfacesawscloudwatch.IAlarmRef, len(d.Gates))
	for i, a := range d.Gates {
		alarms[i] = a
	}
	d.Group = awscodedeploy.NewServerDeploymentGroup(d, jsii.String("Default"), &awscodedeploy.ServerDeploymentGroupProps{
		Application:         d.Application,
		DeploymentGroupName: jsii.String(p.DeploymentGroupName),
		// Immutable to the L2: it attaches the managed AWSCodeDeployRole (40 actions on "*") to
		// any role it may change. The inline policy above is all the role gets.
		Role:              d.Role.WithoutPolicyUpdates(nil),
		AutoScalingGroups: &[]awsautoscaling.IAutoScalingGroup{p.Group},
		// Written explicitly: the L2 leaves DeploymentConfigName out otherwise, and the rollout
		// policy is too important to be an implicit service default.
		DeploymentConfig: d.Config,
		// The fleet's user data installs and starts the agent; the L2's script has broken on new
		// distributions before.
		InstallAgent: jsii.Bool(false),
		// Traffic control: CodeDeploy deregisters an instance from the target group before
		// ApplicationStop and registers it again after ValidateService.
		LoadBalancers: &[]awscodedeploy.LoadBalancer{loadBalancer},
		Alarms:        &alarms,
		// If CloudWatch cannot be polled, the deployment stops: deploying blind is worse than
		// retrying later.
		IgnorePollAlarmsFailure: jsii.Bool(false),
		AutoRollback: &awscodedeploy.AutoRollbackConfig{
			FailedDeployment:  jsii.Bool(true),
			StoppedDeployment: jsii.Bool(true),
			DeploymentInAlarm: jsii.Bool(true),
		},
		// On scale-in, CodeDeploy runs a termination deployment (BlockTraffic, ApplicationStop from
		// the last successful revision) before the instance is terminated.
		TerminationHook: jsii.Bool(true),
	})
	cfn := d.Group.Node().DefaultChild().(awscodedeploy.CfnDeploymentGroup)
	// Instances launched while a deployment runs get the last successful revision from the
	// launch hook; UPDATE then deploys the new revision to them in a follow-up deployment, so no
	// instance is left on the old version (IGNORE would leave them until the next deployment).
	cfn.SetOutdatedInstancesStrategy(jsii.String("UPDATE"))
	// Auto Scaling must not pull instances out from under a deployment: CodeDeploy suspends these
	// processes before it deploys and resumes them when the deployment succeeds, fails or is
	// stopped (CodeDeploy user guide, "Suspending Amazon EC2 Auto Scaling processes during
	// deployments"; API reference, EC2DeploymentOptions). Terminate is suspended by default too: a
	// scale-in during a deployment starts a termination deployment that fails the running one
	// (and its automatic rollback undoes a good release), and a health-check replacement would
	// terminate an instance CodeDeploy is updating. The price is that the group neither scales in
	// nor replaces an unhealthy instance until the deployment ends (Auto Scaling user guide:
	// suspending Terminate affects InService instances only; an instance already terminating goes
	// on through the termination hook). If CodeDeploy cannot resume the processes, the deployment
	// fails and they stay suspended until `aws autoscaling resume-processes` (see the README).
	if len(p.SuspendProcesses) > 0 {
		cfn.SetEc2DeploymentOptions(&awscodedeploy.CfnDeploymentGroup_Ec2DeploymentOptionsProperty{
			AutoScalingGroupProcessesToSuspend: jsii.Strings(p.SuspendProcesses...),
		})
		// Synthesis's built-in template validation (cfn-lint) ships a resource schema older than
		// the property, which CloudFormation documents (AWS::CodeDeploy::DeploymentGroup
		// Ec2DeploymentOptions) and this CDK's L1 generates. Acknowledged on this resource alone.
		awscdk.Validations_Of(cfn).Acknowledge(&awscdk.Acknowledgment{
			Id: jsii.String("CloudFormation-Validate::F3002"),
			Reason: jsii.String("Ec2DeploymentOptions is a documented AWS::CodeDeploy::DeploymentGroup property that the " +
				"bundled validator's schema predates"),
		})
	}
	// CodeDeploy must never see the role without its permissions.
	d.Group.Node().AddDependency(d.Policy)
	return d
}

// EventPattern matches CodeDeploy's EventBridge events of this deployment group: detailType is
// e.g. "CodeDeploy Deployment State-change Notification", states e.g. "FAILURE".
func (d *DeploymentGroup) EventPattern(detailType string, states ...string) *awsevents.EventPattern {
	return &awsevents.EventPattern{
		Source:     jsii.Strings("aws.codedeploy"),
		DetailType: jsii.Strings(detailType),
		Detail: &map[string]any{
			"application":     []any{d.names[0]},
			"deploymentGroup": []any{d.names[1]},
			"state":           states,
		},
	}
}

// Arn is the deployment group's ARN, built from its names (no reference, so no dependency).
func (d *DeploymentGroup) Arn() *string { return jsii.String(d.arn) }

// GrantGetDeployment lets grantee read this group's deployments (codedeploy:GetDeployment): the
// stop script asks who created the running deployment to recognise a scale-in termination.
func (d *DeploymentGroup) GrantGetDeployment(grantee awsiam.IGrantable) awsiam.Grant {
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("codedeploy:GetDeployment"),
		ResourceArns: jsii.Strings(d.arn),
	})
}

func deploymentConfig(scope constructs.Construct, r Rollout) awscodedeploy.IServerDeploymentConfig {
	switch {
	case r.MinimumHealthyHosts != nil:
		// The name is left to CloudFormation: a zonal configuration cannot be updated in place
		// (its properties require replacement), and a generated name lets the new one be created
		// before the old is deleted.
		return awscodedeploy.NewServerDeploymentConfig(scope, jsii.String("Config"), &awscodedeploy.ServerDeploymentConfigProps{
			MinimumHealthyHosts: r.MinimumHealthyHosts,
			ZonalConfig:         r.Zonal,
		})
	case r.Zonal != nil:
		panic("deploygroup: a zonal Rollout needs MinimumHealthyHosts (no predefined configuration is zonal)")
	case r.HalfAtATime:
		return awscodedeploy.ServerDeploymentConfig_HALF_AT_A_TIME()
	default:
		return awscodedeploy.ServerDeploymentConfig_ONE_AT_A_TIME()
	}
}

// defineAlarms defines the group's alarms: all of them, and the gates among them, which stop
// and roll back a deployment. Each looks at a period at a time and needs DatapointsToAlarm bad
// periods out of EvaluationPeriods, so one stray error does not roll back a good revision.
func (d *DeploymentGroup) defineAlarms(p Props) (all, gates []awscloudwatch.Alarm) {
	name := p.ApplicationName + "-" + p.DeploymentGroupName
	period := awscdk.Duration_Seconds(jsii.Number(p.Alarms.Period.Seconds()))
	metrics := p.TargetGroup.Metrics()
	add := func(id, suffix, description string, metric awscloudwatch.IMetric, threshold float64, gate bool) {
		effect := " Attached to the deployment group: stops and rolls back a deployment."
		if !gate {
			effect = " Notifies only: every deployment of a one-instance fleet takes its only target out of service."
		}
		a := awscloudwatch.NewAlarm(d, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(name + "-" + suffix),
			AlarmDescription:   jsii.String(description + effect),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			EvaluationPeriods:  jsii.Number(float64(p.Alarms.EvaluationPeriods)),
			DatapointsToAlarm:  jsii.Number(float64(p.Alarms.DatapointsToAlarm)),
			// No requests means no errors: a quiet site must not block deployments.
			TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		all = append(all, a)
		if gate {
			gates = append(gates, a)
		}
	}
	add("Target5xx", "target-5xx", "HTTP 5xx responses from the fleet.",
		metrics.HttpCodeTarget(awselasticloadbalancingv2.HttpCodeTarget_TARGET_5XX_COUNT,
			&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum")}),
		float64(p.Alarms.Target5xxCount), true)
	add("UnhealthyHosts", "unhealthy-hosts", "Instances failing the target group health check.",
		metrics.UnhealthyHostCount(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Maximum")}),
		float64(p.Alarms.UnhealthyHosts), true)
	// The load balancer's own 5xx: 502 when an instance closes or resets a connection, 503 when no
	// instance is in service, 504 when one times out. Target5xx cannot see these, yet they are what
	// a revision whose web server crashes or stops listening produces. It notifies (the
	// notifications topic forwards every deployment alarm) and, attached like the others, stops
	// and rolls back a deployment: during a rollout these errors are the rollout's. A first or
	// restoring deployment runs with alarms off (see package deployer), so an empty fleet's 503s
	// cannot stop the deployment that fills it. For a fleet that can be down to one instance it
	// only notifies (Alarms.ELB5xxNotifyOnly): deploying to its only instance empties the target
	// group, and the 503s that follow would stop every deployment.
	add("Elb5xx", "elb-5xx", "HTTP 5xx responses from the load balancer itself (no healthy instance, connection errors, timeouts).",
		p.LoadBalancer.Metrics().HttpCodeElb(awselasticloadbalancingv2.HttpCodeElb_ELB_5XX_COUNT,
			&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum")}),
		float64(p.Alarms.ELB5xxCount), !p.Alarms.ELB5xxNotifyOnly)
	if p.Alarms.P99Latency > 0 {
		add("P99Latency", "p99-latency", "Slow responses (p99) from the fleet.",
			metrics.TargetResponseTime(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("p99")}),
			p.Alarms.P99Latency.Seconds(), true)
	}
	return all, gates
}

// serviceStatements is everything CodeDeploy needs for in-place deployments to this group with
// traffic control, alarms and the termination hook, scoped to this group's resources wherever
// AWS supports resource-level permissions. The README explains each statement.
func (d *DeploymentGroup) serviceStatements(p Props) *[]awsiam.PolicyStatement {
	stack := awscdk.Stack_Of(d)
	ec2Arn := func(resource string) *string {
		return stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String(resource), ResourceName: jsii.String("*")})
	}
	var subnets, groups []*string
	for _, s := range p.Subnets {
		subnets = append(subnets, stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("subnet"), ResourceName: s.SubnetId()}))
	}
	for _, g := range p.SecurityGroups {
		groups = append(groups, stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("security-group"), ResourceName: g.SecurityGroupId()}))
	}
	alarmArns := make([]*string, len(d.Gates))
	for i, a := range d.Gates {
		alarmArns[i] = a.AlarmArn()
	}
	statement := func(sid string, actions []string, resources []*string, conditions map[string]any) awsiam.PolicyStatement {
		props := &awsiam.PolicyStatementProps{Sid: jsii.String(sid), Actions: jsii.Strings(actions...), Resources: &resources}
		if conditions != nil {
			props.Conditions = &conditions
		}
		return awsiam.NewPolicyStatement(props)
	}

	statements := []awsiam.PolicyStatement{
		// Lifecycle hooks: CodeDeploy installs its launch and termination hooks on the group and
		// completes (or heartbeats) the lifecycle actions once it has deployed to an instance.
		// Suspend/ResumeProcesses are what suspending processes during a deployment needs (CodeDeploy
		// API reference, EC2DeploymentOptions). Tags and UpdateAutoScalingGroup are in
		// AWSCodeDeployRole for in-place deployments too; whether it calls them is unconfirmed, and on
		// this one group they cost little.
		statement("ManageThisAutoScalingGroup", []string{
			"autoscaling:PutLifecycleHook", "autoscaling:DeleteLifecycleHook",
			"autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat",
			"autoscaling:SuspendProcesses", "autoscaling:ResumeProcesses",
			"autoscaling:CreateOrUpdateTags", "autoscaling:UpdateAutoScalingGroup",
		}, []*string{p.Group.AutoScalingGroupArn()}, nil),
		// Traffic control on this target group only.
		statement("TrafficControl", []string{
			"elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets",
		}, []*string{p.TargetGroup.TargetGroupArn()}, nil),
		statement("ReadDeploymentAlarms", []string{"cloudwatch:DescribeAlarms"}, alarmArns, nil),
		// Auto Scaling launches with a launch template under the caller's permissions when
		// CodeDeploy updates the group (CodeDeploy user guide: RunInstances, CreateTags, PassRole).
		// Scoped to this template, subnets and security groups; the AMI comes from an SSM
		// parameter at deploy time and new instances, volumes and interfaces have no IDs yet.
		statement("LaunchWithThisTemplate", []string{"ec2:RunInstances"}, append(append([]*string{
			stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("launch-template"), ResourceName: p.LaunchTemplate.LaunchTemplateId()}),
			stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Account: jsii.String(""), Resource: jsii.String("image"), ResourceName: jsii.String("*")}),
			ec2Arn("instance"), ec2Arn("volume"), ec2Arn("network-interface"),
		}, subnets...), groups...), nil),
		statement("TagAtLaunchOnly", []string{"ec2:CreateTags"},
			[]*string{ec2Arn("instance"), ec2Arn("volume"), ec2Arn("network-interface")},
			map[string]any{"StringEquals": map[string]any{"ec2:CreateAction": "RunInstances"}}),
		statement("PassTheInstanceRoleToEc2", []string{"iam:PassRole"}, []*string{p.InstanceRole.RoleArn()},
			map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ec2.amazonaws.com"}}),
		// Discovery: none of these actions supports resource-level permissions, so "*" is the
		// only resource they accept (Service Authorization Reference).
		statement("DiscoverFleetState", []string{
			"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeLifecycleHooks", "autoscaling:DescribeScalingActivities",
			"ec2:DescribeInstances", "ec2:DescribeInstanceStatus", "tag:GetResources",
			"elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes",
			"elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeLoadBalancers",
			"elasticloadbalancing:DescribeLoadBalancerAttributes",
		}, []*string{jsii.String("*")}, nil),
	}
	return &statements
}

func withDefaults(id string, p Props) Props {
	if p.ApplicationName == "" || p.DeploymentGroupName == "" || p.Group == nil || p.LaunchTemplate == nil ||
		p.InstanceRole == nil || p.TargetGroup == nil || p.LoadBalancer == nil || len(p.Subnets) == 0 || len(p.SecurityGroups) == 0 {
		panic(fmt.Sprintf("deploygroup.New(%s): ApplicationName, DeploymentGroupName, Group, LaunchTemplate, "+
			"InstanceRole, TargetGroup, LoadBalancer, Subnets and SecurityGroups are required", id))
	}
	if p.Alarms.Target5xxCount == 0 {
		p.Alarms.Target5xxCount = 5
	}
	if p.Alarms.UnhealthyHosts == 0 {
		p.Alarms.UnhealthyHosts = 1
	}
	if p.Alarms.ELB5xxCount == 0 {
		p.Alarms.ELB5xxCount = 5
	}
	if p.Alarms.Period == 0 {
		p.Alarms.Period = time.Minute
	}
	if p.Alarms.DatapointsToAlarm == 0 {
		p.Alarms.DatapointsToAlarm = 2
	}
	if p.Alarms.EvaluationPeriods == 0 {
		p.Alarms.EvaluationPeriods = 3
	}
	if p.Alarms.Target5xxCount < 0 || p.Alarms.UnhealthyHosts < 0 || p.Alarms.ELB5xxCount < 0 || p.Alarms.P99Latency < 0 {
		panic(fmt.Sprintf("deploygroup.New(%s): alarm thresholds must be positive", id))
	}
	if p.Alarms.Period < 0 || p.Alarms.DatapointsToAlarm < 0 || p.Alarms.DatapointsToAlarm > p.Alarms.EvaluationPeriods {
		panic(fmt.Sprintf("deploygroup.New(%s): alarms need a positive period and DatapointsToAlarm of at most EvaluationPeriods", id))
	}
	return p
}
