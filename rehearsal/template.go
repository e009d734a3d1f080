package rehearsal

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TargetGroup is what the rehearsal's load balancer takes from the synthesized template: the
// health check and the drain time of the fleet's target group.
type TargetGroup struct {
	// Port is where the target group sends traffic; HealthCheckPort where it checks ("traffic-port"
	// is Port).
	Port               int
	HealthCheckPath    string
	HealthCheckPort    int
	Interval, Timeout  time.Duration
	HealthyThreshold   int
	UnhealthyThreshold int
	HealthyHTTPCodes   string
	// DeregistrationDelay is how long a deregistered target keeps its in-flight requests
	// (deregistration_delay.timeout_seconds; ELB's default is 300 s).
	DeregistrationDelay time.Duration
}

// Deployment is what the rehearsal's CodeDeploy takes from the template: the rollout and whether
// instances are taken out of the load balancer.
type Deployment struct {
	Rollout        Rollout
	TrafficControl bool
	// RollbackOnFailure: a failed deployment is rolled back (AutoRollbackConfiguration enabled
	// with the DEPLOYMENT_FAILURE event).
	RollbackOnFailure bool
	// TerminationHook: scale-in runs a termination deployment (TerminationHookEnabled).
	TerminationHook bool
	// Name is the deployment group's name, when the template sets it as a string.
	Name string
	// RollbackOnAlarm: a deployment stopped by an alarm is rolled back (DEPLOYMENT_STOP_ON_ALARM).
	RollbackOnAlarm bool
	// Zonal is the configuration's zonal waves; nil when it deploys across zones.
	Zonal *Zonal
	// Alarms are the gating alarms, which stop a deployment (AlarmConfiguration, enabled);
	// Detached are those a disabled AlarmConfiguration names: CloudWatch still evaluates them,
	// and nothing watches them.
	Alarms, Detached []Alarm
	// Bake is how long `cdk deploy`'s revision deployment watches the alarms after the last
	// instance (its BakeSeconds); 0 when it does not.
	Bake time.Duration
	// MetricDelay is the time the stack assumes a load balancer metric takes to reach CloudWatch
	// (its MetricDelaySeconds output; 60 s where it has none).
	MetricDelay time.Duration
}

// Zonal is a zonal configuration: one Availability Zone at a time, each watched before the
// next (CodeDeploy API reference, ZonalConfig).
type Zonal struct {
	FirstZoneMonitor, Monitor time.Duration
	// PerZone is the minimum healthy hosts per zone.
	PerZone Rollout
}

// Alarm is a CloudWatch metric alarm, as the template defines it.
type Alarm struct {
	Name string
	// Metric is the load balancer metric (HTTPCode_Target_5XX_Count, HTTPCode_ELB_5XX_Count,
	// UnHealthyHostCount, TargetResponseTime); Statistic is Sum, Maximum, Average or a
	// percentile such as p99.
	Metric, Statistic                    string
	Period                               time.Duration
	EvaluationPeriods, DatapointsToAlarm int
	Threshold                            float64
	// Comparison is CloudWatch's ComparisonOperator; TreatMissingData its missing-data rule.
	Comparison, TreatMissingData string
}

// Group is what the rehearsal's fleet takes from the template's Auto Scaling group: how many
// instances it runs and the Availability Zones they are spread over.
type Group struct {
	// Min, Max and Desired are the group's sizes; Desired is 0 when the template leaves it out
	// (Auto Scaling then starts the group at Min).
	Min, Max, Desired int
	// Zones are the group's Availability Zones, one per subnet (VPCZoneIdentifier), in the
	// template's order; a zone is "" where the template names a subnet it does not define (an
	// existing VPC's), so its zone is not in the template.
	Zones []string
}

// Size is how many instances the group runs: its desired capacity, else its minimum.
func (g Group) Size() int {
	if g.Desired > 0 {
		return g.Desired
	}
	return g.Min
}

// Named is the group with a name for each zone the template does not say: the region and the
// subnet's position ("eu-west-1b" for the second subnet), an assumption the report states.
func (g Group) Named(region string) Group {
	named := g
	named.Zones = make([]string, len(g.Zones))
	for i, z := range g.Zones {
		if z == "" {
			z = fmt.Sprintf("%s%c", region, 'a'+i%26)
		}
		named.Zones[i] = z
	}
	return named
}

// Spread is the zone of each of n instances, as Auto Scaling spreads them: it "tries to
// maintain equivalent numbers of instances in each enabled Availability Zone ... by attempting
// to launch new instances in the Availability Zone with the fewest instances" (Amazon EC2 Auto
// Scaling user guide, "Amazon EC2 Auto Scaling benefits", "Instance distribution"); with ties
// broken in the template's order, that is round robin over the distinct zones of its subnets (two
// subnets in one zone make one zone).
func (g Group) Spread(n int) []string {
	var zones []string
	for _, z := range g.Zones {
		if !slices.Contains(zones, z) {
			zones = append(zones, z)
		}
	}
	out := make([]string, n)
	if len(zones) == 0 {
		return out
	}
	for i := range out {
		out[i] = zones[i%len(zones)]
	}
	return out
}

// Template is what the rehearsal takes from a synthesized stack template.
type Template struct {
	TargetGroup TargetGroup
	Deployment  Deployment
	Group       Group
}

// FromTemplate reads the fleet's target group, deployment group and Auto Scaling group from a
// synthesized template (there must be exactly one of each).
func FromTemplate(template []byte) (Template, error) {
	var t struct {
		Resources map[string]resource
		Outputs   map[string]struct{ Value any }
	}
	if err := json.Unmarshal(template, &t); err != nil {
		return Template{}, fmt.Errorf("the template is not JSON: %w", err)
	}
	var groups, deployments, configs, asgs []json.RawMessage
	subnets := map[string]json.RawMessage{}
	for id, r := range t.Resources {
		switch r.Type {
		case "AWS::ElasticLoadBalancingV2::TargetGroup":
			groups = append(groups, r.Properties)
		case "AWS::CodeDeploy::DeploymentGroup":
			deployments = append(deployments, r.Properties)
		case "AWS::CodeDeploy::DeploymentConfig":
			configs = append(configs, r.Properties)
		case "AWS::AutoScaling::AutoScalingGroup":
			asgs = append(asgs, r.Properties)
		case "AWS::EC2::Subnet":
			subnets[id] = r.Properties
		}
	}
	if len(groups) != 1 || len(deployments) != 1 || len(asgs) != 1 {
		return Template{}, fmt.Errorf("the template has %d target groups, %d deployment groups and %d Auto Scaling groups, want one of each", len(groups), len(deployments), len(asgs))
	}
	tg, err := targetGroup(groups[0])
	if err != nil {
		return Template{}, err
	}
	d, err := deployment(deployments[0], configs)
	if err != nil {
		return Template{}, err
	}
	if err := d.readAlarms(deployments[0], t.Resources); err != nil {
		return Template{}, err
	}
	d.Bake, d.MetricDelay = delivery(t.Resources, t.Outputs)
	g, err := autoScalingGroup(asgs[0], subnets)
	return Template{TargetGroup: tg, Deployment: d, Group: g}, err
}

// autoScalingGroup reads the group's sizes and the zones of its subnets.
func autoScalingGroup(raw json.RawMessage, subnets map[string]json.RawMessage) (Group, error) {
	var p struct {
		MinSize, MaxSize, DesiredCapacity any
		VPCZoneIdentifier                 []any
		AvailabilityZones                 []any
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return Group{}, fmt.Errorf("Auto Scaling group: %w", err)
	}
	var g Group
	for _, f := range []struct {
		name  string
		value any
		into  *int
	}{{"MinSize", p.MinSize, &g.Min}, {"MaxSize", p.MaxSize, &g.Max}, {"DesiredCapacity", p.DesiredCapacity, &g.Desired}} {
		if f.value == nil && f.name == "DesiredCapacity" {
			continue
		}
		n, err := literalInt(f.value)
		if err != nil {
			return Group{}, fmt.Errorf("Auto Scaling group: %s: %w", f.name, err)
		}
		*f.into = n
	}
	if g.Size() < 1 || g.Max < g.Size() {
		return Group{}, fmt.Errorf("Auto Scaling group: sizes min %d, max %d, desired %d leave no fleet to rehearse", g.Min, g.Max, g.Desired)
	}
	for _, s := range p.VPCZoneIdentifier {
		zone := ""
		// A subnet of this template is {"Ref": "<logical id>"}; its zone is a literal where the
		// app lists the environment's zones (it always does: no lookups at synthesis).
		if ref, ok := s.(map[string]any); ok {
			if id, ok := ref["Ref"].(string); ok {
				var subnet struct{ AvailabilityZone any }
				if raw, ok := subnets[id]; ok && json.Unmarshal(raw, &subnet) == nil {
					zone, _ = subnet.AvailabilityZone.(string)
				}
			}
		}
		g.Zones = append(g.Zones, zone)
	}
	if len(g.Zones) == 0 {
		for _, z := range p.AvailabilityZones {
			zone, _ := z.(string)
			g.Zones = append(g.Zones, zone)
		}
	}
	return g, nil
}

// literalInt reads a size CloudFormation takes as a string ("3") or a number.
func literalInt(v any) (int, error) {
	switch n := v.(type) {
	case string:
		return strconv.Atoi(n)
	case float64:
		if n == float64(int(n)) {
			return int(n), nil
		}
	}
	return 0, fmt.Errorf("%v is not a literal whole number", v)
}

func targetGroup(raw json.RawMessage) (TargetGroup, error) {
	var p struct {
		HealthCheckPath            *string
		HealthCheckPort            *string
		HealthCheckIntervalSeconds *int
		HealthCheckTimeoutSeconds  *int
		HealthyThresholdCount      *int
		UnhealthyThresholdCount    *int
		Port                       *int
		Matcher                    *struct{ HttpCode string }
		TargetGroupAttributes      []struct{ Key, Value string }
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return TargetGroup{}, fmt.Errorf("target group: %w", err)
	}
	// Elastic Load Balancing's defaults for an HTTP target group of instances (ELB user guide,
	// "Health checks for Application Load Balancer target groups"; "Deregistration delay").
	tg := TargetGroup{Port: 80, HealthCheckPath: "/", HealthCheckPort: 80, Interval: 30 * time.Second, Timeout: 5 * time.Second,
		HealthyThreshold: 5, UnhealthyThreshold: 2, HealthyHTTPCodes: "200", DeregistrationDelay: 300 * time.Second}
	if p.HealthCheckPath != nil {
		tg.HealthCheckPath = *p.HealthCheckPath
	}
	if p.Port != nil {
		tg.Port, tg.HealthCheckPort = *p.Port, *p.Port
	}
	if p.HealthCheckPort != nil && *p.HealthCheckPort != "traffic-port" {
		port, err := strconv.Atoi(*p.HealthCheckPort)
		if err != nil {
			return TargetGroup{}, fmt.Errorf("target group: HealthCheckPort %q", *p.HealthCheckPort)
		}
		tg.HealthCheckPort = port
	}
	seconds := func(v *int, into *time.Duration) {
		if v != nil {
			*into = time.Duration(*v) * time.Second
		}
	}
	seconds(p.HealthCheckIntervalSeconds, &tg.Interval)
	seconds(p.HealthCheckTimeoutSeconds, &tg.Timeout)
	if p.HealthyThresholdCount != nil {
		tg.HealthyThreshold = *p.HealthyThresholdCount
	}
	if p.UnhealthyThresholdCount != nil {
		tg.UnhealthyThreshold = *p.UnhealthyThresholdCount
	}
	if p.Matcher != nil && p.Matcher.HttpCode != "" {
		tg.HealthyHTTPCodes = p.Matcher.HttpCode
	}
	for _, a := range p.TargetGroupAttributes {
		if a.Key == "deregistration_delay.timeout_seconds" {
			s, err := strconv.Atoi(a.Value)
			if err != nil {
				return TargetGroup{}, fmt.Errorf("target group: deregistration delay %q", a.Value)
			}
			tg.DeregistrationDelay = time.Duration(s) * time.Second
		}
	}
	return tg, nil
}

func deployment(raw json.RawMessage, configs []json.RawMessage) (Deployment, error) {
	var p struct {
		DeploymentConfigName      any
		DeploymentGroupName       any
		DeploymentStyle           *struct{ DeploymentOption string }
		AutoRollbackConfiguration *struct {
			Enabled bool
			Events  []string
		}
		TerminationHookEnabled bool
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return Deployment{}, fmt.Errorf("deployment group: %w", err)
	}
	d := Deployment{
		TrafficControl:  p.DeploymentStyle != nil && p.DeploymentStyle.DeploymentOption == "WITH_TRAFFIC_CONTROL",
		TerminationHook: p.TerminationHookEnabled,
	}
	if r := p.AutoRollbackConfiguration; r != nil && r.Enabled {
		d.RollbackOnFailure = slices.Contains(r.Events, "DEPLOYMENT_FAILURE")
		d.RollbackOnAlarm = slices.Contains(r.Events, "DEPLOYMENT_STOP_ON_ALARM")
	}
	if name, ok := p.DeploymentGroupName.(string); ok {
		d.Name = name
	}
	switch name := p.DeploymentConfigName.(type) {
	case string:
		switch name {
		case "CodeDeployDefault.OneAtATime":
			d.Rollout = Rollout{Kind: OneAtATime}
		case "CodeDeployDefault.HalfAtATime":
			d.Rollout = HalfAtATime
		case "CodeDeployDefault.AllAtOnce":
			d.Rollout = Rollout{Kind: HostCount, Value: 0}
		default:
			return Deployment{}, fmt.Errorf("deployment group: unknown deployment configuration %q", name)
		}
	case nil:
		// CodeDeploy's default when the group names none (CodeDeploy user guide, "Working with
		// deployment configurations": CodeDeployDefault.OneAtATime is the default).
		d.Rollout = Rollout{Kind: OneAtATime}
	default:
		// A reference to the template's own AWS::CodeDeploy::DeploymentConfig.
		if len(configs) != 1 {
			return Deployment{}, fmt.Errorf("deployment group: a custom configuration, and %d in the template", len(configs))
		}
		type hosts struct {
			Type  string
			Value int
		}
		var c struct {
			MinimumHealthyHosts hosts
			ZonalConfig         *struct {
				FirstZoneMonitorDurationInSeconds *int
				MonitorDurationInSeconds          *int
				MinimumHealthyHostsPerZone        *hosts
			}
		}
		if err := json.Unmarshal(configs[0], &c); err != nil {
			return Deployment{}, fmt.Errorf("deployment configuration: %w", err)
		}
		rollout := func(h hosts) (Rollout, error) {
			kind := RolloutKind(strings.ToUpper(h.Type))
			if kind != HostCount && kind != FleetPercent {
				return Rollout{}, fmt.Errorf("deployment configuration: minimum healthy hosts type %q", h.Type)
			}
			return Rollout{Kind: kind, Value: h.Value}, nil
		}
		var err error
		if d.Rollout, err = rollout(c.MinimumHealthyHosts); err != nil {
			return Deployment{}, err
		}
		if z := c.ZonalConfig; z != nil {
			// CodeDeploy's defaults: no wait between zones, the first zone's wait that of the
			// others, no minimum per zone (API reference, ZonalConfig).
			zonal := &Zonal{PerZone: Rollout{Kind: FleetPercent}}
			if z.MonitorDurationInSeconds != nil {
				zonal.Monitor = time.Duration(*z.MonitorDurationInSeconds) * time.Second
			}
			zonal.FirstZoneMonitor = zonal.Monitor
			if z.FirstZoneMonitorDurationInSeconds != nil {
				zonal.FirstZoneMonitor = time.Duration(*z.FirstZoneMonitorDurationInSeconds) * time.Second
			}
			if z.MinimumHealthyHostsPerZone != nil {
				if zonal.PerZone, err = rollout(*z.MinimumHealthyHostsPerZone); err != nil {
					return Deployment{}, err
				}
			}
			d.Zonal = zonal
		}
	}
	return d, nil
}

// WithoutTerminationHook is a copy of template whose deployment group has the termination hook
// off (TerminationHookEnabled false), as a user might synthesize it: the no-hook control
// rehearses this copy, so what it shows follows from the template, not from the rehearsal.
func WithoutTerminationHook(template []byte) ([]byte, error) {
	return edit(template, func(typ string, props map[string]any) int {
		if typ != "AWS::CodeDeploy::DeploymentGroup" {
			return 0
		}
		props["TerminationHookEnabled"] = false
		return 1
	})
}

// Unwatched is a copy of template without the safety net against a bad release: the deployment
// group's alarms detached (AlarmConfiguration disabled, the alarms themselves kept), no monitor
// duration between zones, and no bake after the deployment (the revision deployment's
// BakeSeconds 0). The unwatched control rehearses this copy.
func Unwatched(template []byte) ([]byte, error) {
	return edit(template, func(typ string, props map[string]any) int {
		switch typ {
		case "AWS::CodeDeploy::DeploymentGroup":
			if a, ok := props["AlarmConfiguration"].(map[string]any); ok {
				a["Enabled"] = false
			}
			return 1
		case "AWS::CodeDeploy::DeploymentConfig":
			if z, ok := props["ZonalConfig"].(map[string]any); ok {
				z["FirstZoneMonitorDurationInSeconds"] = 0
				z["MonitorDurationInSeconds"] = 0
			}
		case "Custom::RevisionDeployment":
			props["BakeSeconds"] = "0"
		}
		return 0
	})
}

// edit is a copy of template with change applied to every resource's properties; change counts
// the deployment groups it changed, and the template must have exactly one.
func edit(template []byte, change func(typ string, props map[string]any) int) ([]byte, error) {
	var t map[string]any
	if err := json.Unmarshal(template, &t); err != nil {
		return nil, fmt.Errorf("the template is not JSON: %w", err)
	}
	resources, _ := t["Resources"].(map[string]any)
	found := 0
	for _, r := range resources {
		res, _ := r.(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
			res["Properties"] = props
		}
		typ, _ := res["Type"].(string)
		found += change(typ, props)
	}
	if found != 1 {
		return nil, fmt.Errorf("the template has %d deployment groups, want one", found)
	}
	return json.Marshal(t)
}

type resource struct {
	Type       string
	Properties json.RawMessage
}

// readAlarms reads the alarms the deployment group's AlarmConfiguration names by reference to the
// template's own alarms: gating when it is enabled, detached when it is not.
func (d *Deployment) readAlarms(group json.RawMessage, resources map[string]resource) error {
	var p struct {
		AlarmConfiguration *struct {
			Enabled bool
			Alarms  []struct{ Name any }
		}
	}
	if err := json.Unmarshal(group, &p); err != nil {
		return fmt.Errorf("deployment group: %w", err)
	}
	if p.AlarmConfiguration == nil {
		return nil
	}
	for _, a := range p.AlarmConfiguration.Alarms {
		ref, _ := a.Name.(map[string]any)
		id, _ := ref["Ref"].(string)
		r, ok := resources[id]
		if !ok || r.Type != "AWS::CloudWatch::Alarm" {
			return fmt.Errorf("deployment group: gating alarm %v is not an alarm of the template", a.Name)
		}
		var props struct {
			AlarmName                                    string
			MetricName, Statistic, ExtendedStatistic     string
			Period, EvaluationPeriods, DatapointsToAlarm int
			Threshold                                    float64
			ComparisonOperator, TreatMissingData         string
		}
		if err := json.Unmarshal(r.Properties, &props); err != nil {
			return fmt.Errorf("alarm %s: %w", id, err)
		}
		alarm := Alarm{Name: props.AlarmName, Metric: props.MetricName, Statistic: props.Statistic,
			Period: time.Duration(props.Period) * time.Second, EvaluationPeriods: props.EvaluationPeriods,
			DatapointsToAlarm: props.DatapointsToAlarm, Threshold: props.Threshold,
			Comparison: props.ComparisonOperator, TreatMissingData: props.TreatMissingData}
		if alarm.Statistic == "" {
			alarm.Statistic = props.ExtendedStatistic
		}
		if alarm.Name == "" {
			alarm.Name = id
		}
		// CloudWatch's defaults: every period of the evaluation must breach, missing data is
		// "missing" (PutMetricAlarm).
		if alarm.DatapointsToAlarm == 0 {
			alarm.DatapointsToAlarm = alarm.EvaluationPeriods
		}
		if alarm.TreatMissingData == "" {
			alarm.TreatMissingData = "missing"
		}
		if alarm.Period <= 0 || alarm.EvaluationPeriods < 1 || alarm.Metric == "" || alarm.Statistic == "" {
			return fmt.Errorf("alarm %s: it needs a metric, a statistic, a period and evaluation periods", alarm.Name)
		}
		if p.AlarmConfiguration.Enabled {
			d.Alarms = append(d.Alarms, alarm)
		} else {
			d.Detached = append(d.Detached, alarm)
		}
	}
	return nil
}

// delivery reads the bake of the stack's revision deployment (the Custom::RevisionDeployment's
// BakeSeconds) and the metric delay the stack assumes (its MetricDelaySeconds output).
func delivery(resources map[string]resource, outputs map[string]struct{ Value any }) (bake, delay time.Duration) {
	delay = 60 * time.Second
	for _, r := range resources {
		if r.Type != "Custom::RevisionDeployment" {
			continue
		}
		var p struct{ BakeSeconds string }
		if json.Unmarshal(r.Properties, &p) == nil {
			if n, err := strconv.Atoi(p.BakeSeconds); err == nil {
				bake = time.Duration(n) * time.Second
			}
		}
	}
	if o, ok := outputs["MetricDelaySeconds"]; ok {
		if n, err := literalInt(o.Value); err == nil {
			delay = time.Duration(n) * time.Second
		}
	}
	return bake, delay
}
