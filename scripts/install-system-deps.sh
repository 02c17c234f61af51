#!/usr/bin/env bash
# System packages the tests need beyond npm: Debian's chromium for the browser conformance run of backend-wasm
# (driven by playwright-core; nothing is downloaded by playwright itself). Installs only what is missing.
set -euo pipefail
if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM_PATH:-}" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "chromium is missing: run this as root, or apt-get install chromium, or set CHROMIUM_PATH" >&2
    exit 1
  fi
  echo "installing Debian's chromium (browser tests)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
fi
