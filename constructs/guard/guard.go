// Package guard protects a retained environment from deletion (stack termination protection,
// load balancer deletion protection) in a way that still lets a failed first create roll back
// and be retried, and lifts both when the environment stops being retained, so that the next
// `cdk destroy` deletes it: see package protection for the handler and the sequence. Every
// environment has a guard; Protect says whether it protects.
package guard

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/example/codedeploy-fleet/constructs/internal/retention"
	"github.com/example/codedeploy-fleet/constructs/removal"
)

// Mode is the DEPLOYER_MODE of the handler binary that serves the guard's resources: protection.Mode
// (a test in package protection checks the two against a synthesized template).
const Mode = "protection"

// Props configures a Guard. Every field without a default is required.
type Props struct {
	// Code is the handler binary (cmd/deployer), built for Architecture.
	Code         awslambda.Code
	Architecture awslambda.Architecture
	// LoadBalancer gets deletion protection once it exists (or has it lifted: Protect).
	LoadBalancer awselasticloadbalancingv2.IApplicationLoadBalancer
	// LoadBalancerTags are tags the template gives the load balancer, every one of them: the
	// handler may change the attributes of a load balancer that carries them all, so a load
	// balancer this stack replaced, no longer its current one, is still within reach.
	LoadBalancerTags map[string]string
	// Protect turns the protections on (a retained environment) or off (a throwaway one,
	// destroy: true): switching it off lifts them in the same deployment.
	Protect bool
	// LogRetentionDays of the handler's log group. Default: 90.
	LogRetentionDays int
}

// ServiceTimeout bounds each of the guard's resources: one call or two, within the function's
// minute. Without it a handler that fails to start leaves CloudFormation waiting the default
// hour before a failed create can roll back.
const ServiceTimeout = 5 * time.Minute

// Guard is the handler and its two resources.
type Guard struct {
	constructs.Construct
	Function awslambda.Function
	// Stack turns the stack's termination protection on; every other resource of the stack must
	// depend on it (ProtectStack does that), so it is deleted last in a failed create's rollback.
	Stack awscdk.CustomResource
	// LoadBalancer turns the load balancer's deletion protection on; it depends on the load
	// balancer, so it is deleted first.
	LoadBalancer awscdk.CustomResource
}

// New defines the guard in scope's stack.
func New(scope constructs.Construct, id string, p Props) *Guard {
	if p.Code == nil || p.Architecture == nil || p.LoadBalancer == nil || len(p.LoadBalancerTags) == 0 {
		panic(fmt.Sprintf("guard.New(%s): Code, Architecture, LoadBalancer and LoadBalancerTags are required", id))
	}
	if p.LogRetentionDays == 0 {
		p.LogRetentionDays = 90
	}
	g := &Guard{}
	constructs.NewConstruct_Override(g, scope, jsii.String(id))
	stack := awscdk.Stack_Of(g)

	// Kept when a failed create rolls back (unlike the stack's other log groups): what the
	// handler did, or could not do, while that rollback ran is what an operator reads next.
	// Deleted with a throwaway environment.
	logs := awslogs.NewLogGroup(g, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     retention.Days("guard.New("+id+")", p.LogRetentionDays),
		RemovalPolicy: removal.Policy(!p.Protect),
	})
	role := awsiam.NewRole(g, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Switches this stack's termination protection and its load balancer's deletion protection"),
	})
	logs.GrantWrite(role)
	// This stack only: its ARN ends in a UUID that exists only once the stack does.
	stackArn := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("cloudformation"), Resource: jsii.String("stack"),
		ResourceName: jsii.String(*stack.StackName() + "/*")})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ProtectThisStack"),
		Actions:   jsii.Strings("cloudformation:DescribeStacks", "cloudformation:ListStackResources", "cloudformation:UpdateTerminationProtection"),
		Resources: jsii.Strings(*stackArn),
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("This stack only, by name: a stack ARN ends in a UUID CloudFormation assigns when it creates the " +
			"stack, so the stack cannot name its own ARN in full."),
		AppliesTo: &[]any{"Resource::" + *stackArn},
	}}, jsii.Bool(true))
	g.Function = awslambda.NewFunction(g, jsii.String("Function"), &awslambda.FunctionProps{
		Description:  jsii.String("Protects a retained environment; lifts the protection while a failed create rolls back"),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: p.Architecture,
		Handler:      jsii.String("bootstrap"),
		Code:         p.Code,
		Role:         role,
		LogGroup:     logs,
		MemorySize:   jsii.Number(128),
		Timeout:      awscdk.Duration_Seconds(jsii.Number((60 * time.Second).Seconds())),
		Environment:  &map[string]*string{"DEPLOYER_MODE": jsii.String(Mode)},
	})
	protect := jsii.String(fmt.Sprint(p.Protect))
	g.Stack = awscdk.NewCustomResource(g, jsii.String("Stack"), &awscdk.CustomResourceProps{
		ServiceToken:   g.Function.FunctionArn(),
		ResourceType:   jsii.String("Custom::StackProtection"),
		ServiceTimeout: awscdk.Duration_Seconds(jsii.Number(ServiceTimeout.Seconds())),
		Properties:     &map[string]any{"Protect": protect},
	})

	// Any load balancer of this account and region that carries every tag this stack gives its
	// own: the one the stack has now, and one it replaced or rolled back from, which
	// CloudFormation deletes after the protection resource that names it (ModifyLoadBalancer-
	// Attributes on loadbalancer/app, with aws:ResourceTag/${TagKey}: Service Authorization
	// Reference, "Actions, resources, and condition keys for Elastic Load Balancing V2"). No
	// reference to the load balancer itself, so the function never waits for it (the load
	// balancer, like everything, waits for the stack's resource).
	tags := map[string]any{}
	for k, v := range p.LoadBalancerTags {
		tags["aws:ResourceTag/"+k] = v
	}
	anyLoadBalancer := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("elasticloadbalancing"),
		Resource: jsii.String("loadbalancer"), ResourceName: jsii.String("app/*")})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ProtectThisStacksLoadBalancers"),
		Actions:    jsii.Strings("elasticloadbalancing:ModifyLoadBalancerAttributes"),
		Resources:  jsii.Strings(*anyLoadBalancer),
		Conditions: &map[string]any{"StringEquals": tags},
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("The load balancers that carry this stack's App and Environment tags (a condition on every one): " +
			"the current one and one the stack replaced, whose protection must be lifted before CloudFormation deletes it, " +
			"though the stack no longer names its ARN."),
		AppliesTo: &[]any{"Resource::" + *anyLoadBalancer},
	}}, jsii.Bool(true))
	g.LoadBalancer = awscdk.NewCustomResource(g, jsii.String("LoadBalancer"), &awscdk.CustomResourceProps{
		ServiceToken:   g.Function.FunctionArn(),
		ResourceType:   jsii.String("Custom::LoadBalancerProtection"),
		ServiceTimeout: awscdk.Duration_Seconds(jsii.Number(ServiceTimeout.Seconds())),
		Properties: &map[string]any{
			"LoadBalancerArn": p.LoadBalancer.LoadBalancerArn(),
			"Protect":         protect,
			// A copy of the load balancer's attributes, so this resource is updated, and protects the
			// load balancer again, whenever CloudFormation has modified them: whether CloudFormation
			// resets an attribute the template leaves out is not documented.
			"LoadBalancerAttributes": loadBalancerAttributes(p.LoadBalancer),
		},
	})
	return g
}

func loadBalancerAttributes(lb awselasticloadbalancingv2.IApplicationLoadBalancer) any {
	if cfn, ok := lb.Node().DefaultChild().(awselasticloadbalancingv2.CfnLoadBalancer); ok {
		return cfn.LoadBalancerAttributes()
	}
	return nil
}

// ProtectStack makes every resource of the stack outside the guard depend on the stack's
// protection resource: it is created first and, in a failed create's rollback, deleted last,
// after everything it lets CloudFormation delete.
func (g *Guard) ProtectStack() {
	for _, child := range *awscdk.Stack_Of(g).Node().Children() {
		if *child.Node().Path() != *g.Node().Path() {
			child.Node().AddDependency(g.Stack)
		}
	}
	// Inside the guard, what the stack's protection does not serve depends on it too.
	g.LoadBalancer.Node().AddDependency(g.Stack)
}
