"""The hub's side of the speech worker process (hub/speech/worker.py): it starts the process,
carries each meeting's tapped Opus packets to it in batches, and hands back what it heard.

Nothing here runs per packet: the SFU's tap (hub/sfu/audio_tap.py) only appends to a bounded
queue; `pump` empties the queues every BATCH_SECONDS and writes one frame. A worker that is
slow, stuck or gone costs dropped batches (counted) and "subtitles unavailable", never a wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from hub.config_sections import SpeechConfig
from hub.speech.worker_wire import (
    Hush,
    Message,
    Packets,
    Said,
    Setup,
    Started,
    Trouble,
    WireError,
    decode,
    encode,
    frame_length,
)

log = logging.getLogger(__name__)

BATCH_SECONDS = 0.04
# A worker that stopped is started again after this long if a meeting still needs it, twice
# as long after each start that did not bring the backend up (at most MAX_RESTART_AFTER).
RESTART_AFTER = 10.0
MAX_RESTART_AFTER = 300.0
PIPE_LIMIT = 1 << 20  # bytes waiting for the worker past which a batch is dropped
STOP_TIMEOUT = 3.0


class PacketSource(Protocol):
    """One meeting's tap: (participant id, RTP timestamp, Opus payload) taken since last time."""

    def take(self) -> list[tuple[str, int, bytes]]: ...


# meeting, participant, text, final, seconds of speech it took
OnSaid = Callable[[str, str, str, bool, float], Awaitable[None]]
OnTrouble = Callable[[str, str], Awaitable[None]]  # meeting, reason


def setup_of(config: SpeechConfig) -> Setup:
    """The settings the worker opens its backend with, secrets in clear (sent on a pipe)."""
    fields: dict[str, Any] = config.model_dump(mode="json")
    for name in ("kyutai_api_key", "openai_api_key"):
        fields[name] = getattr(config, name).get_secret_value()
    return Setup(fields)


class SpeechWorker:
    """Owns the worker process and the meetings whose audio goes to it. `start` begins the
    pump (the process itself starts with the first meeting that needs it); `close` ends both."""

    def __init__(self, config: SpeechConfig, on_said: OnSaid, on_trouble: OnTrouble) -> None:
        self._config = config
        self._on_said = on_said
        self._on_trouble = on_trouble
        self._sources: dict[str, PacketSource] = {}
        self._speakers: dict[str, set[str]] = {}  # meeting -> participants sent so far
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._down_until = 0.0
        self._failed_starts = 0
        self.batches_dropped = 0
        self.packets_sent = 0

    def start(self) -> None:
        self._pump = asyncio.get_running_loop().create_task(self._run_pump())

    def attach(self, meeting_id: str, source: PacketSource) -> None:
        self._sources[meeting_id] = source

    def detach(self, meeting_id: str) -> None:
        """The meeting's subtitles stop: its speakers are flushed and closed in the worker."""
        self._sources.pop(meeting_id, None)
        for participant in self._speakers.pop(meeting_id, set()):
            self._write(Hush(f"{meeting_id}/{participant}"))

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await self._stop_process()

    # -- the process --------------------------------------------------------------------------

    async def _ensure_process(self) -> bool:
        if self._process is not None and self._process.returncode is None:
            return True
        if time.monotonic() < self._down_until:
            return False
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub.speech.worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        log.info("speech worker started (pid %d)", self._process.pid)
        self._speakers.clear()
        self._write(setup_of(self._config))
        self._reader = asyncio.get_running_loop().create_task(self._read(self._process))
        return True

    async def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if self._reader is not None:  # stopped on purpose: nobody is told it stopped
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if process.stdin is not None:
            process.stdin.close()
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()

    def _write(self, message: Message) -> bool:
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return False
        transport = process.stdin.transport
        if transport.get_write_buffer_size() > PIPE_LIMIT:
            return False  # the worker does not keep up: drop, never wait
        process.stdin.write(encode(message))
        return True

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        reason = "le moteur de reconnaissance s'est arrêté / the speech worker stopped"
        try:
            while True:
                head = await process.stdout.readexactly(4)
                message = decode(await process.stdout.readexactly(frame_length(head)))
                match message:
                    case Started(ok=True):
                        self._failed_starts = 0
                    case Started(ok=False, reason=why):
                        reason = why
                        self._failed_starts += 1
                        log.warning("speech backend did not start: %s", why)
                    case Said(key=key, text=text, final=final, start=start, end=end):
                        meeting, _, participant = key.partition("/")
                        await self._on_said(meeting, participant, text, final, end - start)
                    case Trouble(key=key, reason=why):
                        await self._on_trouble(key.partition("/")[0], why)
        except asyncio.IncompleteReadError:
            pass  # the process ended
        except WireError as exc:
            log.error("speech worker sent garbage: %s", exc)
            process.kill()
        wait = min(MAX_RESTART_AFTER, RESTART_AFTER * 2 ** max(0, self._failed_starts - 1))
        self._down_until = time.monotonic() + wait
        for meeting in list(self._sources):
            await self._on_trouble(meeting, reason)

    # -- the pump -------------------------------------------------------------------------------

    async def _run_pump(self) -> None:
        while True:
            await asyncio.sleep(BATCH_SECONDS)
            try:
                await self.pump()
            except Exception:  # the pump must outlive a bug: subtitles stop, media never
                log.exception("speech pump failed")

    async def pump(self) -> None:
        """Send what every tap took since the last time, as one batch."""
        batch: list[tuple[str, int, bytes]] = []
        for meeting, source in self._sources.items():
            packets = source.take()
            if packets:
                seen = self._speakers.setdefault(meeting, set())
                for participant, timestamp, payload in packets:
                    seen.add(participant)
                    batch.append((f"{meeting}/{participant}", timestamp, payload))
        # The process starts with the first meeting that wants subtitles (the engine loads
        # while people are still to speak), and again after RESTART_AFTER if it stopped.
        if not self._sources or not await self._ensure_process() or not batch:
            return
        if self._write(Packets(tuple(batch))):
            self.packets_sent += len(batch)
        else:
            self.batches_dropped += 1
