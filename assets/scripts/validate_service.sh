#!/bin/bash
# ValidateService: the deployment succeeds only if this instance serves the expected page.
# A failure here fails the deployment, and the deployment group rolls it back.
set -euo pipefail

url=${VALIDATE_URL:-http://127.0.0.1/}
expect=${VALIDATE_EXPECT:-Hello, CodeDeploy!}
attempts=${VALIDATE_ATTEMPTS:-10}
interval=${VALIDATE_INTERVAL_SECONDS:-3}
# Worst case: attempts x (5 s request + interval) = 80 s, inside the hook's 120 s timeout.

log() { printf '%s validate_service: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

for attempt in $(seq 1 "$attempts"); do
  if body=$(curl --silent --show-error --fail --max-time 5 "$url" 2>&1); then
    if [[ $body == *"$expect"* ]]; then
      log "attempt $attempt: $url serves the expected page"
      exit 0
    fi
    log "attempt $attempt: $url answered 200 without \"$expect\""
  else
    log "attempt $attempt: $url: $body"
  fi
  if [ "$attempt" -lt "$attempts" ]; then sleep "$interval"; fi
done
log "giving up after $attempts attempts"
exit 1
