#!/usr/bin/env bash
# Installs the Debian packages named as arguments (sourced by install-deps.sh and install-armhf.sh).
#
# A mirror that is being synchronized serves, for a few minutes, an index whose size disagrees
# with its Release file; apt-get update then fails, and an install against the indexes it kept can
# find amd64 and armhf versions that disagree. So the update is tried again, a few times, until
# every index arrives, and only then is anything installed.
apt_install() {
  local sudo="" attempt
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: $*" >&2
  for attempt in 1 2 3 4; do
    if $sudo apt-get update -qq; then break; fi
    if [ "$attempt" = 4 ]; then
      echo "apt-get update kept failing; installing with the indexes it has" >&2
      break
    fi
    echo "apt-get update failed (attempt $attempt of 4); trying again in $((attempt * 15)) s" >&2
    sleep $((attempt * 15))
  done
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
