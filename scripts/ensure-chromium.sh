#!/usr/bin/env bash
# Before the tests: Chromium for the end-to-end tests. Installs Debian's package where that is
# possible (root with apt-get); otherwise says what to do. Never downloads a browser build.
set -euo pipefail
path="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$path" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "tagrelay: installing Chromium from Debian for the end-to-end tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "tagrelay: the end-to-end tests need Chromium at $path: install it (Debian: apt-get install chromium)" >&2
echo "          or set CHROMIUM_PATH to a Chromium or Chrome binary" >&2
exit 1
