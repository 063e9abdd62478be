"""The stream for backends that transcribe a whole utterance at a time (the OpenAI-compatible
endpoint, the embedded engine): the VAD cuts utterances, one worker task sends them in order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

import numpy as np

from hub.speech.audio import WHISPER_RATE, Resampler
from hub.speech.port import (
    Pcm,
    Segment,
    SegmentOutbox,
    SpeechFailure,
    StreamStatus,
    failed,
    shifted,
    unavailable,
)
from hub.speech.utterances import Utterance, UtteranceCutter

# Utterances waiting for the backend before the stream gives up as too slow.
MAX_BACKLOG = 4
# Seconds of silence put before each utterance. The subtitle tap sends nothing before a
# person's first voiced packet, so an utterance begins on its first sound, and Whisper then
# loses or mishears the first word ("good morning everyone" came out "we go tomorrow again
# everyone"): with 0.2 s, tiny.en found 55 of 56 words of twelve phrases instead of 52
# (bench/README.md, `bench.speech.cut`).
LEAD_IN = 0.2


class UtteranceTranscriber(Protocol):
    """Turns one utterance (16 kHz) into a final segment timed from the utterance's start;
    raises SpeechFailure, nothing else."""

    async def transcribe(self, pcm: Pcm) -> Segment: ...


class UtteranceStream:
    """Owns the VAD, the resampler and one worker task; starts live, stops on `close`."""

    def __init__(self, backend: str, sample_rate: int, transcriber: UtteranceTranscriber) -> None:
        self._outbox = SegmentOutbox(backend)
        self._resampler = Resampler(sample_rate, WHISPER_RATE)
        self._cutter = UtteranceCutter()
        self._transcriber = transcriber
        self._work: asyncio.Queue[Utterance | asyncio.Future[None]] = asyncio.Queue()
        self._backlog = 0
        self._worker = asyncio.create_task(self._run(), name=f"speech-{backend}")
        self._outbox.live()

    @property
    def status(self) -> StreamStatus:
        return self._outbox.status

    async def feed(self, pcm: Pcm) -> None:
        if self.status.usable:
            for utterance in self._cutter.push(self._resampler.convert(pcm)):
                self._submit(utterance)

    async def flush(self) -> None:
        if not self.status.usable:
            return
        utterance = self._cutter.end()
        if utterance is not None:
            self._submit(utterance)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._work.put_nowait(done)
        await asyncio.wait([done, self._worker], return_when=asyncio.FIRST_COMPLETED)

    def segments(self) -> AsyncIterator[Segment]:
        return self._outbox.segments()

    async def close(self) -> None:
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._outbox.close()

    def _submit(self, utterance: Utterance) -> None:
        if self._backlog >= MAX_BACKLOG:
            self._outbox.fail(unavailable(f"too slow: {self._backlog} utterances waiting"))
            self._worker.cancel()
            return
        self._backlog += 1
        self._work.put_nowait(utterance)

    async def _run(self) -> None:
        while True:
            item = await self._work.get()
            if isinstance(item, asyncio.Future):
                if not item.done():
                    item.set_result(None)
                continue
            self._backlog -= 1
            lead_in = np.zeros(int(LEAD_IN * WHISPER_RATE), dtype=np.float32)
            try:
                segment = await self._transcriber.transcribe(np.concatenate([lead_in, item.pcm]))
            except SpeechFailure as failure:
                self._outbox.fail(failure)
                return
            except Exception as exc:  # a bug must not reach the meeting: it ends this stream
                self._outbox.fail(failed(f"unexpected {type(exc).__name__}: {exc}"))
                return
            if segment.text:
                segment = shifted(segment, item.start - LEAD_IN)
                if segment.start < 0:  # a word placed in the lead-in of the first utterance
                    segment = shifted(segment, -segment.start)
                self._outbox.put(segment)
