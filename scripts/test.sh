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
# Debian's npm (with node) installs axe-core for tests/test_a11y_browser.py below.
command -v npm >/dev/null 2>&1 || MISSING="$MISSING npm"
if [ -n "$MISSING" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $MISSING >/dev/null \
      || echo "could not install$MISSING: their tests will skip (or fail with NNVIZ_REQUIRE_BROWSER=1)"
  fi
fi
# axe-core from the npm registry for tests/test_a11y_browser.py (WCAG 2.1 checks in Chromium), into .cache/axe
# (ignored by git). Without it those checks skip (or fail with NNVIZ_REQUIRE_BROWSER=1).
AXE_VERSION=4.14.1
if [ "$(node -p "require('./.cache/axe/node_modules/axe-core/package.json').version" 2>/dev/null)" != "$AXE_VERSION" ]; then
  if command -v npm >/dev/null 2>&1; then
    npm install --prefix .cache/axe --no-audit --no-fund --no-save --silent "axe-core@$AXE_VERSION" >/dev/null \
      || echo "could not install axe-core $AXE_VERSION: the axe-core checks will skip (or fail with NNVIZ_REQUIRE_BROWSER=1)"
  else
    echo "no npm (apt-get install npm): the axe-core checks will skip (or fail with NNVIZ_REQUIRE_BROWSER=1)"
  fi
fi
# Three test processes (pytest-xdist; NNVIZ_TEST_WORKERS=N to change, 0 for one process): each takes whole test
# files (--dist loadfile), so a file's module-scoped server or browser is started once; tests/conftest.py hands
# out the longest files first (--no-loadscope-reorder: else xdist orders the files by their number of tests).
WORKERS="${NNVIZ_TEST_WORKERS:-3}"
if [ "$WORKERS" = "0" ]; then
  exec python -m pytest "$@"
fi
exec python -m pytest -n "$WORKERS" --dist loadfile --no-loadscope-reorder "$@"
