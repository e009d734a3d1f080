package config

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

var (
	appNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,31}$`)
	envNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,15}$`)
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	// Commercial, GovCloud and China partitions: us-east-1, us-gov-west-1, cn-north-1, ap-southeast-5.
	regionPattern       = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$`)
	instanceTypePattern = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	tagKeyPattern       = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)
	tagValuePattern     = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$`)
	emailPattern        = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
)

// maxStackNameLen keeps "<app>-<env>" well under CloudFormation's 128 and leaves room for the
// resource names derived from it (a CodeDeploy deployment group name is at most 100).
const maxStackNameLen = 48

// Tag keys the stack sets itself; config may not override them.
var reservedTags = map[string]bool{"App": true, "Environment": true}

// parseEnvironment decodes and validates environments[index]. Errors are labelled with the
// environment's name when it has a usable one, with its index otherwise.
func parseEnvironment(index int, data json.RawMessage) (Environment, []error) {
	label := envLabel(index, peekName(data))
	var raw rawEnvironment
	v := &validator{scope: label, bad: map[string]bool{}}
	if !v.section(label, data, &raw) {
		return Environment{}, v.errs
	}
	env := Environment{
		Name:                  v.requiredString("name", raw.Name),
		Account:               v.requiredString("account", raw.Account),
		Region:                v.requiredString("region", raw.Region),
		InstanceType:          withDefault(raw.InstanceType, DefaultInstanceType),
		RevisionRetentionDays: withDefault(raw.RevisionRetentionDays, DefaultRevisionRetentionDays),
		RevisionEncryption:    Encryption(withDefault(raw.RevisionEncryption, string(DefaultRevisionEncryption))),
		LogRetentionDays:      withDefault(raw.LogRetentionDays, DefaultLogRetentionDays),
		Destroy:               withDefault(raw.Destroy, false),
		DesiredCapacity:       raw.DesiredCapacity,
		Tags:                  raw.Tags,
		Production:            withDefault(raw.Production, false),
	}

	if raw.Name != nil && !envNamePattern.MatchString(env.Name) {
		v.fail("name", fmt.Sprintf("%q is not a valid environment name", env.Name),
			"use 1 to 16 lowercase letters, digits and hyphens, starting with a letter")
	}
	if raw.Account != nil && !accountPattern.MatchString(env.Account) {
		v.fail("account", fmt.Sprintf("%q is not an AWS account id", env.Account), "use the 12-digit account id, as a string")
	}
	if raw.Region != nil && !regionPattern.MatchString(env.Region) {
		v.fail("region", fmt.Sprintf("%q is not an AWS region", env.Region), `use a region code such as "eu-west-1"`)
	}
	env.AvailabilityZones = v.availabilityZones(raw.AvailabilityZones, env.Region)

	if !instanceTypePattern.MatchString(env.InstanceType) {
		v.fail("instanceType", fmt.Sprintf("%q is not an EC2 instance type", env.InstanceType), `use a type such as "t3.micro"`)
	}

	v.capacity(&env, raw.MinCapacity, raw.MaxCapacity)
	v.atLeast("revisionRetentionDays", env.RevisionRetentionDays, 1, 3650)
	if env.RevisionEncryption != EncryptionS3 && env.RevisionEncryption != EncryptionKMS {
		v.fail("revisionEncryption", fmt.Sprintf("%q is not an encryption choice", env.RevisionEncryption),
			fmt.Sprintf("use %q or %q", EncryptionS3, EncryptionKMS))
	}
	v.tags(env.Tags)
	v.fleet(&env, raw)
	env.Network = v.network(raw.Network, len(env.AvailabilityZones))
	env.LoadBalancer = v.loadBalancer(raw.LoadBalancer, env)
	env.Deployment = v.deployment(raw.Deployment, env.MinCapacity, len(env.AvailabilityZones))
	env.Delivery = v.delivery(raw.Delivery)
	if len(v.errs) == 0 {
		v.releaseFits(env)
	}
	return env, v.errs
}

func (v *validator) delivery(data json.RawMessage) Delivery {
	sub := v.sub(v.scope + ".delivery")
	defer func() { v.errs = append(v.errs, sub.errs...) }()
	var raw rawDelivery
	if !sub.section(sub.scope, data, &raw) {
		return Delivery{}
	}
	d := Delivery{
		DeployOnCdkDeploy: withDefault(raw.DeployOnCdkDeploy, true),
		TimeoutMinutes:    withDefault(raw.TimeoutMinutes, DefaultDeliveryTimeoutMinutes),
		RevisionsToKeep:   withDefault(raw.RevisionsToKeep, DefaultRevisionsToKeep),
	}
	// CloudFormation waits at most an hour for a custom resource (leave it a margin); less than
	// 5 minutes cannot fit even a one-instance OneAtATime deployment.
	sub.atLeast("timeoutMinutes", d.TimeoutMinutes, 5, MaxTimeoutMinutes)
	// At least the running revision and the one before it, which a rollback deploys again.
	sub.atLeast("revisionsToKeep", d.RevisionsToKeep, 2, 1000)
	return d
}

// section decodes a nested object into out, reporting each problem under scope; it is false when
// data is not an object at all.
func (v *validator) section(scope string, data []byte, out any) bool {
	if len(data) == 0 {
		return true
	}
	bad, errs, ok := decodeFields(scope, data, out)
	v.errs = append(v.errs, errs...)
	for key := range bad {
		v.bad[scope+"."+key] = true
	}
	return ok
}

// sub is a validator for a nested scope, sharing what was given but could not be decoded.
func (v *validator) sub(scope string) *validator {
	return &validator{scope: scope, bad: v.bad}
}

// given reports whether key was in the input, even with a value that could not be decoded: such
// a key has its error already and must not also be reported missing.
func (v *validator) given(key string) bool { return v.bad[v.scope+"."+key] }

func (v *validator) deployment(data json.RawMessage, minCapacity, zones int) Deployment {
	scope := v.scope + ".deployment"
	sub := v.sub(scope)
	defer func() { v.errs = append(v.errs, sub.errs...) }()
	var raw rawDeployment
	if !sub.section(scope, data, &raw) {
		return Deployment{}
	}
	d := Deployment{
		Config:           DeploymentConfig(withDefault(raw.Config, string(DefaultDeploymentConfig))),
		SuspendProcesses: withDefault(raw.SuspendProcesses, slices.Clone(SuspendableProcesses)),
	}
	seen := map[string]bool{}
	for _, p := range d.SuspendProcesses {
		switch {
		case !slices.Contains(SuspendableProcesses, p):
			sub.fail("suspendProcesses", fmt.Sprintf("%q is not a process CodeDeploy can suspend", p),
				fmt.Sprintf("use any of %s, or [] to suspend none", strings.Join(SuspendableProcesses, ", ")))
		case seen[p]:
			sub.fail("suspendProcesses", fmt.Sprintf("%q is listed twice", p), "list each process once")
		}
		seen[p] = true
	}
	d.Alarms = sub.alarms(scope, raw.Alarms)
	// By default the bake lasts as long as the slowest gating alarm needs to fire for a release
	// that fails from its first request.
	d.BakeSeconds = withDefault(raw.BakeSeconds, d.Alarms.DetectSeconds())
	sub.atLeast("bakeSeconds", d.BakeSeconds, 0, 3600)
	if d.Config != DeploymentZonal && raw.Zonal != nil {
		sub.fail("zonal", fmt.Sprintf("is set but config is %q", d.Config), fmt.Sprintf("remove it, or use config %q", DeploymentZonal))
	}
	switch d.Config {
	case DeploymentOneAtATime, DeploymentHalfAtATime:
		if raw.MinimumHealthyHosts != nil {
			sub.fail("minimumHealthyHosts", fmt.Sprintf("is set but config is %q", d.Config),
				fmt.Sprintf("remove it, or use config %q or %q", DeploymentCustom, DeploymentZonal))
		}
	case DeploymentCustom:
		d.MinimumHealthyHosts = sub.minimumHealthyHosts(raw.MinimumHealthyHosts, minCapacity)
	case DeploymentZonal:
		if zones < 2 {
			sub.fail("config", fmt.Sprintf("%q needs at least two availabilityZones: one zone at a time over one zone is every instance at once", d.Config),
				fmt.Sprintf("list another zone, or use %q", DeploymentOneAtATime))
		}
		if raw.MinimumHealthyHosts != nil {
			d.MinimumHealthyHosts = sub.minimumHealthyHosts(raw.MinimumHealthyHosts, minCapacity)
		} else {
			// A whole zone's share of the fleet may go at once: with instances spread evenly, the
			// other zones' share stays in service (CodeDeploy rounds the percentage up).
			percent := 100 * (max(zones, 2) - 1) / max(zones, 2)
			d.MinimumHealthyHosts = MinimumHealthyHosts{Percent: &percent}
		}
		d.Zonal = sub.zonal(scope, raw.Zonal, d.Alarms.DetectSeconds(), minCapacity, zones)
	default:
		sub.fail("config", fmt.Sprintf("%q is not a deployment configuration", d.Config),
			fmt.Sprintf("use %q, %q, %q or %q", DeploymentOneAtATime, DeploymentHalfAtATime, DeploymentCustom, DeploymentZonal))
	}
	return d
}

func (v *validator) alarms(scope string, data *json.RawMessage) Alarms {
	var alarms rawAlarms
	if data != nil && !v.section(scope+".alarms", *data, &alarms) {
		return Alarms{}
	}
	a := Alarms{
		Target5xxCount:     withDefault(alarms.Target5xxCount, DefaultTarget5xxCount),
		UnhealthyHosts:     withDefault(alarms.UnhealthyHosts, DefaultUnhealthyHosts),
		ELB5xxCount:        withDefault(alarms.ELB5xxCount, DefaultELB5xxCount),
		P99LatencySeconds:  withDefault(alarms.P99LatencySeconds, 0),
		MetricDelaySeconds: withDefault(alarms.MetricDelaySeconds, DefaultMetricDelaySeconds),
	}
	al := v.sub(scope + ".alarms")
	if a.Target5xxCount <= 0 {
		al.fail("target5xxCount", fmt.Sprintf("%d is not above 0", a.Target5xxCount), "use the number of 5xx responses per minute that should stop a deployment, e.g. 5")
	}
	if a.ELB5xxCount <= 0 {
		al.fail("elb5xxCount", fmt.Sprintf("%d is not above 0", a.ELB5xxCount), "use the number of load balancer 5xx responses per minute that should alarm, e.g. 5")
	}
	if a.UnhealthyHosts <= 0 {
		al.fail("unhealthyHosts", fmt.Sprintf("%d is not above 0", a.UnhealthyHosts), "use the number of unhealthy instances that should stop a deployment, e.g. 1")
	}
	if p := a.P99LatencySeconds; p < 0 || p > 60 {
		al.fail("p99LatencySeconds", fmt.Sprintf("%g is out of range", p), "use 0 (no latency alarm) or up to 60 seconds")
	}
	al.atLeast("metricDelaySeconds", a.MetricDelaySeconds, 0, 600)
	v.errs = append(v.errs, al.errs...)
	return a
}

// zonal reads a zonal rollout's waves. The monitor durations default to the time the gating
// alarms need to fire (detect), so that a release is watched in each zone for as long as an
// alarm could take to stop it before the next.
func (v *validator) zonal(scope string, data *json.RawMessage, detect, minCapacity, zones int) Zonal {
	var raw rawZonal
	if data != nil && !v.section(scope+".zonal", *data, &raw) {
		return Zonal{}
	}
	sub := v.sub(scope + ".zonal")
	defer func() { v.errs = append(v.errs, sub.errs...) }()
	z := Zonal{MonitorSeconds: withDefault(raw.MonitorSeconds, detect)}
	z.FirstZoneMonitorSeconds = withDefault(raw.FirstZoneMonitorSeconds, z.MonitorSeconds)
	sub.atLeast("monitorSeconds", z.MonitorSeconds, 0, 3600)
	sub.atLeast("firstZoneMonitorSeconds", z.FirstZoneMonitorSeconds, 0, 3600)
	zero := 0
	z.MinimumHealthyHostsPerZone = MinimumHealthyHosts{Percent: &zero}
	if raw.MinimumHealthyHostsPerZone == nil {
		return z
	}
	var m rawMinimumHealthyHosts
	if !sub.section(sub.scope+".minimumHealthyHostsPerZone", *raw.MinimumHealthyHostsPerZone, &m) {
		return z
	}
	z.MinimumHealthyHostsPerZone = MinimumHealthyHosts(m)
	// The smallest zone's share of the fleet at its minimum size: a per-zone minimum as large
	// leaves no instance of that zone to deploy to.
	smallest := minCapacity / max(zones, 1)
	switch p := z.MinimumHealthyHostsPerZone; {
	case (p.Count == nil) == (p.Percent == nil):
		sub.fail("minimumHealthyHostsPerZone", "needs exactly one of count and percent", `use {"count": N} or {"percent": N}`)
	case p.Count != nil && (*p.Count < 0 || *p.Count >= max(smallest, 1)):
		sub.fail("minimumHealthyHostsPerZone.count", fmt.Sprintf("%d leaves no instance of a zone to deploy to", *p.Count),
			fmt.Sprintf("use 0 to %d: at minCapacity %d over %d zones the smallest zone holds %d", max(smallest, 1)-1, minCapacity, zones, smallest))
	case p.Percent != nil && (*p.Percent < 0 || *p.Percent > 99):
		sub.fail("minimumHealthyHostsPerZone.percent", fmt.Sprintf("%d is out of range", *p.Percent), "use 0 to 99")
	}
	return z
}

func (v *validator) minimumHealthyHosts(data *json.RawMessage, minCapacity int) MinimumHealthyHosts {
	scope := v.scope + ".minimumHealthyHosts"
	if data == nil {
		v.fail("minimumHealthyHosts", "is missing", `config "custom" needs {"count": N} or {"percent": N}`)
		return MinimumHealthyHosts{}
	}
	var raw rawMinimumHealthyHosts
	if !v.section(scope, *data, &raw) {
		return MinimumHealthyHosts{}
	}
	m := MinimumHealthyHosts(raw)
	switch {
	case (m.Count == nil) == (m.Percent == nil):
		v.fail("minimumHealthyHosts", "needs exactly one of count and percent", `use {"count": N} or {"percent": N}`)
	case m.Count != nil && (*m.Count < 0 || *m.Count >= minCapacity):
		// With as many healthy hosts required as the fleet's smallest size, no instance could
		// ever be taken out to deploy to.
		v.fail("minimumHealthyHosts.count", fmt.Sprintf("%d is out of range", *m.Count),
			fmt.Sprintf("use 0 to %d (less than minCapacity %d)", minCapacity-1, minCapacity))
	case m.Percent != nil && (*m.Percent < 0 || *m.Percent > 99):
		v.fail("minimumHealthyHosts.percent", fmt.Sprintf("%d is out of range", *m.Percent), "use 0 to 99")
	}
	return m
}

// CloudWatch Logs accepts only these retention periods.
var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

func (v *validator) fleet(env *Environment, raw rawEnvironment) {
	env.OS = OS(withDefault(raw.OS, string(DefaultOS)))
	env.DetailedMonitoring = withDefault(raw.DetailedMonitoring, false)
	env.RootVolumeGiB = withDefault(raw.RootVolumeGiB, DefaultRootVolumeGiB)
	env.CPUTargetPercent = withDefault(raw.CPUTargetPercent, DefaultCPUTargetPercent)
	env.HealthCheckGraceSeconds = withDefault(raw.HealthCheckGraceSeconds, DefaultHealthCheckGraceSeconds)
	env.NotificationEmail = withDefault(raw.NotificationEmail, "")
	if env.NotificationEmail != "" && !emailPattern.MatchString(env.NotificationEmail) {
		v.fail("notificationEmail", fmt.Sprintf("%q is not an e-mail address", env.NotificationEmail), "use name@example.com, or leave it out")
	}

	if env.OS != AmazonLinux2 && env.OS != AmazonLinux2023 {
		v.fail("os", fmt.Sprintf("%q is not a supported operating system", env.OS),
			fmt.Sprintf("use %q or %q", AmazonLinux2023, AmazonLinux2))
	}
	// The AMIs are x86_64: a Graviton (arm64) type would not boot them.
	if isArmInstanceType(env.InstanceType) {
		v.fail("instanceType", fmt.Sprintf("%q is an arm64 (Graviton) type", env.InstanceType),
			"use an x86_64 type such as t3.micro or m7i.large")
	}
	// Amazon Linux AMIs ship an 8 GiB root snapshot; the volume may not be smaller.
	v.atLeast("rootVolumeGiB", env.RootVolumeGiB, 8, 16384)
	v.atLeast("cpuTargetPercent", env.CPUTargetPercent, 10, 90)
	// The Auto Scaling and lifecycle-hook limit is 7200 s.
	v.atLeast("healthCheckGraceSeconds", env.HealthCheckGraceSeconds, 60, 7200)
	if !slices.Contains(logRetentionDays, env.LogRetentionDays) {
		v.fail("logRetentionDays", fmt.Sprintf("%d is not a CloudWatch Logs retention period", env.LogRetentionDays),
			fmt.Sprintf("use one of %v", logRetentionDays))
	}
	// A zone the fleet can never reach wastes a NAT gateway and spreads nothing.
	if zones := len(env.AvailabilityZones); zones > 0 && env.MaxCapacity > 0 && env.MaxCapacity < zones {
		v.fail("maxCapacity", fmt.Sprintf("%d is less than the %d availability zones", env.MaxCapacity, zones),
			"list fewer zones or raise maxCapacity, so every zone can hold an instance")
	}
}

// isArmInstanceType reports Graviton families: a "g" among the attribute letters after the
// generation digit (t4g, m7gd, c7gn, x2gd), not a leading "g" (g5 is an x86 GPU family).
func isArmInstanceType(instanceType string) bool {
	family, _, _ := strings.Cut(instanceType, ".")
	i := strings.IndexAny(family, "0123456789")
	if i < 0 {
		return false
	}
	attrs := strings.TrimLeft(family[i:], "0123456789")
	attrs, _, _ = strings.Cut(attrs, "-") // m7i-flex
	return strings.Contains(attrs, "g")
}

func (v *validator) network(data json.RawMessage, zones int) Network {
	var raw rawNetwork
	sub := v.sub(v.scope + ".network")
	defer func() { v.errs = append(v.errs, sub.errs...) }()
	if !sub.section(sub.scope, data, &raw) {
		return Network{}
	}
	if raw.ExistingVPC != nil {
		if raw.CIDR != nil || raw.NATGateways != nil {
			sub.fail("existingVpc", "is set together with cidr or natGateways",
				"those describe a VPC the stack creates: remove them, or remove existingVpc")
		}
		return Network{ExistingVPC: sub.existingVPC(*raw.ExistingVPC, zones)}
	}
	n := Network{
		CIDR:        withDefault(raw.CIDR, DefaultVPCCIDR),
		NATGateways: withDefault(raw.NATGateways, DefaultNATGateways),
	}
	if prefix, err := netip.ParsePrefix(n.CIDR); err != nil || !prefix.Addr().Is4() || prefix.Masked() != prefix || prefix.Bits() < 16 || prefix.Bits() > 20 {
		sub.fail("cidr", fmt.Sprintf("%q is not an IPv4 network from /16 to /20", n.CIDR),
			`use a private range such as "10.0.0.0/16" (host bits zero); the subnets need the room`)
	} else if !prefix.Addr().IsPrivate() {
		// AWS accepts a public range for a VPC, but its addresses then shadow the real owners'
		// on the internet for everything in the VPC.
		sub.fail("cidr", fmt.Sprintf("%q is a public range", n.CIDR),
			`use a private range (RFC 1918: 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16), such as "10.0.0.0/16"`)
	}
	// Instances sit in private subnets: without a NAT gateway they reach neither CodeDeploy nor
	// their package repositories.
	if n.NATGateways < 1 || (zones > 0 && n.NATGateways > zones) {
		sub.fail("natGateways", fmt.Sprintf("%d is out of range", n.NATGateways),
			fmt.Sprintf("use 1 (cheapest) to %d (one per availability zone, survives a zone outage)", max(zones, 1)))
	}
	return n
}

var (
	vpcIDPattern    = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)
	subnetIDPattern = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
)

func (v *validator) existingVPC(data json.RawMessage, zones int) *ExistingVPC {
	scope := v.scope + ".existingVpc"
	var raw rawExistingVPC
	if !v.section(scope, data, &raw) {
		return nil
	}
	sub := v.sub(scope)
	defer func() { v.errs = append(v.errs, sub.errs...) }()
	e := &ExistingVPC{
		VPCID:            sub.requiredString("vpcId", raw.VPCID),
		PublicSubnetIDs:  withDefault(raw.PublicSubnetIDs, nil),
		PrivateSubnetIDs: withDefault(raw.PrivateSubnetIDs, nil),
	}
	if raw.VPCID != nil && !vpcIDPattern.MatchString(e.VPCID) {
		sub.fail("vpcId", fmt.Sprintf("%q is not a VPC id", e.VPCID), "use the id from the VPC console, vpc-0123456789abcdef0")
	}
	seen := map[string]bool{}
	for _, list := range []struct {
		key string
		ids []string
	}{{"publicSubnetIds", e.PublicSubnetIDs}, {"privateSubnetIds", e.PrivateSubnetIDs}} {
		key, ids := list.key, list.ids
		if len(ids) != zones {
			sub.fail(key, fmt.Sprintf("lists %d subnets for %d availability zones", len(ids), zones),
				"list one subnet per zone, in the order of availabilityZones")
		}
		for _, id := range ids {
			switch {
			case !subnetIDPattern.MatchString(id):
				sub.fail(key, fmt.Sprintf("%q is not a subnet id", id), "use ids such as subnet-0123456789abcdef0")
			case seen[id]:
				sub.fail(key, fmt.Sprintf("%q is listed twice", id), "each subnet is either public or private, once")
			}
			seen[id] = true
		}
	}
	return e
}

var (
	certificateARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:acm:([a-z0-9-]+):([0-9]{12}):certificate/[0-9a-f-]{36}$`)
	healthPathPattern     = regexp.MustCompile(`^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$`)
)

func (v *validator) loadBalancer(data json.RawMessage, env Environment) LoadBalancer {
	var raw rawLoadBalancer
	sub := v.sub(v.scope + ".loadBalancer")
	defer func() { v.errs = append(v.errs, sub.errs...) }()
	if !sub.section(sub.scope, data, &raw) {
		return LoadBalancer{}
	}
	lb := LoadBalancer{
		AllowedCIDRs:               withDefault(raw.AllowedCIDRs, DefaultAllowedCIDRs),
		CertificateARN:             withDefault(raw.CertificateARN, ""),
		HealthCheckPath:            withDefault(raw.HealthCheckPath, DefaultHealthCheckPath),
		DeregistrationDelaySeconds: withDefault(raw.DeregistrationDelaySeconds, DefaultDeregistrationDelaySeconds),
	}
	if len(lb.AllowedCIDRs) == 0 {
		sub.fail("allowedCidrs", "is empty", `list who may reach the site, e.g. ["0.0.0.0/0"] for everyone`)
	}
	for _, cidr := range lb.AllowedCIDRs {
		if prefix, err := netip.ParsePrefix(cidr); err != nil || !prefix.Addr().Is4() || prefix.Masked() != prefix {
			sub.fail("allowedCidrs", fmt.Sprintf("%q is not an IPv4 CIDR block", cidr), `use e.g. "203.0.113.0/24" with the host bits zero`)
		}
	}
	if lb.CertificateARN != "" {
		m := certificateARNPattern.FindStringSubmatch(lb.CertificateARN)
		switch {
		case m == nil:
			sub.fail("certificateArn", fmt.Sprintf("%q is not an ACM certificate ARN", lb.CertificateARN),
				"use arn:aws:acm:REGION:ACCOUNT:certificate/ID, or leave it out for HTTP only")
		case env.Region != "" && m[1] != env.Region:
			sub.fail("certificateArn", fmt.Sprintf("certificate is in %s, not %s", m[1], env.Region),
				"a load balancer can only use a certificate from its own region")
		}
	}
	if len(lb.HealthCheckPath) > 1024 || !healthPathPattern.MatchString(lb.HealthCheckPath) {
		sub.fail("healthCheckPath", fmt.Sprintf("%q is not a URL path", lb.HealthCheckPath), `use a path starting with "/", e.g. "/health"`)
	}
	// The target group's limits. Above a few minutes, every OneAtATime step waits that long.
	sub.atLeast("deregistrationDelaySeconds", lb.DeregistrationDelaySeconds, 0, 3600)
	return lb
}

// peekName returns the environment's name if it is a string, for labelling errors only.
func peekName(data json.RawMessage) string {
	var probe map[string]json.RawMessage
	if json.Unmarshal(data, &probe) != nil {
		return ""
	}
	var name string
	if json.Unmarshal(probe["name"], &name) != nil || !envNamePattern.MatchString(name) {
		return ""
	}
	return name
}

func withDefault[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// validator collects every problem in one environment so a user fixes them in one pass.
type validator struct {
	scope string
	errs  []error
	// bad holds the full paths of keys given with a value that could not be decoded.
	bad map[string]bool
}

func (v *validator) fail(key, problem, fix string) {
	v.errs = append(v.errs, fieldErr(v.scope, key, problem, fix))
}

func (v *validator) requiredString(key string, p *string) string {
	if p == nil {
		if !v.given(key) {
			v.fail(key, "is missing", "it is required")
		}
		return ""
	}
	return *p
}

func (v *validator) atLeast(key string, value, lowest, highest int) {
	if value < lowest || value > highest {
		v.fail(key, fmt.Sprintf("%d is out of range", value), fmt.Sprintf("use %d to %d", lowest, highest))
	}
}

func (v *validator) availabilityZones(p *[]string, region string) []string {
	if p == nil {
		if v.given("availabilityZones") {
			return nil
		}
		v.fail("availabilityZones", "is missing",
			`list the zones to use, e.g. ["eu-west-1a", "eu-west-1b"]: synthesis does not look them up`)
		return nil
	}
	zones := *p
	if len(zones) == 0 {
		v.fail("availabilityZones", "is empty", "list at least one zone; two or more for a highly available fleet")
		return nil
	}
	seen := map[string]bool{}
	for _, zone := range zones {
		if seen[zone] {
			v.fail("availabilityZones", fmt.Sprintf("%q is listed twice", zone), "list each zone once")
		}
		seen[zone] = true
		// A zone name is its region's code plus one letter. Checking it here catches a zone
		// copied from another region, which CloudFormation would only reject mid-deployment.
		if region != "" && !isZoneOf(zone, region) {
			v.fail("availabilityZones", fmt.Sprintf("%q is not a zone of region %s", zone, region),
				fmt.Sprintf("use zones named %sa, %sb, ...", region, region))
		}
	}
	return zones
}

func isZoneOf(zone, region string) bool {
	suffix, ok := strings.CutPrefix(zone, region)
	return ok && len(suffix) == 1 && suffix[0] >= 'a' && suffix[0] <= 'z'
}

// capacity checks minCapacity and maxCapacity each on its own, then together, so every problem
// with the two is reported in one pass.
func (v *validator) capacity(env *Environment, minP, maxP *int) {
	if minP == nil && !v.given("minCapacity") {
		v.fail("minCapacity", "is missing", "set the fleet's smallest size, at least 1")
	}
	if maxP == nil && !v.given("maxCapacity") {
		v.fail("maxCapacity", "is missing", "set the fleet's largest size, at least minCapacity")
	}
	if minP != nil {
		env.MinCapacity = *minP
		// At least one instance: CodeDeploy needs a target, and the site needs a server.
		if env.MinCapacity < 1 {
			v.fail("minCapacity", fmt.Sprintf("%d is less than 1", env.MinCapacity), "use at least 1")
		}
	}
	if maxP != nil {
		env.MaxCapacity = *maxP
		if env.MaxCapacity < 1 {
			v.fail("maxCapacity", fmt.Sprintf("%d is less than 1", env.MaxCapacity), "use at least 1, and at least minCapacity")
		}
	}
	if minP == nil || maxP == nil {
		return
	}
	if env.MaxCapacity < env.MinCapacity && env.MaxCapacity >= 1 {
		v.fail("maxCapacity", fmt.Sprintf("%d is less than minCapacity %d", env.MaxCapacity, env.MinCapacity),
			fmt.Sprintf("make maxCapacity at least %d", env.MinCapacity))
	}
	if d := env.DesiredCapacity; d != nil && (*d < env.MinCapacity || *d > env.MaxCapacity) {
		v.fail("desiredCapacity", fmt.Sprintf("%d is outside minCapacity..maxCapacity (%d..%d)", *d, env.MinCapacity, env.MaxCapacity),
			"use a value in that range, or leave it out so scaling decides")
	}
}

func (v *validator) tags(tags map[string]string) {
	for _, key := range sortedKeys(tags) {
		switch {
		case reservedTags[key]:
			v.fail("tags", fmt.Sprintf("%q is set by the stack itself", key), "remove it; App and Environment come from the names")
		case strings.HasPrefix(strings.ToLower(key), "aws:"):
			v.fail("tags", fmt.Sprintf("%q uses the reserved aws: prefix", key), "choose another key")
		case !tagKeyPattern.MatchString(key):
			v.fail("tags", fmt.Sprintf("%q is not a valid tag key", key), "use 1 to 128 letters, digits, spaces and _.:/=+-@")
		case !tagValuePattern.MatchString(tags[key]):
			v.fail("tags", fmt.Sprintf("value %q of %q is not a valid tag value", tags[key], key), "use up to 256 letters, digits, spaces and _.:/=+-@")
		}
	}
}

var (
	connectionARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:connection/[0-9a-f-]{36}$`)
	repositoryPattern    = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
)

func parsePipeline(data json.RawMessage) (*Pipeline, []error) {
	v := &validator{scope: "pipeline", bad: map[string]bool{}}
	var raw rawPipeline
	if !v.section("pipeline", data, &raw) {
		return nil, v.errs
	}
	p := &Pipeline{
		Account:       v.requiredString("account", raw.Account),
		Region:        v.requiredString("region", raw.Region),
		ConnectionARN: v.requiredString("connectionArn", raw.ConnectionARN),
		Repository:    v.requiredString("repository", raw.Repository),
		Branch:        withDefault(raw.Branch, "main"),
	}
	if raw.Account != nil && !accountPattern.MatchString(p.Account) {
		v.fail("account", fmt.Sprintf("%q is not an AWS account id", p.Account), "use the 12-digit account id, as a string")
	}
	if raw.Region != nil && !regionPattern.MatchString(p.Region) {
		v.fail("region", fmt.Sprintf("%q is not an AWS region", p.Region), `use a region code such as "eu-west-1"`)
	}
	if raw.ConnectionARN != nil && !connectionARNPattern.MatchString(p.ConnectionARN) {
		v.fail("connectionArn", fmt.Sprintf("%q is not a CodeConnections connection ARN", p.ConnectionARN),
			"create a connection in the console (Developer Tools > Connections) and copy its ARN")
	}
	if raw.Repository != nil && !repositoryPattern.MatchString(p.Repository) {
		v.fail("repository", fmt.Sprintf("%q is not owner/name", p.Repository), `use e.g. "my-org/codedeploy-fleet"`)
	}
	if p.Branch == "" || strings.ContainsAny(p.Branch, " ~^:?*[\\") {
		v.fail("branch", fmt.Sprintf("%q is not a branch name", p.Branch), `use e.g. "main"`)
	}
	if len(v.errs) > 0 {
		return nil, v.errs
	}
	return p, nil
}
