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

// RetainExceptOnCreate is Policy for what a failed create should not leave behind: log groups
// and keys (retained with the stack, worthless after a failed first create) and resources with
// fixed names (a leftover would block the next attempt with "already exists"). They are deleted
// when the stack's creation fails (DeletionPolicy RetainExceptOnCreate), retained otherwise.
// Buckets are not: a bucket with objects cannot be deleted, so its rollback would fail.
func RetainExceptOnCreate(destroy bool) awscdk.RemovalPolicy {
	if destroy {
		return awscdk.RemovalPolicy_DESTROY
	}
	return awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE
}
