package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/example/codedeploy-fleet/config"
	"github.com/example/codedeploy-fleet/constructs/logbucket"
)

// SynthCommands are what the pipeline's synth step runs: the README's own two commands, so the
// pipeline proves exactly what a developer runs.
var SynthCommands = []string{"make test", "make synth"}

// PipelineStack is the self-mutating CDK pipeline that deploys every environment in order.
type PipelineStack struct {
	awscdk.Stack
	Pipeline pipelines.CodePipeline
	// Stages, in configuration order.
	Stages []*EnvironmentStage
}

// EnvironmentStage wraps an environment's stack for the pipeline. It is the same EnvironmentStack
// `cdk deploy <App>-<env>` deploys, with the same stack name, so both produce the same template.
type EnvironmentStage struct {
	awscdk.Stage
	Environment *EnvironmentStack
}

// NewEnvironmentStage defines the stage of env.
func NewEnvironmentStage(scope constructs.Construct, cfg *config.Config, env config.Environment, opts Options) *EnvironmentStage {
	stage := awscdk.NewStage(scope, jsii.String(env.Name), &awscdk.StageProps{
		Env: &awscdk.Environment{Account: jsii.String(env.Account), Region: jsii.String(env.Region)},
	})
	return &EnvironmentStage{Stage: stage, Environment: NewEnvironmentStack(stage, cfg.StackName(env), cfg.Name, env, opts)}
}

// NewPipelineStack defines the pipeline of cfg.Pipeline.
func NewPipelineStack(scope constructs.Construct, cfg *config.Config, opts Options) *PipelineStack {
	p := cfg.Pipeline
	stack := awscdk.NewStack(scope, jsii.String(cfg.PipelineStackName()), &awscdk.StackProps{
		Env:                   &awscdk.Environment{Account: jsii.String(p.Account), Region: jsii.String(p.Region)},
		Description:           jsii.String(cfg.Name + ": pipeline deploying every environment in order"),
		TerminationProtection: jsii.Bool(true),
	})
	awscdk.Tags_Of(stack).Add(jsii.String("App"), jsii.String(cfg.Name), nil)

	source := pipelines.CodePipelineSource_Connection(jsii.String(p.Repository), jsii.String(p.Branch),
		&pipelines.ConnectionSourceOptions{ConnectionArn: jsii.String(p.ConnectionARN)})
	synth := pipelines.NewShellStep(jsii.String("Synth"), &pipelines.ShellStepProps{
		Input: source,
		// The image has Go and npm; go.mod's `go 1.26` makes the go command fetch that toolchain
		// from the module proxy, and make installs the pinned Node.js and CDK CLI from npm.
		InstallCommands: jsii.Strings(
			// What `make test` needs besides Go and Node.js, as .ci/run installs it.
			"(command -v shellcheck && command -v haproxy && command -v curl) || (apt-get update -qq && apt-get install -y -qq shellcheck haproxy curl)",
		),
		Commands:               jsii.Strings(SynthCommands...),
		PrimaryOutputDirectory: jsii.String("cdk.out"),
	})
	pipe := pipelines.NewCodePipeline(stack, jsii.String("Pipeline"), &pipelines.CodePipelineProps{
		PipelineName: jsii.String(cfg.PipelineStackName()),
		Synth:        synth,
		SelfMutation: jsii.Bool(true),
		// Environments may live in other accounts: artifacts are encrypted with a customer
		// managed key the target accounts can be granted, and it rotates.
		CrossAccountKeys:  jsii.Bool(true),
		EnableKeyRotation: jsii.Bool(true),
		CodeBuildDefaults: &pipelines.CodeBuildOptions{
			BuildEnvironment: &awscodebuild.BuildEnvironment{
				BuildImage:  awscodebuild.LinuxBuildImage_STANDARD_7_0(),
				ComputeType: awscodebuild.ComputeType_MEDIUM, // jsii and two Go builds want the memory
			},
		},
	})
	ps := &PipelineStack{Stack: stack, Pipeline: pipe}
	for _, env := range cfg.Environments {
		stage := NewEnvironmentStage(stack, cfg, env, opts)
		var pre []pipelines.Step
		if env.Production {
			pre = append(pre, pipelines.NewManualApprovalStep(jsii.String("Approve-"+env.Name), &pipelines.ManualApprovalStepProps{
				Comment: jsii.String(fmt.Sprintf("Deploy %s to the production environment %s?", cfg.Name, env.Name)),
			}))
		}
		pipe.AddStage(stage.Stage, &pipelines.AddStageOpts{Pre: &pre})
		ps.Stages = append(ps.Stages, stage)
	}
	pipe.BuildPipeline()
	grantConnection(pipe, p.ConnectionARN)
	logArtifactAccess(stack, pipe.Pipeline().ArtifactBucket())
	suppressPipelineFindings(pipe)
	return ps
}

// ConnectionAction is the IAM action that lets a pipeline use the connection arn. AWS CodeStar
// Connections was renamed AWS CodeConnections; connections created since July 2024 have
// arn:aws:codeconnections: ARNs, and "when specifying a resource in the IAM policy, the service
// prefix needs to match that of the resource" (Developer Tools console guide, "Service prefix
// and ARN renaming").
func ConnectionAction(arn string) string {
	if strings.Contains(arn, ":codeconnections:") {
		return "codeconnections:UseConnection"
	}
	return "codestar-connections:UseConnection"
}

// grantConnection lets the source action use the connection with the action of its ARN's
// prefix. CDK Pipelines grants codestar-connections:UseConnection whatever the ARN, which grants
// nothing on a codeconnections ARN: the source stage would fail on the first run.
func grantConnection(pipe pipelines.CodePipeline, connectionARN string) {
	action := ConnectionAction(connectionARN)
	if action == "codestar-connections:UseConnection" {
		return // CDK's own grant matches
	}
	// The pipeline creates the action's role when it binds the action: Pipeline/Source/<action>/CodePipelineActionRole.
	for _, c := range *pipe.Pipeline().Node().FindAll(constructs.ConstructOrder_PREORDER) {
		p := *c.Node().Path()
		if !strings.Contains(p, "/Source/") || *c.Node().Id() != "CodePipelineActionRole" {
			continue
		}
		role, ok := c.(awsiam.IRole)
		if !ok {
			panic("stacks: the source action's role at " + p + " is not an IAM role")
		}
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("UseTheConnection"),
			Actions:   jsii.Strings(action),
			Resources: jsii.Strings(connectionARN),
		}))
		return
	}
	panic("stacks: the pipeline has no source action role to grant " + action)
}

// logArtifactAccess sends the artifact bucket's server access logs to a log bucket of the
// pipeline stack. CDK Pipelines creates the artifact bucket itself and offers no logging prop,
// so the property and the log delivery grant are set here.
func logArtifactAccess(stack awscdk.Stack, artifacts awss3.IBucket) {
	logs := logbucket.New(stack, "AccessLogs", logbucket.Props{})
	const prefix = "s3/artifacts/"
	cfn := artifacts.Node().DefaultChild().(awss3.CfnBucket)
	cfn.SetLoggingConfiguration(&awss3.CfnBucket_LoggingConfigurationProperty{
		DestinationBucketName: logs.BucketName(),
		LogFilePrefix:         jsii.String(prefix),
	})
	logs.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("S3ServerAccessLogsForArtifacts"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logging.s3.amazonaws.com"), nil)},
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  jsii.Strings(*logs.ArnForObjects(jsii.String(prefix + "*"))),
		Conditions: &map[string]any{
			"ArnLike":      map[string]any{"aws:SourceArn": artifacts.BucketArn()},
			"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
		},
	}))
}

// suppressPipelineFindings records why the roles CDK Pipelines generates are accepted as they are.
func suppressPipelineFindings(pipe pipelines.CodePipeline) {
	cdknag.NagSuppressions_AddResourceSuppressions(pipe, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Policies generated by CDK Pipelines for its source, synth, self-mutation and asset " +
			"publishing steps. Each is limited to this pipeline's artifact bucket and key, its CodeBuild log and report " +
			"groups, and the CDK bootstrap roles it assumes in the target accounts; the wildcards stand for artifact " +
			"object keys, the build IDs CodeBuild appends, and those roles' names. Narrowing them would mean " +
			"re-implementing CDK Pipelines."),
	}}, jsii.Bool(true))
}
