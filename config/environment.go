package config

import (
	"encoding/json"
	"fmt"
	"regexp"
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
	if err := decodeStrict(data, &raw); err != nil {
		return Environment{}, []error{describe(label, err)}
	}
	v := &validator{scope: label}
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
	v.atLeast("logRetentionDays", env.LogRetentionDays, 1, 3650)
	if env.RevisionEncryption != EncryptionS3 && env.RevisionEncryption != EncryptionKMS {
		v.fail("revisionEncryption", fmt.Sprintf("%q is not an encryption choice", env.RevisionEncryption),
			fmt.Sprintf("use %q or %q", EncryptionS3, EncryptionKMS))
	}
	v.tags(env.Tags)
	return env, v.errs
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
}

func (v *validator) fail(key, problem, fix string) {
	v.errs = append(v.errs, fieldErr(v.scope, key, problem, fix))
}

func (v *validator) requiredString(key string, p *string) string {
	if p == nil {
		v.fail(key, "is missing", "it is required")
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

func (v *validator) capacity(env *Environment, minP, maxP *int) {
	if minP == nil {
		v.fail("minCapacity", "is missing", "set the fleet's smallest size, at least 1")
	}
	if maxP == nil {
		v.fail("maxCapacity", "is missing", "set the fleet's largest size, at least minCapacity")
	}
	if minP == nil || maxP == nil {
		return
	}
	env.MinCapacity, env.MaxCapacity = *minP, *maxP
	// At least one instance: CodeDeploy needs a target, and the site needs a server.
	if env.MinCapacity < 1 {
		v.fail("minCapacity", fmt.Sprintf("%d is less than 1", env.MinCapacity), "use at least 1")
	}
	if env.MaxCapacity < env.MinCapacity {
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
