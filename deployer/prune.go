package deployer

import (
	"context"
	"fmt"
	"log"
	"path"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// PruneGrace is how old a revision object must be before it may be deleted: `fleetctl deploy`
// uploads a revision before it creates the deployment that uses it, and a deletion in between
// would fail that deployment.
const PruneGrace = 24 * time.Hour

// prune deletes the revisions in the bucket that the group no longer needs, after a deployment
// of p's revision succeeded. Revision keys are content-addressed and never overwritten, so the
// bucket's noncurrent-version expiry alone would keep every revision forever. Kept: the
// revisions of the group's newest RevisionsToKeep releases, the revision of its newest successful
// deployment of any kind (Auto Scaling launches deploy it to new instances), those of deployments
// still running, and anything younger than PruneGrace. A deleted key becomes a noncurrent version
// that the bucket's lifecycle rule expires after revisionRetentionDays.
//
// It is best effort: the deployment has succeeded, and a revision left behind costs little, so a
// failure is logged and never fails the stack.
func (d *Deployer) prune(ctx context.Context, p Properties) {
	keep, err := strconv.Atoi(p.RevisionsToKeep)
	if err != nil || keep < 1 {
		return // not configured: keep everything
	}
	needed, err := d.neededRevisions(ctx, p, keep)
	if err != nil {
		log.Printf("revisions not pruned: %v", err)
		return
	}
	needed[p.RevisionKey] = true
	prefix := path.Dir(p.RevisionKey) + "/"
	cutoff := d.Now().Add(-PruneGrace)
	var token *string
	for {
		var out *s3.ListObjectsV2Output
		if err := d.retry(ctx, "ListObjectsV2", func() (err error) {
			out, err = d.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(p.RevisionBucket), Prefix: aws.String(prefix), ContinuationToken: token})
			return err
		}); err != nil {
			log.Printf("revisions not pruned: listing s3://%s/%s: %v", p.RevisionBucket, prefix, err)
			return
		}
		for _, o := range out.Contents {
			key := aws.ToString(o.Key)
			if needed[key] || aws.ToTime(o.LastModified).After(cutoff) {
				continue
			}
			if err := d.retry(ctx, "DeleteObject", func() error {
				_, err := d.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(p.RevisionBucket), Key: aws.String(key)})
				return err
			}); err != nil {
				log.Printf("revision s3://%s/%s not pruned: %v", p.RevisionBucket, key, err)
				continue
			}
			log.Printf("pruned revision s3://%s/%s: not among the last %d deployed to %s", p.RevisionBucket, key, keep, p.DeploymentGroupName)
		}
		if !aws.ToBool(out.IsTruncated) {
			return
		}
		token = out.NextContinuationToken
	}
}

// neededRevisions returns the object keys in p's bucket that the group's deployments still need.
func (d *Deployer) neededRevisions(ctx context.Context, p Properties, keep int) (map[string]bool, error) {
	needed := map[string]bool{}
	add := func(info *cdtypes.DeploymentInfo) {
		if info.Revision != nil && info.Revision.S3Location != nil && aws.ToString(info.Revision.S3Location.Bucket) == p.RevisionBucket {
			needed[aws.ToString(info.Revision.S3Location.Key)] = true
		}
	}
	ids, err := d.list(ctx, &codedeploy.ListDeploymentsInput{
		ApplicationName: aws.String(p.ApplicationName), DeploymentGroupName: aws.String(p.DeploymentGroupName),
		IncludeOnlyStatuses: activeStatuses,
	})
	if err != nil {
		return nil, err
	}
	active, err := d.batchGet(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, info := range active {
		add(info)
	}

	releases, newestSuccess := map[string]bool{}, (*cdtypes.DeploymentInfo)(nil)
	err = d.endedNewestFirst(ctx, p, func(info *cdtypes.DeploymentInfo) bool {
		if newestSuccess == nil && info.Status == cdtypes.DeploymentStatusSucceeded {
			newestSuccess = info
			add(info)
		}
		if isRelease(info) && len(releases) < keep && info.Revision != nil && info.Revision.S3Location != nil {
			releases[aws.ToString(info.Revision.S3Location.Key)] = true
			add(info)
		}
		return len(releases) < keep || newestSuccess == nil
	})
	if err != nil {
		return nil, err
	}
	if newestSuccess == nil {
		return nil, fmt.Errorf("%s has no successful deployment to keep", p.DeploymentGroupName)
	}
	return needed, nil
}

var activeStatuses = []cdtypes.DeploymentStatus{
	cdtypes.DeploymentStatusCreated, cdtypes.DeploymentStatusQueued, cdtypes.DeploymentStatusInProgress,
	cdtypes.DeploymentStatusReady, cdtypes.DeploymentStatusBaking,
}
