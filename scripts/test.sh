#!/usr/bin/env bash
# Install what the tests need (Python packages; Debian's Chromium, nginx and redis-server for the
# browser, deploy and class-store tests), then run every test. Used by the README's test command and by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet -r requirements-test.txt
# Debian's chromium for the browser tests, and Debian's nginx for tests/test_deploy.py (the
# nginx-and-replicas recipe: it runs its own nginx on loopback; the system service is not used).
MISSING=""
command -v chromium >/dev/null 2>&1 || MISSING="$MISSING chromium"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || MISSING="$MISSING nginx"
# Debian's redis-server for tests/test_classstore.py (it starts its own on loopback, no persistence).
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || MISSING="$MISSING redis-server"
if [ -n "$MISSING" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $MISSING >/dev/null \
      || echo "could not install$MISSING: their tests will skip (or fail with NNVIZ_REQUIRE_BROWSER=1)"
  fi
fi
exec python -m pytest "$@"
