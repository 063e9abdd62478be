#!/usr/bin/env bash
# Install everything the test suite needs (system, Python and npm packages) and run it.
# Extra arguments go to pytest, e.g. scripts/test.sh -k config -x
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/lib.sh"

# postgresql: the fixtures start their own throw-away cluster with its server binaries.
# chromium: the browser tests drive Debian's Chromium with Playwright (never `playwright install`).
# coturn: the TURN test relays a meeting through a turnserver the fixture starts.
# nginx: the reverse-proxy tests put a real nginx (TLS, WebSocket) in front of the hub.
# espeak-ng: the speech tests (tests/speech/) speak their phrases with it.
# redis-server: the shared-state tests start their own Redis on a free port.
# ffmpeg: the recording tests read each stored track's duration with its ffprobe.
apt_ensure postgresql chromium coturn nginx espeak-ng redis-server ffmpeg
# npm: axe-core for the accessibility checks (Node may come from elsewhere; only fill a gap).
command -v npm >/dev/null 2>&1 || apt_ensure nodejs npm
python_env "test"
cd "$ROOT"
# node_modules is reinstalled only when package-lock.json changes.
lock_stamp="$(sha256sum package-lock.json | cut -c1-16)"
if [ "$(cat node_modules/.installed-lock 2>/dev/null)" != "$lock_stamp" ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$lock_stamp" > node_modules/.installed-lock
fi
say "running the test suite"
exec "$VENV/bin/python" -m pytest "$@"
