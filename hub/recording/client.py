"""The hub's side of the recorder process (hub/recording/recorder.py): it starts the process,
carries each recording's tapped packets to it in batches, and waits for what was written.

Nothing here runs per packet: the SFU's recording tap (hub/sfu/recording_tap.py) only appends
to a bounded queue; the pump (hub/pipes/child.py) empties the queues every BATCH_SECONDS and
writes one frame per recording. A recorder that is slow or gone costs dropped batches
(counted), never a wait.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from hub.pipes.child import ChildProcess
from hub.recording.wire import (
    MAX_FRAME,
    Begin,
    Finish,
    Finished,
    Message,
    Packets,
    Track,
    decode,
    encode,
)
from hub.sfu.recording_tap import RecordingTap, TrackInfo

BATCH_SECONDS = 0.04
BATCH_PACKETS = 2_000  # per frame: well under the wire's 4 MiB
PIPE_LIMIT = 8 << 20  # bytes waiting for the recorder past which a batch is dropped
FINISH_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


def file_name(number: int, info: TrackInfo) -> str:
    extension = "webm" if info.kind == "video" else "ogg"
    return f"{number:02d}-{info.source}.{extension}"


class RecorderProcess:
    """Owns the recorder process and the recordings it writes. `start` begins the pump (the
    process itself starts with the first recording); `close` ends both."""

    def __init__(self) -> None:
        self._taps: dict[str, RecordingTap] = {}
        self.files: dict[str, dict[str, str]] = {}  # recording -> track key -> file name
        self._waiting: dict[str, asyncio.Future[Finished]] = {}
        self._child: ChildProcess[Message, Message] = ChildProcess(
            "hub.recording.recorder", "recorder",
            encode=encode, decode=decode, max_frame=MAX_FRAME,
            on_message=self._heard, on_end=self._ended,
            pipe_limit=PIPE_LIMIT, stop_timeout=STOP_TIMEOUT, batch_seconds=BATCH_SECONDS,
            hear_out=True,  # the recorder closes its files (playable) and exits
        )  # fmt: skip
        self.batches_dropped = 0

    def start(self) -> None:
        self._child.start(self._send_batches, "recording pump")

    async def begin(self, recording: str, folder: Path, tap: RecordingTap) -> None:
        await self._child.spawn()
        self._taps[recording] = tap
        self.files[recording] = {}
        self._child.write(Begin(recording, str(folder)), force=True)

    async def finish(self, recording: str) -> Finished:
        """Close the recording's files; what was written of each track. TimeoutError or
        ConnectionError if the recorder does not answer."""
        tap = self._taps.get(recording)
        if tap is not None:
            self._send_batch(recording, tap)
            del self._taps[recording]
        waiting = self._waiting[recording] = asyncio.get_running_loop().create_future()
        if not self._child.write(Finish(recording), force=True):
            self._waiting.pop(recording, None)
            raise ConnectionError("the recorder is not running")
        try:
            async with asyncio.timeout(FINISH_TIMEOUT):
                finished: Finished = await waiting
                return finished
        finally:
            self._waiting.pop(recording, None)

    async def close(self) -> None:
        await self._child.close()

    # -- what the recorder says ------------------------------------------------------------------

    async def _heard(self, message: Message) -> None:
        if isinstance(message, Finished):
            waiting = self._waiting.get(message.recording)
            if waiting is not None and not waiting.done():
                waiting.set_result(message)

    async def _ended(self) -> None:
        for waiting in self._waiting.values():
            if not waiting.done():
                waiting.set_exception(ConnectionError("the recorder stopped"))

    # -- the pump ------------------------------------------------------------------------------

    async def _send_batches(self) -> None:
        for recording, tap in list(self._taps.items()):
            self._send_batch(recording, tap)

    def _send_batch(self, recording: str, tap: RecordingTap) -> None:
        files = self.files[recording]
        for info in tap.take_tracks():
            name = files[info.key] = file_name(len(files) + 1, info)
            track = Track(recording, info.key, name, info.mime, info.clock_rate)
            self._child.write(track, force=True)
        packets = tap.take()
        for start in range(0, len(packets), BATCH_PACKETS):
            batch = Packets(recording, tuple(packets[start : start + BATCH_PACKETS]))
            if not self._child.write(batch):
                self.batches_dropped += 1
