package test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/example/codedeploy-fleet/config"
	"github.com/example/codedeploy-fleet/constructs/revisionbucket"
)

func TestRevisionBucket(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		env := b.stack.Env
		id := logicalID(t, b, b.stack.Revisions.Bucket)
		bucket := resource(t, b, id)
		expect(t, bucket, "Properties.VersioningConfiguration.Status", "Enabled")
		expect(t, bucket, "Properties.OwnershipControls.Rules.0.ObjectOwnership", "BucketOwnerEnforced")
		expectPublicAccessBlocked(t, bucket)
		expectTLSOnly(t, b, id)
		expectRemoval(t, b, id, env.Destroy)

		sse := "Properties.BucketEncryption.ServerSideEncryptionConfiguration.0."
		switch env.RevisionEncryption {
		case config.EncryptionKMS:
			expect(t, bucket, sse+"ServerSideEncryptionByDefault.SSEAlgorithm", "aws:kms")
			expect(t, bucket, sse+"BucketKeyEnabled", true)
			keyRef, _ := at(bucket, path("Properties.BucketEncryption.ServerSideEncryptionConfiguration.0.ServerSideEncryptionByDefault.KMSMasterKeyID.Fn::GetAtt.0")...).(string)
			key := resource(t, b, keyRef)
			expect(t, key, "Type", "AWS::KMS::Key")
			expect(t, key, "Properties.EnableKeyRotation", true)
			expectRemoval(t, b, keyRef, env.Destroy)
		default:
			expect(t, bucket, sse+"ServerSideEncryptionByDefault.SSEAlgorithm", "AES256")
			expect(t, bucket, sse+"ServerSideEncryptionByDefault.KMSMasterKeyID", nil)
		}

		rule := at(bucket, path("Properties.LifecycleConfiguration.Rules.0")...)
		if rule == nil {
			t.Fatal("revision bucket has no lifecycle rule")
		}
		r := rule.(map[string]any)
		expect(t, r, "Status", "Enabled")
		expect(t, r, "NoncurrentVersionExpiration.NoncurrentDays", env.RevisionRetentionDays)
		expect(t, r, "AbortIncompleteMultipartUpload.DaysAfterInitiation", 7)
		if at(r, "ExpirationInDays") != nil {
			t.Error("the current revision must never expire: it is what new instances are given")
		}

		logsID := logicalID(t, b, b.stack.Logs)
		expect(t, bucket, "Properties.LoggingConfiguration.DestinationBucketName", ref(logsID))
		expectOutput(t, b, "RevisionBucketName", ref(id))
	})
}

func TestLogBucket(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		env := b.stack.Env
		id := logicalID(t, b, b.stack.Logs)
		bucket := resource(t, b, id)
		// Log delivery writes only to SSE-S3 buckets.
		expect(t, bucket, "Properties.BucketEncryption.ServerSideEncryptionConfiguration.0.ServerSideEncryptionByDefault.SSEAlgorithm", "AES256")
		expect(t, bucket, "Properties.OwnershipControls.Rules.0.ObjectOwnership", "BucketOwnerEnforced")
		expect(t, bucket, "Properties.LifecycleConfiguration.Rules.0.ExpirationInDays", env.LogRetentionDays)
		expectPublicAccessBlocked(t, bucket)
		expectTLSOnly(t, b, id)
		expectRemoval(t, b, id, env.Destroy)
	})
}

func TestStackSettings(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		env := b.stack.Env
		if got := *b.stack.StackName(); got != b.cfg.StackName(env) {
			t.Errorf("stack name %q, want %q", got, b.cfg.StackName(env))
		}
		if *b.stack.Account() != env.Account || *b.stack.Region() != env.Region {
			t.Errorf("stack bound to %s/%s, want %s/%s", *b.stack.Account(), *b.stack.Region(), env.Account, env.Region)
		}
		if got := *b.stack.TerminationProtection(); got == env.Destroy {
			t.Errorf("termination protection %v with destroy %v: a retained environment must be protected", got, env.Destroy)
		}
		want := map[string]string{"App": b.cfg.Name, "Environment": env.Name}
		for k, v := range env.Tags {
			want[k] = v
		}
		for id, res := range resourcesOfType(b, "AWS::S3::Bucket") {
			got := map[string]string{}
			for _, tag := range at(res, "Properties", "Tags").([]any) {
				tag := tag.(map[string]any)
				got[tag["Key"].(string)] = tag["Value"].(string)
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: tag %s = %q, want %q", id, k, got[k], v)
				}
			}
		}
	})
}

// TestRevisionGrant checks the narrow read grant in both encryption modes, on a stack of its own.
func TestRevisionGrant(t *testing.T) {
	stack := awscdk.NewStack(awscdk.NewApp(&awscdk.AppProps{BuiltinCloudFormationValidation: jsii.Bool(false)}),
		jsii.String("GrantProbe"), &awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("eu-west-1")}})
	logs := awss3.NewBucket(stack, jsii.String("Logs"), nil)
	key := awskms.NewKey(stack, jsii.String("Key"), nil)
	plain := revisionbucket.New(stack, "Plain", revisionbucket.Props{AccessLogs: logs})
	encrypted := revisionbucket.New(stack, "Encrypted", revisionbucket.Props{AccessLogs: logs, EncryptionKey: key, Prefix: "apps/"})
	for _, bucket := range []*revisionbucket.Bucket{plain, encrypted} {
		role := awsiam.NewRole(bucket, jsii.String("Reader"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil)})
		bucket.GrantRead(role)
	}
	tmpl := assertions.Template_FromStack(stack, nil)
	objects := func(bucketID, prefix string) map[string]any {
		return map[string]any{"Fn::Join": []any{"", []any{getAtt(bucketID, "Arn"), "/" + prefix + "*"}}}
	}
	id := func(c constructs.IConstruct) string {
		id, ok := logicalIDIn(stack, c)
		if !ok {
			t.Fatalf("%s has no CloudFormation resource", *c.Node().Path())
		}
		return id
	}
	plainID, encryptedID := id(plain.Bucket), id(encrypted.Bucket)
	check(t, func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
			"Roles": []any{ref(id(plain.Node().FindChild(jsii.String("Reader"))))},
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayEquals(&[]any{
				map[string]any{"Effect": "Allow", "Action": []any{"s3:GetObject", "s3:GetObjectVersion"}, "Resource": objects(plainID, "revisions/")},
			})},
		})
	})
	check(t, func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
			"Roles": []any{ref(id(encrypted.Node().FindChild(jsii.String("Reader"))))},
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayEquals(&[]any{
				map[string]any{"Effect": "Allow", "Action": []any{"s3:GetObject", "s3:GetObjectVersion"}, "Resource": objects(encryptedID, "apps/")},
				map[string]any{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": getAtt(id(key), "Arn"),
					"Condition": map[string]any{"StringEquals": map[string]any{"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}},
			})},
		})
	})
}

func expectPublicAccessBlocked(t *testing.T, bucket map[string]any) {
	t.Helper()
	for _, flag := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		expect(t, bucket, "Properties.PublicAccessBlockConfiguration."+flag, true)
	}
}

// expectTLSOnly finds the bucket's policy and checks it denies every request made without TLS.
func expectTLSOnly(t *testing.T, b *built, bucketID string) {
	t.Helper()
	for _, policy := range resourcesOfType(b, "AWS::S3::BucketPolicy") {
		if !reflectEqual(at(policy, "Properties", "Bucket"), ref(bucketID)) {
			continue
		}
		for _, st := range at(policy, path("Properties.PolicyDocument.Statement")...).([]any) {
			if reflectEqual(st, normalizeJSON(map[string]any{
				"Effect": "Deny", "Action": "s3:*", "Principal": map[string]any{"AWS": "*"},
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
				"Resource":  []any{getAtt(bucketID, "Arn"), map[string]any{"Fn::Join": []any{"", []any{getAtt(bucketID, "Arn"), "/*"}}}},
			})) {
				return
			}
		}
	}
	t.Errorf("%s: no bucket policy denies requests without TLS", bucketID)
}

// expectRemoval checks what CloudFormation does with a stateful resource when the stack goes.
func expectRemoval(t *testing.T, b *built, id string, destroy bool) {
	t.Helper()
	res := resource(t, b, id)
	want, replace := "Retain", "Retain"
	if res["Type"] != "AWS::S3::Bucket" {
		// Worthless after a failed first create: deleted then, retained with the stack otherwise.
		want = "RetainExceptOnCreate"
	}
	if destroy {
		want, replace = "Delete", "Delete"
	}
	expect(t, res, "DeletionPolicy", want)
	expect(t, res, "UpdateReplacePolicy", replace)
	if res["Type"] != "AWS::S3::Bucket" {
		return
	}
	emptied := false
	for _, cr := range resourcesOfType(b, "Custom::S3AutoDeleteObjects") {
		emptied = emptied || reflectEqual(at(cr, "Properties", "BucketName"), ref(id))
	}
	if emptied != destroy {
		t.Errorf("%s: objects auto-deleted = %v, want %v (only a destroyed bucket may be emptied)", id, emptied, destroy)
	}
}
