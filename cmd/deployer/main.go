// Command deployer is the Lambda handler of the stack's custom resources: the revision-deploying
// one (package deployer; both provider-framework functions) and the protection of a retained
// environment (package protection). One binary, built once per synthesis, serves them all;
// DEPLOYER_MODE picks which.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/example/codedeploy-fleet/deployer"
	"github.com/example/codedeploy-fleet/protection"
)

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "loading the AWS configuration:", err)
		os.Exit(1)
	}
	d := deployer.New(codedeploy.NewFromConfig(cfg), s3.NewFromConfig(cfg), cloudwatch.NewFromConfig(cfg))
	switch mode := os.Getenv("DEPLOYER_MODE"); mode {
	case "on-event":
		lambda.Start(d.OnEvent)
	case "is-complete":
		lambda.Start(d.IsComplete)
	case protection.Mode:
		// Called by CloudFormation directly, without the provider framework: cfn.LambdaWrap sends
		// the response to CloudFormation's pre-signed URL.
		h := &protection.Handler{CloudFormation: cloudformation.NewFromConfig(cfg), ELB: elasticloadbalancingv2.NewFromConfig(cfg)}
		lambda.Start(cfn.LambdaWrap(h.Handle))
	default:
		fmt.Fprintf(os.Stderr, "DEPLOYER_MODE %q: use on-event, is-complete or protection\n", mode)
		os.Exit(1)
	}
}
