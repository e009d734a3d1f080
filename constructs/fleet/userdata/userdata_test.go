package userdata

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUserDataRendersForEachOS(t *testing.T) {
	logs := []ShippedLog{{File: "/var/log/aws/codedeploy-agent/codedeploy-agent.log", LogGroup: "/app/dev/codedeploy-agent"}}
	cases := []struct {
		os      OS
		want    []string
		notWant []string
	}{
		{AmazonLinux2, []string{"yum install -y ruby wget amazon-cloudwatch-agent"}, []string{"dnf "}},
		{AmazonLinux2023, []string{"dnf install -y ruby wget amazon-cloudwatch-agent"}, []string{"yum "}},
	}
	for _, tc := range cases {
		t.Run(string(tc.os), func(t *testing.T) {
			script, err := Render(Input{OS: tc.os, Region: "eu-west-1", Logs: logs})
			if err != nil {
				t.Fatal(err)
			}
			common := []string{
				"#!/bin/bash\n",
				"set -euo pipefail",
				`s3://aws-codedeploy-$region/latest/install`,
				`readonly region="eu-west-1"`,
				`retry 3 "$workdir/install" auto`,
				"systemctl enable codedeploy-agent",
				"systemctl is-active --quiet codedeploy-agent",
				"tee -a /var/log/user-data.log",
				`"file_path": "/var/log/aws/codedeploy-agent/codedeploy-agent.log"`,
				`"log_group_name": "/app/dev/codedeploy-agent"`,
			}
			for _, want := range append(common, tc.want...) {
				if !strings.Contains(script, want) {
					t.Errorf("user data lacks %q", want)
				}
			}
			for _, bad := range tc.notWant {
				if strings.Contains(script, bad) {
					t.Errorf("user data has %q", bad)
				}
			}
			shellcheck(t, script)
		})
	}
}

func TestUserDataRejectsBadInput(t *testing.T) {
	if _, err := Render(Input{OS: "windows", Region: "eu-west-1"}); err == nil {
		t.Error("accepted an unsupported OS")
	}
	if _, err := Render(Input{OS: AmazonLinux2}); err == nil {
		t.Error("accepted an empty region")
	}
}

// shellcheck lints script; the suite requires shellcheck (make test checks it is installed).
func shellcheck(t *testing.T, script string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "user-data.sh")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("shellcheck", "--shell=bash", path).CombinedOutput()
	if err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}
