#!/usr/bin/env bash
# Install what the tests need (Python packages, and Debian's Chromium for the browser tests),
# then run every test. Used by the README's test command and by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet -r requirements-test.txt
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null \
      || echo "could not install chromium: browser tests will skip (or fail with NNVIZ_REQUIRE_BROWSER=1)"
  fi
fi
exec python -m pytest "$@"
