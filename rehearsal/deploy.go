package rehearsal

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/example/codedeploy-fleet/appspec"
)

// Instance is one host of the rehearsal's fleet, as CodeDeploy's agent on it sees it.
type Instance interface {
	// Name is the instance id the load balancer knows it by.
	Name() string
	// Agent runs this instance's hook scripts (inside its namespaces, on the real fleet).
	Agent() Agent
	// Download puts the revision on the instance, as DownloadBundle does, and returns it as the
	// instance holds it: its hooks run from there, and later deployments run its
	// ApplicationStop and traffic-blocking hooks from there.
	Download(ctx context.Context, deploymentID string, rev Revision) (Revision, error)
	// Install copies the downloaded revision's files to their destinations (the Install event).
	Install(ctx context.Context, rev Revision) error
}

// LoadBalancer takes instances out of traffic and puts them back, as traffic control does.
type LoadBalancer interface {
	// Deregister stops new requests to the instance and returns once the deregistration delay
	// has passed (BlockTraffic).
	Deregister(ctx context.Context, instance string) error
	// Register returns once the instance passes the health check (AllowTraffic); a target that
	// never does fails the event.
	Register(ctx context.Context, instance string) error
}

// HookLogger is an instance that keeps its hooks' output where the agent does.
type HookLogger interface {
	LogHook(deploymentID string, run HookRun)
}

// Revision is a revision directory and its validated appspec.
type Revision struct {
	Dir  string
	Spec *appspec.AppSpec
	// Name tells the revision apart in reports (the rehearsal's v1, v2, ...).
	Name string
}

// LoadRevision validates dir as `make synth` and `fleetctl package` do, with the same rules and
// messages (appspec.Shipped), and returns it.
func LoadRevision(dir string) (Revision, error) {
	spec, err := appspec.Validate(dir, appspec.Shipped)
	if err != nil {
		return Revision{}, err
	}
	return Revision{Dir: dir, Spec: spec}, nil
}

// Record is one lifecycle event on one instance.
type Record struct {
	Instance     string
	Event        Event
	Start, End   time.Time
	Err          error
	Hooks        []HookRun
	DeploymentID string
}

// Fleet is the deployment group: its instances, its load balancer and what each instance last
// deployed successfully.
type Fleet struct {
	Instances    []Instance
	LoadBalancer LoadBalancer
	Rollout      Rollout
	// lastGood is each instance's last successful revision, the last whose Install succeeded
	// there: ApplicationStop and the traffic-blocking hooks run from it. Instances of one batch
	// deploy concurrently.
	mu       sync.Mutex
	lastGood map[string]Revision
	// unhealthy are the instances whose last deployment failed (CodeDeploy's instance health),
	// and current the revision of the group's last successful deployment (revision health).
	unhealthy map[string]bool
	current   string
	// Observe, when set, is told about every record as it ends (progress on the terminal).
	Observe func(Record)
	// The deployment group, for the hooks' environment.
	Application, DeploymentGroup, DeploymentGroupID string
	// Zonal, when set, deploys one Availability Zone at a time (Rollout.Plan); Zones names each
	// instance's zone.
	Zonal *Zonal
	Zones map[string]string
	// Scaled is a template duration (a monitor duration) on the rehearsal's clock; nil leaves it
	// as it is.
	Scaled func(time.Duration) time.Duration
	// Alarm, when set, is the deployment's gating alarms: it names one in ALARM ("" when none),
	// and the deployment stops on it, as CodeDeploy stops a deployment whose alarm is activated.
	// CodeDeploy does not document how often it polls the alarms; the rehearsal asks before every
	// lifecycle event of every instance and, during a monitor duration, every pollEvery.
	Alarm func() string
}

// pollEvery is how often a monitor duration asks the alarms, in real time.
const pollEvery = 20 * time.Millisecond

// Result is a deployment's outcome and its records.
type Result struct {
	ID      string
	Creator string
	Outcome Outcome
	Records []Record
	// Failure is the first failed event, for the report.
	Failure *Record
	// Instances are the deployment's targets, in the order it took them.
	Instances []string
	// StoppedBy names the alarm that stopped the deployment (Outcome Stopped).
	StoppedBy string
	// Waves are the zones (or the single wave) the deployment reached, in order.
	Waves []WaveRun
}

// WaveRun is one wave of a deployment as it ran: its zone and instances, from its first event to
// its last, then watched until Watched (the end of its monitor duration, or the stop).
type WaveRun struct {
	Zone                string
	Instances           []string
	Start, End, Watched time.Time
}

// TargetStatus is an instance's status in a deployment, as ListDeploymentTargets reports it:
// Succeeded, Failed, or Skipped when the deployment stopped before reaching it.
func (r Result) TargetStatus(instance string) string {
	status := "Skipped"
	for _, rec := range r.Records {
		if rec.Instance != instance {
			continue
		}
		switch {
		case rec.Err != nil:
			return "Failed"
		case rec.Event == InPlace[len(InPlace)-1] || (r.Creator == "autoscalingTermination" && rec.Event == Termination[len(Termination)-1]):
			status = "Succeeded"
		}
	}
	return status
}

// Judged is the outcome as the project reports it (package deployer, missedTargets; fleetctl
// deploy): CodeDeploy's, except that a Succeeded deployment with an instance that did not get
// the revision is a failure. CodeDeploy counts OneAtATime as successful when only the last
// instance failed ("if the deployment to the last instance fails, the overall deployment is
// still successful", CodeDeploy API reference, MinimumHealthyHosts), and that instance is left
// out of the load balancer. The second result names the instances that missed it.
func (r Result) Judged() (Outcome, []string) {
	var missed []string
	for _, in := range r.Instances {
		// The statuses the deployer and fleetctl count as missed.
		switch s := r.TargetStatus(in); s {
		case "Failed", "Skipped", "Unknown":
			missed = append(missed, in+" "+s)
		}
	}
	if r.Outcome == Succeeded && len(missed) > 0 {
		return Failed, missed
	}
	return r.Outcome, missed
}

// Deploy runs an in-place deployment of rev to every instance, in the rollout's waves and
// batches, with traffic control, and decides its outcome by the rollout's rules. On a failure that
// ends the deployment, the rest of the instances are skipped; on a gating alarm (Alarm) it stops:
// the events already running end and the rest are skipped (CodeDeploy does not document what a
// stop does to an instance mid-lifecycle; the rehearsal's reading, under which such an instance
// counts as unhealthy for the next deployment's order, setHealth).
func (f *Fleet) Deploy(ctx context.Context, id, creator string, rev Revision) Result {
	res := Result{ID: id, Creator: creator}
	names := make([]string, len(f.Instances))
	byName := map[string]Instance{}
	for i, in := range f.Instances {
		names[i] = in.Name()
		byName[in.Name()] = in
	}
	names = f.schedule(names)
	res.Instances = names
	succeeded := 0
	healthy := f.healthy(names)
	defer func() {
		if res.Outcome == Succeeded {
			f.mu.Lock()
			f.current = rev.Name
			f.mu.Unlock()
		}
	}()
	plan := f.Rollout.Plan(names, f.Zones, f.Zonal)
	var order []string // every instance, in the plan's order
	for _, w := range plan {
		for _, b := range w.Batches {
			order = append(order, b...)
		}
	}
	attempted := 0
	for _, wave := range plan {
		run := WaveRun{Zone: wave.Zone, Start: time.Now()}
		// ends records the wave as far as it got, and the deployment's end if it ends here.
		ends := func(outcome Outcome, alarm string) Result {
			run.Watched = time.Now()
			if len(run.Instances) > 0 {
				res.Waves = append(res.Waves, run)
			}
			res.Outcome, res.StoppedBy = outcome, alarm
			return res
		}
		for _, planned := range wave.Batches {
			// A planned batch goes in smaller ones where the fleet's health allows no more.
			for len(planned) > 0 {
				if alarm := f.alarm(); alarm != "" {
					return ends(Stopped, alarm)
				}
				batch := f.Rollout.Next(planned, healthy, len(names))
				if len(batch) == 0 {
					// Too few healthy instances are left to take one more out of service.
					return ends(Failed, "")
				}
				planned = planned[len(batch):]
				attempted += len(batch)
				for _, in := range batch {
					healthy[in] = false
				}
				run.Instances = append(run.Instances, batch...)
				type done struct {
					records []Record
					status  string
				}
				results := make(chan done, len(batch))
				for _, name := range batch {
					go func(in Instance) {
						records, status := f.deployTo(ctx, id, in, rev)
						results <- done{records, status}
					}(byName[name])
				}
				for range batch {
					d := <-results
					res.Records = append(res.Records, d.records...)
					if len(d.records) > 0 {
						in := d.records[0].Instance
						healthy[in] = d.status == "ok"
						f.setHealth(in, healthy[in])
					}
					switch d.status {
					case "ok":
						succeeded++
					case "failed":
						if res.Failure == nil {
							last := d.records[len(d.records)-1]
							res.Failure = &last
						}
					}
				}
				run.End = time.Now()
				if alarm := f.alarm(); alarm != "" {
					return ends(Stopped, alarm)
				}
				// A failure that leaves too few healthy instances to go on fails the
				// deployment now, not after a monitor duration.
				if attempted < len(order) && len(f.Rollout.Next(order[attempted:attempted+1], healthy, len(names))) == 0 {
					return ends(Failed, "")
				}
			}
		}
		if alarm := f.monitor(ctx, wave.Monitor); alarm != "" {
			return ends(Stopped, alarm)
		}
		ends("", "")
	}
	res.Outcome = f.Rollout.Decide(len(names), succeeded)
	return res
}

// alarm is a gating alarm in ALARM, "" when none is or the deployment is not watched.
func (f *Fleet) alarm() string {
	if f.Alarm == nil {
		return ""
	}
	return f.Alarm()
}

// monitor waits out a monitor duration on the rehearsal's clock, watching the alarms; it returns
// the alarm that ended it early.
func (f *Fleet) monitor(ctx context.Context, d time.Duration) string {
	if f.Scaled != nil {
		d = f.Scaled(d)
	}
	return WatchFor(ctx, d, f.alarm)
}

// WatchFor watches alarm (a gating alarm in ALARM, "" when none) for d, as a monitor duration and
// a bake do, asking every pollEvery; it returns the alarm that ended the watch early, "" when
// none did or ctx ended it.
func WatchFor(ctx context.Context, d time.Duration, alarm func() string) string {
	if d <= 0 {
		return ""
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if a := alarm(); a != "" {
			return a
		}
		select {
		case <-ctx.Done():
			return ""
		case <-time.After(min(pollEvery, time.Until(deadline))):
		}
	}
	return alarm()
}

// Terminate runs a termination deployment on in: the traffic-blocking events and ApplicationStop
// from its last successful revision, creator autoscalingTermination.
func (f *Fleet) Terminate(ctx context.Context, id string, in Instance) Result {
	res := Result{ID: id, Creator: "autoscalingTermination", Outcome: Succeeded, Instances: []string{in.Name()}}
	for _, event := range Termination {
		r := f.event(ctx, id, in, event, Revision{})
		res.Records = append(res.Records, r)
		if r.Err != nil {
			res.Outcome, res.Failure = Failed, &r
			break
		}
	}
	return res
}

// deployTo runs every in-place event on one instance: "ok", "failed" when one failed, "stopped"
// when a gating alarm stopped the deployment before the instance's last event.
func (f *Fleet) deployTo(ctx context.Context, id string, in Instance, rev Revision) ([]Record, string) {
	var records []Record
	// Until DownloadBundle the instance has only its last successful revision; from then on the
	// hooks run from its own copy of rev.
	var local Revision
	for _, event := range InPlace {
		if f.alarm() != "" {
			return records, "stopped"
		}
		var r Record
		if event == DownloadBundle {
			r = f.record(in, id, event, func(r *Record) {
				local, r.Err = in.Download(ctx, id, rev)
				local.Name = rev.Name
			})
		} else {
			r = f.event(ctx, id, in, event, local)
		}
		records = append(records, r)
		if r.Err != nil {
			return records, "failed"
		}
		if event == Install {
			// The agent records the last successful revision at the end of Install, not of the
			// deployment (aws-codedeploy-agent, command_executor.rb: the Install command ends with
			// update_last_successful_install). A deployment that fails later (ApplicationStart,
			// ValidateService) leaves its revision as the one whose ApplicationStop and
			// traffic-blocking hooks the next deployment, a rollback or a termination runs.
			f.setLastGood(in.Name(), local)
		}
	}
	return records, "ok"
}

// schedule orders a deployment's instances as CodeDeploy does: "CodeDeploy uses revision health
// and instance health to schedule the deployment to the deployment group's instances in the
// following order: 1. Unhealthy instance health. 2. Unknown revision health. 3. Old revision
// health. 4. Current revision health" (CodeDeploy user guide, "CodeDeploy instance health"). An
// instance is unhealthy when its last deployment failed; its revision is unknown when none was
// installed there, current when it is the group's last successful deployment's, old otherwise.
// Instances of one rank keep the fleet's order.
func (f *Fleet) schedule(names []string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	rank := func(in string) int {
		rev, installed := f.lastGood[in]
		switch {
		case f.unhealthy[in]:
			return 0
		case !installed:
			return 1
		case rev.Name != f.current:
			return 2
		}
		return 3
	}
	out := slices.Clone(names)
	slices.SortStableFunc(out, func(a, b string) int { return rank(a) - rank(b) })
	return out
}

// healthy is each instance's health as a deployment starts: healthy unless its last deployment
// failed.
func (f *Fleet) healthy(names []string) map[string]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]bool{}
	for _, in := range names {
		out[in] = !f.unhealthy[in]
	}
	return out
}

// setHealth records how the instance's deployment ended (CodeDeploy's instance health: "Healthy:
// The last deployment to the instance was successful. Unhealthy: The attempt to deploy a revision
// to the instance failed").
func (f *Fleet) setHealth(instance string, healthy bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unhealthy == nil {
		f.unhealthy = map[string]bool{}
	}
	f.unhealthy[instance] = !healthy
}

func (f *Fleet) setLastGood(instance string, rev Revision) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lastGood == nil {
		f.lastGood = map[string]Revision{}
	}
	f.lastGood[instance] = rev
}

// record times one event on in and tells Observe about it.
func (f *Fleet) record(in Instance, id string, event Event, run func(*Record)) Record {
	r := Record{Instance: in.Name(), Event: event, Start: time.Now(), DeploymentID: id}
	run(&r)
	r.End = time.Now()
	if f.Observe != nil {
		f.Observe(r)
	}
	return r
}

func (f *Fleet) event(ctx context.Context, id string, in Instance, event Event, rev Revision) Record {
	return f.record(in, id, event, func(r *Record) { f.runEvent(ctx, id, in, event, rev, r) })
}

// runEvent is one event: traffic control, the install, or the event's hooks.
func (f *Fleet) runEvent(ctx context.Context, id string, in Instance, event Event, rev Revision, r *Record) {
	switch event {
	case BlockTraffic:
		r.Err = f.LoadBalancer.Deregister(ctx, in.Name())
	case AllowTraffic:
		r.Err = f.LoadBalancer.Register(ctx, in.Name())
	case Install:
		r.Err = in.Install(ctx, rev)
	default:
		from := rev
		if event.FromLastSuccessfulRevision() {
			// Never on an instance's first deployment: there is no last successful revision.
			from, _ = f.LastGood(in.Name())
		}
		if from.Spec == nil {
			return
		}
		agent := in.Agent()
		agent.Env = f.environment(id, agent.Env)
		for _, s := range from.Spec.Hooks[string(event)] {
			run := agent.Run(ctx, from.Dir, event, Hook{Location: s.Location, Timeout: time.Duration(s.TimeoutSeconds) * time.Second, RunAs: s.RunAs})
			run.Revision = from.Name
			r.Hooks = append(r.Hooks, run)
			if l, ok := in.(HookLogger); ok {
				l.LogHook(r.DeploymentID, run)
			}
			if run.Err != nil {
				// The agent's message names the script.
				r.Err = run.Err
				return
			}
		}
	}
}

// environment is the agent's variables for every hook of deployment id, over the instance's
// own (CodeDeploy user guide, "AppSpec 'hooks' section", "Environment variable availability for
// hooks": APPLICATION_NAME, DEPLOYMENT_ID, DEPLOYMENT_GROUP_NAME, DEPLOYMENT_GROUP_ID; the agent
// adds LIFECYCLE_EVENT per event).
func (f *Fleet) environment(id string, base map[string]string) map[string]string {
	env := map[string]string{}
	for k, v := range base {
		env[k] = v
	}
	env["DEPLOYMENT_ID"] = id
	if f.Application != "" {
		env["APPLICATION_NAME"] = f.Application
	}
	if f.DeploymentGroup != "" {
		env["DEPLOYMENT_GROUP_NAME"] = f.DeploymentGroup
	}
	if f.DeploymentGroupID != "" {
		env["DEPLOYMENT_GROUP_ID"] = f.DeploymentGroupID
	}
	return env
}

// Current is the name of the revision the group last deployed successfully (its revision health's
// "current"): what CodeDeploy's rollback and the bake's restore put back.
func (f *Fleet) Current() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.current
}

// LastGood is the revision instance last deployed successfully, if any.
func (f *Fleet) LastGood(instance string) (Revision, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.lastGood[instance]
	return r, ok
}
