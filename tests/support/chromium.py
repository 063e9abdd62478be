"""How this project launches Debian's Chromium (tests and benchmark alike).

Never `playwright install`: Playwright drives the system browser at /usr/bin/chromium. The
background-networking flags stop Chromium from calling outside hosts (refused here anyway);
the fake devices give every page a moving test pattern and a beeping microphone.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--allow-loopback-in-peer-connection",
]
