#!/usr/bin/env bash
# Refresh the README's screenshots in docs/screenshots from the browser tests (a normal test run
# writes its screenshots to tests/.shots instead, so it never dirties the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
export NNVIZ_SHOTS=docs/screenshots NNVIZ_REQUIRE_BROWSER=1
exec python -m pytest -q tests/test_browser.py tests/test_layout.py "$@"
