#!/bin/bash
# One fake for every program the hook scripts call on an instance. It is linked under each
# program's name into a directory put first on PATH; it records each call in $FAKE_LOG and
# behaves as the FAKE_* variables of the test say.
set -euo pipefail
# Builtins rather than basename and cat: each call of a fake is already a process of its own, and
# the hook tests make hundreds.
name=${0##*/}
printf '%s %s\n' "$name" "$*" >>"$FAKE_LOG"

case "$name" in
  aws)
    case "${FAKE_AWS:-user}" in
      fail) echo "An error occurred (AccessDeniedException) when calling the GetDeployment operation" >&2; exit 254 ;;
      # The real sleep, found past the fakes' directory (first on PATH): the fake returns at once.
      hang) PATH=${PATH#*:} exec sleep 600 ;;
      *) echo "${FAKE_AWS:-user}" ;;
    esac
    ;;
  curl)
    if [[ " $* " == *" -X PUT "* && "$*" == *"/latest/api/token"* ]]; then
      echo "TOKEN-v2"
    elif [[ "$*" == *"X-aws-ec2-metadata-token: TOKEN-v2"* && "$*" == *"/placement/region"* ]]; then
      echo "eu-west-1"
    else
      echo "curl: (22) The requested URL returned error: 401" >&2
      exit 22
    fi
    ;;
  systemctl)
    if [[ "$*" == "is-active --quiet httpd" ]]; then
      [ "${FAKE_HTTPD_ACTIVE:-1}" = 1 ]
    fi
    ;;
  pgrep)
    # httpd processes disappear after FAKE_HTTPD_EXITS_AFTER checks ("never": they stay).
    count_file="$FAKE_LOG.pgrep"
    count=0
    if [ -f "$count_file" ]; then read -r count <"$count_file" || :; fi
    count=$((count + 1))
    echo "$count" >"$count_file"
    limit=${FAKE_HTTPD_EXITS_AFTER:-1}
    [ "$limit" = never ] || [ "$count" -le "$limit" ]
    ;;
  rpm)
    [ "${FAKE_HTTPD_INSTALLED:-1}" = 1 ] && echo "httpd-2.4.62-1.amzn2023.x86_64"
    [ "${FAKE_HTTPD_INSTALLED:-1}" = 1 ]
    ;;
  dnf|yum)
    [ "${FAKE_INSTALL:-works}" = works ]
    ;;
  # sleep only records its argument: a test counts the waits instead of spending them.
  apachectl|sync|sleep) ;;
  *) echo "fake: no behaviour for $name" >&2; exit 99 ;;
esac
