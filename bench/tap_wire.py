"""What the taps' batches cost on the control socket of an SFU worker (hub/sfu/tap_wire.py):
bytes per second and the hub's CPU to check and decode them, for one speaker (two Opus packets
per 40 ms batch, at aiortc's ~240-byte and a browser's ~80-byte payloads) and for a recording
at 2.5 Mbit/s (ten 1,200-byte packets per batch). No sockets: encode as the worker does, then
`parse` and decode as the hub's `RemoteRoom` does, timed on the decoding side only.

Run from the repository root: ``python -m bench.tap_wire``.
"""

from __future__ import annotations

import os
import time

from hub.pipes import frames
from hub.sfu import control, tap_wire
from hub.sfu.control import EVENTS

PARTICIPANT = "6bc852ef-9492-4169-b4db-2095225dc7b7"  # a participant id's length
BATCHES = 2_500  # 100 s of 40 ms batches


def audio_batch(number: int, size: int) -> bytes:
    packets = [(PARTICIPANT, number * 1920 + j * 960, os.urandom(size)) for j in range(2)]
    return control.encode(
        "audio_packets", meeting="abc-defg-hij", packets=tap_wire.audio_fields(packets),
        taken=2, dropped=0, silent=0,
    )  # fmt: skip


def recording_batch(number: int, size: int) -> bytes:
    packets = [
        (f"{PARTICIPANT}/1", (number * 10 + j) & 0xFFFF, number * 3600, j == 9,
         os.urandom(size), 1.0)
        for j in range(10)
    ]  # fmt: skip
    return control.encode(
        "recording_packets", meeting="abc-defg-hij", tracks=[],
        packets=tap_wire.recording_fields(packets, 1.01), taken=10, dropped=0,
    )  # fmt: skip


def measure(label: str, make: object, size: int) -> None:
    assert callable(make)
    spent, sent = 0.0, 0
    for number in range(BATCHES):
        frame = make(number, size)
        sent += len(frame)
        start = time.process_time()
        message = control.parse(frame[frames.HEAD.size :], EVENTS, need_id=False)
        if message.type == "audio_packets":
            tap_wire.audio_packets_of(message)
        else:
            tap_wire.recording_packets_of(message, 2.0)
        spent += time.process_time() - start
    seconds = BATCHES * 0.04
    print(
        f"{label}: {sent / seconds / 1000:.1f} kB/s on the socket, "
        f"hub {spent / seconds * 1000:.2f} ms CPU per second"
    )


if __name__ == "__main__":
    measure("one speaker, aiortc Opus (240 B)", audio_batch, 240)
    measure("one speaker, browser Opus (80 B)", audio_batch, 80)
    measure("recording at 2.5 Mbit/s", recording_batch, 1200)
