package test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// TestNag fails on every unsuppressed AwsSolutions finding, error or warning. A suppression
// belongs next to the resource it excuses, with a reason.
func TestNag(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		for _, finding := range nagFindings(b.messages) {
			t.Error(finding)
		}
	})
	t.Run("pipeline", func(t *testing.T) {
		if pipeline == nil {
			t.Fatal("the fixture configures a pipeline, but none was built")
		}
		for _, finding := range nagFindings(pipelineMessages) {
			t.Error(finding)
		}
		// The stages' stacks are not checked here: aspects stop at a Stage (CDK synthesizes a
		// nested stage with its own aspects only), and TestPipelineDeploysTheSameTemplates proves
		// each stage's template is the checked stack's own.
	})
}

// TestNoErrorAnnotations fails on any error annotation, cdk-nag's or not: `cdk synth` refuses
// to write templates with one (a missing context lookup, for instance).
func TestNoErrorAnnotations(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		for _, m := range find(b.messages, "error", "") {
			t.Errorf("error at %s: %s", m.path, m.text)
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
// reported, through the same reading of the cloud assembly the suite uses. Without this, a nag
// pack that silently stopped running, or a manifest read that found nothing, would look like a pass.
func TestNagGate(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{
		BuiltinCloudFormationValidation: jsii.Bool(false), Outdir: jsii.String(t.TempDir()),
		Context: &map[string]any{"@aws-cdk/core:annotationsInValidationReport": false},
	})
	stack := awscdk.NewStack(app, jsii.String("NagProbe"), nil)
	awss3.NewBucket(stack, jsii.String("Unprotected"), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{}), nil)
	assembly := app.Synth(nil)
	m, err := readManifest(*assembly.Directory())
	if err != nil {
		t.Fatal(err)
	}
	if findings := nagFindings(m.messages[*stack.ArtifactId()]); len(findings) == 0 {
		t.Error("cdk-nag reported nothing for a bucket without access logs or a TLS-only policy")
	}
}

// nagFindings are the AwsSolutions findings among messages.
func nagFindings(messages []message) []string {
	var out []string
	for _, level := range []string{"error", "warning"} {
		for _, m := range find(messages, level, `AwsSolutions-`) {
			out = append(out, fmt.Sprintf("cdk-nag %s at %s: %s", level, m.path, m.text))
		}
	}
	return out
}
