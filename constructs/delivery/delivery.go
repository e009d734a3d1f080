// Package delivery deploys the application revision as part of `cdk deploy`: the revision is
// packaged into a deterministic zip at synthesis, uploaded as an asset, copied into the revision
// bucket under a content-addressed key by a custom resource, and deployed with CodeDeploy. The
// custom resource waits for the deployment and fails the stack operation when it fails.
package delivery

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/example/codedeploy-fleet/constructs/internal/gobuild"
	"github.com/example/codedeploy-fleet/constructs/internal/retention"
	"github.com/example/codedeploy-fleet/constructs/removal"
	"github.com/example/codedeploy-fleet/revision"
)

// HandlerPackage is the Go package of the Lambda handler, relative to the module root.
const HandlerPackage = "cmd/deployer"

// Props configures the delivery. Every field without a default is required.
type Props struct {
	// RevisionDir is the revision to package (appspec.yml at its root).
	RevisionDir string
	// ModuleRoot is this Go module's root, where the handler is built from.
	ModuleRoot string
	// Bucket and Prefix locate revisions; KMSKey, when the bucket uses SSE-KMS.
	Bucket awss3.IBucket
	Prefix string
	KMSKey awskms.IKey
	// Application, DeploymentGroup and Config are what is deployed to.
	Application     awscodedeploy.IServerApplication
	DeploymentGroup awscodedeploy.IServerDeploymentGroup
	Config          awscodedeploy.IServerDeploymentConfig
	// FirstConfig and RestoreConfig name the predefined configurations of a first deployment and
	// of a restore (config.FirstDeploymentConfig, config.RestoreDeploymentConfig: fleetctl's
	// restore uses the same).
	FirstConfig, RestoreConfig string
	// Deploy creates a deployment; false only uploads and registers the revision. Default: false.
	Deploy bool
	// Bake is how long the resource keeps watching Alarms after CodeDeploy has deployed to the
	// last instance: CodeDeploy watches alarms only while a deployment runs. On an alarm it
	// restores the previous release and fails. Default: 0 (no bake).
	Bake time.Duration
	// Alarms are the deployment group's gating alarms, watched during the bake.
	Alarms []awscloudwatch.IAlarm
	// Timeout bounds the wait for the deployment, 5 to 55 minutes (CloudFormation waits at most an
	// hour for a custom resource). Default: 30 minutes.
	Timeout time.Duration
	// RevisionsToKeep is how many of the revisions last released to the group stay in the bucket
	// after a successful deployment; older ones are deleted. Default: 0 (every revision is kept).
	RevisionsToKeep int
	// LogRetentionDays of the handlers' and the provider framework's log groups. Default: 90.
	LogRetentionDays int
	// Destroy deletes the log groups with the stack. Default: false (retained, except when the
	// stack's creation fails).
	Destroy bool
	// DependsOn are constructs that must exist before the first deployment (the fleet, the
	// deployment group and their permissions).
	DependsOn []constructs.IConstruct
}

// Delivery is the packaged revision and the custom resource that deploys it.
type Delivery struct {
	constructs.Construct
	Resource awscdk.CustomResource
	OnEvent  awslambda.Function
	// IsComplete polls the deployment.
	IsComplete awslambda.Function
	// Code is the handler binary (cmd/deployer) and Architecture the one it is built for; other
	// custom resources of the stack reuse it, so a synthesis builds it once.
	Code         awslambda.Code
	Architecture awslambda.Architecture
	key          string
	alarmNames   *string
}

// Key is the revision's object key in the bucket, e.g. "revisions/<sha256>.zip".
func (d *Delivery) Key() string { return d.key }

// AlarmNames are the names of the alarms the bake watches, comma-separated: what `fleetctl
// deploy` reads to bake as the resource does.
func (d *Delivery) AlarmNames() *string { return d.alarmNames }

// New defines the delivery.
func New(scope constructs.Construct, id string, props Props) *Delivery {
	p := withDefaults(id, props)
	d := &Delivery{}
	// Override makes the Go struct itself the construct, so it can be a scope for others.
	constructs.NewConstruct_Override(d, scope, jsii.String(id))
	stack := awscdk.Stack_Of(d)

	pkg, err := revision.Zip(p.RevisionDir)
	if err != nil {
		panic(fmt.Sprintf("delivery.New(%s): packaging %s: %v", id, p.RevisionDir, err))
	}
	d.key = pkg.Key(p.Prefix)
	// A folder of its own: two syntheses of one revision at once (make synth beside make test)
	// must not remove each other's zip before the asset is staged.
	tmp, err := os.MkdirTemp("", "codedeploy-fleet-")
	if err != nil {
		panic(fmt.Sprintf("delivery.New(%s): %v", id, err))
	}
	zipFile := filepath.Join(tmp, pkg.SHA256+".zip")
	if err := os.WriteFile(zipFile, pkg.Zip, 0o644); err != nil {
		panic(fmt.Sprintf("delivery.New(%s): writing %s: %v", id, zipFile, err))
	}
	asset := awss3assets.NewAsset(d, jsii.String("Package"), &awss3assets.AssetProps{Path: jsii.String(zipFile)})
	// The asset is staged (copied into the cloud assembly) as it is created, so the zip is not
	// needed after this: removed, it leaves nothing in the temporary folder.
	_ = os.RemoveAll(tmp)

	code := awslambda.Code_FromAsset(jsii.String(filepath.Join(p.ModuleRoot, "deployer")), &awss3assets.AssetOptions{
		// The hash of the built binary: an unchanged handler is not redeployed.
		AssetHashType: awscdk.AssetHashType_OUTPUT,
		Bundling: &awscdk.BundlingOptions{
			// Never used: the local Go build below always succeeds or fails synthesis.
			Image: awscdk.DockerImage_FromRegistry(jsii.String("unused-go-builds-locally")),
			Local: &goBuild{moduleRoot: p.ModuleRoot, pkg: "./" + HandlerPackage},
		},
	})
	logGroup := func(name string) awslogs.LogGroup {
		// Generated names: a retained group never blocks re-creating the environment.
		return awslogs.NewLogGroup(d, jsii.String(name), &awslogs.LogGroupProps{
			Retention:     retention.Days("delivery.New("+id+")", p.LogRetentionDays),
			RemovalPolicy: removal.RetainExceptOnCreate(p.Destroy),
		})
	}
	d.Code, d.Architecture = code, lambdaArch()
	function := func(name, mode, description string, timeout time.Duration) awslambda.Function {
		logs := logGroup(name + "Logs")
		role := awsiam.NewRole(d, jsii.String(name+"Role"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			Description: jsii.String(description),
		})
		logs.GrantWrite(role)
		fn := awslambda.NewFunction(d, jsii.String(name), &awslambda.FunctionProps{
			Description:  jsii.String(description),
			Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
			Architecture: d.Architecture,
			Handler:      jsii.String("bootstrap"),
			Code:         code,
			Role:         role,
			LogGroup:     logs,
			MemorySize:   jsii.Number(256),
			Timeout:      awscdk.Duration_Seconds(jsii.Number(timeout.Seconds())),
			Environment:  &map[string]*string{"DEPLOYER_MODE": jsii.String(mode)},
		})
		fn.Node().AddDependency(role) // never invoked before its policy exists
		return fn
	}
	d.OnEvent = function("OnEvent", "on-event", "Uploads the revision and starts its CodeDeploy deployment", 2*time.Minute)
	// Room for a poll's calls and their throttling backoff; a poll that runs out of time is
	// repeated, not failed (see package deployer).
	d.IsComplete = function("IsComplete", "is-complete", "Deploys the revision with CodeDeploy and follows the deployment", 2*time.Minute)
	d.grant(stack, p, asset)

	provider := customresources.NewProvider(d, jsii.String("Provider"), &customresources.ProviderProps{
		OnEventHandler:    d.OnEvent,
		IsCompleteHandler: d.IsComplete,
		QueryInterval:     awscdk.Duration_Seconds(jsii.Number(30)),
		// The framework's own functions log here, under the environment's retention; left out, each
		// gets a group kept for two years and retained even where the environment is destroyed.
		LogGroup:     logGroup("ProviderLogs"),
		TotalTimeout: awscdk.Duration_Minutes(jsii.Number(p.Timeout.Minutes())),
	})
	alarmNames := []*string{}
	for _, a := range p.Alarms {
		alarmNames = append(alarmNames, a.AlarmName())
	}
	d.alarmNames = awscdk.Fn_Join(jsii.String(","), &alarmNames)
	d.Resource = awscdk.NewCustomResource(d, jsii.String("Default"), &awscdk.CustomResourceProps{
		ServiceToken: provider.ServiceToken(),
		// CloudFormation waits for a custom resource at most an hour; the provider's own timeout
		// ends first, so the stack fails with the deployer's message rather than a bare timeout.
		ServiceTimeout: awscdk.Duration_Seconds(jsii.Number(min(3600, p.Timeout.Seconds()+300))),
		ResourceType:   jsii.String("Custom::RevisionDeployment"),
		Properties: &map[string]any{
			"ApplicationName":     p.Application.ApplicationName(),
			"DeploymentGroupName": p.DeploymentGroup.DeploymentGroupName(),
			"SourceBucket":        asset.S3BucketName(),
			"SourceKey":           asset.S3ObjectKey(),
			"RevisionBucket":      p.Bucket.BucketName(),
			"RevisionKey":         d.key,
			"Deploy":              strconv.FormatBool(p.Deploy),
			"TimeoutMinutes":      strconv.Itoa(int(p.Timeout.Minutes())),
			"RevisionsToKeep":     revisionsToKeep(p.RevisionsToKeep),
			"BakeSeconds":         strconv.Itoa(int(p.Bake.Seconds())),
			"AlarmNames":          d.alarmNames,
			"FirstConfig":         p.FirstConfig,
			"RestoreConfig":       p.RestoreConfig,
		},
	})
	for _, c := range p.DependsOn {
		d.Resource.Node().AddDependency(c)
	}
	suppressFrameworkFindings(provider)
	return d
}

// grant gives each handler exactly what it calls. The ARNs come from names, so no statement
// waits on more than the resources it names.
func (d *Delivery) grant(stack awscdk.Stack, p Props, asset awss3assets.Asset) {
	add := func(fn awslambda.Function, sid string, actions []string, resources []*string, conditions map[string]any) {
		props := &awsiam.PolicyStatementProps{Sid: jsii.String(sid), Actions: jsii.Strings(actions...), Resources: &resources}
		if conditions != nil {
			props.Conditions = &conditions
		}
		fn.Role().AddToPrincipalPolicy(awsiam.NewPolicyStatement(props))
	}
	group := p.DeploymentGroup.DeploymentGroupArn()
	add(d.OnEvent, "ReadThePackagedRevision", []string{"s3:GetObject"}, []*string{asset.Bucket().ArnForObjects(asset.S3ObjectKey())}, nil)
	add(d.OnEvent, "WriteThisRevision", []string{"s3:PutObject"}, []*string{p.Bucket.ArnForObjects(jsii.String(d.key))}, nil)
	if p.KMSKey != nil {
		add(d.OnEvent, "EncryptThisRevision", []string{"kms:GenerateDataKey"}, []*string{p.KMSKey.KeyArn()},
			map[string]any{"StringEquals": map[string]any{"kms:ViaService": "s3." + *stack.Region() + ".amazonaws.com"}})
	}
	add(d.OnEvent, "RegisterRevisions", []string{"codedeploy:RegisterApplicationRevision"}, []*string{p.Application.ApplicationArn()}, nil)

	// The poller reads the group's deployments and creates the revision's deployment when the
	// group is free (see package deployer). CreateDeployment is also authorized against the
	// revision and the group's deployment configuration, and, because a first deployment and a
	// restore override the group's alarms, against UpdateDeploymentGroup. BatchGetDeployments reads the
	// group's deployments: the revision's, and the history that finds its newest release
	// (deploymentgroup resource type in the Service Authorization Reference, like the others
	// here). GetDeployment is not needed: every read is a batch.
	add(d.IsComplete, "DeployToThisGroup", []string{
		"codedeploy:CreateDeployment", "codedeploy:BatchGetDeployments",
		"codedeploy:ListDeployments", "codedeploy:UpdateDeploymentGroup",
	}, []*string{group}, nil)
	// CreateDeployment registers the revision it deploys as well: allowed on this application.
	add(d.IsComplete, "ReadTheRevision", []string{"codedeploy:GetApplicationRevision", "codedeploy:RegisterApplicationRevision"},
		[]*string{p.Application.ApplicationArn()}, nil)
	// The group's configuration, and the two its first and restoring deployments name instead.
	configArn := func(name string) *string {
		return stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("codedeploy"), Resource: jsii.String("deploymentconfig"),
			ResourceName: jsii.String(name), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
	}
	if p.Deploy {
		add(d.IsComplete, "ReadTheDeploymentConfigs", []string{"codedeploy:GetDeploymentConfig"},
			[]*string{p.Config.DeploymentConfigArn(), configArn(p.FirstConfig), configArn(p.RestoreConfig)}, nil)
	}
	if p.Deploy && len(p.Alarms) > 0 && p.Bake > 0 {
		// The bake reads the gating alarms' states; a metric alarm is a resource of its own to
		// DescribeAlarms (Service Authorization Reference, CloudWatch: alarm).
		arns := []*string{}
		for _, a := range p.Alarms {
			arns = append(arns, a.AlarmArn())
		}
		add(d.IsComplete, "WatchTheGatingAlarms", []string{"cloudwatch:DescribeAlarms"}, arns, nil)
	}
	// Naming the instances a deployment failed or missed. The Service Authorization Reference lists
	// no resource type and no service condition key for codedeploy:ListDeploymentTargets and
	// BatchGetDeploymentTargets (both take a deployment ID, not an ARN), so "*" is the only
	// resource that grants them; an ARN would grant nothing and the failure message would lose
	// its instance. The global aws:RequestedRegion key still holds them to this stack's region.
	add(d.IsComplete, "DescribeDeploymentTargets", []string{"codedeploy:ListDeploymentTargets", "codedeploy:BatchGetDeploymentTargets"},
		[]*string{jsii.String("*")}, map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": stack.Region()}})
	appliesTo := []any{"Resource::*"}
	if p.RevisionsToKeep > 0 {
		// Pruning revisions the group no longer needs (see package deployer): listing and deleting
		// under the revision prefix only. A delete in the versioned bucket leaves a noncurrent
		// version, which the bucket's lifecycle rule expires.
		add(d.IsComplete, "ListRevisions", []string{"s3:ListBucket"}, []*string{p.Bucket.BucketArn()},
			map[string]any{"StringLike": map[string]any{"s3:prefix": p.Prefix + "*"}})
		add(d.IsComplete, "PruneRevisions", []string{"s3:DeleteObject"}, []*string{p.Bucket.ArnForObjects(jsii.String(p.Prefix + "*"))}, nil)
		appliesTo = append(appliesTo, &cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<[A-Za-z0-9]+\.Arn>\/` + p.Prefix + `\*$/`)})
	}
	cdknag.NagSuppressions_AddResourceSuppressions(d.IsComplete.Role(), &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("codedeploy:ListDeploymentTargets and BatchGetDeploymentTargets have no resource type in the " +
			"Service Authorization Reference, so \"*\" is the only resource they accept; both only read the instances of a " +
			"deployment, to name the one that failed, and are limited to this region. Revision keys are content-addressed, " +
			"so pruning old revisions names the revision prefix of this environment's bucket, and nothing else."),
		AppliesTo: &appliesTo,
	}}, jsii.Bool(true))
}

func revisionsToKeep(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// goBuild builds the handler as the asset's local bundling: no Docker needed.
type goBuild struct {
	moduleRoot, pkg string
}

// TryBundle implements awscdk.ILocalBundling.
func (b *goBuild) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	if err := gobuild.Build(b.moduleRoot, b.pkg, filepath.Join(*outputDir, "bootstrap")); err != nil {
		panic(fmt.Sprintf("delivery: building the Lambda handler: %v", err))
	}
	return jsii.Bool(true)
}

// lambdaArch is gobuild.Arch in Lambda's terms.
func lambdaArch() awslambda.Architecture {
	if gobuild.Arch == "arm64" {
		return awslambda.Architecture_ARM_64()
	}
	return awslambda.Architecture_X86_64()
}

func withDefaults(id string, p Props) Props {
	if p.RevisionDir == "" || p.ModuleRoot == "" || p.Bucket == nil || p.Prefix == "" || p.Application == nil ||
		p.DeploymentGroup == nil || p.Config == nil {
		panic(fmt.Sprintf("delivery.New(%s): RevisionDir, ModuleRoot, Bucket, Prefix, Application, DeploymentGroup and Config are required", id))
	}
	if p.Timeout == 0 {
		p.Timeout = 30 * time.Minute
	}
	if p.Timeout < 5*time.Minute || p.Timeout > 55*time.Minute {
		panic(fmt.Sprintf("delivery.New(%s): Timeout %v is outside 5m..55m: CloudFormation waits at most an hour for a custom resource", id, p.Timeout))
	}
	if p.LogRetentionDays == 0 {
		p.LogRetentionDays = 90
	}
	if p.FirstConfig == "" || p.RestoreConfig == "" {
		panic(fmt.Sprintf("delivery.New(%s): FirstConfig and RestoreConfig are required", id))
	}
	// The bake is part of what cdk deploy waits for only when it deploys.
	if p.Bake < 0 || p.Deploy && p.Bake > p.Timeout {
		panic(fmt.Sprintf("delivery.New(%s): Bake %v is outside 0..Timeout (%v)", id, p.Bake, p.Timeout))
	}
	return p
}

// suppressFrameworkFindings excuses what cdk-nag finds in the provider framework's own functions
// and state machine, which this construct does not define.
func suppressFrameworkFindings(provider customresources.Provider) {
	cdknag.NagSuppressions_AddResourceSuppressions(provider, &[]*cdknag.NagPackSuppression{
		{
			Id: jsii.String("AwsSolutions-IAM4"),
			Reason: jsii.String("The CDK provider framework's own functions (onEvent, isComplete, onTimeout) use " +
				"AWSLambdaBasicExecutionRole, which only writes their logs; our handlers have inline least-privilege roles."),
			AppliesTo: &[]any{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
		},
		{
			Id: jsii.String("AwsSolutions-IAM5"),
			Reason: jsii.String("The framework invokes the named handler functions, with \":*\" covering their versions " +
				"and aliases only; no other function is reachable."),
			AppliesTo: &[]any{&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<Delivery[A-Za-z0-9]+\.Arn>:\*$/`)}},
		},
		{
			Id: jsii.String("AwsSolutions-SF1"),
			Reason: jsii.String("The framework's waiter state machine only re-invokes isComplete every 30 s; each poll and " +
				"its outcome are logged by the IsComplete function, and CodeDeploy keeps the deployment's history."),
		},
		{
			Id:     jsii.String("AwsSolutions-SF2"),
			Reason: jsii.String("Tracing the framework's polling loop would show only Lambda invocations already in its logs."),
		},
	}, jsii.Bool(true))
}
