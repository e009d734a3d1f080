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
}

// FromTemplate reads the fleet's target group and deployment group from a synthesized template
// (there must be exactly one of each).
func FromTemplate(template []byte) (TargetGroup, Deployment, error) {
	var t struct {
		Resources map[string]struct {
			Type       string
			Properties json.RawMessage
		}
	}
	if err := json.Unmarshal(template, &t); err != nil {
		return TargetGroup{}, Deployment{}, fmt.Errorf("the template is not JSON: %w", err)
	}
	var groups, deployments, configs []json.RawMessage
	for _, r := range t.Resources {
		switch r.Type {
		case "AWS::ElasticLoadBalancingV2::TargetGroup":
			groups = append(groups, r.Properties)
		case "AWS::CodeDeploy::DeploymentGroup":
			deployments = append(deployments, r.Properties)
		case "AWS::CodeDeploy::DeploymentConfig":
			configs = append(configs, r.Properties)
		}
	}
	if len(groups) != 1 || len(deployments) != 1 {
		return TargetGroup{}, Deployment{}, fmt.Errorf("the template has %d target groups and %d deployment groups, want one of each", len(groups), len(deployments))
	}
	tg, err := targetGroup(groups[0])
	if err != nil {
		return TargetGroup{}, Deployment{}, err
	}
	d, err := deployment(deployments[0], configs)
	return tg, d, err
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
	tg := TargetGroup{HealthCheckPath: "/", HealthCheckPort: 80, Interval: 30 * time.Second, Timeout: 5 * time.Second,
		HealthyThreshold: 5, UnhealthyThreshold: 2, HealthyHTTPCodes: "200", DeregistrationDelay: 300 * time.Second}
	if p.HealthCheckPath != nil {
		tg.HealthCheckPath = *p.HealthCheckPath
	}
	if p.Port != nil {
		tg.HealthCheckPort = *p.Port
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
	if r := p.AutoRollbackConfiguration; r != nil && r.Enabled && slices.Contains(r.Events, "DEPLOYMENT_FAILURE") {
		d.RollbackOnFailure = true
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
		var c struct {
			MinimumHealthyHosts struct {
				Type  string
				Value int
			}
		}
		if err := json.Unmarshal(configs[0], &c); err != nil {
			return Deployment{}, fmt.Errorf("deployment configuration: %w", err)
		}
		kind := RolloutKind(strings.ToUpper(c.MinimumHealthyHosts.Type))
		if kind != HostCount && kind != FleetPercent {
			return Deployment{}, fmt.Errorf("deployment configuration: minimum healthy hosts type %q", c.MinimumHealthyHosts.Type)
		}
		d.Rollout = Rollout{Kind: kind, Value: c.MinimumHealthyHosts.Value}
	}
	return d, nil
}
