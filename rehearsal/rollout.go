package rehearsal

import (
	"fmt"
	"time"
)

// Rollout is a deployment configuration's minimum healthy hosts.
type Rollout struct {
	// Kind is OneAtATime (CodeDeployDefault.OneAtATime), FleetPercent (HalfAtATime is 50) or
	// HostCount.
	Kind RolloutKind
	// Value is the percentage or the host count; unused for OneAtATime.
	Value int
}

// RolloutKind is how a deployment configuration states its minimum healthy hosts.
type RolloutKind string

// Rollout kinds, as GetDeploymentConfig reports them (CodeDeploy API reference,
// MinimumHealthyHosts).
const (
	OneAtATime   RolloutKind = "MOST_CONCURRENCY"
	FleetPercent RolloutKind = "FLEET_PERCENT"
	HostCount    RolloutKind = "HOST_COUNT"
)

// HalfAtATime is CodeDeployDefault.HalfAtATime: at least half of the fleet stays healthy.
var HalfAtATime = Rollout{Kind: FleetPercent, Value: 50}

// MinHealthy is how many of n instances must stay healthy. A percentage is converted to a number
// of instances and "rounds up fractional instances" (CodeDeploy API reference,
// CreateDeploymentConfig, minimumHealthyHosts): 40% of 9 is 4. OneAtATime keeps all instances but
// one healthy (API reference, MinimumHealthyHosts).
func (r Rollout) MinHealthy(n int) int {
	switch r.Kind {
	case OneAtATime:
		return max(n-1, 0)
	case HostCount:
		return min(r.Value, n)
	case FleetPercent:
		return (n*r.Value + 99) / 100
	}
	panic(fmt.Sprintf("rehearsal: unknown rollout kind %q", r.Kind))
}

// BatchSize is how many of n instances are deployed to at a time: as many as may be out of
// service, at least one ("In an example of nine instances, if a HOST_COUNT of six is specified,
// deploy to up to three instances at a time ... If a FLEET_PERCENT of 40 is specified, deploy to
// up to five instances at a time", CodeDeploy API reference, MinimumHealthyHosts).
func (r Rollout) BatchSize(n int) int {
	return max(n-r.MinHealthy(n), 1)
}

// Batches splits instances, in order, into the batches a deployment takes them in.
func (r Rollout) Batches(instances []string) [][]string {
	size := r.BatchSize(len(instances))
	var out [][]string
	for start := 0; start < len(instances); start += size {
		out = append(out, instances[start:min(start+size, len(instances))])
	}
	return out
}

// Wave is one step of a rollout: the instances of one Availability Zone in a zonal rollout, in
// its batches, or every instance in a rollout that is not zonal.
type Wave struct {
	// Zone is the wave's zone; "" for a rollout that is not zonal.
	Zone    string
	Batches [][]string
	// Monitor is how long CodeDeploy watches the deployment after this wave before it starts the
	// next: 0 after the last wave and in a rollout that is not zonal.
	Monitor time.Duration
}

// Plan is the waves a deployment takes instances in. Without zonal, one wave in the rollout's
// batches. With zonal, one wave per Availability Zone, in the order the instances' zones come,
// each watched for its monitor duration before the next: the first zone's
// (FirstZoneMonitorDurationInSeconds), then MonitorDurationInSeconds before each later zone
// ("CodeDeploy will wait this amount of time before starting a deployment to the next
// Availability Zone", CodeDeploy API reference, ZonalConfig; nothing is documented after the last
// zone, so the rehearsal does not wait there: the bake watches it). A zone's batch is as large as
// both minimums allow: the fleet's (MinimumHealthyHosts, over every instance) and the zone's
// (MinimumHealthyHostsPerZone, over the zone's instances), at least one instance ("This option
// works in conjunction with the MinimumHealthyHosts option", API reference,
// MinimumHealthyHostsPerZone). CodeDeploy does not document the order it takes zones in.
func (r Rollout) Plan(instances []string, zoneOf map[string]string, zonal *Zonal) []Wave {
	if zonal == nil {
		return []Wave{{Batches: r.Batches(instances)}}
	}
	var order []string
	byZone := map[string][]string{}
	for _, in := range instances {
		z := zoneOf[in]
		if _, ok := byZone[z]; !ok {
			order = append(order, z)
		}
		byZone[z] = append(byZone[z], in)
	}
	fleetBatch := r.BatchSize(len(instances))
	waves := make([]Wave, len(order))
	for i, z := range order {
		members := byZone[z]
		size := min(fleetBatch, zonal.PerZone.BatchSize(len(members)))
		w := Wave{Zone: z}
		for start := 0; start < len(members); start += size {
			w.Batches = append(w.Batches, members[start:min(start+size, len(members))])
		}
		switch {
		case i == len(order)-1:
		case i == 0:
			w.Monitor = zonal.FirstZoneMonitor
		default:
			w.Monitor = zonal.Monitor
		}
		waves[i] = w
	}
	return waves
}

// Outcome is a deployment's end, decided from its instances'.
type Outcome string

// Outcomes.
const (
	Succeeded Outcome = "Succeeded"
	Failed    Outcome = "Failed"
	// Stopped: a gating alarm went to ALARM while the deployment ran: "If any of the specified
	// alarms are activated, the deployment stops, and the status is updated to Stopped"
	// (CodeDeploy user guide, "Monitoring deployments with CloudWatch alarms in CodeDeploy").
	Stopped Outcome = "Stopped"
)

// Next takes the next batch from the front of planned (a planned batch, in order): the instances
// that may be out of service together while the fleet keeps its minimum healthy. CodeDeploy "fails
// deployments if the number of healthy instances falls below the minimum number of healthy
// instances ... if 85% of instances must remain healthy during a deployment, and the deployment
// group contains 10 instances, the overall deployment will fail if deployment to even a single
// instance fails ... A failed instance plus another offline instance would mean that only 80% of
// instances are healthy" (CodeDeploy user guide, "CodeDeploy instance health"). Healthy are the
// instances whose last deployment succeeded and that are not being deployed to; one already
// unhealthy costs nothing to take (a rollback starts with them). Empty when not even the first
// may go: the deployment fails there.
func (r Rollout) Next(planned []string, healthy map[string]bool, n int) []string {
	room := -r.MinHealthy(n)
	for _, h := range healthy {
		if h {
			room++
		}
	}
	var take []string
	for _, in := range planned {
		if healthy[in] {
			if room <= 0 {
				break
			}
			room--
		}
		take = append(take, in)
	}
	return take
}

// Decide is the outcome of a deployment that reached every one of its n instances, succeeded of
// them successfully (one that stops earlier has failed: Next). "The deployment is successful if
// six or more instances are deployed to successfully. Otherwise, the deployment fails" (CodeDeploy
// API reference, MinimumHealthyHosts). For OneAtATime the minimum is all but one, so a failure on
// the last instance still leaves the deployment successful: "if the deployment to the last
// instance fails, the overall deployment is still successful" (same page).
func (r Rollout) Decide(n, succeeded int) Outcome {
	if succeeded == 0 {
		// Nothing got the revision: a failure even where no instance must stay healthy
		// ("CodeDeployDefault.AllAtOnce ... The overall deployment succeeds if the application
		// revision is deployed to at least one instance", CodeDeploy user guide, "Working with
		// deployment configurations"). For a single instance under OneAtATime, whose minimum is
		// zero, CodeDeploy's own rule is undocumented, and a failure is the safe reading.
		return Failed
	}
	if succeeded >= r.MinHealthy(n) {
		return Succeeded
	}
	return Failed
}

// Describe names the rollout as the report shows it, with what it means for n instances.
func (r Rollout) Describe(n int) string {
	var name string
	switch {
	case r.Kind == OneAtATime:
		name = "OneAtATime"
	case r == HalfAtATime:
		name = "HalfAtATime"
	case r.Kind == HostCount && r.Value == 0:
		name = "AllAtOnce"
	default:
		name = fmt.Sprintf("%s %d", r.Kind, r.Value)
	}
	return fmt.Sprintf("%s: %d of %d at a time, %d kept healthy", name, r.BatchSize(n), n, r.MinHealthy(n))
}
