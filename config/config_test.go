package config

import (
	"encoding/json"
	"strings"
	"testing"
)

// validEnv is a complete environment; bad cases below change one thing in it.
func validEnv(name string) map[string]any {
	return map[string]any{
		"name":              name,
		"account":           "123456789012",
		"region":            "eu-west-1",
		"availabilityZones": []any{"eu-west-1a", "eu-west-1b"},
		"minCapacity":       2,
		"maxCapacity":       4,
	}
}

func section(envs ...map[string]any) map[string]any {
	list := make([]any, len(envs))
	for i, e := range envs {
		list[i] = e
	}
	return map[string]any{"name": "MyWebApp", "environments": list}
}

func with(env map[string]any, key string, value any) map[string]any {
	out := map[string]any{}
	for k, v := range env {
		out[k] = v
	}
	if value == nil {
		delete(out, key)
	} else {
		out[key] = value
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse(mustJSON(t, map[string]any{"environments": []any{validEnv("dev")}}))
	if err != nil {
		t.Fatal(err)
	}
	// Literal values: these are the defaults the README documents.
	if cfg.Name != "MyWebApp" {
		t.Errorf("Name = %q, want MyWebApp", cfg.Name)
	}
	env := cfg.Environments[0]
	checks := []struct {
		key       string
		got, want any
	}{
		{"instanceType", env.InstanceType, "t3.micro"},
		{"revisionRetentionDays", env.RevisionRetentionDays, 30},
		{"revisionEncryption", env.RevisionEncryption, Encryption("s3")},
		{"logRetentionDays", env.LogRetentionDays, 90},
		{"destroy", env.Destroy, false},
		{"desiredCapacity", env.DesiredCapacity == nil, true},
		{"minCapacity", env.MinCapacity, 2},
		{"os", env.OS, OS("amazon-linux-2")},
		{"rootVolumeGiB", env.RootVolumeGiB, 16},
		{"cpuTargetPercent", env.CPUTargetPercent, 50},
		{"healthCheckGraceSeconds", env.HealthCheckGraceSeconds, 600},
		{"network.cidr", env.Network.CIDR, "10.0.0.0/16"},
		{"network.natGateways", env.Network.NATGateways, 1},
		{"loadBalancer.allowedCidrs", strings.Join(env.LoadBalancer.AllowedCIDRs, ","), "0.0.0.0/0"},
		{"loadBalancer.certificateArn", env.LoadBalancer.CertificateARN, ""},
		{"loadBalancer.healthCheckPath", env.LoadBalancer.HealthCheckPath, "/"},
		{"loadBalancer.deregistrationDelaySeconds", env.LoadBalancer.DeregistrationDelaySeconds, 30},
		{"deployment.config", env.Deployment.Config, DeploymentConfig("one-at-a-time")},
		{"deployment.alarms.target5xxCount", env.Deployment.Alarms.Target5xxCount, 5},
		{"deployment.alarms.unhealthyHosts", env.Deployment.Alarms.UnhealthyHosts, 1},
		{"deployment.alarms.p99LatencySeconds", env.Deployment.Alarms.P99LatencySeconds, 0.0},
		{"deployment.alarms.metricDelaySeconds", env.Deployment.Alarms.MetricDelaySeconds, 60},
		{"deployment.bakeSeconds", env.Deployment.BakeSeconds, 180},
		{"delivery.deployOnCdkDeploy", env.Delivery.DeployOnCdkDeploy, true},
		{"delivery.timeoutMinutes", env.Delivery.TimeoutMinutes, 30},
		{"delivery.revisionsToKeep", env.Delivery.RevisionsToKeep, 10},
		{"deployment.alarms.elb5xxCount", env.Deployment.Alarms.ELB5xxCount, 5},
		{"deployment.suspendProcesses", strings.Join(env.Deployment.SuspendProcesses, ","), "AZRebalance,InstanceRefresh,ScheduledActions,Terminate"},
		{"maxCapacity", env.MaxCapacity, 4},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}
	if got := cfg.StackName(env); got != "MyWebApp-dev" {
		t.Errorf("StackName = %q", got)
	}
}

func TestParseKeepsOrderAndValues(t *testing.T) {
	prod := with(with(with(validEnv("prod"), "desiredCapacity", 3), "destroy", false), "revisionEncryption", "kms")
	cfg, err := Parse(mustJSON(t, section(with(validEnv("dev"), "destroy", true), prod)))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Environments) != 2 || cfg.Environments[0].Name != "dev" || cfg.Environments[1].Name != "prod" {
		t.Fatalf("environments = %+v, want dev then prod", cfg.Environments)
	}
	dev, p := cfg.Environments[0], cfg.Environments[1]
	if !dev.Destroy || p.Destroy {
		t.Errorf("destroy: dev %v, prod %v", dev.Destroy, p.Destroy)
	}
	if p.DesiredCapacity == nil || *p.DesiredCapacity != 3 {
		t.Errorf("prod desiredCapacity = %v, want 3", p.DesiredCapacity)
	}
	if p.RevisionEncryption != EncryptionKMS {
		t.Errorf("prod revisionEncryption = %q", p.RevisionEncryption)
	}
}

// TestParseRejects holds one bad configuration per row, each with the error a user must see.
func TestParseRejects(t *testing.T) {
	dev := validEnv("dev")
	cases := []struct {
		name    string
		section any
		want    string
	}{
		{"not an object", []any{1}, "application: has array (use an object)"},
		{"invalid JSON", json.RawMessage(`{"environments": [}`), "is not valid JSON"},
		{"object not closed", json.RawMessage(`{"name": "MyWebApp"`), "is not valid JSON"},
		{"data after the object", json.RawMessage(`{"name": "MyWebApp"} {}`), "has data after the JSON object"},
		{"environments missing", map[string]any{"name": "MyWebApp"}, "environments: is missing"},
		{"environments empty", section(), "environments: is empty"},
		{"unknown top-level key", with(section(dev), "enviroments", []any{}), `enviroments: is not a known key`},
		{"empty app name", with(section(dev), "name", ""), `name: "" is not a valid application name`},
		{"app name with space", with(section(dev), "name", "My App"), `name: "My App" is not a valid application name`},
		{"missing env name", section(with(dev, "name", nil)), "environments[0].name: is missing"},
		{"bad env name", section(with(dev, "name", "Dev_1")), `environments[0].name: "Dev_1" is not a valid environment name`},
		{"duplicate env names", section(dev, dev), `environments[1].name: "dev" is also the name of environments[0]`},
		{"duplicate names of broken entries", section(with(dev, "region", "x"), with(dev, "account", "y")),
			`environments[1].name: "dev" is also the name of environments[0]`},
		{"public VPC range", section(with(dev, "network", map[string]any{"cidr": "54.0.0.0/16", "natGateways": 1})),
			`environments[dev].network.cidr: "54.0.0.0/16" is a public range (use a private range (RFC 1918`},
		{"unknown env key", section(with(dev, "instnceType", "t3.micro")), `environments[dev].instnceType: is not a known key`},
		{"missing account", section(with(dev, "account", nil)), "environments[dev].account: is missing"},
		{"bad account id", section(with(dev, "account", "12345")), `environments[dev].account: "12345" is not an AWS account id`},
		{"account as number", section(with(dev, "account", 123456789012)), "environments[dev].account: has number 123456789012 (use a string)"},
		{"missing region", section(with(dev, "region", nil)), "environments[dev].region: is missing"},
		{"bad region", section(with(dev, "region", "europe")), `environments[dev].region: "europe" is not an AWS region`},
		{"zones missing", section(with(dev, "availabilityZones", nil)), "environments[dev].availabilityZones: is missing"},
		{"zero zones", section(with(dev, "availabilityZones", []any{})), "environments[dev].availabilityZones: is empty"},
		{"zone of another region", section(with(dev, "availabilityZones", []any{"eu-west-1a", "us-east-1b"})),
			`environments[dev].availabilityZones: "us-east-1b" is not a zone of region eu-west-1`},
		{"zone listed twice", section(with(dev, "availabilityZones", []any{"eu-west-1a", "eu-west-1a"})),
			`environments[dev].availabilityZones: "eu-west-1a" is listed twice`},
		{"zones not a list", section(with(dev, "availabilityZones", "eu-west-1a")), "environments[dev].availabilityZones: has string \"eu-west-1a\" (use a list)"},
		{"bad instance type", section(with(dev, "instanceType", "large")), `environments[dev].instanceType: "large" is not an EC2 instance type`},
		{"missing minCapacity", section(with(dev, "minCapacity", nil)), "environments[dev].minCapacity: is missing"},
		{"capacity as string", section(with(dev, "maxCapacity", "4")), "environments[dev].maxCapacity: has string \"4\" (use a whole number)"},
		{"fractional capacity", section(with(dev, "maxCapacity", 2.5)), "environments[dev].maxCapacity: has number 2.5 (use a whole number)"},
		{"zero minCapacity", section(with(dev, "minCapacity", 0)), "environments[dev].minCapacity: 0 is less than 1"},
		{"min greater than max", section(with(with(dev, "minCapacity", 2), "maxCapacity", 1)),
			"environments[dev].maxCapacity: 1 is less than minCapacity 2 (make maxCapacity at least 2)"},
		{"desired above max", section(with(dev, "desiredCapacity", 9)), "environments[dev].desiredCapacity: 9 is outside minCapacity..maxCapacity (2..4)"},
		{"desired below min", section(with(dev, "desiredCapacity", 1)), "environments[dev].desiredCapacity: 1 is outside minCapacity..maxCapacity (2..4)"},
		{"negative retention", section(with(dev, "revisionRetentionDays", -1)), "environments[dev].revisionRetentionDays: -1 is out of range (use 1 to 3650)"},
		{"zero log retention", section(with(dev, "logRetentionDays", 0)), "environments[dev].logRetentionDays: 0 is not a CloudWatch Logs retention period"},
		{"unknown encryption", section(with(dev, "revisionEncryption", "aes")), `environments[dev].revisionEncryption: "aes" is not an encryption choice (use "s3" or "kms")`},
		{"destroy as string", section(with(dev, "destroy", "yes")), "environments[dev].destroy: has string \"yes\" (use true or false)"},
		{"reserved tag", section(with(dev, "tags", map[string]any{"App": "x"})), `environments[dev].tags: "App" is set by the stack itself`},
		{"aws: tag", section(with(dev, "tags", map[string]any{"aws:cost": "x"})), `environments[dev].tags: "aws:cost" uses the reserved aws: prefix`},
		{"stack name too long", with(section(with(dev, "name", "abcdefghijklmnop")), "name", "AnApplicationNameOfThirtyTwoChar"),
			`environments[abcdefghijklmnop].name: stack name "AnApplicationNameOfThirtyTwoChar-abcdefghijklmnop" is longer than 48 characters`},
		// Fleet, network and load balancer (part 2).
		{"unknown OS", section(with(dev, "os", "ubuntu")), `environments[dev].os: "ubuntu" is not a supported operating system (use "amazon-linux-2023" or "amazon-linux-2")`},
		{"graviton type", section(with(dev, "instanceType", "t4g.small")), `environments[dev].instanceType: "t4g.small" is an arm64 (Graviton) type`},
		{"root volume too small", section(with(dev, "rootVolumeGiB", 4)), "environments[dev].rootVolumeGiB: 4 is out of range (use 8 to 16384)"},
		{"cpu target too high", section(with(dev, "cpuTargetPercent", 95)), "environments[dev].cpuTargetPercent: 95 is out of range (use 10 to 90)"},
		{"grace too long", section(with(dev, "healthCheckGraceSeconds", 9000)), "environments[dev].healthCheckGraceSeconds: 9000 is out of range (use 60 to 7200)"},
		{"log retention not a CloudWatch period", section(with(dev, "logRetentionDays", 10)), "environments[dev].logRetentionDays: 10 is not a CloudWatch Logs retention period"},
		{"fewer instances than zones", section(with(with(dev, "minCapacity", 1), "maxCapacity", 1)), "environments[dev].maxCapacity: 1 is less than the 2 availability zones"},
		{"unknown network key", section(with(dev, "network", map[string]any{"natGateway": 1})), `environments[dev].network.natGateway: is not a known key`},
		{"network not an object", section(with(dev, "network", 1)), `environments[dev].network: has number 1 (use an object)`},
		{"VPC CIDR too large", section(with(dev, "network", map[string]any{"cidr": "10.0.0.0/8"})), `environments[dev].network.cidr: "10.0.0.0/8" is not an IPv4 network from /16 to /20`},
		{"VPC CIDR host bits", section(with(dev, "network", map[string]any{"cidr": "10.0.0.1/16"})), `environments[dev].network.cidr: "10.0.0.1/16" is not an IPv4 network`},
		{"existing VPC with cidr", section(with(dev, "network", map[string]any{"cidr": "10.0.0.0/16", "existingVpc": map[string]any{
			"vpcId": "vpc-0123456789abcdef0", "publicSubnetIds": []any{"subnet-0000000000000000a", "subnet-0000000000000000b"},
			"privateSubnetIds": []any{"subnet-0000000000000000c", "subnet-0000000000000000d"}}})),
			"environments[dev].network.existingVpc: is set together with cidr or natGateways"},
		{"existing VPC bad id", section(with(dev, "network", map[string]any{"existingVpc": map[string]any{
			"vpcId": "vpc-xyz", "publicSubnetIds": []any{"subnet-0000000000000000a", "subnet-0000000000000000b"},
			"privateSubnetIds": []any{"subnet-0000000000000000c", "subnet-0000000000000000d"}}})),
			`environments[dev].network.existingVpc.vpcId: "vpc-xyz" is not a VPC id`},
		{"existing VPC subnets per zone", section(with(dev, "network", map[string]any{"existingVpc": map[string]any{
			"vpcId": "vpc-0123456789abcdef0", "publicSubnetIds": []any{"subnet-0000000000000000a"},
			"privateSubnetIds": []any{"subnet-0000000000000000c", "subnet-0000000000000000d"}}})),
			"environments[dev].network.existingVpc.publicSubnetIds: lists 1 subnets for 2 availability zones"},
		{"existing VPC subnet twice", section(with(dev, "network", map[string]any{"existingVpc": map[string]any{
			"vpcId": "vpc-0123456789abcdef0", "publicSubnetIds": []any{"subnet-0000000000000000a", "subnet-0000000000000000b"},
			"privateSubnetIds": []any{"subnet-0000000000000000a", "subnet-0000000000000000d"}}})),
			`"subnet-0000000000000000a" is listed twice`},
		{"existing VPC unknown key", section(with(dev, "network", map[string]any{"existingVpc": map[string]any{"vpc": "x"}})),
			"environments[dev].network.existingVpc.vpc: is not a known key"},
		{"no NAT gateway", section(with(dev, "network", map[string]any{"natGateways": 0})), "environments[dev].network.natGateways: 0 is out of range (use 1 (cheapest) to 2"},
		{"more NAT gateways than zones", section(with(dev, "network", map[string]any{"natGateways": 3})), "environments[dev].network.natGateways: 3 is out of range"},
		{"bad allowed CIDR", section(with(dev, "loadBalancer", map[string]any{"allowedCidrs": []any{"0.0.0.0/0", "10.1.2.300/32"}})),
			`environments[dev].loadBalancer.allowedCidrs: "10.1.2.300/32" is not an IPv4 CIDR block`},
		{"no allowed CIDRs", section(with(dev, "loadBalancer", map[string]any{"allowedCidrs": []any{}})), "environments[dev].loadBalancer.allowedCidrs: is empty"},
		{"bad certificate ARN", section(with(dev, "loadBalancer", map[string]any{"certificateArn": "arn:aws:iam::123456789012:server-certificate/x"})),
			`environments[dev].loadBalancer.certificateArn: "arn:aws:iam::123456789012:server-certificate/x" is not an ACM certificate ARN`},
		{"certificate from another region", section(with(dev, "loadBalancer", map[string]any{"certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"})),
			"environments[dev].loadBalancer.certificateArn: certificate is in us-east-1, not eu-west-1"},
		{"health check path", section(with(dev, "loadBalancer", map[string]any{"healthCheckPath": "health"})), `environments[dev].loadBalancer.healthCheckPath: "health" is not a URL path`},
		{"deregistration delay too long", section(with(dev, "loadBalancer", map[string]any{"deregistrationDelaySeconds": 4000})),
			"environments[dev].loadBalancer.deregistrationDelaySeconds: 4000 is out of range (use 0 to 3600)"},
		{"deregistration delay negative", section(with(dev, "loadBalancer", map[string]any{"deregistrationDelaySeconds": -5})),
			"environments[dev].loadBalancer.deregistrationDelaySeconds: -5 is out of range"},
		// Deployment group (part 3).
		{"unknown deployment config", section(with(dev, "deployment", map[string]any{"config": "all-at-once"})),
			`environments[dev].deployment.config: "all-at-once" is not a deployment configuration (use "one-at-a-time", "half-at-a-time", "custom" or "zonal")`},
		{"zonal over one zone", section(with(with(dev, "availabilityZones", []any{"eu-west-1a"}), "deployment", map[string]any{"config": "zonal"})),
			`environments[dev].deployment.config: "zonal" needs at least two availabilityZones: one zone at a time over one zone is every instance at once (list another zone, or use "one-at-a-time")`},
		{"zonal settings without zonal", section(with(dev, "deployment", map[string]any{"zonal": map[string]any{"monitorSeconds": 60}})),
			`environments[dev].deployment.zonal: is set but config is "one-at-a-time" (remove it, or use config "zonal")`},
		{"a per-zone minimum that leaves no instance", section(with(dev, "deployment", map[string]any{"config": "zonal",
			"zonal": map[string]any{"minimumHealthyHostsPerZone": map[string]any{"count": 1}}})),
			"environments[dev].deployment.zonal.minimumHealthyHostsPerZone.count: 1 leaves no instance of a zone to deploy to (use 0 to 0: at minCapacity 2 over 2 zones the smallest zone holds 1)"},
		{"a per-zone percent of 100", section(with(dev, "deployment", map[string]any{"config": "zonal",
			"zonal": map[string]any{"minimumHealthyHostsPerZone": map[string]any{"percent": 100}}})),
			"environments[dev].deployment.zonal.minimumHealthyHostsPerZone.percent: 100 is out of range (use 0 to 99)"},
		{"unknown zonal key", section(with(dev, "deployment", map[string]any{"config": "zonal", "zonal": map[string]any{"monitor": 60}})),
			"environments[dev].deployment.zonal.monitor: is not a known key"},
		{"monitor duration too long", section(with(dev, "deployment", map[string]any{"config": "zonal", "zonal": map[string]any{"firstZoneMonitorSeconds": 7200}})),
			"environments[dev].deployment.zonal.firstZoneMonitorSeconds: 7200 is out of range (use 0 to 3600)"},
		{"negative bake", section(with(dev, "deployment", map[string]any{"bakeSeconds": -1})),
			"environments[dev].deployment.bakeSeconds: -1 is out of range (use 0 to 3600)"},
		{"metric delay too long", section(with(dev, "deployment", map[string]any{"alarms": map[string]any{"metricDelaySeconds": 900}})),
			"environments[dev].deployment.alarms.metricDelaySeconds: 900 is out of range (use 0 to 600)"},
		{"a release longer than the delivery timeout", section(with(with(dev, "deployment", map[string]any{"config": "zonal",
			"zonal": map[string]any{"firstZoneMonitorSeconds": 1800}, "bakeSeconds": 600}), "delivery", map[string]any{"timeoutMinutes": 30})),
			"environments[dev].delivery.timeoutMinutes: 30 minutes is shorter than a release can take: at maxCapacity 4, 2 batches x 150 s + 1800 s of zonal monitor durations + a 600 s bake = 2700 s (raise it to at least 45 (at most 55), or shorten the monitor durations or the bake)"},
		// 500 instances one at a time take 21 hours: no timeout holds that; the advice is what can
		// be done (the largest fleet that fits, a faster rollout, no deployment on cdk deploy).
		{"a fleet too large for any timeout", section(with(with(dev, "minCapacity", 2), "maxCapacity", 500)),
			"environments[dev].delivery.timeoutMinutes: 30 minutes is shorter than a release can take: at maxCapacity 500, 500 batches x 150 s + 0 s of zonal monitor durations + a 180 s bake = 75180 s, more than the 55 minutes cdk deploy can wait (lower maxCapacity to 20, deploy more at a time (deployment.config half-at-a-time, custom or zonal), or set delivery.deployOnCdkDeploy to false and deploy with scripts/fleetctl deploy)"},
		{"custom without minimum", section(with(dev, "deployment", map[string]any{"config": "custom"})),
			"environments[dev].deployment.minimumHealthyHosts: is missing"},
		{"minimum with one-at-a-time", section(with(dev, "deployment", map[string]any{"minimumHealthyHosts": map[string]any{"count": 1}})),
			`environments[dev].deployment.minimumHealthyHosts: is set but config is "one-at-a-time" (remove it, or use config "custom" or "zonal")`},
		{"count and percent", section(with(dev, "deployment", map[string]any{"config": "custom", "minimumHealthyHosts": map[string]any{"count": 1, "percent": 50}})),
			"environments[dev].deployment.minimumHealthyHosts: needs exactly one of count and percent"},
		{"minimum count not below minCapacity", section(with(dev, "deployment", map[string]any{"config": "custom", "minimumHealthyHosts": map[string]any{"count": 2}})),
			"environments[dev].deployment.minimumHealthyHosts.count: 2 is out of range (use 0 to 1 (less than minCapacity 2))"},
		{"minimum percent 100", section(with(dev, "deployment", map[string]any{"config": "custom", "minimumHealthyHosts": map[string]any{"percent": 100}})),
			"environments[dev].deployment.minimumHealthyHosts.percent: 100 is out of range (use 0 to 99)"},
		{"unknown minimum key", section(with(dev, "deployment", map[string]any{"config": "custom", "minimumHealthyHosts": map[string]any{"hosts": 1}})),
			`environments[dev].deployment.minimumHealthyHosts.hosts: is not a known key`},
		{"5xx threshold zero", section(with(dev, "deployment", map[string]any{"alarms": map[string]any{"target5xxCount": 0}})),
			"environments[dev].deployment.alarms.target5xxCount: 0 is not above 0"},
		{"unhealthy threshold negative", section(with(dev, "deployment", map[string]any{"alarms": map[string]any{"unhealthyHosts": -1}})),
			"environments[dev].deployment.alarms.unhealthyHosts: -1 is not above 0"},
		{"latency negative", section(with(dev, "deployment", map[string]any{"alarms": map[string]any{"p99LatencySeconds": -0.5}})),
			"environments[dev].deployment.alarms.p99LatencySeconds: -0.5 is out of range"},
		{"unknown alarm key", section(with(dev, "deployment", map[string]any{"alarms": map[string]any{"target5xx": 3}})),
			`environments[dev].deployment.alarms.target5xx: is not a known key`},
		{"elb 5xx threshold zero", section(with(dev, "deployment", map[string]any{"alarms": map[string]any{"elb5xxCount": 0}})),
			"environments[dev].deployment.alarms.elb5xxCount: 0 is not above 0"},
		{"unknown process to suspend", section(with(dev, "deployment", map[string]any{"suspendProcesses": []any{"Launch"}})),
			`environments[dev].deployment.suspendProcesses: "Launch" is not a process CodeDeploy can suspend (use any of AZRebalance, InstanceRefresh, ScheduledActions, Terminate, or [] to suspend none)`},
		{"process listed twice", section(with(dev, "deployment", map[string]any{"suspendProcesses": []any{"Terminate", "Terminate"}})),
			`environments[dev].deployment.suspendProcesses: "Terminate" is listed twice`},
		{"one revision kept", section(with(dev, "delivery", map[string]any{"revisionsToKeep": 1})),
			"environments[dev].delivery.revisionsToKeep: 1 is out of range (use 2 to 1000)"},
		{"delivery timeout too long", section(with(dev, "delivery", map[string]any{"timeoutMinutes": 180})),
			"environments[dev].delivery.timeoutMinutes: 180 is out of range (use 5 to 55)"},
		{"delivery switch as string", section(with(dev, "delivery", map[string]any{"deployOnCdkDeploy": "yes"})),
			"environments[dev].delivery.deployOnCdkDeploy: has string \"yes\" (use true or false)"},
		// Pipeline (part 6).
		{"pipeline without connection", with(section(dev), "pipeline", map[string]any{"account": "123456789012", "region": "eu-west-1", "repository": "org/repo"}),
			"pipeline.connectionArn: is missing"},
		{"pipeline bad connection", with(section(dev), "pipeline", map[string]any{"account": "123456789012", "region": "eu-west-1", "repository": "org/repo",
			"connectionArn": "arn:aws:iam::123456789012:role/x"}), `pipeline.connectionArn: "arn:aws:iam::123456789012:role/x" is not a CodeConnections connection ARN`},
		{"pipeline bad repository", with(section(dev), "pipeline", map[string]any{"account": "123456789012", "region": "eu-west-1", "repository": "repo",
			"connectionArn": "arn:aws:codeconnections:eu-west-1:123456789012:connection/12345678-1234-1234-1234-123456789012"}), `pipeline.repository: "repo" is not owner/name`},
		{"pipeline unknown key", with(section(dev), "pipeline", map[string]any{"acount": "123456789012"}), "pipeline.acount: is not a known key"},
		{"production as string", section(with(dev, "production", "yes")), "environments[dev].production: has string \"yes\" (use true or false)"},
		{"bad e-mail", section(with(dev, "notificationEmail", "ops")), `environments[dev].notificationEmail: "ops" is not an e-mail address`},
		{"env not an object", map[string]any{"environments": []any{"dev"}}, "environments[0]: has string \"dev\" (use an object)"},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, isRaw := tc.section.(json.RawMessage)
			if !isRaw {
				data = mustJSON(t, tc.section)
			}
			cfg, err := Parse(data)
			if err == nil {
				t.Fatalf("accepted; want error %q", tc.want)
			}
			if cfg != nil {
				t.Error("returned a config along with the error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n  %v\nwant it to contain:\n  %s", err, tc.want)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	bad := with(with(validEnv("dev"), "account", "x"), "region", "y")
	_, err := Parse(mustJSON(t, section(bad)))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"environments[dev].account", "environments[dev].region"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

// TestParseReportsTogether: a type error does not hide the other keys' problems, and a key given
// with the wrong type is not also reported missing.
func TestParseReportsTogether(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       map[string]any
		want, not []string
	}{
		{"min as string, max out of range", with(with(validEnv("dev"), "minCapacity", "2"), "maxCapacity", 0),
			[]string{`environments[dev].minCapacity: has string "2" (use a whole number)`, "environments[dev].maxCapacity: 0 is less than 1"},
			[]string{"minCapacity: is missing"}},
		{"min zero and max missing", with(with(validEnv("dev"), "minCapacity", 0), "maxCapacity", nil),
			[]string{"environments[dev].minCapacity: 0 is less than 1", "environments[dev].maxCapacity: is missing"}, nil},
		{"account as number, region bad", with(with(validEnv("dev"), "account", 111111111111), "region", "mars"),
			[]string{"environments[dev].account: has number 111111111111 (use a string)", `environments[dev].region: "mars" is not an AWS region`},
			[]string{"account: is missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(mustJSON(t, section(tc.env)))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error:\n%v\nlacks %q", err, want)
				}
			}
			for _, not := range tc.not {
				if strings.Contains(err.Error(), not) {
					t.Errorf("error:\n%v\nreports %q", err, not)
				}
			}
		})
	}
}

func TestSelect(t *testing.T) {
	cfg, err := Parse(mustJSON(t, section(validEnv("dev"), validEnv("prod"))))
	if err != nil {
		t.Fatal(err)
	}
	all, err := cfg.Select("")
	if err != nil || len(all.Environments) != 2 {
		t.Errorf("Select(\"\") = %v, %v; want both environments", all, err)
	}
	one, err := cfg.Select("prod")
	if err != nil || len(one.Environments) != 1 || one.Environments[0].Name != "prod" {
		t.Errorf("Select(prod) = %+v, %v", one, err)
	}
	if _, err := cfg.Select("staging"); err == nil || !strings.Contains(err.Error(), `"staging" is not a configured environment; known: dev, prod`) {
		t.Errorf("Select(staging) error = %v", err)
	}
}

func TestIsArmInstanceType(t *testing.T) {
	for typ, want := range map[string]bool{
		"t3.micro": false, "t4g.micro": true, "m7gd.large": true, "c7gn.xlarge": true, "x2gd.medium": true,
		"g5.xlarge": false, "g5g.xlarge": true, "m7i-flex.large": false, "g4dn.xlarge": false, "inf2.xlarge": false,
	} {
		if got := isArmInstanceType(typ); got != want {
			t.Errorf("isArmInstanceType(%q) = %v, want %v", typ, got, want)
		}
	}
}

func TestFirstDeploymentSeconds(t *testing.T) {
	// Every instance at once, whatever the rollout: bootstrap and one instance's deployment.
	for _, env := range []Environment{{MinCapacity: 1}, {MinCapacity: 9, Deployment: Deployment{Config: DeploymentZonal}}} {
		if got := env.FirstDeploymentSeconds(); got != 330 {
			t.Errorf("%+v: %d s, want 330", env, got)
		}
	}
}

// The release estimate `cdk deploy` must wait for: batches by the rollout (a zonal one zone by
// zone, a whole zone at once by default), the zonal monitor durations, and the bake.
func TestReleaseSeconds(t *testing.T) {
	three := []string{"a", "b", "c"}
	percent := func(p int) MinimumHealthyHosts { return MinimumHealthyHosts{Percent: &p} }
	count := func(c int) MinimumHealthyHosts { return MinimumHealthyHosts{Count: &c} }
	zonal := func(min, perZone MinimumHealthyHosts) Deployment {
		return Deployment{Config: DeploymentZonal, MinimumHealthyHosts: min, BakeSeconds: 180,
			Zonal: Zonal{FirstZoneMonitorSeconds: 300, MonitorSeconds: 180, MinimumHealthyHostsPerZone: perZone}}
	}
	for _, tc := range []struct {
		name              string
		d                 Deployment
		instances         int
		batches, monitors int
	}{
		{"one at a time", Deployment{Config: DeploymentOneAtATime, BakeSeconds: 180}, 6, 6, 0},
		{"half at a time", Deployment{Config: DeploymentHalfAtATime, BakeSeconds: 180}, 6, 2, 0},
		{"custom count", Deployment{Config: DeploymentCustom, MinimumHealthyHosts: count(4), BakeSeconds: 180}, 6, 3, 0},
		{"custom percent", Deployment{Config: DeploymentCustom, MinimumHealthyHosts: percent(50), BakeSeconds: 180}, 5, 3, 0},
		// A whole zone at once: the time grows with the zones, not the instances.
		{"zonal, 3 over 3 zones", zonal(percent(66), percent(0)), 3, 3, 480},
		{"zonal, 9 over 3 zones", zonal(percent(66), percent(0)), 9, 3, 480},
		{"zonal, one at a time in each zone", zonal(percent(66), count(2)), 9, 9, 480},
		{"zonal, fewer instances than zones", zonal(percent(66), percent(0)), 2, 2, 300},
	} {
		env := Environment{AvailabilityZones: three, Deployment: tc.d}
		if got := env.Batches(tc.instances); got != tc.batches {
			t.Errorf("%s: %d batches, want %d", tc.name, got, tc.batches)
		}
		if got := env.MonitorSeconds(tc.instances); got != tc.monitors {
			t.Errorf("%s: %d s of monitor durations, want %d", tc.name, got, tc.monitors)
		}
		if got, want := env.ReleaseSeconds(tc.instances), tc.batches*150+tc.monitors+180; got != want {
			t.Errorf("%s: release %d s, want %d", tc.name, got, want)
		}
	}
	// The fastest alarm: two one-minute datapoints and the assumed delivery delay.
	if got := (Alarms{MetricDelaySeconds: 60}).DetectSeconds(); got != 180 {
		t.Errorf("detect %d s, want 180", got)
	}
}

func TestParsePipeline(t *testing.T) {
	withPipeline := with(section(validEnv("dev"), with(validEnv("prod"), "production", true)), "pipeline", map[string]any{
		"account": "123456789012", "region": "eu-west-1", "repository": "org/repo",
		"connectionArn": "arn:aws:codeconnections:eu-west-1:123456789012:connection/12345678-1234-1234-1234-123456789012",
	})
	cfg, err := Parse(mustJSON(t, withPipeline))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Pipeline == nil || cfg.Pipeline.Branch != "main" || cfg.Pipeline.Repository != "org/repo" {
		t.Errorf("pipeline = %+v", cfg.Pipeline)
	}
	if cfg.Environments[0].Production || !cfg.Environments[1].Production {
		t.Error("production flags not kept")
	}
	if cfg.PipelineStackName() != "MyWebApp-pipeline" {
		t.Errorf("PipelineStackName = %q", cfg.PipelineStackName())
	}
	without, err := Parse(mustJSON(t, section(validEnv("dev"))))
	if err != nil || without.Pipeline != nil {
		t.Errorf("no pipeline section: %+v, %v", without.Pipeline, err)
	}
}

// A zonal rollout's defaults: a whole zone's share of the fleet may go at once, no minimum per
// zone, and each zone is watched for as long as the alarms need to fire (the metric delay
// included), as is the bake after the last.
func TestZonalDefaults(t *testing.T) {
	for zones, percent := range map[int]int{2: 50, 3: 66, 4: 75} {
		env := with(validEnv("prod"), "deployment", map[string]any{"config": "zonal", "alarms": map[string]any{"metricDelaySeconds": 90}})
		list := []any{}
		for i := 0; i < zones; i++ {
			list = append(list, "eu-west-1"+string(rune('a'+i)))
		}
		env = with(with(env, "availabilityZones", list), "maxCapacity", 8)
		cfg, err := Parse(mustJSON(t, section(env)))
		if err != nil {
			t.Fatal(err)
		}
		d := cfg.Environments[0].Deployment
		if m := d.MinimumHealthyHosts; m.Percent == nil || *m.Percent != percent || m.Count != nil {
			t.Errorf("%d zones: minimum healthy hosts %+v, want %d%%", zones, m, percent)
		}
		if z := d.Zonal; z.MonitorSeconds != 210 || z.FirstZoneMonitorSeconds != 210 || z.MinimumHealthyHostsPerZone.Percent == nil || *z.MinimumHealthyHostsPerZone.Percent != 0 {
			t.Errorf("%d zones: zonal %+v, want monitor durations of 210 s and no minimum per zone", zones, z)
		}
		if d.BakeSeconds != 210 {
			t.Errorf("bake %d s, want 210", d.BakeSeconds)
		}
	}
}

// A release must not get further than its alarms could stop it: a monitor duration or a bake
// shorter than the alarms need to fire is warned about, naming the key and the fix.
func TestUnwatched(t *testing.T) {
	three := []string{"a", "b", "c"}
	alarms := Alarms{MetricDelaySeconds: 60}
	zonal := func(first, monitor, bake int) Environment {
		return Environment{AvailabilityZones: three, Deployment: Deployment{Config: DeploymentZonal, BakeSeconds: bake, Alarms: alarms,
			Zonal: Zonal{FirstZoneMonitorSeconds: first, MonitorSeconds: monitor}}}
	}
	for _, tc := range []struct {
		name string
		env  Environment
		want []string
	}{
		{"watched long enough", zonal(300, 180, 180), nil},
		{"a short first zone", zonal(120, 180, 180), []string{"deployment.zonal.firstZoneMonitorSeconds 120: a bad release reaches the next zone before its alarms could stop it"}},
		{"short waves and no bake", zonal(0, 60, 0), []string{"deployment.zonal.firstZoneMonitorSeconds 0:", "deployment.zonal.monitorSeconds 60:", "deployment.bakeSeconds 0: a deployment can end before"}},
		{"one at a time, a short bake", Environment{Deployment: Deployment{Config: DeploymentOneAtATime, BakeSeconds: 60, Alarms: alarms}},
			[]string{"deployment.bakeSeconds 60: a deployment can end before its alarms could stop a bad release on its last instances: the gating alarms need 180 s to fire (2 one-minute datapoints and an assumed 60 s for the metric to reach CloudWatch, deployment.alarms.metricDelaySeconds), and CodeDeploy stops watching when the deployment ends. Raise it to at least 180."}},
	} {
		got := tc.env.Unwatched()
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d warnings %+v, want %d", tc.name, len(got), got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.HasPrefix(got[i].Message, w) {
				t.Errorf("%s: warning %q, want it to start %q", tc.name, got[i].Message, w)
			}
		}
	}
}
