// Command codedeploy-fleet is the CDK app: one stack per environment in cdk.json.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/example/codedeploy-fleet/stacks"
)

func main() {
	err := run()
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	// cdk synth runs at the repository root.
	return stacks.Run(awscdk.NewApp(nil), stacks.Options{RevisionDir: "assets", ModuleRoot: "."})
}
