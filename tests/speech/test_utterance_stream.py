"""The segment-by-segment stream degrades on its own: a backend that falls behind makes it
unavailable, one that breaks makes it failed; neither raises into the caller."""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from hub.speech.port import Health, Pcm, Segment, Word
from hub.speech.utterance_stream import UtteranceStream
from tests.speech.conftest import GOOD_MORNING, silence


class StuckTranscriber:
    """Never answers, like a server that accepted the request and went quiet."""

    def __init__(self) -> None:
        self.calls = 0

    async def transcribe(self, pcm: Pcm) -> Segment:
        self.calls += 1
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class BrokenTranscriber:
    async def transcribe(self, pcm: Pcm) -> Segment:
        return 1 / 0  # type: ignore[return-value]


class CountingTranscriber:
    """One word, where the clip's sound starts (as an engine times it)."""

    def __init__(self) -> None:
        self.clips: list[Pcm] = []

    async def transcribe(self, pcm: Pcm) -> Segment:
        self.clips.append(pcm)
        start = int(np.flatnonzero(np.abs(pcm) > 0.01)[0]) / 16_000
        return Segment.of_words((Word("hello", start, start + 0.3),), final=True)


def utterances(speak, count: int) -> tuple[int, Pcm]:
    rate, pcm = speak(GOOD_MORNING)
    return rate, np.concatenate([np.concatenate([pcm, silence(rate, 0.5)])] * count)


async def test_a_backend_that_falls_behind_makes_the_stream_unavailable(speak, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="hub.speech")
    rate, pcm = utterances(speak, 6)
    stream = UtteranceStream("test", rate, StuckTranscriber())
    await stream.feed(pcm)
    await stream.flush()  # returns although the backend never answers
    await stream.close()
    assert (stream.status.health, stream.status.reason) == (
        Health.UNAVAILABLE,
        "too slow: 4 utterances waiting",
    )
    assert [r.getMessage() for r in caplog.records] == [
        "speech test unavailable: too slow: 4 utterances waiting"
    ]


async def test_a_bug_in_a_backend_fails_the_stream_not_the_caller(speak) -> None:
    rate, pcm = utterances(speak, 1)
    stream = UtteranceStream("test", rate, BrokenTranscriber())
    await stream.feed(pcm)
    await stream.flush()
    assert (stream.status.health, stream.status.reason) == (
        Health.FAILED,
        "unexpected ZeroDivisionError: division by zero",
    )
    await stream.feed(pcm)
    await stream.close()
    assert stream.status.health is Health.FAILED


async def test_segment_times_count_from_the_start_of_the_stream(speak) -> None:
    rate, pcm = utterances(speak, 2)
    transcriber = CountingTranscriber()
    stream = UtteranceStream("test", rate, transcriber)
    await stream.feed(pcm)
    await stream.flush()
    await stream.close()
    segments = [s async for s in stream.segments()]
    assert len(segments) == 2
    clip = len(pcm) / 2 / rate
    assert segments[0].words[0].start < 0.2
    assert clip < segments[1].words[0].start < clip + 0.3


async def test_each_utterance_reaches_the_engine_after_a_short_silence(speak) -> None:
    """Whisper hears a first word right only with a little silence before it."""
    rate, pcm = utterances(speak, 1)
    transcriber = CountingTranscriber()
    stream = UtteranceStream("test", rate, transcriber)
    await stream.feed(pcm)
    await stream.flush()
    await stream.close()
    (clip,) = transcriber.clips
    assert not clip[: int(0.2 * 16_000)].any() and clip[int(0.2 * 16_000) :].any()
