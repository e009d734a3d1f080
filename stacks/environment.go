package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/example/codedeploy-fleet/config"
	"github.com/example/codedeploy-fleet/constructs/logbucket"
	"github.com/example/codedeploy-fleet/constructs/revisionbucket"
)

// EnvironmentStack is everything one environment deploys.
type EnvironmentStack struct {
	awscdk.Stack
	Env       config.Environment
	Logs      awss3.Bucket
	Revisions *revisionbucket.Bucket
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
