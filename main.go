// Command codedeploy-fleet is the CDK app: one stack per environment in cdk.json.
package main

import (
	"os"

	"github.com/example/codedeploy-fleet/stacks"
)

func main() {
	// All of it is in stacks.Main, so the tests can run it as a process of its own (TestAppBinary)
	// without building this package.
	os.Exit(stacks.Main(stacks.AtRepositoryRoot))
}
