package rehearsal

import (
	"context"
	"fmt"
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
	// Install copies a revision's files to their destinations (the Install event).
	Install(ctx context.Context, revision string, files []appspec.File) error
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

// Revision is a revision directory and its validated appspec.
type Revision struct {
	Dir  string
	Spec *appspec.AppSpec
}

// LoadRevision validates dir as synthesis does and returns it.
func LoadRevision(dir string) (Revision, error) {
	spec, err := appspec.Validate(dir, appspec.Options{})
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
	// lastGood is each instance's last successful revision: ApplicationStop and the
	// traffic-blocking hooks run from it. Instances of one batch deploy concurrently.
	mu       sync.Mutex
	lastGood map[string]Revision
	// Observe, when set, is told about every record as it ends (progress on the terminal).
	Observe func(Record)
}

// Result is a deployment's outcome and its records.
type Result struct {
	ID      string
	Creator string
	Outcome Outcome
	Records []Record
	// Failure is the first failed event, for the report.
	Failure *Record
}

// Deploy runs an in-place deployment of rev to every instance, in the rollout's batches, with
// traffic control, and decides its outcome by the rollout's rules. On a failure that ends the
// deployment, the rest of the instances are skipped.
func (f *Fleet) Deploy(ctx context.Context, id, creator string, rev Revision) Result {
	res := Result{ID: id, Creator: creator}
	names := make([]string, len(f.Instances))
	byName := map[string]Instance{}
	for i, in := range f.Instances {
		names[i] = in.Name()
		byName[in.Name()] = in
	}
	succeeded, failed := 0, 0
	for _, batch := range f.Rollout.Batches(names) {
		type done struct {
			records []Record
			ok      bool
		}
		results := make(chan done, len(batch))
		for _, name := range batch {
			go func(in Instance) {
				records, ok := f.deployTo(ctx, id, in, rev)
				results <- done{records, ok}
			}(byName[name])
		}
		for range batch {
			d := <-results
			res.Records = append(res.Records, d.records...)
			if d.ok {
				succeeded++
			} else {
				failed++
				if res.Failure == nil {
					last := d.records[len(d.records)-1]
					res.Failure = &last
				}
			}
		}
		outcome, stop := f.Rollout.Decide(len(names), succeeded, failed)
		if stop || outcome != "" {
			res.Outcome = outcome
			return res
		}
	}
	res.Outcome, _ = f.Rollout.Decide(len(names), succeeded, failed)
	return res
}

// Terminate runs a termination deployment on in: the traffic-blocking events and ApplicationStop
// from its last successful revision, creator autoscalingTermination.
func (f *Fleet) Terminate(ctx context.Context, id string, in Instance) Result {
	res := Result{ID: id, Creator: "autoscalingTermination", Outcome: Succeeded}
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

// deployTo runs every in-place event on one instance; false when one failed.
func (f *Fleet) deployTo(ctx context.Context, id string, in Instance, rev Revision) ([]Record, bool) {
	var records []Record
	for _, event := range InPlace {
		r := f.event(ctx, id, in, event, rev)
		records = append(records, r)
		if r.Err != nil {
			return records, false
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lastGood == nil {
		f.lastGood = map[string]Revision{}
	}
	f.lastGood[in.Name()] = rev
	return records, true
}

func (f *Fleet) event(ctx context.Context, id string, in Instance, event Event, rev Revision) Record {
	r := Record{Instance: in.Name(), Event: event, Start: time.Now(), DeploymentID: id}
	defer func() {
		r.End = time.Now()
		if f.Observe != nil {
			f.Observe(r)
		}
	}()
	switch event {
	case BlockTraffic:
		r.Err = f.LoadBalancer.Deregister(ctx, in.Name())
	case AllowTraffic:
		r.Err = f.LoadBalancer.Register(ctx, in.Name())
	case DownloadBundle:
		// The revision is already on the host: nothing to download offline.
	case Install:
		r.Err = in.Install(ctx, rev.Dir, rev.Spec.Files)
	default:
		from := rev
		if event.FromLastSuccessfulRevision() {
			// Never on an instance's first deployment: there is no last successful revision.
			from, _ = f.LastGood(in.Name())
		}
		if from.Spec == nil {
			return r
		}
		for _, s := range from.Spec.Hooks[string(event)] {
			run := in.Agent().Run(ctx, from.Dir, event, Hook{Location: s.Location, Timeout: time.Duration(s.TimeoutSeconds) * time.Second, RunAs: s.RunAs})
			r.Hooks = append(r.Hooks, run)
			if run.Err != nil {
				r.Err = fmt.Errorf("%s: %w", s.Location, run.Err)
				return r
			}
		}
	}
	return r
}

// LastGood is the revision instance last deployed successfully, if any.
func (f *Fleet) LastGood(instance string) (Revision, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.lastGood[instance]
	return r, ok
}

// Rollback is CodeDeploy's automatic rollback of a failed deployment: a new deployment of the
// last successful revision, created by codeDeployRollback (CodeDeploy user guide, "Redeploy and
// roll back a deployment": CodeDeploy "rolls back deployments by redeploying a previously
// deployed revision of an application as a new deployment").
func (f *Fleet) Rollback(ctx context.Context, id string, lastSuccessful Revision) Result {
	return f.Deploy(ctx, id, "codeDeployRollback", lastSuccessful)
}
