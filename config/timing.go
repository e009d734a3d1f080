package config

import "fmt"

// DetectSeconds is the time a gating alarm takes to go to ALARM for a release that fails from its
// first request: DatapointsToAlarm breaching one-minute periods, then the datapoint's way to
// CloudWatch (MetricDelaySeconds, an assumption: AWS documents none). A release that starts late
// in a minute can be seen up to a period sooner, when that partial minute already breaches (the
// rehearsal shows both); the watching must cover this time. Every gating alarm has the
// same periods (AlarmPeriodSeconds, AlarmDatapointsToAlarm), so one number holds for each.
func (a Alarms) DetectSeconds() int {
	return AlarmPeriodSeconds*AlarmDatapointsToAlarm + a.MetricDelaySeconds
}

// Batches is how many batches CodeDeploy deploys instances in, by the deployment configuration:
// one instance at a time for OneAtATime, two halves for HalfAtATime, as many as may be out of
// service at once for a custom minimum (CodeDeploy rounds a percentage up, API reference,
// MinimumHealthyHosts), and zone by zone for a zonal rollout, each zone in batches of its own
// (instances spread evenly over the zones, as Auto Scaling spreads them).
func (e Environment) Batches(instances int) int {
	d := e.Deployment
	out := func(n int, m MinimumHealthyHosts) int { // how many of n may be out of service at once
		healthy := 0
		switch {
		case m.Count != nil:
			healthy = *m.Count
		case m.Percent != nil:
			healthy = (n**m.Percent + 99) / 100
		}
		return max(n-healthy, 1)
	}
	ceil := func(a, b int) int { return (a + b - 1) / b }
	switch d.Config {
	case DeploymentHalfAtATime:
		return min(2, instances)
	case DeploymentCustom:
		return ceil(instances, out(instances, d.MinimumHealthyHosts))
	case DeploymentZonal:
		zones := max(min(len(e.AvailabilityZones), instances), 1)
		perZone := ceil(instances, zones)
		batch := min(out(instances, d.MinimumHealthyHosts), out(perZone, d.Zonal.MinimumHealthyHostsPerZone))
		return zones * ceil(perZone, batch)
	default:
		return instances
	}
}

// MonitorSeconds is how long a zonal rollout of instances waits between its zones: the first
// zone's monitor duration, then the monitor duration before each zone after the second
// (CodeDeploy API reference, ZonalConfig: it waits "before starting a deployment to the next
// Availability Zone"). 0 for a rollout that is not zonal.
func (e Environment) MonitorSeconds(instances int) int {
	if e.Deployment.Config != DeploymentZonal {
		return 0
	}
	zones := min(len(e.AvailabilityZones), instances)
	if zones < 2 {
		return 0
	}
	return e.Deployment.Zonal.FirstZoneMonitorSeconds + (zones-2)*e.Deployment.Zonal.MonitorSeconds
}

// ReleaseSeconds estimates how long `cdk deploy` waits for a release to a fleet of instances: its
// batches, each about instanceDeploymentSeconds, the zonal monitor durations, and the bake.
func (e Environment) ReleaseSeconds(instances int) int {
	return e.Batches(instances)*instanceDeploymentSeconds + e.MonitorSeconds(instances) + e.Deployment.BakeSeconds
}

// releaseFits checks that the longest release (the fleet at maxCapacity) fits the time `cdk deploy`
// waits for it, which CloudFormation bounds: a release that cannot finish in time fails every
// stack update.
func (v *validator) releaseFits(e Environment) {
	if !e.Delivery.DeployOnCdkDeploy || e.MaxCapacity < 1 || e.Delivery.TimeoutMinutes < 1 {
		return
	}
	n := e.MaxCapacity
	need := e.ReleaseSeconds(n)
	if need <= e.Delivery.TimeoutMinutes*60 {
		return
	}
	problem := fmt.Sprintf("%d minutes is shorter than a release can take: at maxCapacity %d, %d batches x %d s + %d s of zonal monitor durations + a %d s bake = %d s",
		e.Delivery.TimeoutMinutes, n, e.Batches(n), instanceDeploymentSeconds, e.MonitorSeconds(n), e.Deployment.BakeSeconds, need)
	if minutes := (need + 59) / 60; minutes <= MaxTimeoutMinutes {
		v.fail("delivery.timeoutMinutes", problem, fmt.Sprintf("raise it to at least %d (at most %d), or shorten the monitor durations or the bake", minutes, MaxTimeoutMinutes))
		return
	}
	// No timeout can hold it: CloudFormation waits an hour at most for a custom resource. The
	// advice is what can be followed: the largest fleet that fits, a faster rollout, or no
	// deployment on cdk deploy.
	fits := n
	for fits > 0 && e.ReleaseSeconds(fits) > MaxTimeoutMinutes*60 {
		fits--
	}
	fix := "deploy more at a time (deployment.config half-at-a-time, custom or zonal), or set delivery.deployOnCdkDeploy to false and deploy with scripts/fleetctl deploy"
	if fits >= e.MinCapacity && fits > 0 {
		fix = fmt.Sprintf("lower maxCapacity to %d, %s", fits, fix)
	}
	v.fail("delivery.timeoutMinutes", problem+fmt.Sprintf(", more than the %d minutes cdk deploy can wait", MaxTimeoutMinutes), fix)
}

// The deployment configurations of the deployments `cdk deploy` and `fleetctl deploy` make besides
// a release, which uses the group's. A first deployment deploys to every instance at once:
// nothing serves yet, so nothing needs to stay in service. A restore (after a failed release, or
// an alarm during the bake) deploys half the fleet at a time: faster than the group's rollout,
// while half the fleet keeps serving.
const (
	FirstDeploymentConfig   = "CodeDeployDefault.AllAtOnce"
	RestoreDeploymentConfig = "CodeDeployDefault.HalfAtATime"
)

// MaxTimeoutMinutes is the longest `cdk deploy` may wait for a release: CloudFormation waits an
// hour at most for a custom resource, and the handler needs a margin to report.
const MaxTimeoutMinutes = 55

// Warning is a setting that synthesis accepts but warns about: its key and what to do.
type Warning struct{ Key, Message string }

// Unwatched says where a release can get further than its gating alarms could stop it.
// CodeDeploy watches the alarms only while a deployment runs, and an alarm needs DetectSeconds
// to fire for a release that fails from its first request. A zonal rollout watches each zone for
// its monitor duration before the next ("CodeDeploy will wait this amount of time before
// starting a deployment to the next Availability Zone", CodeDeploy API reference, ZonalConfig);
// after the last instance only the bake of `cdk deploy` and `fleetctl deploy` watches.
func (e Environment) Unwatched() []Warning {
	d := e.Deployment
	detect := d.Alarms.DetectSeconds()
	how := fmt.Sprintf("the gating alarms need %d s to fire (%d one-minute datapoints and an assumed %d s for the metric to reach CloudWatch, deployment.alarms.metricDelaySeconds)",
		detect, AlarmDatapointsToAlarm, d.Alarms.MetricDelaySeconds)
	var out []Warning
	if d.Config == DeploymentZonal {
		for _, m := range []struct {
			key     string
			seconds int
		}{{"firstZoneMonitorSeconds", d.Zonal.FirstZoneMonitorSeconds}, {"monitorSeconds", d.Zonal.MonitorSeconds}} {
			if m.seconds < detect {
				out = append(out, Warning{"deployment.zonal." + m.key, fmt.Sprintf(
					"deployment.zonal.%s %d: a bad release reaches the next zone before its alarms could stop it: %s. Raise it to at least %d.",
					m.key, m.seconds, how, detect)})
			}
		}
	}
	if d.BakeSeconds < detect {
		out = append(out, Warning{"deployment.bakeSeconds", fmt.Sprintf(
			"deployment.bakeSeconds %d: a deployment can end before its alarms could stop a bad release on its last instances: %s, and CodeDeploy stops watching when the deployment ends. Raise it to at least %d.",
			d.BakeSeconds, how, detect)})
	}
	return out
}
