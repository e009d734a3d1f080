// Package rehearsal models CodeDeploy's in-place deployment of a revision to a fleet behind a
// load balancer: the lifecycle events each instance goes through, how many instances are
// deployed to at a time, and when a deployment succeeds. It is the rule book of the offline
// rehearsal (issue "Rehearsal", part 3 of the failure-paths series): plain Go, every rule citing
// the CodeDeploy documentation it follows.
package rehearsal

// Event is a lifecycle event of one instance in a deployment.
type Event string

// The lifecycle events of an EC2 in-place deployment, in the order CodeDeploy runs them when the
// deployment group has a load balancer (CodeDeploy user guide, "AppSpec 'hooks' section",
// "Lifecycle event hook availability" for EC2/On-Premises in-place deployments with a load
// balancer).
const (
	BeforeBlockTraffic Event = "BeforeBlockTraffic"
	BlockTraffic       Event = "BlockTraffic"
	AfterBlockTraffic  Event = "AfterBlockTraffic"
	ApplicationStop    Event = "ApplicationStop"
	DownloadBundle     Event = "DownloadBundle"
	BeforeInstall      Event = "BeforeInstall"
	Install            Event = "Install"
	AfterInstall       Event = "AfterInstall"
	ApplicationStart   Event = "ApplicationStart"
	ValidateService    Event = "ValidateService"
	BeforeAllowTraffic Event = "BeforeAllowTraffic"
	AllowTraffic       Event = "AllowTraffic"
	AfterAllowTraffic  Event = "AfterAllowTraffic"
)

// InPlace is the order of an in-place deployment with traffic control.
var InPlace = []Event{
	BeforeBlockTraffic, BlockTraffic, AfterBlockTraffic, ApplicationStop, DownloadBundle,
	BeforeInstall, Install, AfterInstall, ApplicationStart, ValidateService,
	BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic,
}

// Termination is the order of a termination deployment, which CodeDeploy runs on an instance
// Auto Scaling is terminating when the deployment group has the termination hook on: it deploys
// nothing, it only takes the instance out of traffic and stops the application (CodeDeploy user
// guide, "Integrating CodeDeploy with Amazon EC2 Auto Scaling", "Enabling termination
// deployments during Auto Scaling scale-in events"). Its creator is autoscalingTermination.
var Termination = []Event{BeforeBlockTraffic, BlockTraffic, AfterBlockTraffic, ApplicationStop}

// FromLastSuccessfulRevision reports the events whose scripts come from the revision the
// instance last deployed successfully, not the one being deployed: they run before the new
// revision is downloaded (CodeDeploy user guide, "AppSpec 'hooks' section": ApplicationStop,
// BeforeBlockTraffic and AfterBlockTraffic "run scripts specified in the AppSpec file of the
// previous successful deployment"). "Successful" is the agent's word for the last revision whose
// Install succeeded on the instance (see Fleet.deployTo); the agent's hook executor maps exactly
// these three events to it (aws-codedeploy-agent, hook_executor.rb,
// MAPPING_BETWEEN_HOOKS_AND_DEPLOYMENTS). On an instance's first deployment they have no script.
func (e Event) FromLastSuccessfulRevision() bool {
	switch e {
	case ApplicationStop, BeforeBlockTraffic, AfterBlockTraffic:
		return true
	}
	return false
}
