#!/bin/bash
# ApplicationStart: run httpd under systemd. A reload picks up the new files without dropping
# connections; systemctl returns once the unit is up, so no background process keeps this
# script's output open (the agent fails a hook whose child holds stdout).
set -euo pipefail

log() { printf '%s start_server: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

systemctl enable httpd
if systemctl is-active --quiet httpd; then
  log "httpd is running: reloading"
  systemctl reload httpd
else
  log "starting httpd"
  systemctl start httpd
fi
systemctl is-active --quiet httpd
log "httpd is active"
