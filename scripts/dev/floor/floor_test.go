//go:build benchfloor

// Package floor is the yardstick of `make bench`: the smallest CDK test this module can run (one
// stack, one bucket, one assertion), so the suite's time is reported against what any CDK test
// here costs (starting jsii and loading the CDK). Built only with -tags benchfloor, so
// `go test ./...` does not run it.
package floor

import (
	"os"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
)

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

func TestOneAssertion(t *testing.T) {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Floor"), nil)
	awss3.NewBucket(stack, jsii.String("Bucket"), nil)
	assertions.Template_FromStack(stack, nil).ResourceCountIs(jsii.String("AWS::S3::Bucket"), jsii.Number(1))
}
