#!/bin/bash
# ApplicationStop. On a scale-in termination deployment (creator autoscalingTermination) it drains
# httpd gracefully, so in-flight requests finish before the instance is terminated. On any other
# deployment it does nothing: the files are replaced and ApplicationStart reloads httpd.
#
# It always exits 0: a failing stop script would fail the termination deployment and hold the
# instance in Terminating:Wait. Every step is logged (the agent keeps stdout in scripts.log) and
# bounded in time.
# -E: the ERR trap also covers failures inside functions.
set -Eeuo pipefail
trap 'log "unexpected error on line $LINENO; exiting 0 so that termination is not held up"; exit 0' ERR

drain_seconds=${DRAIN_SECONDS:-60}
aws_timeout=${AWS_TIMEOUT_SECONDS:-20}
imds=${IMDS_ENDPOINT:-http://169.254.169.254}

log() { printf '%s stop_application: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

# region prints the instance's region: AWS_REGION if set, otherwise from IMDSv2 (IMDSv1 is off).
region() {
  if [ -n "${AWS_REGION:-}" ]; then
    printf '%s\n' "$AWS_REGION"
    return 0
  fi
  local token
  token=$(curl --silent --fail --max-time 2 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" \
    "$imds/latest/api/token") || return 1
  curl --silent --fail --max-time 2 -H "X-aws-ec2-metadata-token: $token" \
    "$imds/latest/meta-data/placement/region"
}

# creator prints who created this deployment; CodeDeploy does not export it to hooks.
creator() {
  local region errors status=0
  # Logs go to stderr here: stdout is the answer. The agent keeps both in scripts.log.
  region=$(region) || { log "cannot read the region from IMDSv2" >&2; return 1; }
  errors=$(mktemp)
  timeout --kill-after=2 "$aws_timeout" aws deploy get-deployment \
    --deployment-id "$DEPLOYMENT_ID" --region "$region" \
    --cli-connect-timeout 5 --cli-read-timeout 10 \
    --query deploymentInfo.creator --output text 2>"$errors" || status=$?
  if [ "$status" -ne 0 ]; then
    # 124: timeout ended the call.
    log "aws deploy get-deployment failed (exit $status): $(tr '\n' ' ' <"$errors")" >&2
  fi
  rm -f "$errors"
  return "$status"
}

# drain stops httpd gracefully, waits up to drain_seconds for its processes, then stops it for good.
drain() {
  if ! systemctl is-active --quiet httpd; then
    log "httpd is not running: nothing to drain"
    return 0
  fi
  log "graceful stop: httpd finishes in-flight requests (limit ${drain_seconds} s)"
  apachectl -k graceful-stop || log "apachectl -k graceful-stop failed; stopping through systemd"
  # Checked five times a second: the instance goes as soon as the last request is answered.
  local ticks=0
  while pgrep -x httpd >/dev/null; do
    if [ "$ticks" -ge $((drain_seconds * 5)) ]; then
      log "httpd still running after ${drain_seconds} s: stopping it for good"
      break
    fi
    sleep 0.2
    ticks=$((ticks + 1))
  done
  systemctl stop httpd || log "systemctl stop httpd failed"
  log "httpd stopped after $((ticks / 5)).$((ticks % 5 * 2)) s"
}

log "deployment ${DEPLOYMENT_ID:-unknown} (${LIFECYCLE_EVENT:-ApplicationStop}) of ${DEPLOYMENT_GROUP_NAME:-unknown}"
if [ -z "${DEPLOYMENT_ID:-}" ]; then
  log "DEPLOYMENT_ID is not set: not run by the CodeDeploy agent? draining to be safe"
  who="unknown"
elif who=$(creator); then
  log "deployment creator: $who"
else
  log "could not learn the deployment's creator (API error, credentials or timeout): draining to be safe"
  who="unknown"
fi

case "$who" in
  autoscalingTermination|unknown)
    # Stopping gracefully is always safe here; a terminating instance left serving is not.
    drain
    sync
    log "drained: the instance may terminate"
    ;;
  *)
    log "creator $who is not a scale-in: nothing to stop (ApplicationStart reloads httpd)"
    ;;
esac
exit 0
