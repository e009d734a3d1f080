package rehearsal

import "fmt"

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

// Outcome is a deployment's end, decided from its instances'.
type Outcome string

// Outcomes.
const (
	Succeeded Outcome = "Succeeded"
	Failed    Outcome = "Failed"
)

// Decide is the deployment's outcome once failed of n instances have failed and succeeded have
// succeeded, and whether it must stop before deploying to the rest. A deployment fails as soon as
// the instances that can still end healthy fall below the minimum ("The deployment is successful
// if six or more instances are deployed to successfully. Otherwise, the deployment fails",
// CodeDeploy API reference, MinimumHealthyHosts). For OneAtATime the minimum is all but one, so a
// failure on the last instance still leaves the deployment successful: "if the deployment to the
// last instance fails, the overall deployment is still successful" (same page).
func (r Rollout) Decide(n, succeeded, failed int) (outcome Outcome, stop bool) {
	minimum := r.MinHealthy(n)
	if r.Kind == OneAtATime && failed > 0 && succeeded == 0 && succeeded+failed == n {
		// One instance, and it failed: nothing was deployed anywhere. The quirk above needs an
		// instance that succeeded before the last; for a single instance CodeDeploy's own rule is
		// undocumented (unconfirmed), and calling it a failure is the safe reading.
		return Failed, false
	}
	if r.Kind == OneAtATime && failed > 0 && succeeded+failed < n {
		// A failure before the last instance: CodeDeploy stops; the remaining instances are
		// skipped.
		return Failed, true
	}
	if n-failed < minimum {
		return Failed, true
	}
	if succeeded+failed < n {
		return "", false
	}
	if succeeded == 0 {
		// Nothing got the revision: a failure even where no instance must stay healthy
		// ("CodeDeployDefault.AllAtOnce ... The overall deployment succeeds if the application
		// revision is deployed to at least one instance", CodeDeploy user guide, "Working with
		// deployment configurations").
		return Failed, false
	}
	if succeeded >= minimum {
		return Succeeded, false
	}
	return Failed, false
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
