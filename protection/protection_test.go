package protection

import (
	"context"
	"errors"
	"regexp"
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
	// newLB replaced lbArn (or lbArn is what a failed update created, rolled back from).
	newLB = "arn:aws:elasticloadbalancing:eu-west-1:222222222222:loadbalancer/app/MyWeb-Fleet/new"
)

// fake is CloudFormation and Elastic Load Balancing, recording what was switched. Its load
// balancers carry tags, and it lets the handler change one only where policy allows it: the
// statement the guard's role has in a synthesized template (guardPolicy), so a test passes only
// if the real permission reaches the load balancer.
type fake struct {
	status cftypes.StackStatus
	fail   error
	calls  []string
	// resources are the physical IDs of the stack's resources, in pages of pageSize.
	resources []string
	pageSize  int
	tags      map[string]map[string]string
	policy    lbPolicy
}

func (f *fake) ListStackResources(_ context.Context, in *cloudformation.ListStackResourcesInput, _ ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error) {
	size := f.pageSize
	if size == 0 {
		size = len(f.resources) + 1
	}
	start := 0
	if in.NextToken != nil {
		for start < len(f.resources) && "page-"+f.resources[start] != *in.NextToken {
			start++
		}
	}
	out := &cloudformation.ListStackResourcesOutput{}
	for _, id := range f.resources[start:min(start+size, len(f.resources))] {
		out.StackResourceSummaries = append(out.StackResourceSummaries, cftypes.StackResourceSummary{PhysicalResourceId: aws.String(id)})
	}
	if start+size < len(f.resources) {
		out.NextToken = aws.String("page-" + f.resources[start+size])
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
	arn := aws.ToString(in.LoadBalancerArn)
	if !f.policy.allows(arn, f.tags[arn]) {
		return nil, errors.New("AccessDenied: not authorized to perform elasticloadbalancing:ModifyLoadBalancerAttributes on " + arn)
	}
	for _, a := range in.Attributes {
		f.calls = append(f.calls, aws.ToString(a.Key)+" "+arn+" "+aws.ToString(a.Value))
	}
	return &elasticloadbalancingv2.ModifyLoadBalancerAttributesOutput{}, f.fail
}

// lbPolicy is an Allow statement for ModifyLoadBalancerAttributes: a resource pattern and the
// tags its StringEquals condition asks for.
type lbPolicy struct {
	resource string
	tags     map[string]string
}

func (p lbPolicy) allows(arn string, tags map[string]string) bool {
	// IAM's wildcard: * matches any run of characters, / included.
	pattern := "^" + strings.ReplaceAll(regexp.QuoteMeta(p.resource), `\*`, ".*") + "$"
	if !regexp.MustCompile(pattern).MatchString(arn) {
		return false
	}
	for k, v := range p.tags {
		if tags[k] != v {
			return false
		}
	}
	return true
}

func event(request cfn.RequestType, lb, protect string) cfn.Event {
	props := map[string]any{"ServiceToken": "x"}
	if lb != "" {
		props[PropertyLoadBalancerArn] = lb
	}
	if protect != "" {
		props[PropertyProtect] = protect
	}
	return cfn.Event{RequestType: request, StackID: stackID, PhysicalResourceID: "p", ResourceProperties: props}
}

// update is an Update from old to new Protect values: what CloudFormation sends when the
// resource's properties change (and only then: an unchanged resource gets no request).
func update(lb, from, to string) cfn.Event {
	e := event(cfn.RequestUpdate, lb, to)
	old := map[string]any{"ServiceToken": "x", PropertyProtect: from}
	if lb != "" {
		old[PropertyLoadBalancerArn] = lb
	}
	e.OldResourceProperties = old
	return e
}

func TestProtection(t *testing.T) {
	policy := guardPolicy(t)
	ours := map[string]string{}
	for k, v := range policy.tags {
		ours[k] = v
	}
	stackOn, stackOff := "termination protection "+stackID+" on", "termination protection "+stackID+" off"
	lbOn, lbOff := "deletion_protection.enabled "+lbArn+" true", "deletion_protection.enabled "+lbArn+" false"
	for _, tc := range []struct {
		name   string
		event  cfn.Event
		status cftypes.StackStatus
		stack  []string // the stack's resources' physical IDs
		tags   map[string]string
		want   string // the one call expected, or "" for none
	}{
		{"create protects the stack", event(cfn.RequestCreate, "", "true"), cftypes.StackStatusCreateInProgress, nil, nil, stackOn},
		{"create protects the load balancer", event(cfn.RequestCreate, lbArn, "true"), cftypes.StackStatusCreateInProgress, nil, ours, lbOn},
		{"a resource from before Protect protects", event(cfn.RequestCreate, "", ""), cftypes.StackStatusCreateInProgress, nil, nil, stackOn},
		// destroy: false to true, deployed: the protections are lifted in that deployment.
		{"switching destroy on lifts the stack's protection", update("", "true", "false"), cftypes.StackStatusUpdateInProgress, nil, nil, stackOff},
		{"switching destroy on lifts the load balancer's", update(lbArn, "true", "false"), cftypes.StackStatusUpdateInProgress, nil, ours, lbOff},
		{"switching destroy off protects the stack again", update("", "false", "true"), cftypes.StackStatusUpdateInProgress, nil, nil, stackOn},
		{"a throwaway environment's create lifts", event(cfn.RequestCreate, lbArn, "false"), cftypes.StackStatusCreateInProgress, nil, ours, lbOff},
		{"failed create releases the stack", event(cfn.RequestDelete, "", "true"), cftypes.StackStatusRollbackInProgress, nil, nil, stackOff},
		{"failed create releases the load balancer", event(cfn.RequestDelete, lbArn, "true"), cftypes.StackStatusRollbackInProgress, nil, ours, lbOff},
		{"stack deletion keeps the load balancer protected", event(cfn.RequestDelete, lbArn, "true"), cftypes.StackStatusDeleteInProgress, nil, ours, ""},
		{"update rollback keeps the stack protected", event(cfn.RequestDelete, "", "true"), cftypes.StackStatusUpdateRollbackInProgress, nil, nil, ""},
		{"replacement cleanup keeps the stack protected", event(cfn.RequestDelete, "", "true"), cftypes.StackStatusUpdateCompleteCleanupInProgress, nil, nil, ""},
		// The policy names no load balancer: the replaced one, whose ARN the stack no longer
		// has, is reached by its tags.
		{"a replaced load balancer is released", event(cfn.RequestDelete, lbArn, "true"), cftypes.StackStatusUpdateCompleteCleanupInProgress,
			[]string{newLB}, ours, lbOff},
		{"a load balancer a rolled back update created is released", event(cfn.RequestDelete, lbArn, "true"),
			cftypes.StackStatusUpdateRollbackCompleteCleanupInProgress, []string{newLB}, ours, lbOff},
		{"a kept load balancer stays protected", event(cfn.RequestDelete, lbArn, "true"), cftypes.StackStatusUpdateCompleteCleanupInProgress,
			[]string{lbArn}, ours, ""},
		// Another stack's load balancer (without this stack's tags) is out of the handler's reach.
		{"another stack's load balancer is not touched", event(cfn.RequestDelete, lbArn, "true"), cftypes.StackStatusRollbackInProgress,
			nil, map[string]string{"App": "Other"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{status: tc.status, resources: tc.stack, tags: map[string]map[string]string{lbArn: tc.tags}, policy: policy}
			h := &Handler{CloudFormation: f, ELB: f}
			id, _, err := h.Handle(context.Background(), tc.event)
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

// TestKeptLoadBalancerOnALaterPage: an environment has more resources than one page of
// ListStackResources holds; the load balancer the stack still has, on the third page, stays
// protected.
func TestKeptLoadBalancerOnALaterPage(t *testing.T) {
	resources := []string{"a", "b", "c", "d", lbArn, "e"}
	policy := guardPolicy(t)
	f := &fake{status: cftypes.StackStatusUpdateCompleteCleanupInProgress, resources: resources, pageSize: 2,
		tags: map[string]map[string]string{lbArn: policy.tags}, policy: policy}
	h := &Handler{CloudFormation: f, ELB: f}
	if _, _, err := h.Handle(context.Background(), event(cfn.RequestDelete, lbArn, "true")); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) > 0 {
		t.Errorf("released the stack's own load balancer: %q", f.calls)
	}
}

// TestReleaseNeverBlocksTheRollback: lifting the protection fails (throttled, say); the delete
// still succeeds, so the rollback goes on and docs/operations.md's command finishes the job.
func TestReleaseNeverBlocksTheRollback(t *testing.T) {
	policy := guardPolicy(t)
	f := &fake{status: cftypes.StackStatusRollbackInProgress, fail: errors.New("Rate exceeded"),
		tags: map[string]map[string]string{lbArn: policy.tags}, policy: policy}
	h := &Handler{CloudFormation: f, ELB: f}
	if _, _, err := h.Handle(context.Background(), event(cfn.RequestDelete, lbArn, "true")); err != nil {
		t.Errorf("delete failed: %v", err)
	}
}

// TestProtectFailureIsVisible: a create that cannot protect fails, rather than leaving a retained
// environment silently unprotected; so does one that cannot lift, rather than leaving a
// throwaway environment that `cdk destroy` cannot delete.
func TestProtectFailureIsVisible(t *testing.T) {
	for _, protect := range []string{"true", "false"} {
		f := &fake{fail: errors.New("AccessDenied")}
		h := &Handler{CloudFormation: f, ELB: f}
		if _, _, err := h.Handle(context.Background(), event(cfn.RequestCreate, "", protect)); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
			t.Errorf("Protect %s: error = %v", protect, err)
		}
	}
}
