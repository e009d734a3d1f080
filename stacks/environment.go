package stacks

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/example/codedeploy-fleet/config"
	"github.com/example/codedeploy-fleet/constructs/fleet"
	"github.com/example/codedeploy-fleet/constructs/logbucket"
	"github.com/example/codedeploy-fleet/constructs/network"
	"github.com/example/codedeploy-fleet/constructs/notifications"
	"github.com/example/codedeploy-fleet/constructs/revisionbucket"
)

// EnvironmentStack is everything one environment deploys.
type EnvironmentStack struct {
	awscdk.Stack
	Env       config.Environment
	Logs      awss3.Bucket
	Revisions *revisionbucket.Bucket
	Vpc       awsec2.Vpc
	Fleet     *fleet.Fleet
	// Notifications is the environment's operational topic.
	Notifications *notifications.Notifications
}

// NewEnvironmentStack defines the stack of env, bound to its account and region.
func NewEnvironmentStack(scope constructs.Construct, id, appName string, env config.Environment) *EnvironmentStack {
	stack := awscdk.NewStack(scope, jsii.String(id), &awscdk.StackProps{
		Env: &awscdk.Environment{
			Account: jsii.String(env.Account),
			Region:  jsii.String(env.Region),
		},
		Description: jsii.String(fmt.Sprintf("%s %s: EC2 fleet deployed by CodeDeploy", appName, env.Name)),
		// A retained environment is one somebody depends on: deleting its stack takes a deliberate
		// step (turn protection off) first.
		TerminationProtection: jsii.Bool(!env.Destroy),
	})
	tags := awscdk.Tags_Of(stack)
	tags.Add(jsii.String("App"), jsii.String(appName), nil)
	tags.Add(jsii.String("Environment"), jsii.String(env.Name), nil)
	for key, value := range env.Tags {
		tags.Add(jsii.String(key), jsii.String(value), nil)
	}

	s := &EnvironmentStack{Stack: stack, Env: env}
	s.Logs = logbucket.New(stack, "AccessLogs", logbucket.Props{
		ExpirationDays: env.LogRetentionDays,
		Destroy:        env.Destroy,
	})
	s.Revisions = revisionbucket.New(stack, "Revisions", revisionbucket.Props{
		AccessLogs:     s.Logs,
		NoncurrentDays: env.RevisionRetentionDays,
		EncryptionKey:  revisionKey(stack, env),
		Destroy:        env.Destroy,
	})
	awscdk.NewCfnOutput(stack, jsii.String("RevisionBucketName"), &awscdk.CfnOutputProps{
		Description: jsii.String("S3 bucket CodeDeploy pulls revisions from"),
		Value:       s.Revisions.Bucket.BucketName(),
	})

	s.Vpc = network.New(stack, "Network", network.Props{
		AvailabilityZones:    env.AvailabilityZones,
		CIDR:                 env.Network.CIDR,
		NATGateways:          env.Network.NATGateways,
		FlowLogRetentionDays: env.LogRetentionDays,
		Destroy:              env.Destroy,
	})
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
	cdknag.NagSuppressions_AddResourceSuppressions(s.Fleet.Group, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-AS3"),
		Reason: jsii.String("Scaling failures reach the notifications topic through the ScalingFailures EventBridge " +
			"rule instead of an ASG notification configuration, which could not publish to the KMS-encrypted topic " +
			"without a key grant to the Auto Scaling service-linked role. Successful launches and terminations are " +
			"reported by CodeDeploy's deployment notifications."),
	}}, jsii.Bool(true))
	awscdk.NewCfnOutput(stack, jsii.String("SiteURL"), &awscdk.CfnOutputProps{
		Description: jsii.String("Where the application is served"),
		Value:       s.Fleet.SiteURL(),
	})
	return s
}

// revisionKey is the customer-managed key for revisions, or nil for S3-managed encryption.
func revisionKey(scope constructs.Construct, env config.Environment) awskms.IKey {
	if env.RevisionEncryption != config.EncryptionKMS {
		return nil
	}
	return awskms.NewKey(scope, jsii.String("RevisionKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts application revisions in the revision bucket"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     removalPolicy(env.Destroy),
	})
}

func removalPolicy(destroy bool) awscdk.RemovalPolicy {
	if destroy {
		return awscdk.RemovalPolicy_DESTROY
	}
	return awscdk.RemovalPolicy_RETAIN
}
