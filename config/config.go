// Package config is the typed, validated model of the environments this app deploys.
//
// It parses the "application" object of cdk.json's context (main hands it over as JSON bytes)
// and never imports the CDK, so its tests and fuzz target run without a jsii runtime.
//
// Decoding is strict: an unknown key is an error, because a misspelt key that is silently
// ignored leaves a production default in place without anyone noticing. Every error names the
// environment, the key, the bad value and what is allowed.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// ContextKey is the cdk.json context key that holds the application section.
const ContextKey = "application"

// EnvContextKey is the context key that selects a single environment (`cdk synth -c env=dev`).
const EnvContextKey = "env"

// DefaultAppName names the application when the section leaves "name" out.
const DefaultAppName = "MyWebApp"

// Config is the whole application section, validated and with defaults applied.
type Config struct {
	// Name is the application name: the `App` tag, the stack name prefix and part of resource names.
	Name string
	// Environments in the order cdk.json lists them.
	Environments []Environment
	// Pipeline, when set, adds a CodePipeline that deploys every environment in order.
	Pipeline *Pipeline
}

// Pipeline is the optional CDK Pipelines stack.
type Pipeline struct {
	// Account and Region the pipeline runs in.
	Account, Region string
	// ConnectionARN is a CodeConnections (CodeStar) connection to the source repository.
	ConnectionARN string
	// Repository is "owner/name" on the connection's provider.
	Repository string
	// Branch that triggers the pipeline.
	Branch string
}

// Environment is one deployment target: a stack named "<app>-<name>" bound to Account and Region.
type Environment struct {
	Name              string
	Account           string
	Region            string
	AvailabilityZones []string
	// InstanceType of the fleet, e.g. "t3.micro".
	InstanceType string
	MinCapacity  int
	MaxCapacity  int
	// DesiredCapacity is nil unless configured: a value in the template resets a fleet that has
	// scaled on every deployment, and a reset downwards is a scale-in.
	DesiredCapacity *int
	// RevisionRetentionDays is how long superseded revision object versions are kept.
	RevisionRetentionDays int
	// RevisionEncryption is how revisions are encrypted at rest.
	RevisionEncryption Encryption
	// LogRetentionDays is how long access logs (S3, ALB) are kept before they expire.
	LogRetentionDays int
	// Destroy removes stateful resources (buckets and their objects) with the stack. Meant for
	// throwaway environments; false keeps them (RETAIN) and turns on termination protection.
	Destroy bool
	// Tags are extra tags (cost allocation and the like) put on every taggable resource.
	Tags map[string]string
	// Production environments wait for a manual approval in the pipeline.
	Production bool

	// OS of the fleet's instances.
	OS OS
	// DetailedMonitoring turns on 1-minute EC2 metrics (billed): faster scaling decisions.
	DetailedMonitoring bool
	// RootVolumeGiB is the size of each instance's encrypted gp3 root volume.
	RootVolumeGiB int
	// CPUTargetPercent is the average CPU the target-tracking policy scales the fleet towards.
	CPUTargetPercent int
	// HealthCheckGraceSeconds is how long a new instance may fail ELB health checks before the
	// Auto Scaling group replaces it.
	HealthCheckGraceSeconds int

	// NotificationEmail, when set, is subscribed to the environment's notifications topic.
	NotificationEmail string

	Network      Network
	LoadBalancer LoadBalancer
	Deployment   Deployment
	Delivery     Delivery
}

// Delivery is what `cdk deploy` does with the revision in assets/.
type Delivery struct {
	// DeployOnCdkDeploy creates a CodeDeploy deployment whenever the revision changes and waits
	// for it; false only uploads the revision.
	DeployOnCdkDeploy bool
	// TimeoutMinutes bounds the wait; past it, the stack operation fails.
	TimeoutMinutes int
	// RevisionsToKeep is how many of the revisions last deployed to the group stay in the revision
	// bucket after a deployment; older ones are deleted (their versions then expire after
	// revisionRetentionDays).
	RevisionsToKeep int
}

// Deployment is how CodeDeploy rolls a revision out to the fleet.
type Deployment struct {
	// Config is the rollout policy.
	Config DeploymentConfig
	// MinimumHealthyHosts applies to DeploymentCustom and DeploymentZonal only; for a zonal
	// rollout it defaults to the share of the fleet that lets a whole zone go at once.
	MinimumHealthyHosts MinimumHealthyHosts
	// Zonal applies to DeploymentZonal only.
	Zonal Zonal
	// BakeSeconds is how long `cdk deploy` and `fleetctl deploy` keep watching the gating alarms
	// after CodeDeploy has deployed to the last instance, and restore the previous release when
	// one goes to ALARM: CodeDeploy watches alarms only while a deployment runs.
	BakeSeconds int
	// Alarms that stop and roll back a deployment.
	Alarms Alarms
	// SuspendProcesses are the Auto Scaling processes CodeDeploy suspends while it deploys; empty
	// suspends none.
	SuspendProcesses []string
}

// SuspendableProcesses are the Auto Scaling processes CodeDeploy can suspend during an in-place
// deployment (CodeDeploy API reference, EC2DeploymentOptions), all suspended by default.
var SuspendableProcesses = []string{"AZRebalance", "InstanceRefresh", "ScheduledActions", "Terminate"}

// DeploymentConfig is a rollout policy.
type DeploymentConfig string

// Rollout policies.
const (
	// DeploymentOneAtATime is CodeDeployDefault.OneAtATime: the safest, the slowest.
	DeploymentOneAtATime DeploymentConfig = "one-at-a-time"
	// DeploymentHalfAtATime is CodeDeployDefault.HalfAtATime.
	DeploymentHalfAtATime DeploymentConfig = "half-at-a-time"
	// DeploymentCustom keeps MinimumHealthyHosts in service throughout.
	DeploymentCustom DeploymentConfig = "custom"
	// DeploymentZonal deploys one Availability Zone at a time, watching each for a monitor
	// duration before the next (a custom configuration with CodeDeploy's zonal configuration).
	DeploymentZonal DeploymentConfig = "zonal"
)

// Zonal is a zonal rollout's waves: how long CodeDeploy waits after the first zone and after
// each zone before the next, and how many instances of a zone stay in service.
type Zonal struct {
	FirstZoneMonitorSeconds, MonitorSeconds int
	MinimumHealthyHostsPerZone              MinimumHealthyHosts
}

// MinimumHealthyHosts is either a count or a percentage of the fleet; exactly one is set.
type MinimumHealthyHosts struct {
	Count   *int
	Percent *int
}

// Alarms are the CloudWatch alarms attached to the deployment group.
type Alarms struct {
	// Target5xxCount is the number of HTTP 5xx responses from targets in a minute that alarms.
	Target5xxCount int
	// UnhealthyHosts is the number of unhealthy targets that alarms.
	UnhealthyHosts int
	// ELB5xxCount is the number of HTTP 5xx responses the load balancer itself sends in a minute
	// (no healthy target, a target that closed the connection or timed out) that alarms.
	ELB5xxCount int
	// P99LatencySeconds, when above zero, alarms on the targets' p99 response time.
	P99LatencySeconds float64
	// MetricDelaySeconds is the time assumed between the end of a metric's minute and its
	// datapoint reaching CloudWatch, where the alarm can see it: the load balancer measures and
	// sends its metrics in 60-second intervals, and AWS documents no delivery delay.
	MetricDelaySeconds int
}

// Network is the VPC created for an environment.
type Network struct {
	// CIDR of the VPC.
	CIDR string
	// NATGateways in the public subnets; the private subnets' only way out to AWS endpoints
	// and package repositories. One per zone survives a zone outage.
	NATGateways int
	// ExistingVPC, when set, is used instead of creating a VPC (CIDR and NATGateways then do not
	// apply).
	ExistingVPC *ExistingVPC
}

// ExistingVPC is a VPC the stack uses without creating or looking it up: its IDs are listed, one
// public and one private subnet per availability zone, in the order of AvailabilityZones.
type ExistingVPC struct {
	VPCID            string
	PublicSubnetIDs  []string
	PrivateSubnetIDs []string
}

// LoadBalancer is the internet-facing Application Load Balancer in front of the fleet.
type LoadBalancer struct {
	// AllowedCIDRs may reach the load balancer's listeners.
	AllowedCIDRs []string
	// CertificateARN, when set, adds an HTTPS listener and turns HTTP into a redirect.
	CertificateARN string
	// HealthCheckPath is requested on each instance by the target group's health check.
	HealthCheckPath string
	// DeregistrationDelaySeconds is how long a deregistering instance keeps in-flight requests.
	DeregistrationDelaySeconds int
}

// OS is an instance operating system choice.
type OS string

// OS choices.
const (
	// AmazonLinux2 is what the design asks for; it reached end of support on 2026-06-30.
	AmazonLinux2 OS = "amazon-linux-2"
	// AmazonLinux2023 is supported until 2027-06-30 (standard) and 2029-06-30 (maintenance).
	AmazonLinux2023 OS = "amazon-linux-2023"
)

// StackName is the CloudFormation stack name and construct id of this environment's stack.
func (c *Config) StackName(env Environment) string { return c.Name + "-" + env.Name }

// Encryption is the server-side encryption of the revision bucket.
type Encryption string

// Encryption choices.
const (
	// EncryptionS3 uses S3-managed keys (SSE-S3): no key policy to manage, no KMS cost.
	EncryptionS3 Encryption = "s3"
	// EncryptionKMS uses a customer-managed KMS key with rotation, for auditable key use.
	EncryptionKMS Encryption = "kms"
)

// Defaults, documented in the README's configuration table.
const (
	DefaultInstanceType          = "t3.micro"
	DefaultRevisionRetentionDays = 30
	DefaultLogRetentionDays      = 90
	DefaultRevisionEncryption    = EncryptionS3
	DefaultOS                    = AmazonLinux2
	DefaultRootVolumeGiB         = 16
	DefaultCPUTargetPercent      = 50
	// Long enough for user data (agent install) plus the first CodeDeploy deployment.
	DefaultHealthCheckGraceSeconds    = 600
	DefaultVPCCIDR                    = "10.0.0.0/16"
	DefaultNATGateways                = 1
	DefaultHealthCheckPath            = "/"
	DefaultDeregistrationDelaySeconds = 30
	DefaultDeploymentConfig           = DeploymentOneAtATime
	DefaultTarget5xxCount             = 5
	DefaultUnhealthyHosts             = 1
	DefaultELB5xxCount                = 5
	DefaultDeliveryTimeoutMinutes     = 30
	DefaultRevisionsToKeep            = 10
	// One publishing interval: a minute's datapoint is sent when the minute ends, and is assumed
	// to be there within the next (the load balancer "measures and sends its metrics in 60-second
	// intervals", ELB user guide, "CloudWatch metrics for your Application Load Balancer").
	DefaultMetricDelaySeconds = 60
)

// The gating alarms' timing (package deploygroup renders them so): one-minute periods, and two
// breaching datapoints of three, so that one stray error does not roll back a good release.
const (
	AlarmPeriodSeconds     = 60
	AlarmDatapointsToAlarm = 2
	AlarmEvaluationPeriods = 3
)

// DefaultAllowedCIDRs lets anyone reach the site.
var DefaultAllowedCIDRs = []string{"0.0.0.0/0"}

// Parse decodes and validates the application section. On error it returns no Config and an
// error that lists every problem found, one per line.
func Parse(data []byte) (*Config, error) {
	var raw rawConfig
	_, errs, ok := decodeFields("", data, &raw)
	if !ok {
		return nil, errors.Join(errs...)
	}
	cfg := &Config{Name: DefaultAppName}
	if raw.Name != nil {
		cfg.Name = *raw.Name
		if !appNamePattern.MatchString(cfg.Name) {
			errs = append(errs, fieldErr("", "name", fmt.Sprintf("%q is not a valid application name", cfg.Name),
				"use 1 to 32 letters, digits and hyphens, starting with a letter"))
		}
	}
	if raw.Environments == nil {
		errs = append(errs, fieldErr("", "environments", "is missing", `list at least one environment, e.g. [{"name": "dev", ...}]`))
	} else if len(*raw.Environments) == 0 {
		errs = append(errs, fieldErr("", "environments", "is empty", "list at least one environment"))
	}
	if raw.Environments != nil {
		// A duplicated name is reported first, by position: both entries carry the same label.
		first := map[string]int{}
		dup := map[int]bool{}
		for i, item := range *raw.Environments {
			name := peekName(item)
			if name == "" {
				continue
			}
			if j, seen := first[name]; seen {
				errs = append(errs, fieldErr(fmt.Sprintf("environments[%d]", i), "name",
					fmt.Sprintf("%q is also the name of environments[%d]", name, j), "give every environment a unique name"))
				dup[i] = true
				continue
			}
			first[name] = i
		}
		for i, item := range *raw.Environments {
			env, envErrs := parseEnvironment(i, item)
			errs = append(errs, envErrs...)
			if len(envErrs) > 0 || dup[i] {
				continue
			}
			if len(cfg.Name)+1+len(env.Name) > maxStackNameLen {
				errs = append(errs, fieldErr(envLabel(i, env.Name), "name",
					fmt.Sprintf("stack name %q is longer than %d characters", cfg.Name+"-"+env.Name, maxStackNameLen),
					"shorten the application or environment name"))
			}
			cfg.Environments = append(cfg.Environments, env)
		}
	}
	if len(raw.Pipeline) > 0 && string(raw.Pipeline) != "null" {
		var pipelineErrs []error
		cfg.Pipeline, pipelineErrs = parsePipeline(raw.Pipeline)
		errs = append(errs, pipelineErrs...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// PipelineStackName is the pipeline stack's name.
func (c *Config) PipelineStackName() string { return c.Name + "-pipeline" }

// Select returns a copy of cfg holding only the named environment; an empty name keeps all.
func (c *Config) Select(name string) (*Config, error) {
	if name == "" {
		return c, nil
	}
	var known []string
	for _, env := range c.Environments {
		if env.Name == name {
			// One environment for a fast loop: no pipeline, which would synthesize all of them.
			return &Config{Name: c.Name, Environments: []Environment{env}}, nil
		}
		known = append(known, env.Name)
	}
	// Callers say how the name was given (-c env=, --env).
	return nil, fmt.Errorf("%q is not a configured environment; known: %s", name, strings.Join(known, ", "))
}

// rawConfig mirrors the JSON. Pointers tell "missing" from "zero".
type rawConfig struct {
	Name         *string            `json:"name"`
	Environments *[]json.RawMessage `json:"environments"`
	Pipeline     json.RawMessage    `json:"pipeline"`
}

type rawPipeline struct {
	Account       *string `json:"account"`
	Region        *string `json:"region"`
	ConnectionARN *string `json:"connectionArn"`
	Repository    *string `json:"repository"`
	Branch        *string `json:"branch"`
}

type rawEnvironment struct {
	Name                  *string           `json:"name"`
	Account               *string           `json:"account"`
	Region                *string           `json:"region"`
	AvailabilityZones     *[]string         `json:"availabilityZones"`
	InstanceType          *string           `json:"instanceType"`
	MinCapacity           *int              `json:"minCapacity"`
	MaxCapacity           *int              `json:"maxCapacity"`
	DesiredCapacity       *int              `json:"desiredCapacity"`
	RevisionRetentionDays *int              `json:"revisionRetentionDays"`
	RevisionEncryption    *string           `json:"revisionEncryption"`
	LogRetentionDays      *int              `json:"logRetentionDays"`
	Destroy               *bool             `json:"destroy"`
	Tags                  map[string]string `json:"tags"`
	Production            *bool             `json:"production"`

	OS                      *string `json:"os"`
	DetailedMonitoring      *bool   `json:"detailedMonitoring"`
	RootVolumeGiB           *int    `json:"rootVolumeGiB"`
	CPUTargetPercent        *int    `json:"cpuTargetPercent"`
	HealthCheckGraceSeconds *int    `json:"healthCheckGraceSeconds"`
	NotificationEmail       *string `json:"notificationEmail"`
	// Nested sections are decoded on their own, so an error names their full path.
	Network      json.RawMessage `json:"network"`
	LoadBalancer json.RawMessage `json:"loadBalancer"`
	Deployment   json.RawMessage `json:"deployment"`
	Delivery     json.RawMessage `json:"delivery"`
}

type rawDelivery struct {
	DeployOnCdkDeploy *bool `json:"deployOnCdkDeploy"`
	TimeoutMinutes    *int  `json:"timeoutMinutes"`
	RevisionsToKeep   *int  `json:"revisionsToKeep"`
}

type rawNetwork struct {
	CIDR        *string          `json:"cidr"`
	NATGateways *int             `json:"natGateways"`
	ExistingVPC *json.RawMessage `json:"existingVpc"`
}

type rawExistingVPC struct {
	VPCID            *string   `json:"vpcId"`
	PublicSubnetIDs  *[]string `json:"publicSubnetIds"`
	PrivateSubnetIDs *[]string `json:"privateSubnetIds"`
}

type rawDeployment struct {
	Config              *string          `json:"config"`
	MinimumHealthyHosts *json.RawMessage `json:"minimumHealthyHosts"`
	Zonal               *json.RawMessage `json:"zonal"`
	BakeSeconds         *int             `json:"bakeSeconds"`
	Alarms              *json.RawMessage `json:"alarms"`
	SuspendProcesses    *[]string        `json:"suspendProcesses"`
}

type rawZonal struct {
	FirstZoneMonitorSeconds    *int             `json:"firstZoneMonitorSeconds"`
	MonitorSeconds             *int             `json:"monitorSeconds"`
	MinimumHealthyHostsPerZone *json.RawMessage `json:"minimumHealthyHostsPerZone"`
}

type rawMinimumHealthyHosts struct {
	Count   *int `json:"count"`
	Percent *int `json:"percent"`
}

type rawAlarms struct {
	Target5xxCount     *int     `json:"target5xxCount"`
	UnhealthyHosts     *int     `json:"unhealthyHosts"`
	ELB5xxCount        *int     `json:"elb5xxCount"`
	P99LatencySeconds  *float64 `json:"p99LatencySeconds"`
	MetricDelaySeconds *int     `json:"metricDelaySeconds"`
}

type rawLoadBalancer struct {
	AllowedCIDRs               *[]string `json:"allowedCidrs"`
	CertificateARN             *string   `json:"certificateArn"`
	HealthCheckPath            *string   `json:"healthCheckPath"`
	DeregistrationDelaySeconds *int      `json:"deregistrationDelaySeconds"`
}

// describe turns an encoding/json error into one that names the key, the value given and the fix.
// data is what was decoded, to quote the value from.
func describe(scope string, err error, data []byte) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		problem := "has " + typeErr.Value
		if given := quote(data, typeErr.Field); given != "" && !strings.Contains(typeErr.Value, " ") {
			problem += " " + given
		}
		return fieldErr(scope, typeErr.Field, problem, "use "+typeName(typeErr.Type.Kind().String()))
	case errors.As(err, &syntaxErr):
		return fieldErr(scope, "", fmt.Sprintf("is not valid JSON (offset %d: %v)", syntaxErr.Offset, syntaxErr), "fix the JSON syntax")
	default:
		return fieldErr(scope, "", err.Error(), "use a JSON object")
	}
}

// quote returns the JSON text at the dotted path field of data ("" for data itself), shortened
// for a message; "" if it cannot be found.
func quote(data []byte, field string) string {
	raw := json.RawMessage(data)
	if field != "" {
		for _, key := range strings.Split(field, ".") {
			var obj map[string]json.RawMessage
			if json.Unmarshal(raw, &obj) != nil {
				return ""
			}
			var ok bool
			if raw, ok = obj[key]; !ok {
				return ""
			}
		}
	}
	text := strings.TrimSpace(string(raw))
	if len(text) > 40 {
		text = text[:37] + "..."
	}
	return text
}

// decodeFields decodes a JSON object into out, a pointer to a struct of pointer fields, key by
// key: a key of the wrong type or an unknown key is an error of its own and the other keys are
// still decoded, so one pass reports every problem (a type error in minCapacity and a range
// error in maxCapacity together). bad lists the keys that were given but could not be decoded,
// so no later check calls them missing. A value that is not an object is one error, and ok false.
func decodeFields(scope string, data []byte, out any) (bad map[string]bool, errs []error, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		var probe any
		if err := json.Unmarshal(data, &probe); err != nil {
			return nil, []error{describe(scope, err, data)}, false
		}
		kind := map[bool]string{true: "null"}[probe == nil]
		if kind == "" {
			kind = jsonKind(probe)
		}
		problem := "has " + kind
		if kind != "null" && kind != "array" {
			problem += " " + quote(data, "")
		}
		return nil, []error{fieldErr(scope, "", problem, "use an object")}, false
	}
	fields := map[string]reflect.Value{}
	target := reflect.ValueOf(out).Elem()
	for i := 0; i < target.NumField(); i++ {
		tag, _, _ := strings.Cut(target.Type().Field(i).Tag.Get("json"), ",")
		fields[tag] = target.Field(i)
	}
	bad = map[string]bool{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad, append(errs, describe(scope, err, data)), false
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return bad, append(errs, describe(scope, err, data)), false
		}
		field, known := fields[key]
		switch {
		case !known:
			errs = append(errs, fieldErr(scope, key, "is not a known key", "check its spelling against the README's configuration table"))
		case seen[key]:
			errs = append(errs, fieldErr(scope, key, "is given twice", "keep one"))
		default:
			seen[key] = true
			if err := json.Unmarshal(value, field.Addr().Interface()); err != nil {
				var typeErr *json.UnmarshalTypeError
				if errors.As(err, &typeErr) {
					typeErr.Field = strings.TrimPrefix(key+"."+typeErr.Field, ".")
					typeErr.Field = strings.TrimSuffix(typeErr.Field, ".")
				}
				errs = append(errs, describe(scope, err, data))
				bad[key] = true
				field.Set(reflect.Zero(field.Type()))
			}
		}
	}
	// The closing brace, and nothing after it.
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return bad, append(errs, fieldErr(scope, "", "is not valid JSON (the object is not closed)", "fix the JSON syntax")), false
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad, append(errs, fieldErr(scope, "", "has data after the JSON object", "remove it")), false
	}
	return bad, errs, true
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	default:
		return "object"
	}
}

func typeName(kind string) string {
	switch kind {
	case "int":
		return "a whole number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "a list"
	case "map", "struct", "ptr":
		return "an object"
	default:
		return "a " + kind
	}
}

// FieldError is one configuration problem, printed as
// `environments[prod].maxCapacity: 1 is less than minCapacity 2 (make maxCapacity at least 2)`.
type FieldError struct {
	Scope   string // e.g. "environments[prod]"; empty at the top level
	Key     string // e.g. "maxCapacity"; empty when the scope itself is wrong
	Problem string
	Fix     string
}

func (e *FieldError) Error() string {
	path := e.Scope
	if e.Key != "" {
		if path != "" {
			path += "."
		}
		path += e.Key
	}
	if path == "" {
		path = ContextKey
	}
	msg := path + ": " + e.Problem
	if e.Fix != "" {
		msg += " (" + e.Fix + ")"
	}
	return msg
}

func fieldErr(scope, key, problem, fix string) error {
	return &FieldError{Scope: scope, Key: key, Problem: problem, Fix: fix}
}

func envLabel(index int, name string) string {
	if name == "" {
		return fmt.Sprintf("environments[%d]", index)
	}
	return fmt.Sprintf("environments[%s]", name)
}

// sortedKeys gives map keys in a stable order so errors and output do not flicker.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Seconds an instance needs, in the estimate below: user data until the agent runs, and one
// instance's in-place deployment (deregistration, httpd install, start, validation,
// re-registration).
const (
	bootstrapSeconds          = 180
	instanceDeploymentSeconds = 150
)

// FirstDeploymentSeconds estimates how long the last of the first instances waits, after
// launch, for the first deployment to reach it. Until then it fails ELB health checks, so the
// health check grace period must be longer or the group replaces instances mid-deployment. The
// first deployment deploys to every instance at once (package deployer: nothing serves yet, so
// there is nothing to keep in service), whatever the group's rollout.
func (e Environment) FirstDeploymentSeconds() int {
	return bootstrapSeconds + instanceDeploymentSeconds
}

// ApplicationSection returns the raw application section of a cdk.json file, for tools that read
// the configuration outside the CDK app (the operator CLI).
func ApplicationSection(cdkJSON []byte) ([]byte, error) {
	var file struct {
		Context map[string]json.RawMessage `json:"context"`
	}
	if err := json.Unmarshal(cdkJSON, &file); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	section, ok := file.Context[ContextKey]
	if !ok {
		return nil, fmt.Errorf("context key %q is missing", ContextKey)
	}
	return section, nil
}
