#!/usr/bin/env bash
# Install what the hub needs and run it in dev mode: http://127.0.0.1:8080
# (SQLite and generated secrets under ./data). Extra arguments go to `hub serve`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/lib.sh"

python_env ""
cd "$ROOT"
say "starting the hub on http://127.0.0.1:8080 (Ctrl-C to stop)"
exec "$VENV/bin/hub" serve --dev "$@"
