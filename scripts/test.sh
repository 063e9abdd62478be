#!/usr/bin/env bash
# Install everything the test suite needs (system, Python and npm packages) and run it.
# Extra arguments go to pytest, e.g. scripts/test.sh -k config -x
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/lib.sh"

# postgresql: the fixtures start their own throw-away cluster with its server binaries.
apt_ensure postgresql
python_env "test"
cd "$ROOT"
say "running the test suite"
exec "$VENV/bin/python" -m pytest "$@"
