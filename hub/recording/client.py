"""The hub's side of the recorder process (hub/recording/recorder.py): it starts the process,
carries each recording's tapped packets to it in batches, and waits for what was written.

Nothing here runs per packet: the SFU's recording tap (hub/sfu/recording_tap.py) only appends
to a bounded queue; `pump` empties the queues every BATCH_SECONDS and writes one frame per
recording. A recorder that is slow or gone costs dropped batches (counted), never a wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path

from hub.recording.wire import (
    Begin,
    Finish,
    Finished,
    Message,
    Packets,
    Track,
    WireError,
    decode,
    encode,
    frame_length,
)
from hub.sfu.recording_tap import RecordingTap, TrackInfo

log = logging.getLogger(__name__)

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
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self.batches_dropped = 0

    def start(self) -> None:
        self._pump = asyncio.get_running_loop().create_task(self._run_pump())

    async def begin(self, recording: str, folder: Path, tap: RecordingTap) -> None:
        await self._ensure_process()
        self._taps[recording] = tap
        self.files[recording] = {}
        self._write(Begin(recording, str(folder)), force=True)

    async def finish(self, recording: str) -> Finished:
        """Close the recording's files; what was written of each track. TimeoutError or
        ConnectionError if the recorder does not answer."""
        tap = self._taps.get(recording)
        if tap is not None:
            self._send_batch(recording, tap)
            del self._taps[recording]
        waiting = self._waiting[recording] = asyncio.get_running_loop().create_future()
        if not self._write(Finish(recording), force=True):
            self._waiting.pop(recording, None)
            raise ConnectionError("the recorder is not running")
        try:
            async with asyncio.timeout(FINISH_TIMEOUT):
                finished: Finished = await waiting
                return finished
        finally:
            self._waiting.pop(recording, None)

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the recorder closes its files (playable) and exits
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    # -- the process ---------------------------------------------------------------------------

    async def _ensure_process(self) -> None:
        if self._process is not None and self._process.returncode is None:
            return
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub.recording.recorder",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        log.info("recorder started (pid %d)", self._process.pid)
        self._reader = asyncio.get_running_loop().create_task(self._read(self._process))

    def _write(self, message: Message, *, force: bool = False) -> bool:
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return False
        if not force and process.stdin.transport.get_write_buffer_size() > PIPE_LIMIT:
            return False  # the recorder does not keep up: drop, never wait
        process.stdin.write(encode(message))
        return True

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        try:
            while True:
                head = await process.stdout.readexactly(4)
                message = decode(await process.stdout.readexactly(frame_length(head)))
                if isinstance(message, Finished):
                    waiting = self._waiting.get(message.recording)
                    if waiting is not None and not waiting.done():
                        waiting.set_result(message)
        except asyncio.IncompleteReadError:
            pass
        except WireError as exc:
            log.error("recorder sent garbage: %s", exc)
            process.kill()
        for waiting in self._waiting.values():
            if not waiting.done():
                waiting.set_exception(ConnectionError("the recorder stopped"))

    # -- the pump ------------------------------------------------------------------------------

    async def _run_pump(self) -> None:
        while True:
            await asyncio.sleep(BATCH_SECONDS)
            try:
                for recording, tap in list(self._taps.items()):
                    self._send_batch(recording, tap)
            except Exception:  # the pump must outlive a bug: a recording suffers, media never
                log.exception("recording pump failed")

    def _send_batch(self, recording: str, tap: RecordingTap) -> None:
        files = self.files[recording]
        for info in tap.take_tracks():
            name = files[info.key] = file_name(len(files) + 1, info)
            self._write(Track(recording, info.key, name, info.mime, info.clock_rate), force=True)
        packets = tap.take()
        for start in range(0, len(packets), BATCH_PACKETS):
            if not self._write(Packets(recording, tuple(packets[start : start + BATCH_PACKETS]))):
                self.batches_dropped += 1
