#!/bin/bash
# BeforeInstall: make sure the web server is installed. Idempotent: installs httpd only when it
# is missing, and never updates the rest of the system (that belongs to a new AMI, not a deploy).
set -euo pipefail

log() { printf '%s install_dependencies: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

if rpm -q httpd >/dev/null 2>&1; then
  log "httpd is already installed ($(rpm -q httpd))"
  exit 0
fi

# Amazon Linux 2023 has dnf; Amazon Linux 2 has yum.
if command -v dnf >/dev/null 2>&1; then
  installer=dnf
else
  installer=yum
fi
log "installing httpd with $installer"
attempts=3
for ((attempt = 1; ; attempt++)); do
  if "$installer" install -y httpd; then
    log "installed $(rpm -q httpd)"
    exit 0
  fi
  [ "$attempt" -lt "$attempts" ] || break
  log "attempt $attempt failed; retrying in $((attempt * 10)) s"
  sleep $((attempt * 10))
done
log "could not install httpd after $attempts attempts"
exit 1
