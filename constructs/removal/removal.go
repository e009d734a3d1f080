// Package removal is the one place that decides what CloudFormation does with a stateful
// resource when its stack is deleted, from an environment's `destroy` setting.
package removal

import "github.com/aws/aws-cdk-go/awscdk/v2"

// Policy is DESTROY for a throwaway environment and RETAIN otherwise.
func Policy(destroy bool) awscdk.RemovalPolicy {
	if destroy {
		return awscdk.RemovalPolicy_DESTROY
	}
	return awscdk.RemovalPolicy_RETAIN
}

// PolicyForNamed is Policy for resources with fixed names: they are retained too, except when
// the stack's creation fails, so a retained leftover never blocks the next attempt with
// "already exists".
func PolicyForNamed(destroy bool) awscdk.RemovalPolicy {
	if destroy {
		return awscdk.RemovalPolicy_DESTROY
	}
	return awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE
}
