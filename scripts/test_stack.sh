#!/usr/bin/env bash
# The parts the test suite drives for real and pip cannot install: redis-server (with
# redis-cli, which the cluster and sentinel fixtures use) and Debian's Chromium at the exact
# path the browser fixture launches. `make test` and `.ci/run` both come through here, so what
# a contributor's machine gets and what CI gets cannot drift apart.
#
# Where a part is missing and this machine can install it (root with apt-get), it is installed
# with one line saying so. Otherwise the script stops before any test runs, with one line naming
# what is missing and the command that installs it. It never lets tests be skipped instead.
set -euo pipefail

# The browser fixture's path (tests/support/browser.py). Overridable only so this script's own test can
# play a machine without Chromium.
chromium=${TEST_STACK_CHROMIUM:-/usr/bin/chromium}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
[ -x "$chromium" ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" != 0 ] && sudo="sudo "
  echo "make test needs ${missing[*]} (Chromium at $chromium); install with: ${sudo}apt-get install -y ${missing[*]}" >&2
  exit 2
fi

echo "test stack: installing ${missing[*]} with apt-get"
log=$(mktemp)
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "test stack: apt-get could not install ${missing[*]}" >&2
  rm -f "$log"
  exit 2
fi
rm -f "$log"
