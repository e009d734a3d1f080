package protection

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

const (
	stackID = "arn:aws:cloudformation:eu-west-1:222222222222:stack/MyWebApp-prod/0a1b"
	lbArn   = "arn:aws:elasticloadbalancing:eu-west-1:222222222222:loadbalancer/app/MyWeb-Fleet/0a1b"
)

// fake is CloudFormation and Elastic Load Balancing, recording what was switched.
type fake struct {
	status cftypes.StackStatus
	fail   error
	calls  []string
	// resources are the physical IDs of the stack's resources.
	resources []string
}

func (f *fake) DescribeStackResources(context.Context, *cloudformation.DescribeStackResourcesInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackResourcesOutput, error) {
	out := &cloudformation.DescribeStackResourcesOutput{}
	for _, id := range f.resources {
		out.StackResources = append(out.StackResources, cftypes.StackResource{PhysicalResourceId: aws.String(id)})
	}
	return out, nil
}

func (f *fake) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	if aws.ToString(in.StackName) != stackID {
		return nil, errors.New("unexpected stack " + aws.ToString(in.StackName))
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{{StackId: in.StackName, StackStatus: f.status}}}, nil
}

func (f *fake) UpdateTerminationProtection(_ context.Context, in *cloudformation.UpdateTerminationProtectionInput, _ ...func(*cloudformation.Options)) (*cloudformation.UpdateTerminationProtectionOutput, error) {
	f.calls = append(f.calls, "termination protection "+aws.ToString(in.StackName)+" "+map[bool]string{true: "on", false: "off"}[aws.ToBool(in.EnableTerminationProtection)])
	return &cloudformation.UpdateTerminationProtectionOutput{}, f.fail
}

func (f *fake) ModifyLoadBalancerAttributes(_ context.Context, in *elasticloadbalancingv2.ModifyLoadBalancerAttributesInput, _ ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.ModifyLoadBalancerAttributesOutput, error) {
	for _, a := range in.Attributes {
		f.calls = append(f.calls, aws.ToString(a.Key)+" "+aws.ToString(in.LoadBalancerArn)+" "+aws.ToString(a.Value))
	}
	return &elasticloadbalancingv2.ModifyLoadBalancerAttributesOutput{}, f.fail
}

func event(request cfn.RequestType, lb string) cfn.Event {
	props := map[string]any{"ServiceToken": "x"}
	if lb != "" {
		props[PropertyLoadBalancerArn] = lb
	}
	return cfn.Event{RequestType: request, StackID: stackID, PhysicalResourceID: "p", ResourceProperties: props}
}

func TestProtection(t *testing.T) {
	stackOn, stackOff := "termination protection "+stackID+" on", "termination protection "+stackID+" off"
	lbOn, lbOff := "deletion_protection.enabled "+lbArn+" true", "deletion_protection.enabled "+lbArn+" false"
	for _, tc := range []struct {
		name    string
		request cfn.RequestType
		lb      string
		status  cftypes.StackStatus
		stack   []string // the stack's resources' physical IDs
		want    string   // the one call expected, or "" for none
	}{
		{"create protects the stack", cfn.RequestCreate, "", cftypes.StackStatusCreateInProgress, nil, stackOn},
		{"update protects the stack", cfn.RequestUpdate, "", cftypes.StackStatusUpdateInProgress, nil, stackOn},
		{"create protects the load balancer", cfn.RequestCreate, lbArn, cftypes.StackStatusCreateInProgress, nil, lbOn},
		{"failed create releases the stack", cfn.RequestDelete, "", cftypes.StackStatusRollbackInProgress, nil, stackOff},
		{"failed create releases the load balancer", cfn.RequestDelete, lbArn, cftypes.StackStatusRollbackInProgress, nil, lbOff},
		{"stack deletion keeps the load balancer protected", cfn.RequestDelete, lbArn, cftypes.StackStatusDeleteInProgress, nil, ""},
		{"update rollback keeps the stack protected", cfn.RequestDelete, "", cftypes.StackStatusUpdateRollbackInProgress, nil, ""},
		{"replacement cleanup keeps the stack protected", cfn.RequestDelete, "", cftypes.StackStatusUpdateCompleteCleanupInProgress, nil, ""},
		{"a replaced load balancer is released", cfn.RequestDelete, lbArn, cftypes.StackStatusUpdateCompleteCleanupInProgress,
			[]string{"arn:aws:elasticloadbalancing:eu-west-1:222222222222:loadbalancer/app/MyWeb-Fleet/new"}, lbOff},
		{"a kept load balancer stays protected", cfn.RequestDelete, lbArn, cftypes.StackStatusUpdateCompleteCleanupInProgress,
			[]string{lbArn}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{status: tc.status, resources: tc.stack}
			h := &Handler{CloudFormation: f, ELB: f}
			id, _, err := h.Handle(context.Background(), event(tc.request, tc.lb))
			if err != nil || id == "" {
				t.Fatalf("Handle = %q, %v", id, err)
			}
			want := []string{}
			if tc.want != "" {
				want = []string{tc.want}
			}
			if strings.Join(f.calls, "|") != strings.Join(want, "|") {
				t.Errorf("calls %q, want %q", f.calls, want)
			}
		})
	}
}

// TestReleaseNeverBlocksTheRollback: lifting the protection fails (throttled, say); the delete
// still succeeds, so the rollback goes on and the README's command finishes the job.
func TestReleaseNeverBlocksTheRollback(t *testing.T) {
	f := &fake{status: cftypes.StackStatusRollbackInProgress, fail: errors.New("Rate exceeded")}
	h := &Handler{CloudFormation: f, ELB: f}
	if _, _, err := h.Handle(context.Background(), event(cfn.RequestDelete, lbArn)); err != nil {
		t.Errorf("delete failed: %v", err)
	}
}

// TestProtectFailureIsVisible: a create that cannot protect fails, rather than leaving a retained
// environment silently unprotected.
func TestProtectFailureIsVisible(t *testing.T) {
	f := &fake{fail: errors.New("AccessDenied")}
	h := &Handler{CloudFormation: f, ELB: f}
	if _, _, err := h.Handle(context.Background(), event(cfn.RequestCreate, "")); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("error = %v", err)
	}
}
