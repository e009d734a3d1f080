package test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/example/codedeploy-fleet/revision"
)

func TestDelivery(t *testing.T) {
	pkg, err := revision.Zip("../assets")
	if err != nil {
		t.Fatal(err)
	}
	forEachEnv(t, func(t *testing.T, b *built) {
		env, d := b.stack.Env, b.stack.Delivery
		cr := resource(t, b, logicalID(t, b, d.Resource))
		expect(t, cr, "Type", "Custom::RevisionDeployment")
		props := cr["Properties"].(map[string]any)
		wantKey := "revisions/" + pkg.SHA256 + ".zip"
		for key, want := range map[string]any{
			"ApplicationName":     ref(logicalID(t, b, b.stack.Deployment.Application)),
			"DeploymentGroupName": ref(logicalID(t, b, b.stack.Deployment.Group)),
			"RevisionBucket":      ref(logicalID(t, b, b.stack.Revisions.Bucket)),
			"RevisionKey":         wantKey,
			"Deploy":              strconv.FormatBool(env.Delivery.DeployOnCdkDeploy),
			"TimeoutMinutes":      strconv.Itoa(env.Delivery.TimeoutMinutes),
			"RevisionsToKeep":     strconv.Itoa(env.Delivery.RevisionsToKeep),
			"BakeSeconds":         strconv.Itoa(env.Deployment.BakeSeconds),
			"AlarmNames":          map[string]any{"Fn::Join": []any{",", gateRefs(t, b)}},
			"FirstConfig":         "CodeDeployDefault.AllAtOnce",
			"RestoreConfig":       "CodeDeployDefault.HalfAtATime",
		} {
			if !reflectEqual(props[key], want) {
				t.Errorf("%s = %s, want %s", key, show(props[key]), show(want))
			}
		}
		// CloudFormation's wait for the resource: the configured timeout plus 5 minutes, at most an hour.
		expect(t, cr, "Properties.ServiceTimeout", strconv.Itoa(min(3600, env.Delivery.TimeoutMinutes*60+300)))
		if key, _ := props["SourceKey"].(string); !strings.HasSuffix(key, ".zip") {
			t.Errorf("SourceKey %s is not the packaged zip", show(props["SourceKey"]))
		}
		expectOutput(t, b, "RevisionObjectKey", wantKey)
		// fleetctl deploy bakes as the resource does.
		expectOutput(t, b, "BakeSeconds", strconv.Itoa(env.Deployment.BakeSeconds))
		expectOutput(t, b, "MetricDelaySeconds", strconv.Itoa(env.Deployment.Alarms.MetricDelaySeconds))
		expectOutput(t, b, "GatingAlarmNames", map[string]any{"Fn::Join": []any{",", gateRefs(t, b)}})

		// The first deployment waits for the fleet, the deployment group and all permissions.
		dependsOn := map[string]bool{}
		for _, id := range toStrings(asList(cr["DependsOn"])) {
			dependsOn[id] = true
		}
		for name, id := range map[string]string{
			"Auto Scaling group":   logicalID(t, b, b.stack.Fleet.Group),
			"deployment group":     logicalID(t, b, b.stack.Deployment.Group),
			"service policy":       logicalID(t, b, b.stack.Deployment.Policy),
			"listener's target":    logicalID(t, b, b.stack.Fleet.TargetGroup),
			"instance role policy": logicalID(t, b, b.stack.Fleet.Role.Node().FindChild(stringPtr("DefaultPolicy"))),
		} {
			if !dependsOn[id] {
				t.Errorf("the deployment does not wait for the %s (%s)", name, id)
			}
		}

		for fn, mode := range map[string]string{logicalID(t, b, d.OnEvent): "on-event", logicalID(t, b, d.IsComplete): "is-complete"} {
			f := resource(t, b, fn)
			expect(t, f, "Properties.Runtime", "provided.al2023")
			expect(t, f, "Properties.Architectures", []any{"x86_64"})
			expect(t, f, "Properties.Handler", "bootstrap")
			expect(t, f, "Properties.Environment.Variables.DEPLOYER_MODE", mode)
		}
	})
}

// handlerActions is the handlers' whole permission model, by role.
func TestDeliveryPermissions(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		env, d := b.stack.Env, b.stack.Delivery
		groupArn := "arn:aws:codedeploy:" + env.Region + ":" + env.Account + ":deploymentgroup:"
		want := map[string]map[string]bool{
			logicalID(t, b, d.OnEvent.Role()): {
				"s3:GetObject": true, "s3:PutObject": true, "codedeploy:RegisterApplicationRevision": true,
				"logs:CreateLogStream": true, "logs:PutLogEvents": true,
				"kms:GenerateDataKey": env.RevisionEncryption == "kms",
			},
			logicalID(t, b, d.IsComplete.Role()): {
				"codedeploy:CreateDeployment": true, "codedeploy:ListDeployments": true,
				"codedeploy:BatchGetDeployments": true, "codedeploy:UpdateDeploymentGroup": true,
				"codedeploy:GetApplicationRevision": true, "codedeploy:RegisterApplicationRevision": true,
				"codedeploy:GetDeploymentConfig":   env.Delivery.DeployOnCdkDeploy,
				"codedeploy:ListDeploymentTargets": true, "codedeploy:BatchGetDeploymentTargets": true,
				"s3:ListBucket": true, "s3:DeleteObject": true,
				"logs:CreateLogStream": true, "logs:PutLogEvents": true,
				"cloudwatch:DescribeAlarms": env.Delivery.DeployOnCdkDeploy && env.Deployment.BakeSeconds > 0,
			},
		}
		gateArns := map[string]bool{}
		for _, a := range b.stack.Deployment.Gates {
			gateArns[show(getAtt(logicalID(t, b, a), "Arn"))] = true
		}
		configArn := func(name string) string {
			return "arn:aws:codedeploy:" + env.Region + ":" + env.Account + ":deploymentconfig:" + name
		}
		for roleID, allowed := range want {
			role := resource(t, b, roleID)
			expect(t, role, "Properties.ManagedPolicyArns", nil)
			seen := map[string]bool{}
			var configs []string
			for _, st := range statements(t, b, roleID) {
				for _, a := range asList(st["Action"]) {
					action := a.(string)
					seen[action] = true
					if !allowed[action] {
						t.Errorf("%s has %s", roleID, action)
					}
					for _, r := range asList(st["Resource"]) {
						// These two have no resource-level permissions; everything else is scoped.
						anywhere := action == "codedeploy:ListDeploymentTargets" || action == "codedeploy:BatchGetDeploymentTargets"
						if (r == "*") != anywhere {
							t.Errorf("%s: %s on %s", roleID, action, show(r))
						}
						if r == "*" && !reflect.DeepEqual(st["Condition"], map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": env.Region}}) {
							t.Errorf("%s: %s on * is not held to %s: condition %s", roleID, action, env.Region, show(st["Condition"]))
						}
						// Pruning lists and deletes under the revision prefix of this bucket only.
						revisions := logicalID(t, b, b.stack.Revisions.Bucket)
						switch action {
						case "cloudwatch:DescribeAlarms":
							// The bake reads the gating alarms, each by its ARN, and nothing else.
							if !gateArns[show(r)] {
								t.Errorf("%s: cloudwatch:DescribeAlarms on %s, not a gating alarm", roleID, show(r))
							}
						case "codedeploy:GetDeploymentConfig":
							configs = append(configs, show(r))
						case "s3:ListBucket":
							if !reflectEqual(r, getAtt(revisions, "Arn")) || !reflectEqual(st["Condition"], map[string]any{"StringLike": map[string]any{"s3:prefix": b.stack.Revisions.Prefix + "*"}}) {
								t.Errorf("%s: s3:ListBucket on %s, condition %s", roleID, show(r), show(st["Condition"]))
							}
						case "s3:DeleteObject":
							if !reflectEqual(r, map[string]any{"Fn::Join": []any{"", []any{getAtt(revisions, "Arn"), "/" + b.stack.Revisions.Prefix + "*"}}}) {
								t.Errorf("%s: s3:DeleteObject on %s", roleID, show(r))
							}
						}
						if s, ok := r.(string); ok && strings.HasPrefix(action, "codedeploy:") && strings.Contains(s, ":deploymentgroup:") &&
							!strings.HasPrefix(s, groupArn) {
							t.Errorf("%s: %s on another account's or region's group %s", roleID, action, s)
						}
					}
				}
			}
			for action, need := range allowed {
				if need && !seen[action] {
					t.Errorf("%s lacks %s", roleID, action)
				}
			}
			// The group's own configuration, and the two its first and restoring deployments name.
			if seen["codedeploy:GetDeploymentConfig"] {
				want := []string{show(b.stack.Resolve(b.stack.Deployment.Config.DeploymentConfigArn())),
					show(configArn("CodeDeployDefault.AllAtOnce")), show(configArn("CodeDeployDefault.HalfAtATime"))}
				slices.Sort(want)
				slices.Sort(configs)
				if !slices.Equal(configs, want) {
					t.Errorf("%s: codedeploy:GetDeploymentConfig on %v, want %v", roleID, configs, want)
				}
			}
		}
	})
}

func stringPtr(s string) *string { return &s }

// gateRefs are references to the deployment group's gating alarms' names, in order.
func gateRefs(t *testing.T, b *built) []any {
	t.Helper()
	var refs []any
	for _, a := range b.stack.Deployment.Gates {
		refs = append(refs, ref(logicalID(t, b, a)))
	}
	return refs
}

// Synthesis writes the revision's zip to the temporary folder only for the asset to be staged
// from it: once the stacks are built (TestMain), it is gone.
func TestNoRevisionZipLeftBehind(t *testing.T) {
	pkg, err := revision.Zip("../assets")
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "codedeploy-fleet-*", pkg.SHA256+".zip")); len(left) > 0 {
		t.Errorf("synthesis left %v", left)
	}
}
