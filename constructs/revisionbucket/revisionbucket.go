// Package revisionbucket defines the S3 bucket that CodeDeploy pulls application revisions from.
package revisionbucket

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/example/codedeploy-fleet/constructs/removal"
)

// DefaultPrefix is where revisions live when Props.Prefix is empty.
const DefaultPrefix = "revisions/"

// Props configures a revision Bucket.
type Props struct {
	// AccessLogs receives the bucket's server access logs. Required: revision reads are what an
	// incident review asks about.
	AccessLogs awss3.IBucket
	// NoncurrentDays is how long superseded revision versions are kept, so a rollback or a
	// redeploy of an older revision still finds its object. Default: 30.
	NoncurrentDays int
	// EncryptionKey encrypts revisions with SSE-KMS and an S3 bucket key. Default: nil, S3-managed
	// keys (SSE-S3).
	EncryptionKey awskms.IKey
	// Prefix is the key prefix revisions are stored under; GrantRead is scoped to it.
	// Default: DefaultPrefix ("revisions/").
	Prefix string
	// Destroy removes the bucket and its objects with the stack. Default: false (retained).
	Destroy bool
}

// Bucket is the revision bucket. Bucket is its S3 bucket, the construct's "Default" child.
type Bucket struct {
	constructs.Construct
	Bucket awss3.Bucket
	// Prefix is the key prefix revisions are stored under, ending in "/".
	Prefix string
	key    awskms.IKey
}

// New defines the revision bucket. Its child is named "Default", so the logical ID depends on
// id alone.
func New(scope constructs.Construct, id string, props Props) *Bucket {
	if props.AccessLogs == nil {
		panic(fmt.Sprintf("revisionbucket.New(%s): Props.AccessLogs is nil; pass the environment's log bucket", id))
	}
	days := props.NoncurrentDays
	if days == 0 {
		days = 30
	}
	if days < 1 {
		panic(fmt.Sprintf("revisionbucket.New(%s): Props.NoncurrentDays %d is negative; use a positive number of days", id, days))
	}
	prefix := props.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !strings.HasSuffix(prefix, "/") || strings.HasPrefix(prefix, "/") || strings.Contains(prefix, "*") {
		panic(fmt.Sprintf("revisionbucket.New(%s): Props.Prefix %q must end in \"/\", not start with one, and hold no \"*\"", id, prefix))
	}

	encryption := awss3.BucketEncryption_S3_MANAGED
	if props.EncryptionKey != nil {
		encryption = awss3.BucketEncryption_KMS
	}
	c := &Bucket{}
	// Override makes the Go struct itself the construct, so it can be a scope for others.
	constructs.NewConstruct_Override(c, scope, jsii.String(id))
	bucket := awss3.NewBucket(c, jsii.String("Default"), &awss3.BucketProps{
		// Versioning keeps every revision CodeDeploy may roll back to, even after an overwrite.
		Versioned:     jsii.Bool(true),
		Encryption:    encryption,
		EncryptionKey: props.EncryptionKey,
		// A bucket key cuts KMS requests (and cost) for the many small reads of a rollout.
		BucketKeyEnabled:       jsii.Bool(props.EncryptionKey != nil),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		ServerAccessLogsBucket: props.AccessLogs,
		ServerAccessLogsPrefix: jsii.String("s3/revisions/"),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("ExpireSupersededRevisions"),
			NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(float64(days))),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
			ExpiredObjectDeleteMarker:           jsii.Bool(true),
		}},
		RemovalPolicy:     removal.Policy(props.Destroy),
		AutoDeleteObjects: jsii.Bool(props.Destroy),
	})
	c.Bucket, c.Prefix, c.key = bucket, prefix, props.EncryptionKey
	return c
}

// RevisionArn is the ARN pattern of every revision object, for IAM statements.
func (b *Bucket) RevisionArn() *string {
	return b.Bucket.ArnForObjects(jsii.String(b.Prefix + "*"))
}

// GrantRead lets grantee download revisions: s3:GetObject and s3:GetObjectVersion (CodeDeploy
// fetches a specific version when the deployment names one) on the revision prefix only, plus
// kms:Decrypt on the bucket's key, only through S3, when revisions are KMS-encrypted. It grants
// no listing and nothing outside the prefix.
func (b *Bucket) GrantRead(grantee awsiam.IGrantable) awsiam.Grant {
	grant := awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("s3:GetObject", "s3:GetObjectVersion"),
		ResourceArns: &[]*string{b.RevisionArn()},
	})
	if b.key != nil {
		grant = grant.Combine(awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
			Grantee:      grantee,
			Actions:      jsii.Strings("kms:Decrypt"),
			ResourceArns: &[]*string{b.key.KeyArn()},
			// The key serves revision downloads only: no direct Decrypt calls with it.
			Conditions: &map[string]*map[string]any{
				"StringEquals": {"kms:ViaService": jsii.String("s3." + *awscdk.Stack_Of(b).Region() + ".amazonaws.com")},
			},
		}))
	}
	return grant
}
