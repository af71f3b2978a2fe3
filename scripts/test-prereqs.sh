#!/usr/bin/env bash
# What `npm test` needs from the machine, installed when missing (run by
# `npm test`'s pretest and by .ci/run): Debian's chromium for the dashboard's
# browser tests (playwright-core drives it; no browser download) and
# iproute2 for the network-namespace lab tests. Needs root (or sudo) and
# apt-get; without them it says what is missing and the tests that need it
# say why they cannot run.
set -uo pipefail
missing=()
if [ -z "${CHROMIUM_PATH:-}" ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium fonts-liberation); fi
if ! command -v ip >/dev/null || ! command -v tc >/dev/null; then missing+=(iproute2); fi
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo"; else
    echo "test-prereqs: missing ${missing[*]}; not root and no sudo, so not installing them" >&2
    exit 0
  fi
fi
if ! command -v apt-get >/dev/null; then
  echo "test-prereqs: missing ${missing[*]}; no apt-get here, install them by hand" >&2
  exit 0
fi
echo "test-prereqs: installing ${missing[*]} (Debian packages) for the test suite"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" || {
  echo "test-prereqs: could not install ${missing[*]}" >&2
  exit 0
}
