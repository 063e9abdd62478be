"""The hub's side of the speech worker process (hub/speech/worker.py): it starts the process,
carries each meeting's tapped Opus packets to it in batches, and hands back what it heard.

Nothing here runs per packet: the SFU's tap (hub/sfu/audio_tap.py) only appends to a bounded
queue; `pump`, run by the child process's pump (hub/pipes/child.py), empties the queues every
BATCH_SECONDS and writes one frame. A worker that is
slow, stuck or gone costs dropped batches (counted) and "subtitles unavailable", never a wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from hub.config_sections import SpeechConfig
from hub.pipes.child import ChildProcess
from hub.speech.worker_wire import (
    MAX_FRAME,
    Hush,
    Message,
    Packets,
    Said,
    Setup,
    Started,
    Trouble,
    decode,
    encode,
)

log = logging.getLogger(__name__)

BATCH_SECONDS = 0.04
# A worker that stopped is started again after this long if a meeting still needs it, twice
# as long after each start that did not bring the backend up (at most MAX_RESTART_AFTER).
RESTART_AFTER = 10.0
MAX_RESTART_AFTER = 300.0
PIPE_LIMIT = 1 << 20  # bytes waiting for the worker past which a batch is dropped
STOP_TIMEOUT = 3.0
STOPPED = "le moteur de reconnaissance s'est arrêté / the speech worker stopped"


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
        self._child: ChildProcess[Message, Message] = ChildProcess(
            "hub.speech.worker", "speech worker",
            encode=encode, decode=decode, max_frame=MAX_FRAME,
            on_message=self._heard, on_end=self._ended,
            pipe_limit=PIPE_LIMIT, stop_timeout=STOP_TIMEOUT, batch_seconds=BATCH_SECONDS,
        )  # fmt: skip
        self._stopped_why = STOPPED
        self._down_until = 0.0
        self._failed_starts = 0
        self.batches_dropped = 0
        self.packets_sent = 0

    def start(self) -> None:
        self._child.start(self.pump, "speech pump")

    def attach(self, meeting_id: str, source: PacketSource) -> None:
        self._sources[meeting_id] = source

    def detach(self, meeting_id: str) -> None:
        """The meeting's subtitles stop: its speakers are flushed and closed in the worker."""
        self._sources.pop(meeting_id, None)
        for participant in self._speakers.pop(meeting_id, set()):
            self._child.write(Hush(f"{meeting_id}/{participant}"))

    async def close(self) -> None:
        await self._child.close()

    # -- the process --------------------------------------------------------------------------

    async def _ensure_process(self) -> bool:
        if self._child.running:
            return True
        if time.monotonic() < self._down_until:
            return False
        await self._child.spawn()
        self._speakers.clear()
        self._stopped_why = STOPPED
        self._child.write(setup_of(self._config))
        return True

    async def _heard(self, message: Message) -> None:
        match message:
            case Started(ok=True):
                self._failed_starts = 0
            case Started(ok=False, reason=why):
                self._stopped_why = why
                self._failed_starts += 1
                log.warning("speech backend did not start: %s", why)
            case Said(key=key, text=text, final=final, start=start, end=end):
                meeting, _, participant = key.partition("/")
                await self._on_said(meeting, participant, text, final, end - start)
            case Trouble(key=key, reason=why):
                await self._on_trouble(key.partition("/")[0], why)

    async def _ended(self) -> None:
        """The worker stopped by itself: every meeting is told, and it starts again later."""
        wait = min(MAX_RESTART_AFTER, RESTART_AFTER * 2 ** max(0, self._failed_starts - 1))
        self._down_until = time.monotonic() + wait
        for meeting in list(self._sources):
            await self._on_trouble(meeting, self._stopped_why)

    # -- the pump -------------------------------------------------------------------------------

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
        if self._child.write(Packets(tuple(batch))):
            self.packets_sent += len(batch)
        else:
            self.batches_dropped += 1
