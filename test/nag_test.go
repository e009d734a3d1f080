package test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// TestNag fails on every unsuppressed AwsSolutions finding, error or warning. A suppression
// belongs next to the resource it excuses, with a reason.
func TestNag(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		for _, finding := range nagFindings(b.stack.Stack) {
			t.Error(finding)
		}
	})
	t.Run("pipeline", func(t *testing.T) {
		if pipeline == nil {
			t.Fatal("the fixture configures a pipeline, but none was built")
		}
		for _, finding := range nagFindings(pipeline.Stack) {
			t.Error(finding)
		}
		for _, stage := range pipeline.Stages {
			for _, finding := range nagFindings(stage.Environment.Stack) {
				t.Error(finding)
			}
		}
	})
}

// TestNoErrorAnnotations fails on any error annotation, cdk-nag's or not: `cdk synth` refuses
// to write templates with one (a missing context lookup, for instance).
func TestNoErrorAnnotations(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		errs := assertions.Annotations_FromStack(b.stack.Stack).FindError(jsii.String("*"), assertions.Match_AnyValue())
		for _, m := range *errs {
			t.Errorf("error at %s: %v", *m.Id, m.Entry.Data)
		}
	})
}

// TestNoLookups fails when synthesis needs a context lookup: without credentials, `cdk synth`
// would stop with "Need to perform AWS calls", and with them it would depend on the account.
func TestNoLookups(t *testing.T) {
	for _, key := range missingContext {
		t.Errorf("synthesis looks up %s; configure the value instead", key)
	}
}

// TestNagGate proves the gate above can fail: a bucket with none of the protections must be
// reported. Without this, a nag pack that silently stopped running would look like a pass.
func TestNagGate(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{BuiltinCloudFormationValidation: jsii.Bool(false)})
	stack := awscdk.NewStack(app, jsii.String("NagProbe"), nil)
	awss3.NewBucket(stack, jsii.String("Unprotected"), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{}), nil)
	if findings := nagFindings(stack); len(findings) == 0 {
		t.Error("cdk-nag reported nothing for a bucket without access logs or a TLS-only policy")
	}
}

func nagFindings(stack awscdk.Stack) []string {
	annotations := assertions.Annotations_FromStack(stack)
	anyNag := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	var out []string
	for _, m := range *annotations.FindError(jsii.String("*"), anyNag) {
		out = append(out, fmt.Sprintf("cdk-nag error at %s: %v", *m.Id, m.Entry.Data))
	}
	for _, m := range *annotations.FindWarning(jsii.String("*"), anyNag) {
		out = append(out, fmt.Sprintf("cdk-nag warning at %s: %v", *m.Id, m.Entry.Data))
	}
	return out
}
