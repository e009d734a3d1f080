// Package userdata renders the fleet instances' bootstrap script. Plain Go, no CDK: its tests build
// and run in a moment.
package userdata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"text/template"
)

// OS is the instances' operating system.
type OS string

// Supported operating systems. Both are x86_64 Amazon Linux, resolved at deploy time.
const (
	AmazonLinux2    OS = "amazon-linux-2"
	AmazonLinux2023 OS = "amazon-linux-2023"
)

// ShippedLog is a file on the instance and the CloudWatch Logs group it is shipped to.
type ShippedLog struct {
	File     string
	LogGroup string
}

// Input is what the bootstrap script is rendered from.
type Input struct {
	OS     OS
	Region string
	Logs   []ShippedLog
}

// Render renders the instance bootstrap script. It installs only what the platform owns (the
// CodeDeploy agent and the CloudWatch agent that ships its logs); the application and its web
// server arrive through CodeDeploy. The CDK L2's installAgent script is not used: it has broken
// on new distributions before (aws-cdk #12764, #13654, #16655).
func Render(in Input) (string, error) {
	if in.OS != AmazonLinux2 && in.OS != AmazonLinux2023 {
		return "", fmt.Errorf("userdata: unsupported OS %q", in.OS)
	}
	if in.Region == "" {
		return "", fmt.Errorf("userdata: Render needs a concrete region")
	}
	agentConfig, err := cloudWatchAgentConfig(in.Logs)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	err = userDataTemplate.Execute(&out, map[string]any{
		"Region":      in.Region,
		"AL2":         in.OS == AmazonLinux2,
		"OS":          in.OS,
		"AgentConfig": agentConfig,
	})
	return out.String(), err
}

func cloudWatchAgentConfig(logs []ShippedLog) (string, error) {
	type file struct {
		FilePath      string `json:"file_path"`
		LogGroupName  string `json:"log_group_name"`
		LogStreamName string `json:"log_stream_name"`
	}
	files := make([]file, 0, len(logs))
	for _, l := range logs {
		files = append(files, file{FilePath: l.File, LogGroupName: l.LogGroup, LogStreamName: "{instance_id}"})
	}
	cfg := map[string]any{
		"agent": map[string]any{"run_as_user": "root"},
		"logs":  map[string]any{"logs_collected": map[string]any{"files": map[string]any{"collect_list": files}}},
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	return string(data), err
}

var userDataTemplate = template.Must(template.New("userdata").Parse(`#!/bin/bash
# Bootstraps a fleet instance ({{.OS}}, {{.Region}}): log shipping and the CodeDeploy agent.
# The application arrives through CodeDeploy. Rendered by constructs/fleet.
set -euo pipefail
exec > >(tee -a /var/log/user-data.log) 2>&1

readonly region="{{.Region}}"
readonly cw_config=/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json

log() { printf '%s user-data: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

# retry ATTEMPTS COMMAND...: run COMMAND until it succeeds, waiting 2, 4, 8, ... s in between.
retry() {
  local attempts=$1 n=1
  shift
  until "$@"; do
    if [ "$n" -ge "$attempts" ]; then
      log "giving up after $n attempts: $*"
      return 1
    fi
    log "attempt $n failed, retrying in $((2 ** n)) s: $*"
    sleep $((2 ** n))
    n=$((n + 1))
  done
}

log "installing prerequisites"
{{- if .AL2}}
# Amazon Linux 2 ships the aws-cli package; the agent needs ruby and wget.
retry 5 yum install -y ruby wget amazon-cloudwatch-agent
{{- else}}
# Amazon Linux 2023 ships awscli-2; the agent needs ruby and wget.
retry 5 dnf install -y ruby wget amazon-cloudwatch-agent
{{- end}}

# Log shipping starts first, so a failed agent install below still reaches CloudWatch Logs.
log "starting the CloudWatch agent"
cat >"$cw_config" <<'JSON'
{{.AgentConfig}}
JSON
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c "file:$cw_config"

log "downloading the CodeDeploy agent installer from aws-codedeploy-$region"
workdir=$(mktemp -d)
retry 6 aws s3 cp "s3://aws-codedeploy-$region/latest/install" "$workdir/install" --region "$region"
chmod +x "$workdir/install"

log "installing the CodeDeploy agent"
retry 3 "$workdir/install" auto
systemctl enable codedeploy-agent
systemctl start codedeploy-agent
for _ in $(seq 1 30); do
  systemctl is-active --quiet codedeploy-agent && break
  sleep 2
done
if ! systemctl is-active --quiet codedeploy-agent; then
  log "codedeploy-agent is not running"
  systemctl status codedeploy-agent --no-pager || true
  exit 1
fi
rm -rf "$workdir"
log "codedeploy-agent is running; bootstrap complete"
`))
