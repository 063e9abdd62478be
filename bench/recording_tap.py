"""What recording costs the forwarding path: one speaker's Opus packets through
`receive_publisher_rtp` to ten subscribers' legs (bench/subtitle_tap.py's meeting, no
sockets), with the recording tap off and on. The tap is emptied every 2 packets, as the
recorder's pump does every 40 ms, so the "queue full" path is not what is measured.

Run from the repository root: ``python -m bench.recording_tap``.
"""

from __future__ import annotations

import asyncio
import time

from bench.subtitle_tap import PACKETS, SUBSCRIBERS, meeting, packet
from hub.sfu.packets import receive_publisher_rtp
from hub.sfu.recording_tap import RecordingTap


async def run(tap: RecordingTap | None) -> float:
    """CPU microseconds per packet."""
    publisher, counters, stream = meeting()
    if tap is not None:
        tap.attach(stream)
    stream.recording = tap
    packets = [packet(number, 20) for number in range(PACKETS)]
    start = time.process_time()
    for number, data in enumerate(packets):
        receive_publisher_rtp(publisher, counters, data, 100.0 + number / 50)
        if tap is not None and number % 2 == 1:
            tap.take()
        if number % 200 == 199:
            await asyncio.sleep(0)
    await asyncio.sleep(0)
    return (time.process_time() - start) / PACKETS * 1e6


async def main() -> None:
    rounds = []
    for _ in range(5):  # interleaved, best of five: the machine is shared
        off = await run(None)
        tap = RecordingTap()
        on = await run(tap)
        rounds.append((off, on, tap.taken))
    off = min(r[0] for r in rounds)
    on = min(r[1] for r in rounds)
    print(f"{SUBSCRIBERS} subscribers, {PACKETS} packets per run, best of 5:")
    print(f"  recording off: {off:.2f} us/packet")
    print(f"  recording on:  {on:.2f} us/packet ({rounds[-1][2]} packets taken by the tap)")
    print(f"  difference:    {on - off:+.2f} us/packet ({(on - off) / off * 100:+.1f} %)")


if __name__ == "__main__":
    asyncio.run(main())
