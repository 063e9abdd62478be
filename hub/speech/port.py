"""The speech port: what a caller gives (one speaker's mono float PCM) and gets back (timed
words in segments, partial or final), and the one state model every backend reports.

A stream never raises into its caller once opened: a backend that is down, slow, or
speaks garbage turns the stream's status to UNAVAILABLE or FAILED with a one-line reason
(logged once), and the caller shows "subtitles unavailable". The meeting never waits on it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

logger = logging.getLogger(__name__)

Pcm = NDArray[np.float32]
"""Mono samples in [-1, 1]."""


class Health(enum.Enum):
    """Where a stream stands; UNAVAILABLE and FAILED are final and carry a reason."""

    STARTING = "starting"
    LIVE = "live"
    # The service could not be reached, was full, or too slow: try again later.
    UNAVAILABLE = "unavailable"
    # The service refused us (key) or broke its protocol (garbage, closed mid-stream).
    FAILED = "failed"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class StreamStatus:
    health: Health
    reason: str = ""

    @property
    def usable(self) -> bool:
        return self.health in (Health.STARTING, Health.LIVE)


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word; times in seconds of audio since the stream started."""

    text: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Segment:
    """Text of one utterance so far (partial) or for good (final); `words` may be empty
    when the backend gives no word times."""

    text: str
    start: float
    end: float
    words: tuple[Word, ...]
    final: bool

    @classmethod
    def of_words(cls, words: tuple[Word, ...], *, final: bool) -> Segment:
        text = " ".join(word.text for word in words)
        start = words[0].start if words else 0.0
        end = words[-1].end if words else 0.0
        return cls(text=text, start=start, end=end, words=words, final=final)


class SpeechFailure(Exception):
    """Raised inside backends and turned into the stream's status; never leaves a stream."""

    def __init__(self, health: Health, reason: str) -> None:
        super().__init__(reason)
        self.health = health
        self.reason = reason


def unavailable(reason: str) -> SpeechFailure:
    return SpeechFailure(Health.UNAVAILABLE, reason)


def failed(reason: str) -> SpeechFailure:
    return SpeechFailure(Health.FAILED, reason)


class SpeechStream(Protocol):
    """One speaker's audio in, segments out. `feed` and `flush` never raise; once the status
    is no longer usable they do nothing and `segments()` ends."""

    @property
    def status(self) -> StreamStatus: ...

    async def feed(self, pcm: Pcm) -> None:
        """Give the next chunk of audio, at the sample rate the stream was opened with."""

    async def flush(self) -> None:
        """End of utterance: return once every segment for the audio fed so far is final
        (or the stream is no longer usable)."""

    def segments(self) -> AsyncIterator[Segment]:
        """Segments in order, until the stream is closed or fails."""
        ...

    async def close(self) -> None: ...


class SpeechBackend(Protocol):
    """A speech service or engine; it opens one stream per speaker."""

    name: str

    async def open_stream(self, sample_rate: int) -> SpeechStream:
        """A stream for audio at `sample_rate`; never raises (a failed start is its status)."""
        ...


class SegmentOutbox:
    """The output side every stream shares: queued segments and the status, logged once."""

    def __init__(self, backend: str) -> None:
        self._backend = backend
        self._queue: asyncio.Queue[Segment | None] = asyncio.Queue()
        self._status = StreamStatus(Health.STARTING)

    @property
    def status(self) -> StreamStatus:
        return self._status

    def live(self) -> None:
        if self._status.health is Health.STARTING:
            self._status = StreamStatus(Health.LIVE)

    def put(self, segment: Segment) -> None:
        if self._status.usable:
            self._queue.put_nowait(segment)

    def fail(self, failure: SpeechFailure) -> None:
        """Turn a failure into the final status, with one log line (the first one wins)."""
        if not self._status.usable:
            return
        reason = " ".join(failure.reason.split())[:300]  # a server's text, kept to one line
        self._status = StreamStatus(failure.health, reason)
        logger.warning("speech %s %s: %s", self._backend, failure.health.value, reason)
        self._queue.put_nowait(None)

    def close(self) -> None:
        if self._status.usable:
            self._status = StreamStatus(Health.CLOSED)
            self._queue.put_nowait(None)

    async def segments(self) -> AsyncIterator[Segment]:
        while True:
            segment = await self._queue.get()
            if segment is None:
                self._queue.put_nowait(None)  # later readers end too
                return
            yield segment


def shifted(segment: Segment, offset: float) -> Segment:
    """The same segment with its times moved by `offset` seconds."""
    words = tuple(Word(w.text, w.start + offset, w.end + offset) for w in segment.words)
    return Segment(
        text=segment.text,
        start=segment.start + offset,
        end=segment.end + offset,
        words=words,
        final=segment.final,
    )
