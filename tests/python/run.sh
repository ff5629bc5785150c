#!/usr/bin/env bash
# Runs the Python unit tests (clients/python/tests) and the e2e tests (tests/python) in the repo's .venv.
# Needs python3 (3.11+) and a built herald binary (HERALD_BIN, default target/debug/herald). Works from any cwd.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
VENV=.venv

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
# A stale setuptools build dir could carry deleted modules into the install.
rm -rf clients/python/build
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check ./clients/python

set +e
"$VENV/bin/python" -m pytest -q -p no:cacheprovider clients/python/tests tests/python "$@"
status=$?
set -e
exit "$status"
