// Command deployer is the Lambda handler of the revision-deploying custom resource (see package
// deployer). One binary serves both provider-framework functions; DEPLOYER_MODE picks which.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/example/codedeploy-fleet/deployer"
)

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "loading the AWS configuration:", err)
		os.Exit(1)
	}
	d := deployer.New(codedeploy.NewFromConfig(cfg), s3.NewFromConfig(cfg))
	switch mode := os.Getenv("DEPLOYER_MODE"); mode {
	case "on-event":
		lambda.Start(d.OnEvent)
	case "is-complete":
		lambda.Start(d.IsComplete)
	default:
		fmt.Fprintf(os.Stderr, "DEPLOYER_MODE %q: use on-event or is-complete\n", mode)
		os.Exit(1)
	}
}
