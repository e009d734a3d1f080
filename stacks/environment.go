package stacks

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/example/codedeploy-fleet/config"
	"github.com/example/codedeploy-fleet/constructs/dashboard"
	"github.com/example/codedeploy-fleet/constructs/delivery"
	"github.com/example/codedeploy-fleet/constructs/deploygroup"
	"github.com/example/codedeploy-fleet/constructs/fleet"
	"github.com/example/codedeploy-fleet/constructs/guard"
	"github.com/example/codedeploy-fleet/constructs/logbucket"
	"github.com/example/codedeploy-fleet/constructs/network"
	"github.com/example/codedeploy-fleet/constructs/notifications"
	"github.com/example/codedeploy-fleet/constructs/removal"
	"github.com/example/codedeploy-fleet/constructs/revisionbucket"
)

// EnvironmentStack is everything one environment deploys.
type EnvironmentStack struct {
	awscdk.Stack
	Env       config.Environment
	Logs      awss3.Bucket
	Revisions *revisionbucket.Bucket
	Vpc       awsec2.IVpc
	Fleet     *fleet.Fleet
	// Notifications is the environment's operational topic.
	Notifications *notifications.Notifications
	Deployment    *deploygroup.DeploymentGroup
	Delivery      *delivery.Delivery
	Dashboard     *dashboard.Dashboard
	// Protection protects a retained environment, and lifts the protections of a throwaway one.
	Protection *guard.Guard
}

// NewEnvironmentStack defines the stack of env, bound to its account and region.
func NewEnvironmentStack(scope constructs.Construct, id, appName string, env config.Environment, opts Options) *EnvironmentStack {
	stack := awscdk.NewStack(scope, jsii.String(id), &awscdk.StackProps{
		// Explicit, so the stack has this name inside a pipeline stage too.
		StackName: jsii.String(id),
		Env: &awscdk.Environment{
			Account: jsii.String(env.Account),
			Region:  jsii.String(env.Region),
		},
		Description: jsii.String(fmt.Sprintf("%s %s: EC2 fleet deployed by CodeDeploy", appName, env.Name)),
		// A retained environment is one somebody depends on: deleting its stack takes a deliberate
		// step (turn protection off) first.
		TerminationProtection: jsii.Bool(!env.Destroy),
	})
	// The VPC checks its zones against the stack's, which for a stack bound to an account would
	// be looked up in that account. Configuration lists them, so synthesis asks no one: this is
	// the context entry `cdk context` would otherwise cache in cdk.context.json.
	zonesKey := fmt.Sprintf("availability-zones:account=%s:region=%s", env.Account, env.Region)
	stack.Node().SetContext(jsii.String(zonesKey), env.AvailabilityZones)
	tags := awscdk.Tags_Of(stack)
	// Which application and environment a resource is: every resource's tags, and what the
	// protection handler's permission asks a load balancer to carry.
	identity := map[string]string{"App": appName, "Environment": env.Name}
	for key, value := range identity {
		tags.Add(jsii.String(key), jsii.String(value), nil)
	}
	for key, value := range env.Tags {
		tags.Add(jsii.String(key), jsii.String(value), nil)
	}

	for _, a := range opts.Aspects {
		awscdk.Aspects_Of(stack).Add(a, nil)
	}
	s := &EnvironmentStack{Stack: stack, Env: env}
	s.Logs = logbucket.New(stack, "AccessLogs", logbucket.Props{
		ExpirationDays: env.LogRetentionDays,
		Destroy:        env.Destroy,
	})
	key := revisionKey(stack, env)
	s.Revisions = revisionbucket.New(stack, "Revisions", revisionbucket.Props{
		AccessLogs:     s.Logs,
		NoncurrentDays: env.RevisionRetentionDays,
		EncryptionKey:  key,
		Destroy:        env.Destroy,
	})
	awscdk.NewCfnOutput(stack, jsii.String("RevisionBucketName"), &awscdk.CfnOutputProps{
		Description: jsii.String("S3 bucket CodeDeploy pulls revisions from"),
		Value:       s.Revisions.Bucket.BucketName(),
	})

	s.Vpc = vpc(stack, env)
	if need := env.FirstDeploymentSeconds(); env.HealthCheckGraceSeconds < need {
		awscdk.Annotations_Of(stack).AddWarningV2(jsii.String("stacks:health-check-grace"), jsii.String(fmt.Sprintf(
			"healthCheckGraceSeconds %d is shorter than the ~%d s the first deployment needs to reach every instance: "+
				"the Auto Scaling group may replace instances that are still waiting for it. Raise it to at least %d.",
			env.HealthCheckGraceSeconds, need, need)), nil)
	}
	if env.MinCapacity == 1 {
		// Every deployment configuration takes at least one instance out of service at a time, and
		// traffic control deregisters it first: with one instance, the load balancer has nothing to
		// send requests to until it is registered again.
		awscdk.Annotations_Of(stack).AddWarningV2(jsii.String("stacks:single-instance-deployment"), jsii.String(
			"minCapacity 1: when the fleet is at one instance, every deployment deregisters that instance and the load "+
				"balancer answers every request with 503 until the deployment has re-registered it. Set minCapacity to at "+
				"least 2 for an environment that must stay up during deployments."), nil)
	}
	deregistration := time.Duration(env.LoadBalancer.DeregistrationDelaySeconds) * time.Second
	s.Fleet = fleet.New(stack, "Fleet", fleet.Props{
		Vpc:                 s.Vpc,
		AccessLogs:          s.Logs,
		LogGroupPrefix:      "/" + appName + "/" + env.Name,
		OS:                  fleet.OS(env.OS),
		InstanceType:        env.InstanceType,
		MinCapacity:         env.MinCapacity,
		MaxCapacity:         env.MaxCapacity,
		DesiredCapacity:     env.DesiredCapacity,
		DetailedMonitoring:  env.DetailedMonitoring,
		RootVolumeGiB:       env.RootVolumeGiB,
		CPUTargetPercent:    env.CPUTargetPercent,
		HealthCheckGrace:    time.Duration(env.HealthCheckGraceSeconds) * time.Second,
		AllowedCIDRs:        env.LoadBalancer.AllowedCIDRs,
		CertificateARN:      env.LoadBalancer.CertificateARN,
		HealthCheckPath:     env.LoadBalancer.HealthCheckPath,
		DeregistrationDelay: &deregistration,
		LogRetentionDays:    env.LogRetentionDays,
		Destroy:             env.Destroy,
	})
	s.Revisions.GrantRead(s.Fleet.Role)
	cdknag.NagSuppressions_AddResourceSuppressions(s.Fleet.Role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Instances read revisions by key, and keys are content-addressed, so unknown at " +
			"synthesis: the grant is read-only and limited to the revision prefix of this environment's bucket."),
		AppliesTo: &[]any{&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<Revisions[0-9A-F]{8}\.Arn>\/` + s.Revisions.Prefix + `\*$/`)}},
	}}, jsii.Bool(true))

	s.Notifications = notifications.New(stack, "Notifications", notifications.Props{
		Email:   env.NotificationEmail,
		Destroy: env.Destroy,
	})
	s.Notifications.Forward("ScalingFailures", "Auto Scaling launch and terminate failures of the fleet",
		&awsevents.EventPattern{
			Source:     jsii.Strings("aws.autoscaling"),
			DetailType: jsii.Strings("EC2 Instance Launch Unsuccessful", "EC2 Instance Terminate Unsuccessful"),
			Detail:     &map[string]any{"AutoScalingGroupName": []any{s.Fleet.Group.AutoScalingGroupName()}},
		})
	s.Deployment = deploygroup.New(stack, "Deployment", deploygroup.Props{
		ApplicationName:     id,
		DeploymentGroupName: id + "-fleet",
		Group:               s.Fleet.Group,
		LaunchTemplate:      s.Fleet.LaunchTemplate,
		InstanceRole:        s.Fleet.Role,
		Subnets:             s.Fleet.Subnets,
		SecurityGroups:      []awsec2.ISecurityGroup{s.Fleet.InstanceSecurityGroup},
		TargetGroup:         s.Fleet.TargetGroup,
		LoadBalancer:        s.Fleet.LoadBalancer,
		Rollout:             rollout(env),
		SuspendProcesses:    env.Deployment.SuspendProcesses,
		Alarms: deploygroup.Alarms{
			Target5xxCount: env.Deployment.Alarms.Target5xxCount,
			UnhealthyHosts: env.Deployment.Alarms.UnhealthyHosts,
			ELB5xxCount:    env.Deployment.Alarms.ELB5xxCount,
			// Warned about above: one instance means no target while it deploys.
			ELB5xxNotifyOnly:  env.MinCapacity < 2,
			P99Latency:        time.Duration(env.Deployment.Alarms.P99LatencySeconds * float64(time.Second)),
			Period:            config.AlarmPeriodSeconds * time.Second,
			DatapointsToAlarm: config.AlarmDatapointsToAlarm,
			EvaluationPeriods: config.AlarmEvaluationPeriods,
		},
	})
	warnUnwatched(stack, env)
	s.Deployment.GrantGetDeployment(s.Fleet.Role)
	// One rule per outcome: EventBridge counts each rule's matches, which is how the dashboard
	// shows deployment outcomes (CodeDeploy publishes no deployment metrics).
	outcomes := map[string]awsevents.IRule{}
	for _, o := range []struct{ label, state string }{{"Succeeded", "SUCCESS"}, {"Failed", "FAILURE"}, {"Stopped", "STOP"}} {
		outcomes[o.label] = s.Notifications.Forward("Deployment"+o.label, "CodeDeploy deployments of this environment that ended "+o.label,
			s.Deployment.EventPattern("CodeDeploy Deployment State-change Notification", o.state))
	}
	s.Notifications.Forward("InstanceFailures", "CodeDeploy instance failures of this environment",
		s.Deployment.EventPattern("CodeDeploy Instance State-change Notification", "FAILURE"))
	alarmNames := []any{}
	for _, a := range s.Deployment.Alarms {
		alarmNames = append(alarmNames, a.AlarmName())
	}
	s.Notifications.Forward("AlarmChanges", "Deployment alarms changing state", &awsevents.EventPattern{
		Source:     jsii.Strings("aws.cloudwatch"),
		DetailType: jsii.Strings("CloudWatch Alarm State Change"),
		Detail:     &map[string]any{"alarmName": alarmNames},
	})
	alarmRefs := make([]interfacesawscloudwatch.IAlarmRef, len(s.Deployment.Alarms))
	for i, a := range s.Deployment.Alarms {
		alarmRefs[i] = a
	}
	s.Dashboard = dashboard.New(stack, "Dashboard", dashboard.Props{
		Name: id, LoadBalancer: s.Fleet.LoadBalancer, TargetGroup: s.Fleet.TargetGroup, Group: s.Fleet.Group,
		Outcomes: outcomes, Alarms: alarmRefs,
	})
	awscdk.NewCfnOutput(stack, jsii.String("DashboardURL"), &awscdk.CfnOutputProps{
		Description: jsii.String("CloudWatch dashboard: deployment outcomes, healthy hosts, 5xx, p99 latency, in-service instances"),
		Value:       jsii.String(s.Dashboard.URL()),
	})
	awscdk.NewCfnOutput(stack, jsii.String("ApplicationName"), &awscdk.CfnOutputProps{
		Description: jsii.String("CodeDeploy application"),
		Value:       s.Deployment.Application.ApplicationName(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("DeploymentGroupName"), &awscdk.CfnOutputProps{
		Description: jsii.String("CodeDeploy deployment group"),
		Value:       s.Deployment.Group.DeploymentGroupName(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("NotificationsTopicArn"), &awscdk.CfnOutputProps{
		Description: jsii.String("SNS topic for deployment outcomes, instance failures, alarms and scaling failures"),
		Value:       s.Notifications.Topic.TopicArn(),
	})

	gates := make([]awscloudwatch.IAlarm, len(s.Deployment.Gates))
	for i, a := range s.Deployment.Gates {
		gates[i] = a
	}
	s.Delivery = delivery.New(stack, "Delivery", delivery.Props{
		RevisionDir:      opts.RevisionDir,
		ModuleRoot:       opts.ModuleRoot,
		Bucket:           s.Revisions.Bucket,
		Prefix:           s.Revisions.Prefix,
		KMSKey:           key,
		Application:      s.Deployment.Application,
		DeploymentGroup:  s.Deployment.Group,
		Config:           s.Deployment.Config,
		FirstConfig:      config.FirstDeploymentConfig,
		RestoreConfig:    config.RestoreDeploymentConfig,
		Deploy:           env.Delivery.DeployOnCdkDeploy,
		Bake:             time.Duration(env.Deployment.BakeSeconds) * time.Second,
		Alarms:           gates,
		Timeout:          time.Duration(env.Delivery.TimeoutMinutes) * time.Minute,
		RevisionsToKeep:  env.Delivery.RevisionsToKeep,
		LogRetentionDays: env.LogRetentionDays,
		Destroy:          env.Destroy,
		// The first deployment needs the instances, the target group's listener, the deployment
		// group and every permission in place.
		DependsOn: []constructs.IConstruct{s.Fleet, s.Deployment, s.Revisions},
	})
	// What fleetctl deploy watches after a deployment, as the resource above does.
	awscdk.NewCfnOutput(stack, jsii.String("GatingAlarmNames"), &awscdk.CfnOutputProps{
		Description: jsii.String("The alarms that stop a deployment, watched during the bake (comma-separated)"),
		Value:       s.Delivery.AlarmNames(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("MetricDelaySeconds"), &awscdk.CfnOutputProps{
		Description: jsii.String("The delay assumed before a load balancer metric reaches CloudWatch, in the time the alarms need to fire (deployment.alarms.metricDelaySeconds)"),
		Value:       jsii.String(strconv.Itoa(env.Deployment.Alarms.MetricDelaySeconds)),
	})
	awscdk.NewCfnOutput(stack, jsii.String("BakeSeconds"), &awscdk.CfnOutputProps{
		Description: jsii.String("How long a release is watched after its last instance (deployment.bakeSeconds)"),
		Value:       jsii.String(strconv.Itoa(env.Deployment.BakeSeconds)),
	})
	awscdk.NewCfnOutput(stack, jsii.String("RevisionObjectKey"), &awscdk.CfnOutputProps{
		Description: jsii.String("Object key of the revision this stack deployed"),
		Value:       jsii.String(s.Delivery.Key()),
	})

	// Termination protection (set above for `cdk deploy`, here for the pipeline too) and the
	// load balancer's deletion protection for a retained environment, lifted again if the first
	// create fails; for a throwaway one, lifted, so that switching destroy to true and deploying
	// leaves nothing that stops the next `cdk destroy`.
	s.Protection = guard.New(stack, "Protection", guard.Props{
		Code: s.Delivery.Code, Architecture: s.Delivery.Architecture, LoadBalancer: s.Fleet.LoadBalancer,
		LoadBalancerTags: identity,
		Protect:          !env.Destroy, LogRetentionDays: env.LogRetentionDays,
	})
	defer s.Protection.ProtectStack() // once every resource of the stack exists

	cdknag.NagSuppressions_AddResourceSuppressions(s.Fleet.Group, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-AS3"),
		Reason: jsii.String("Scaling failures reach the notifications topic through the ScalingFailures EventBridge " +
			"rule instead of an ASG notification configuration, which could not publish to the KMS-encrypted topic " +
			"without a key grant to the Auto Scaling service-linked role. Successful launches and terminations are " +
			"reported by CodeDeploy's deployment notifications."),
	}}, jsii.Bool(true))
	awscdk.NewCfnOutput(stack, jsii.String("AutoScalingGroupName"), &awscdk.CfnOutputProps{
		Description: jsii.String("The fleet's Auto Scaling group (scripts/fleetctl scale-in-test)"),
		Value:       s.Fleet.Group.AutoScalingGroupName(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("SiteURL"), &awscdk.CfnOutputProps{
		Description: jsii.String("Where the application is served"),
		Value:       s.Fleet.SiteURL(),
	})
	return s
}

// vpc creates the environment's VPC, or refers to the configured existing one by its IDs (no
// lookup: the IDs and zones are all in the configuration). An existing VPC is the caller's:
// its flow logs, NAT gateways and S3 endpoint are not managed here.
func vpc(stack awscdk.Stack, env config.Environment) awsec2.IVpc {
	if e := env.Network.ExistingVPC; e != nil {
		vpc := awsec2.Vpc_FromVpcAttributes(stack, jsii.String("Network"), &awsec2.VpcAttributes{
			VpcId:             jsii.String(e.VPCID),
			AvailabilityZones: jsii.Strings(env.AvailabilityZones...),
			PublicSubnetIds:   jsii.Strings(e.PublicSubnetIDs...),
			PrivateSubnetIds:  jsii.Strings(e.PrivateSubnetIDs...),
		})
		// Route tables matter only to routes and gateway endpoints, which the stack never adds
		// to a VPC it does not own.
		awscdk.Annotations_Of(vpc).AcknowledgeWarning(jsii.String("@aws-cdk/aws-ec2:noSubnetRouteTableId"),
			jsii.String("the stack adds no routes or endpoints to an existing VPC"))
		return vpc
	}
	return network.New(stack, "Network", network.Props{
		AvailabilityZones:    env.AvailabilityZones,
		CIDR:                 env.Network.CIDR,
		NATGateways:          env.Network.NATGateways,
		FlowLogRetentionDays: env.LogRetentionDays,
		Destroy:              env.Destroy,
	})
}

func rollout(env config.Environment) deploygroup.Rollout {
	d := env.Deployment
	minimum := func(m config.MinimumHealthyHosts) awscodedeploy.MinimumHealthyHosts {
		if m.Count != nil {
			return awscodedeploy.MinimumHealthyHosts_Count(jsii.Number(float64(*m.Count)))
		}
		return awscodedeploy.MinimumHealthyHosts_Percentage(jsii.Number(float64(*m.Percent)))
	}
	switch d.Config {
	case config.DeploymentHalfAtATime:
		return deploygroup.Rollout{HalfAtATime: true}
	case config.DeploymentCustom:
		return deploygroup.Rollout{MinimumHealthyHosts: minimum(d.MinimumHealthyHosts)}
	case config.DeploymentZonal:
		perZone := awscodedeploy.MinimumHealthyHostsPerZone_Percentage(jsii.Number(0))
		if m := d.Zonal.MinimumHealthyHostsPerZone; m.Count != nil {
			perZone = awscodedeploy.MinimumHealthyHostsPerZone_Count(jsii.Number(float64(*m.Count)))
		} else if m.Percent != nil {
			perZone = awscodedeploy.MinimumHealthyHostsPerZone_Percentage(jsii.Number(float64(*m.Percent)))
		}
		return deploygroup.Rollout{MinimumHealthyHosts: minimum(d.MinimumHealthyHosts), Zonal: &awscodedeploy.ZonalConfig{
			FirstZoneMonitorDuration:   awscdk.Duration_Seconds(jsii.Number(float64(d.Zonal.FirstZoneMonitorSeconds))),
			MonitorDuration:            awscdk.Duration_Seconds(jsii.Number(float64(d.Zonal.MonitorSeconds))),
			MinimumHealthyHostsPerZone: perZone,
		}}
	default:
		return deploygroup.Rollout{}
	}
}

// warnUnwatched warns where a release can get further than its alarms could stop it
// (config.Environment.Unwatched).
func warnUnwatched(stack awscdk.Stack, env config.Environment) {
	for _, w := range env.Unwatched() {
		awscdk.Annotations_Of(stack).AddWarningV2(jsii.String("stacks:unwatched-"+w.Key), jsii.String(w.Message), nil)
	}
}

// revisionKey is the customer-managed key for revisions, or nil for S3-managed encryption.
func revisionKey(scope constructs.Construct, env config.Environment) awskms.IKey {
	if env.RevisionEncryption != config.EncryptionKMS {
		return nil
	}
	return awskms.NewKey(scope, jsii.String("RevisionKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts application revisions in the revision bucket"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     removal.RetainExceptOnCreate(env.Destroy),
	})
}
