#!/usr/bin/env bash
# Install the Debian tools the test suite talks to, when they are missing (idempotent; needs root
# or sudo). mbpoll: an independent Modbus client. chromium: the headless browser for the web tests.
# mosquitto: the MQTT broker the data-hub tests start on a free port.
set -euo pipefail

packages=(mbpoll chromium mosquitto)
binaries=(mbpoll chromium mosquitto)

missing=()
for i in "${!packages[@]}"; do
  command -v "${binaries[$i]}" >/dev/null 2>&1 || [ -x "/usr/sbin/${binaries[$i]}" ] \
    || missing+=("${packages[$i]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing Debian packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
