#!/bin/bash
# The rehearsal's slow endpoint, served by every instance's httpd beside the revision (never
# part of it): it answers after REHEARSAL_SLOW_SECONDS with the page the instance serves, so a
# slow request still tells which revision answered it.
set -euo pipefail
# Each request in flight is a file in the instance's /run, so the rehearsal can see it (the
# short-drain control scales in while one has just started).
marker=/run/rehearsal/slow/$$
: >"$marker" 2>/dev/null || true
trap 'rm -f "$marker"' EXIT
sleep "${REHEARSAL_SLOW_SECONDS:-1}"
printf 'Content-Type: text/html\r\n\r\n'
cat /var/www/html/index.html 2>/dev/null || true
