package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// session runs fleetctl against the fake AWS CLI replaying testdata/<scenario>, with a clock that
// advances only when fleetctl sleeps.
type session struct {
	calls string // the aws calls made, one per line
	out   string
	code  int
	slept []time.Duration
}

func replay(t *testing.T, scenario string, args ...string) session {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	fake, _ := filepath.Abs("testdata/fake-aws")
	if err := os.Symlink(fake, filepath.Join(bin, "aws")); err != nil {
		t.Fatal(err)
	}
	responses, _ := filepath.Abs(filepath.Join("testdata", scenario))
	log := filepath.Join(dir, "calls.log")
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("FAKE_AWS_RESPONSES", responses)
	t.Setenv("FAKE_AWS_LOG", log)

	var s session
	clock := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	now = func() time.Time { return clock }
	sleep = func(d time.Duration) { s.slept = append(s.slept, d); clock = clock.Add(d) }
	t.Cleanup(func() { now, sleep = time.Now, time.Sleep })

	var stdout, stderr bytes.Buffer
	// A fixed configuration: the tests never depend on the environments a user keeps in cdk.json.
	full := append(args, "--config", "testdata/cdk.json")
	if scenario == "" {
		full = args
	}
	s.code = run(full, &stdout, &stderr)
	s.out = stdout.String() + stderr.String()
	calls, _ := os.ReadFile(log)
	s.calls = string(calls)
	return s
}

func (s session) expect(t *testing.T, code int, output ...string) {
	t.Helper()
	if s.code != code {
		t.Errorf("exit %d, want %d; output:\n%s", s.code, code, s.out)
	}
	for _, want := range output {
		if !strings.Contains(s.out, want) {
			t.Errorf("output lacks %q:\n%s", want, s.out)
		}
	}
}

func TestDeploySuccess(t *testing.T) {
	s := replay(t, "deploy-success", "deploy", "--env", "dev", "--dir", "../../assets")
	s.expect(t, 0,
		"uploading s3://mywebapp-dev-revisions44e8601f-1a2b3c4d5e6f/revisions/",
		"created deployment d-EXAMPLE11",
		"0:00  i-0aaa1111bbbb2222c   BeforeInstall        InProgress",
		"0:05  i-0aaa1111bbbb2222c   ValidateService      Succeeded",
		"deployment d-EXAMPLE11 succeeded")
	for _, call := range []string{
		"cloudformation describe-stacks --stack-name MyWebApp-dev --region eu-west-1",
		"deploy create-deployment --application-name MyWebApp-dev --deployment-group-name MyWebApp-dev-fleet --s3-location bucket=mywebapp-dev-revisions44e8601f-1a2b3c4d5e6f,key=revisions/",
	} {
		if !strings.Contains(s.calls, call) {
			t.Errorf("no call %q in:\n%s", call, s.calls)
		}
	}
	// One line per change: the ApplicationStop line is printed once although polled twice.
	if n := strings.Count(s.out, "ApplicationStop"); n != 1 {
		t.Errorf("ApplicationStop printed %d times, want once", n)
	}
}

func TestDeployFailure(t *testing.T) {
	s := replay(t, "deploy-failure", "deploy", "--env", "dev", "--dir", "../../assets")
	s.expect(t, 1,
		"deployment d-EXAMPLE11 failed: HEALTH_CONSTRAINTS",
		"instance i-0aaa1111bbbb2222c failed at ValidateService (ScriptFailed, scripts/validate_service.sh)",
		"giving up after 10 attempts")
}

// TestDeploySucceededButMissedInstances: CodeDeploy reports Succeeded although an instance did
// not get the revision (OneAtATime's last instance, or one skipped or unknown): fleetctl must
// exit non-zero and name each instance, with the failed event and its script's error.
func TestDeploySucceededButMissedInstances(t *testing.T) {
	for scenario, want := range map[string][]string{
		"deploy-last-instance-failed": {
			"deployment d-EXAMPLE11 succeeded, but not on every instance",
			"instance i-0ccc3333dddd4444e failed at ValidateService (ScriptFailed, scripts/validate_service.sh)",
			"giving up after 10 attempts"},
		"deploy-missed-instances": {
			"deployment d-EXAMPLE11 succeeded, but not on every instance",
			"instance i-0bbb2222cccc3333d did not get the revision (Skipped)",
			"instance i-0ccc3333dddd4444e did not get the revision (Unknown)"},
	} {
		t.Run(scenario, func(t *testing.T) {
			s := replay(t, scenario, "deploy", "--env", "dev", "--follow", "d-EXAMPLE11")
			s.expect(t, 1, want...)
			if strings.Contains(s.out, "i-0aaa1111bbbb2222c failed") || strings.Contains(s.out, "i-0aaa1111bbbb2222c did not") {
				t.Errorf("a healthy instance is reported:\n%s", s.out)
			}
		})
	}
}

func TestDeployStopped(t *testing.T) {
	s := replay(t, "deploy-stopped", "deploy", "--env", "dev", "--follow", "d-EXAMPLE11")
	s.expect(t, 1, "deployment d-EXAMPLE11 stopped: ALARM_ACTIVE")
	if strings.Contains(s.calls, "create-deployment") || strings.Contains(s.calls, "s3 cp") {
		t.Errorf("--follow changed something:\n%s", s.calls)
	}
}

func TestDeployThrottlingRetried(t *testing.T) {
	s := replay(t, "deploy-throttled", "deploy", "--env", "dev", "--follow", "d-EXAMPLE11")
	s.expect(t, 0, "throttled by AWS (deploy get-deployment); retrying in 1s", "deployment d-EXAMPLE11 succeeded")
	if len(s.slept) == 0 || s.slept[0] != time.Second {
		t.Errorf("backoff %v, want 1s first", s.slept)
	}
}

func TestDeployDryRunChangesNothing(t *testing.T) {
	s := replay(t, "deploy-success", "deploy", "--env", "dev", "--dir", "../../assets", "--dry-run")
	s.expect(t, 0, "would run: aws s3 cp ")
	if strings.Contains(s.calls, "s3 cp") || strings.Contains(s.calls, "create-deployment") {
		t.Errorf("dry run made a change:\n%s", s.calls)
	}
}

func TestScaleInTest(t *testing.T) {
	s := replay(t, "scale-in", "scale-in-test", "--env", "dev")
	s.expect(t, 0,
		"lowering MyWebApp-dev-FleetGroupASGF037160E-AbCdEf from 2 to 1 instances",
		"termination deployment d-TERMINATE1",
		"ApplicationStop on i-0ccc3333dddd4444e: Succeeded",
		"deployment creator: autoscalingTermination",
		"restoring desired capacity 2")
	lower := strings.Index(s.calls, "set-desired-capacity --auto-scaling-group-name MyWebApp-dev-FleetGroupASGF037160E-AbCdEf --desired-capacity 1")
	restore := strings.Index(s.calls, "set-desired-capacity --auto-scaling-group-name MyWebApp-dev-FleetGroupASGF037160E-AbCdEf --desired-capacity 2")
	if lower < 0 || restore < lower {
		t.Errorf("capacity not lowered then restored:\n%s", s.calls)
	}
}

func TestScaleInDryRun(t *testing.T) {
	s := replay(t, "scale-in", "scale-in-test", "--env", "dev", "--dry-run")
	s.expect(t, 0, "would run: aws autoscaling set-desired-capacity --auto-scaling-group-name MyWebApp-dev-FleetGroupASGF037160E-AbCdEf --desired-capacity 1")
	if strings.Contains(s.calls, "set-desired-capacity") {
		t.Errorf("dry run changed the capacity:\n%s", s.calls)
	}
}

func TestLogs(t *testing.T) {
	s := replay(t, "logs", "logs", "--env", "dev", "--instance", "i-0aaa1111bbbb2222c", "--lines", "50")
	s.expect(t, 0, "== /var/log/aws/codedeploy-agent/codedeploy-agent.log", "validate_service: serves the expected page")
	if !strings.Contains(s.calls, "ssm send-command --document-name AWS-RunShellScript --instance-ids i-0aaa1111bbbb2222c") ||
		!strings.Contains(s.calls, "tail -n 50") {
		t.Errorf("calls:\n%s", s.calls)
	}
}

// TestPackageRejectsABrokenScript: a hook script bash cannot parse is not packaged; the error
// names the file and line.
func TestPackageRejectsABrokenScript(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "assets")
	if err := os.CopyFS(dir, os.DirFS("../../assets")); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "scripts", "start_server.sh")
	if err := os.WriteFile(script, []byte("#!/bin/bash\nif true; then\n  echo started\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := replay(t, "", "package", "--dir", dir)
	s.expect(t, 2, "the revision is not valid", script+":4: bash cannot parse it")
}

func TestPackageIsDeterministic(t *testing.T) {
	dir := t.TempDir()
	a := replay(t, "", "package", "--dir", "../../assets", "--out", filepath.Join(dir, "a.zip"))
	b := replay(t, "", "package", "--dir", "../../assets", "--out", filepath.Join(dir, "b.zip"))
	a.expect(t, 0, "key    revisions/")
	za, _ := os.ReadFile(filepath.Join(dir, "a.zip"))
	zb, _ := os.ReadFile(filepath.Join(dir, "b.zip"))
	sha := func(out string) string { return out[strings.Index(out, "sha256 "):] }
	if len(za) == 0 || !bytes.Equal(za, zb) || sha(a.out) != sha(b.out) {
		t.Error("packaging the same revision twice gave different bytes")
	}
}

// TestBadArguments: each is a clear error, exit 2, and no AWS call at all.
func TestBadArguments(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"deploy"}, "--env is required"},
		{[]string{"deploy", "--env", "staging"}, `--env staging: "staging" is not a configured environment; known: dev, prod`},
		{[]string{"logs", "--env", "dev"}, "--instance is required"},
		{[]string{"deploy", "--env", "dev", "--follow", "12345"}, `--follow "12345" is not a deployment id`},
		{[]string{"deploy", "--env", "dev", "--dir", "../../no-such-dir"}, "the revision is not valid"},
		{[]string{"deploy", "--env", "dev", "--poll", "10ms"}, "--poll 10ms is too short"},
		{[]string{"logs", "--env", "dev", "--instance", "web-1"}, `--instance "web-1" is not an instance id`},
		{[]string{"logs", "--env", "dev", "--instance", "i-0aaa1111bbbb2222c", "--lines", "0"}, "--lines 0 is out of range"},
		{[]string{"scale-in-test", "--env", "dev", "--wait", "5s"}, "--wait must be at least 1m"},
		{[]string{"deploy", "--env", "dev", "extra"}, `unexpected argument "extra"`},
		{[]string{"deploy", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"launch"}, `unknown command "launch"`},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			s := replay(t, "deploy-success", tc.args...)
			s.expect(t, 2, tc.want)
			if s.calls != "" {
				t.Errorf("bad input made AWS calls:\n%s", s.calls)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"deploy", "--help"}, {"scale-in-test", "--help"}, {"logs", "--help"}, {"package", "--help"}} {
		s := replay(t, "", args...)
		s.expect(t, 0, "Usage: scripts/fleetctl")
	}
}

// After the deployment succeeded, fleetctl deploy watches the stack's gating alarms for its bake
// (the stack's outputs), polling, and ends well when none fires.
func TestDeployBakes(t *testing.T) {
	s := replay(t, "deploy-bake-quiet", "deploy", "--env", "dev", "--dir", "../../assets")
	s.expect(t, 0, "deployment d-EXAMPLE11 succeeded",
		"baking: watching MyWebApp-dev-MyWebApp-dev-fleet-target-5xx, MyWebApp-dev-MyWebApp-dev-fleet-elb-5xx for 3m0s",
		"3:00  baked: no alarm for 3m0s")
	if n := strings.Count(s.calls, "cloudwatch describe-alarms --alarm-types MetricAlarm --alarm-names MyWebApp-dev-MyWebApp-dev-fleet-target-5xx MyWebApp-dev-MyWebApp-dev-fleet-elb-5xx"); n < 30 {
		t.Errorf("the alarms were read %d times over the bake:\n%s", n, s.calls)
	}
	// --bake 0 skips it.
	s = replay(t, "deploy-bake-quiet", "deploy", "--env", "dev", "--dir", "../../assets", "--bake", "0")
	s.expect(t, 0, "deployment d-EXAMPLE11 succeeded")
	if strings.Contains(s.calls, "describe-alarms") {
		t.Errorf("--bake 0 read the alarms:\n%s", s.calls)
	}
}

// An alarm during the bake puts the previous release back (the newest earlier release of another
// revision, not Auto Scaling's deployment of this one), with the alarms off and HalfAtATime, follows
// it, and fails naming the alarm.
func TestDeployBakeAlarmRestores(t *testing.T) {
	s := replay(t, "deploy-bake-alarm", "deploy", "--env", "dev", "--dir", "../../assets")
	s.expect(t, 1, "alarm MyWebApp-dev-MyWebApp-dev-fleet-target-5xx went to ALARM 5s after deployment d-EXAMPLE11 succeeded",
		"restoring the previous release revisions/previous.zip with deployment d-RESTORE22 (alarms off, CodeDeployDefault.HalfAtATime)",
		"deployment d-RESTORE22 succeeded",
		"the previous release revisions/previous.zip was put back by deployment d-RESTORE22")
	want := "deploy create-deployment --application-name MyWebApp-dev --deployment-group-name MyWebApp-dev-fleet " +
		"--s3-location bucket=mywebapp-dev-revisions44e8601f-1a2b3c4d5e6f,key=revisions/previous.zip,bundleType=zip " +
		"--deployment-config-name CodeDeployDefault.HalfAtATime --override-alarm-configuration enabled=false"
	if !strings.Contains(s.calls, want) {
		t.Errorf("no restore %q among the calls:\n%s", want, s.calls)
	}
}

// --alarms=false deploys with the gating alarms overridden off, as a repair needs while an alarm
// still fires (docs/operations.md, "A failed rollback"), and does not bake: the bake would watch
// the very alarms the deployment ignores.
func TestDeployWithTheAlarmsOff(t *testing.T) {
	s := replay(t, "deploy-success", "deploy", "--env", "dev", "--dir", "../../assets", "--alarms=false")
	s.expect(t, 0, "deployment d-EXAMPLE11 succeeded")
	if !strings.Contains(s.calls, "deploy create-deployment") || !strings.Contains(s.calls, "--override-alarm-configuration enabled=false") {
		t.Errorf("no create-deployment with the alarms off among the calls:\n%s", s.calls)
	}
	if strings.Contains(s.calls, "describe-alarms") {
		t.Errorf("baked a deployment whose alarms were off:\n%s", s.calls)
	}
}

// The bake counts from the deployment's end, as the stack's revision deployment does: following
// a deployment that ended an hour ago watches nothing and puts nothing back (the stack's own
// rollback may be restoring already).
func TestFollowAfterTheBake(t *testing.T) {
	s := replay(t, "deploy-follow-ended", "deploy", "--env", "dev", "--follow", "d-EXAMPLE11")
	s.expect(t, 0, "deployment d-EXAMPLE11 succeeded", "deployment d-EXAMPLE11 ended 1h0m0s ago: its 3m0s bake is over")
	if strings.Contains(s.calls, "describe-alarms") || strings.Contains(s.calls, "create-deployment") {
		t.Errorf("baked or restored after the bake was over:\n%s", s.calls)
	}
}
