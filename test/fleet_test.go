package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/example/codedeploy-fleet/config"
)

// ids returns the sorted logical IDs of resources of a type.
func ids(b *built, typ string) []string {
	var out []string
	for id := range resourcesOfType(b, typ) {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// subnetsByTier returns the logical IDs of public and private subnets, by MapPublicIpOnLaunch.
func subnetsByTier(b *built) (public, private []string) {
	for _, id := range ids(b, "AWS::EC2::Subnet") {
		if at(b.json, "Resources", id, "Properties", "MapPublicIpOnLaunch") == true {
			public = append(public, id)
		} else {
			private = append(private, id)
		}
	}
	return public, private
}

// subnets returns how the template names the public and private subnets: Refs to the subnets
// the stack creates, or the configured IDs of an existing VPC.
func subnets(b *built) (public, private []any) {
	if e := b.stack.Env.Network.ExistingVPC; e != nil {
		return toAny(e.PublicSubnetIDs), toAny(e.PrivateSubnetIDs)
	}
	pub, priv := subnetsByTier(b)
	return refs(pub), refs(priv)
}

func toAny(list []string) []any {
	out := make([]any, len(list))
	for i, v := range list {
		out[i] = v
	}
	return out
}

func refs(list []string) []any {
	out := make([]any, len(list))
	for i, id := range list {
		out[i] = ref(id)
	}
	return out
}

func TestNetwork(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		env := b.stack.Env
		if env.Network.ExistingVPC != nil {
			// Used by its IDs: the stack creates no network of its own and looks nothing up.
			for _, typ := range []string{"AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway", "AWS::EC2::FlowLog", "AWS::EC2::VPCEndpoint"} {
				if n := len(ids(b, typ)); n != 0 {
					t.Errorf("%d %s with an existing VPC, want none", n, typ)
				}
			}
			for _, sg := range resourcesOfType(b, "AWS::EC2::SecurityGroup") {
				expect(t, sg, "Properties.VpcId", env.Network.ExistingVPC.VPCID)
			}
			return
		}
		vpcs := ids(b, "AWS::EC2::VPC")
		if len(vpcs) != 1 {
			t.Fatalf("want one VPC, found %d", len(vpcs))
		}
		expect(t, resource(t, b, vpcs[0]), "Properties.CidrBlock", env.Network.CIDR)

		public, private := subnetsByTier(b)
		zones := map[string]int{}
		for _, id := range append(append([]string{}, public...), private...) {
			zones[at(resource(t, b, id), "Properties", "AvailabilityZone").(string)]++
		}
		if len(public) != len(env.AvailabilityZones) || len(private) != len(env.AvailabilityZones) {
			t.Errorf("%d public and %d private subnets, want %d of each", len(public), len(private), len(env.AvailabilityZones))
		}
		for _, zone := range env.AvailabilityZones {
			if zones[zone] != 2 {
				t.Errorf("zone %s has %d subnets, want a public and a private one", zone, zones[zone])
			}
		}
		if n := len(ids(b, "AWS::EC2::NatGateway")); n != env.Network.NATGateways {
			t.Errorf("%d NAT gateways, want %d", n, env.Network.NATGateways)
		}

		gateway := false
		for _, ep := range resourcesOfType(b, "AWS::EC2::VPCEndpoint") {
			service, _ := json.Marshal(at(ep, "Properties", "ServiceName"))
			gateway = gateway || (at(ep, "Properties", "VpcEndpointType") == "Gateway" && strings.Contains(string(service), ".s3"))
		}
		if !gateway {
			t.Error("no S3 gateway endpoint")
		}

		flowLogs := resourcesOfType(b, "AWS::EC2::FlowLog")
		if len(flowLogs) != 1 {
			t.Fatalf("want one flow log, found %d", len(flowLogs))
		}
		for _, fl := range flowLogs {
			expect(t, fl, "Properties.ResourceId", ref(vpcs[0]))
			expect(t, fl, "Properties.TrafficType", "ALL")
			expect(t, fl, "Properties.LogDestinationType", "cloud-watch-logs")
			group := at(fl, path("Properties.LogGroupName.Ref")...).(string)
			expect(t, resource(t, b, group), "Properties.RetentionInDays", env.LogRetentionDays)
			expectRemoval(t, b, group, env.Destroy)
		}
	})
}

func TestLoadBalancer(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		lbConf := b.stack.Env.LoadBalancer
		albID := logicalID(t, b, b.stack.Fleet.LoadBalancer)
		alb := resource(t, b, albID)
		public, _ := subnets(b)
		expect(t, alb, "Properties.Scheme", "internet-facing")
		expect(t, alb, "Properties.Subnets", public)
		attrs := map[string]any{}
		for _, a := range at(alb, "Properties", "LoadBalancerAttributes").([]any) {
			a := a.(map[string]any)
			attrs[a["Key"].(string)] = a["Value"]
		}
		for key, want := range map[string]any{
			"routing.http.drop_invalid_header_fields.enabled": "true",
			"access_logs.s3.enabled":                          "true",
			"access_logs.s3.bucket":                           ref(logicalID(t, b, b.stack.Logs)),
			// Set by the guard once the load balancer exists, never in the template (see
			// TestFailedCreateCanRollBack).
			"deletion_protection.enabled": nil,
		} {
			if !reflectEqual(attrs[key], want) {
				t.Errorf("load balancer attribute %s = %s, want %s", key, show(attrs[key]), show(want))
			}
		}

		tgID := logicalID(t, b, b.stack.Fleet.TargetGroup)
		tg := resource(t, b, tgID)
		expect(t, tg, "Properties.Port", 80)
		expect(t, tg, "Properties.Protocol", "HTTP")
		expect(t, tg, "Properties.TargetType", "instance")
		expect(t, tg, "Properties.HealthCheckPath", lbConf.HealthCheckPath)
		expect(t, tg, "Properties.HealthCheckIntervalSeconds", 10)
		expect(t, tg, "Properties.HealthyThresholdCount", 2)
		expect(t, tg, "Properties.UnhealthyThresholdCount", 2)
		expect(t, tg, "Properties.Matcher.HttpCode", "200")
		var delay any
		for _, a := range asList(at(tg, "Properties", "TargetGroupAttributes")) {
			if at(a, "Key") == "deregistration_delay.timeout_seconds" {
				delay = at(a, "Value")
			}
		}
		if delay != strconv.Itoa(lbConf.DeregistrationDelaySeconds) {
			t.Errorf("deregistration delay %s, want %d s", show(delay), lbConf.DeregistrationDelaySeconds)
		}

		listeners := map[float64]map[string]any{}
		for _, l := range resourcesOfType(b, "AWS::ElasticLoadBalancingV2::Listener") {
			listeners[at(l, "Properties", "Port").(float64)] = l
		}
		forward := []any{map[string]any{"Type": "forward", "TargetGroupArn": ref(tgID)}}
		if lbConf.CertificateARN == "" {
			if len(listeners) != 1 || listeners[80] == nil {
				t.Fatalf("want one HTTP listener on 80, found ports %v", keys(listeners))
			}
			expect(t, listeners[80], "Properties.Protocol", "HTTP")
			expect(t, listeners[80], "Properties.DefaultActions", forward)
			expectOutput(t, b, "SiteURL", map[string]any{"Fn::Join": []any{"", []any{"http://", getAtt(albID, "DNSName"), "/"}}})
		} else {
			if len(listeners) != 2 || listeners[80] == nil || listeners[443] == nil {
				t.Fatalf("want listeners on 80 and 443, found ports %v", keys(listeners))
			}
			expect(t, listeners[443], "Properties.Protocol", "HTTPS")
			expect(t, listeners[443], "Properties.Certificates", []any{map[string]any{"CertificateArn": lbConf.CertificateARN}})
			expect(t, listeners[443], "Properties.SslPolicy", "ELBSecurityPolicy-TLS13-1-2-2021-06")
			expect(t, listeners[443], "Properties.DefaultActions", forward)
			expect(t, listeners[80], "Properties.DefaultActions", []any{map[string]any{"Type": "redirect",
				"RedirectConfig": map[string]any{"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}})
			expectOutput(t, b, "SiteURL", map[string]any{"Fn::Join": []any{"", []any{"https://", getAtt(albID, "DNSName"), "/"}}})
		}
	})
}

func keys[V any](m map[float64]V) []float64 {
	var out []float64
	for k := range m {
		out = append(out, k)
	}
	sort.Float64s(out)
	return out
}

// rule is one security group rule, inline or a separate resource, in a comparable form.
type rule struct {
	group, direction, peer string
	from, to               float64
}

// securityGroupRules collects every ingress and egress rule in the template.
func securityGroupRules(t *testing.T, b *built) []rule {
	var out []rule
	peerOf := func(r map[string]any) string {
		for _, k := range []string{"CidrIp", "CidrIpv6", "SourceSecurityGroupId", "DestinationSecurityGroupId", "SourcePrefixListId", "DestinationPrefixListId"} {
			if v, ok := r[k]; ok {
				raw, _ := json.Marshal(v)
				return k + "=" + string(raw)
			}
		}
		return "?"
	}
	add := func(group, direction string, r map[string]any) {
		from, _ := r["FromPort"].(float64)
		to, _ := r["ToPort"].(float64)
		if r["IpProtocol"] == "-1" {
			from, to = 0, 65535
		}
		out = append(out, rule{group, direction, peerOf(r), from, to})
	}
	for id, sg := range resourcesOfType(b, "AWS::EC2::SecurityGroup") {
		for _, dir := range []string{"SecurityGroupIngress", "SecurityGroupEgress"} {
			list, _ := at(sg, "Properties", dir).([]any)
			for _, r := range list {
				add(id, strings.TrimPrefix(dir, "SecurityGroup"), r.(map[string]any))
			}
		}
	}
	for typ, dir := range map[string]string{"AWS::EC2::SecurityGroupIngress": "Ingress", "AWS::EC2::SecurityGroupEgress": "Egress"} {
		for _, r := range resourcesOfType(b, typ) {
			props := r["Properties"].(map[string]any)
			group, _ := json.Marshal(props["GroupId"])
			var g string
			if v, ok := at(props, "GroupId", "Fn::GetAtt", "0").(string); ok {
				g = v
			} else {
				g = string(group)
			}
			add(g, dir, props)
		}
	}
	return out
}

func TestSecurityGroups(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		lbConf := b.stack.Env.LoadBalancer
		albSG := logicalID(t, b, (*b.stack.Fleet.LoadBalancer.Connections().SecurityGroups())[0])
		instanceSG := logicalID(t, b, (*b.stack.Fleet.Group.Connections().SecurityGroups())[0])
		sgRef := func(id string) string { return `SourceSecurityGroupId={"Fn::GetAtt":["` + id + `","GroupId"]}` }
		dstRef := func(id string) string { return `DestinationSecurityGroupId={"Fn::GetAtt":["` + id + `","GroupId"]}` }

		want := map[rule]bool{}
		ports := []float64{80}
		if lbConf.CertificateARN != "" {
			ports = append(ports, 443)
		}
		for _, cidr := range lbConf.AllowedCIDRs {
			for _, port := range ports {
				want[rule{albSG, "Ingress", `CidrIp="` + cidr + `"`, port, port}] = true
			}
		}
		want[rule{albSG, "Egress", dstRef(instanceSG), 80, 80}] = true
		want[rule{instanceSG, "Ingress", sgRef(albSG), 80, 80}] = true
		want[rule{instanceSG, "Egress", `CidrIp="0.0.0.0/0"`, 443, 443}] = true
		want[rule{instanceSG, "Egress", `CidrIp="0.0.0.0/0"`, 80, 80}] = true

		got := map[rule]bool{}
		for _, r := range securityGroupRules(t, b) {
			if r.from <= 22 && 22 <= r.to && r.direction == "Ingress" {
				t.Errorf("SSH reachable: %+v", r)
			}
			if r.group != albSG && r.group != instanceSG {
				continue // the VPC's default group, emptied by restrictDefaultSecurityGroup
			}
			got[r] = true
			if !want[r] {
				t.Errorf("unexpected rule %+v", r)
			}
		}
		for r := range want {
			if !got[r] {
				t.Errorf("missing rule %+v", r)
			}
		}
	})
}

func TestAutoScalingGroup(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		env := b.stack.Env
		if n := len(ids(b, "AWS::AutoScaling::LaunchConfiguration")); n != 0 {
			t.Errorf("%d launch configurations: the group must use a launch template", n)
		}
		asgID := logicalID(t, b, b.stack.Fleet.Group)
		asg := resource(t, b, asgID)
		_, private := subnets(b)
		expect(t, asg, "Properties.MinSize", strconv.Itoa(env.MinCapacity))
		expect(t, asg, "Properties.MaxSize", strconv.Itoa(env.MaxCapacity))
		if env.DesiredCapacity == nil {
			expect(t, asg, "Properties.DesiredCapacity", nil)
		} else {
			expect(t, asg, "Properties.DesiredCapacity", strconv.Itoa(*env.DesiredCapacity))
		}
		expect(t, asg, "Properties.VPCZoneIdentifier", private)
		expect(t, asg, "Properties.HealthCheckType", "ELB")
		expect(t, asg, "Properties.HealthCheckGracePeriod", env.HealthCheckGraceSeconds)
		expect(t, asg, "Properties.TargetGroupARNs", []any{ref(logicalID(t, b, b.stack.Fleet.TargetGroup))})
		expect(t, asg, "Properties.LaunchConfigurationName", nil)
		// A launch template change replaces instances through an instance refresh that launches
		// before it terminates, never all at once.
		expect(t, asg, "UpdatePolicy.AutoScalingRollingUpdate", nil)
		expect(t, asg, "UpdatePolicy.AutoScalingReplacingUpdate", nil)
		expect(t, asg, "UpdatePolicy.AutoScalingInstanceRefresh.Strategy", "Rolling")
		expect(t, asg, "UpdatePolicy.AutoScalingInstanceRefresh.Preferences.MinHealthyPercentage", 100)
		expect(t, asg, "UpdatePolicy.AutoScalingInstanceRefresh.Preferences.MaxHealthyPercentage", 200)
		dependsOn := map[string]bool{}
		for _, d := range asList(asg["DependsOn"]) {
			dependsOn[d.(string)] = true
		}
		for _, g := range b.stack.Fleet.LogGroups {
			if id := logicalID(t, b, g); !dependsOn[id] {
				t.Errorf("the group does not wait for log group %s", id)
			}
		}

		tags := map[string]any{}
		for _, tag := range at(asg, "Properties", "Tags").([]any) {
			tag := tag.(map[string]any)
			tags[tag["Key"].(string)] = tag
		}
		wantTags := map[string]string{"App": b.cfg.Name, "Environment": env.Name}
		for k, v := range env.Tags {
			wantTags[k] = v
		}
		for k, v := range wantTags {
			if !reflectEqual(tags[k], map[string]any{"Key": k, "Value": v, "PropagateAtLaunch": true}) {
				t.Errorf("tag %s = %s, want %q propagated at launch", k, show(tags[k]), v)
			}
		}

		policies := resourcesOfType(b, "AWS::AutoScaling::ScalingPolicy")
		if len(policies) != 1 {
			t.Fatalf("want one scaling policy, found %d", len(policies))
		}
		for _, p := range policies {
			expect(t, p, "Properties.AutoScalingGroupName", ref(asgID))
			expect(t, p, "Properties.PolicyType", "TargetTrackingScaling")
			expect(t, p, "Properties.TargetTrackingConfiguration.PredefinedMetricSpecification.PredefinedMetricType", "ASGAverageCPUUtilization")
			expect(t, p, "Properties.TargetTrackingConfiguration.TargetValue", env.CPUTargetPercent)
		}
	})
}

func TestLaunchTemplate(t *testing.T) {
	// Each environment's user data, linted together after the subtests: one shellcheck process
	// for all of them, where one each cost the suite a fifth of a second more.
	dir := t.TempDir()
	var scripts []string
	forEachEnv(t, func(t *testing.T, b *built) {
		env := b.stack.Env
		templates := resourcesOfType(b, "AWS::EC2::LaunchTemplate")
		if len(templates) != 1 {
			t.Fatalf("want one launch template, found %d", len(templates))
		}
		for _, lt := range templates {
			data := at(lt, "Properties", "LaunchTemplateData").(map[string]any)
			expect(t, data, "MetadataOptions.HttpTokens", "required")
			expect(t, data, "MetadataOptions.HttpPutResponseHopLimit", 1)
			expect(t, data, "InstanceType", env.InstanceType)
			expect(t, data, "Monitoring.Enabled", env.DetailedMonitoring)
			expect(t, data, "BlockDeviceMappings", []any{map[string]any{"DeviceName": "/dev/xvda", "Ebs": map[string]any{
				"DeleteOnTermination": true, "Encrypted": true, "VolumeSize": env.RootVolumeGiB, "VolumeType": "gp3"}}})

			// The image comes from a public SSM parameter, resolved when CloudFormation deploys.
			param, _ := at(data, "ImageId", "Ref").(string)
			p, _ := at(b.json, "Parameters", param).(map[string]any)
			wantPath := map[config.OS]string{
				config.AmazonLinux2:    "/aws/service/ami-amazon-linux-latest/amzn2-ami-kernel-5.10-hvm-x86_64-gp2",
				config.AmazonLinux2023: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64",
			}[env.OS]
			if p["Type"] != "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>" || p["Default"] != wantPath {
				t.Errorf("image parameter %s = %v, want SSM parameter %s", param, p, wantPath)
			}

			script := userData(t, data)
			if !strings.Contains(script, `readonly region="`+env.Region+`"`) {
				t.Errorf("user data is not for region %s", env.Region)
			}
			manager := map[config.OS]string{config.AmazonLinux2: "yum install", config.AmazonLinux2023: "dnf install"}[env.OS]
			if !strings.Contains(script, manager) {
				t.Errorf("user data for %s does not use %q", env.OS, manager)
			}
			file := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".user-data.sh")
			if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
				t.Fatal(err)
			}
			scripts = append(scripts, file)
		}

		warnings := find(b.messages, "warning", `^Amazon Linux 2 reached end of support`)
		if got, want := len(warnings) > 0, env.OS == config.AmazonLinux2; got != want {
			t.Errorf("end-of-support warning shown: %v, want %v for %s", got, want, env.OS)
		}
	})
	shellcheckScripts(t, scripts)
}

// userData decodes the launch template's user data, which must be a plain string: the region
// and log group names are known at synthesis, so a token here would be a regression.
func userData(t *testing.T, data map[string]any) string {
	t.Helper()
	script, ok := at(data, "UserData", "Fn::Base64").(string)
	if !ok {
		t.Fatalf("user data is not a plain string: %s", show(at(data, "UserData")))
	}
	return script
}

// shellcheckScripts lints the rendered user data in files, named after their subtests.
func shellcheckScripts(t *testing.T, files []string) {
	t.Helper()
	if len(files) == 0 {
		t.Fatal("no user data to lint")
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Fatal("shellcheck is missing: apt-get install -y shellcheck (make test checks for it before the tests)")
	}
	if out, err := exec.Command("shellcheck", files...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck on the rendered user data: %v\n%s", err, out)
	}
}

// statements returns every IAM statement attached to the role with logical ID roleID.
func statements(t *testing.T, b *built, roleID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, p := range resourcesOfType(b, "AWS::IAM::Policy") {
		roles, _ := at(p, "Properties", "Roles").([]any)
		attached := false
		for _, r := range roles {
			attached = attached || reflectEqual(r, ref(roleID))
		}
		if !attached {
			continue
		}
		for _, st := range at(p, path("Properties.PolicyDocument.Statement")...).([]any) {
			out = append(out, st.(map[string]any))
		}
	}
	for _, inline := range asList(at(resource(t, b, roleID), "Properties", "Policies")) {
		for _, st := range asList(at(inline, "PolicyDocument", "Statement")) {
			out = append(out, st.(map[string]any))
		}
	}
	return out
}

func asList(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	case nil:
		return nil
	default:
		return []any{v}
	}
}

func TestInstanceRole(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		env := b.stack.Env
		roleID := logicalID(t, b, b.stack.Fleet.Role)
		role := resource(t, b, roleID)
		expect(t, role, "Properties.ManagedPolicyArns", nil)
		expect(t, role, "Properties.AssumeRolePolicyDocument.Statement", []any{map[string]any{
			"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "ec2.amazonaws.com"}}})

		revisions := map[string]any{"Fn::Join": []any{"", []any{getAtt(logicalID(t, b, b.stack.Revisions.Bucket), "Arn"), "/revisions/*"}}}
		logGroups := map[string]bool{}
		for _, g := range b.stack.Fleet.LogGroups {
			logGroups[logicalID(t, b, g)] = true
		}

		granted := map[string]bool{}
		for _, st := range statements(t, b, roleID) {
			if st["Effect"] != "Allow" {
				continue
			}
			actions := asList(st["Action"])
			resources := asList(st["Resource"])
			for _, a := range actions {
				a := a.(string)
				granted[a] = true
				if a == "*" || strings.HasSuffix(a, ":*") {
					t.Errorf("wildcard action %s", a)
				}
				for _, r := range resources {
					if !allowedResource(a, r, env, revisions, logGroups, b) {
						raw, _ := json.Marshal(r)
						t.Errorf("%s on %s is not a resource it needs", a, raw)
					}
				}
			}
		}
		for _, a := range []string{
			"s3:GetObject", "s3:GetObjectVersion", "ssm:UpdateInstanceInformation",
			"ssmmessages:CreateControlChannel", "ssmmessages:OpenDataChannel", "ec2messages:GetMessages",
			"logs:CreateLogStream", "logs:PutLogEvents", "codedeploy:GetDeployment",
		} {
			if !granted[a] {
				t.Errorf("instance role lacks %s", a)
			}
		}
		if env.RevisionEncryption == config.EncryptionKMS && !granted["kms:Decrypt"] {
			t.Error("instance role cannot decrypt KMS-encrypted revisions")
		}

		prefix := "/" + b.cfg.Name + "/" + env.Name + "/"
		for id := range logGroups {
			g := resource(t, b, id)
			name, _ := at(g, "Properties", "LogGroupName").(string)
			if !strings.HasPrefix(name, prefix) {
				t.Errorf("log group %q is not under %s", name, prefix)
			}
			expect(t, g, "Properties.RetentionInDays", env.LogRetentionDays)
			// Fixed names: a failed first create must not leave them behind to block the next one.
			want := map[bool]string{true: "Delete", false: "RetainExceptOnCreate"}[env.Destroy]
			expect(t, g, "DeletionPolicy", want)
		}
		if _, ok := b.stack.Fleet.LogGroups["/var/log/aws/codedeploy-agent/codedeploy-agent.log"]; !ok {
			t.Error("the CodeDeploy agent log is not shipped")
		}
	})
}

// allowedResource is the instance role's whole permission model: each action, the resources it may
// name. Anything else in the policy fails TestInstanceRole.
func allowedResource(action string, resource any, env config.Environment, revisions any, logGroups map[string]bool, b *built) bool {
	partitionRegion := fmt.Sprintf("arn:aws:%%s:%s:%s:", env.Region, env.Account)
	switch {
	case action == "s3:GetObject" && resource == "arn:aws:s3:::aws-codedeploy-"+env.Region+"/latest/install":
		return true
	case action == "s3:GetObject" || action == "s3:GetObjectVersion":
		return reflectEqual(resource, revisions)
	case action == "kms:Decrypt":
		keyID, _ := at(resource, "Fn::GetAtt", "0").(string)
		return env.RevisionEncryption == config.EncryptionKMS && at(b.json, "Resources", keyID, "Type") == "AWS::KMS::Key"
	case action == "ssm:UpdateInstanceInformation":
		return resource == fmt.Sprintf(partitionRegion, "ec2")+"instance/*"
	case strings.HasPrefix(action, "ssmmessages:") || strings.HasPrefix(action, "ec2messages:"):
		return resource == "*" // no resource-level permissions exist for these
	case action == "codedeploy:GetDeployment":
		return resource == fmt.Sprintf(partitionRegion, "codedeploy")+"deploymentgroup:"+b.cfg.StackName(env)+"/"+b.cfg.StackName(env)+"-fleet"
	case action == "logs:CreateLogStream" || action == "logs:PutLogEvents":
		id, _ := at(resource, "Fn::GetAtt", "0").(string)
		return logGroups[id]
	}
	return false
}

// TestGracePeriodFitsFirstDeployment: the shipped and fixture environments size the grace period
// so the first deployment reaches every instance before the group gives up on it, and a short
// one is flagged at synthesis.
func TestGracePeriodFitsFirstDeployment(t *testing.T) {
	forEachEnv(t, func(t *testing.T, b *built) {
		env := b.stack.Env
		warned := len(find(b.messages, "warning", `^healthCheckGraceSeconds .* is shorter than`)) > 0
		short := env.HealthCheckGraceSeconds < env.FirstDeploymentSeconds()
		if warned != short {
			t.Errorf("grace %d s, first deployment ~%d s: warning shown %v", env.HealthCheckGraceSeconds, env.FirstDeploymentSeconds(), warned)
		}
		if short && b.fixture {
			t.Errorf("environment %s ships a grace period too short for its first deployment", env.Name)
		}
	})
}
