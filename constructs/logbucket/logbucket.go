// Package logbucket defines the locked-down bucket that receives an environment's access logs
// (S3 server access logs and, from the load balancer, ALB access logs).
package logbucket

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/example/codedeploy-fleet/constructs/removal"
)

// Props configures a log bucket. The zero value is valid.
type Props struct {
	// ExpirationDays is how long log objects are kept. Default: 90.
	ExpirationDays int
	// Destroy removes the bucket and its objects with the stack. Default: false (retained).
	Destroy bool
}

// New defines the log bucket. It is a plain awss3.Bucket with locked-down settings: there is
// nothing to add to its API, so no wrapper.
func New(scope constructs.Construct, id string, props Props) awss3.Bucket {
	days := props.ExpirationDays
	if days == 0 {
		days = 90
	}
	if days < 1 {
		panic(fmt.Sprintf("logbucket.New(%s): Props.ExpirationDays %d is negative; use a positive number of days", id, days))
	}
	bucket := awss3.NewBucket(scope, jsii.String(id), &awss3.BucketProps{
		// Log delivery (S3 server access logging, ELB access logs) supports only SSE-S3 targets.
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		// With ACLs disabled, log delivery is granted by the bucket policy CDK writes
		// (feature flag @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy).
		ObjectOwnership: awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("ExpireLogs"),
			Expiration:                          awscdk.Duration_Days(jsii.Number(float64(days))),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
		RemovalPolicy:     removal.Policy(props.Destroy),
		AutoDeleteObjects: jsii.Bool(props.Destroy),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(bucket, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-S1"),
		Reason: jsii.String("This bucket is the access log destination. Logging it into itself would " +
			"log its own log writes without end; logging it elsewhere only moves the question to that bucket."),
	}}, jsii.Bool(false))
	return bucket
}
