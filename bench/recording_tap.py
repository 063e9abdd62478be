"""What recording costs the forwarding path: one speaker's Opus packets through
`receive_publisher_rtp` to ten subscribers' legs (bench/subtitle_tap.py's meeting, no
sockets), with the recording tap off and on. The tap is emptied every 2 packets, as the
recorder's pump does every 40 ms, so the "queue full" path is not what is measured.

Run from the repository root: ``python -m bench.recording_tap``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.subtitle_tap import compare
from hub.sfu.forwarder import InboundStream
from hub.sfu.recording_tap import RecordingTap


def record(stream: InboundStream, tap: Any) -> None:
    tap.attach(stream)
    stream.recording = tap


if __name__ == "__main__":
    asyncio.run(compare(RecordingTap, record, "recording"))
