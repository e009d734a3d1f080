// Package protection is the logic of the custom resources that protect a retained environment
// and still let its failed first create roll back cleanly.
//
// A retained environment must survive an accidental `cdk destroy` (stack termination protection)
// and an accidental delete of its load balancer (deletion protection). Both, set from the start,
// break a failed first create: CloudFormation's rollback cannot delete a protected load balancer
// (ROLLBACK_FAILED), and `cdk deploy` cannot delete the protected ROLLBACK_COMPLETE stack before
// it creates it again. So protection is switched on by these resources once what they protect
// exists, and switched off again when CloudFormation deletes them while rolling back a failed
// create, before it deletes what they protect (it deletes in reverse dependency order):
//   - the stack's resource has no dependency and every other resource of the stack depends on it;
//   - the load balancer's resource depends on the load balancer.
//
// A load balancer the stack no longer has is released too, when its protection resource is
// deleted in a cleanup: one the stack replaced (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS) or one a
// failed update had created and its rollback drops (UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS);
// CloudFormation deletes that load balancer next. Every other delete (the stack's deletion, a
// replaced protection resource of a kept load balancer) leaves protection as it is.
//
// Each resource's Protect property says whether to protect: "false" for an environment with
// destroy: true, where a create or an update lifts the protections, so that switching destroy on
// and deploying leaves nothing that stops the next `cdk destroy`. It also enables termination
// protection where `cdk deploy` would not: CDK Pipelines' CloudFormation actions ignore a stack's
// terminationProtection (aws-cdk issues 17871 and 30405).
package protection

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// CloudFormation is the part of the CloudFormation API the handler uses.
type CloudFormation interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	UpdateTerminationProtection(context.Context, *cloudformation.UpdateTerminationProtectionInput, ...func(*cloudformation.Options)) (*cloudformation.UpdateTerminationProtectionOutput, error)
	ListStackResources(context.Context, *cloudformation.ListStackResourcesInput, ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error)
}

// ELB is the part of the Elastic Load Balancing API the handler uses.
type ELB interface {
	ModifyLoadBalancerAttributes(context.Context, *elasticloadbalancingv2.ModifyLoadBalancerAttributesInput, ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.ModifyLoadBalancerAttributesOutput, error)
}

// PropertyLoadBalancerArn names the load balancer a resource protects; without it, the resource
// protects its stack. constructs/guard writes it (it cannot import this package without linking
// the AWS SDK into the CDK app); contract_test.go holds the two together.
const PropertyLoadBalancerArn = "LoadBalancerArn"

// PropertyProtect is "true" or "false": whether the resource protects what it names, or lifts
// the protection (destroy: true). A resource without it protects, as every one did before it.
const PropertyProtect = "Protect"

// Mode is the DEPLOYER_MODE under which cmd/deployer serves the protection resources; guard.Mode
// must say the same (contract_test.go).
const Mode = "protection"

// Handler serves both resources.
type Handler struct {
	CloudFormation CloudFormation
	ELB            ELB
}

// Handle implements cfn.CustomResourceFunction.
func (h *Handler) Handle(ctx context.Context, e cfn.Event) (string, map[string]any, error) {
	lb, _ := e.ResourceProperties[PropertyLoadBalancerArn].(string)
	target := "stack " + e.StackID
	if lb != "" {
		target = "load balancer " + lb
	}
	switch e.RequestType {
	case cfn.RequestCreate, cfn.RequestUpdate:
		on := e.ResourceProperties[PropertyProtect] != "false"
		verb := map[bool]string{true: "protecting", false: "lifting the protection of"}[on]
		if err := h.protect(ctx, e.StackID, lb, on); err != nil {
			return "", nil, fmt.Errorf("%s %s: %w", verb, target, err)
		}
		log.Printf("%s %s: done", verb, target)
		return "protection:" + target, nil, nil
	case cfn.RequestDelete:
		return e.PhysicalResourceID, nil, h.release(ctx, e.StackID, lb, target)
	}
	return "", nil, fmt.Errorf("unknown request type %q", e.RequestType)
}

// release lifts the protection while a failed create rolls back, and a load balancer's when the
// stack drops it. It never fails: an error here would stop the very rollback it is meant to let
// through. What it could not do is logged (the log group outlives a failed create), and
// docs/operations.md, "When things go wrong", gives the command that does it by hand.
func (h *Handler) release(ctx context.Context, stackID, lb, target string) error {
	out, err := h.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stackID)})
	if err != nil || len(out.Stacks) == 0 {
		log.Printf("left %s protected: cannot read the stack's status: %v", target, err)
		return nil
	}
	// A failed create rolls back as ROLLBACK_IN_PROGRESS; a failed update as
	// UPDATE_ROLLBACK_IN_PROGRESS, a deletion as DELETE_IN_PROGRESS; an update deletes what it
	// replaced in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, and a rolled back update what it had
	// created in UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS (CloudFormation user guide, "Stack
	// status codes").
	cleanup := func(s cftypes.StackStatus) bool {
		return s == cftypes.StackStatusUpdateCompleteCleanupInProgress || s == cftypes.StackStatusUpdateRollbackCompleteCleanupInProgress
	}
	switch status := out.Stacks[0].StackStatus; {
	case status == cftypes.StackStatusRollbackInProgress:
	case cleanup(status) && lb != "":
		current, err := h.inStack(ctx, stackID, lb)
		if err != nil || current {
			log.Printf("left %s protected: it is still the stack's (%v)", target, err)
			return nil
		}
	default:
		log.Printf("left %s protected: stack is %s, not rolling back a failed create nor dropping a load balancer", target, status)
		return nil
	}
	if err := h.protect(ctx, stackID, lb, false); err != nil {
		log.Printf("could not lift the protection of %s for the rollback of the failed create: %v", target, err)
		return nil
	}
	log.Printf("lifted the protection of %s: CloudFormation deletes it next", target)
	return nil
}

// inStack reports whether the stack still has a resource whose physical ID is id. Every page:
// DescribeStackResources would stop at 100 resources ("Only the first 100 resources will be
// returned. If your stack has more resources than this, you should use ListStackResources
// instead", CloudFormation API reference), fewer than an environment has.
func (h *Handler) inStack(ctx context.Context, stackID, id string) (bool, error) {
	in := &cloudformation.ListStackResourcesInput{StackName: aws.String(stackID)}
	for {
		out, err := h.CloudFormation.ListStackResources(ctx, in)
		if err != nil {
			return false, err
		}
		for _, r := range out.StackResourceSummaries {
			if aws.ToString(r.PhysicalResourceId) == id {
				return true, nil
			}
		}
		if out.NextToken == nil {
			return false, nil
		}
		in.NextToken = out.NextToken
	}
}

func (h *Handler) protect(ctx context.Context, stackID, lb string, on bool) error {
	if lb != "" {
		_, err := h.ELB.ModifyLoadBalancerAttributes(ctx, &elasticloadbalancingv2.ModifyLoadBalancerAttributesInput{
			LoadBalancerArn: aws.String(lb),
			Attributes:      []elbtypes.LoadBalancerAttribute{{Key: aws.String("deletion_protection.enabled"), Value: aws.String(fmt.Sprint(on))}},
		})
		return err
	}
	// Allowed in every status but DELETE_IN_PROGRESS and DELETE_COMPLETE (CloudFormation user
	// guide, "Protect CloudFormation stacks from being deleted").
	_, err := h.CloudFormation.UpdateTerminationProtection(ctx, &cloudformation.UpdateTerminationProtectionInput{
		StackName: aws.String(stackID), EnableTerminationProtection: aws.Bool(on),
	})
	return err
}
