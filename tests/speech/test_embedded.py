"""The embedded engine (faster-whisper, tiny.en) behind the port, on espeak-ng speech."""

from __future__ import annotations

import asyncio

from hub.speech.embedded import EmbeddedBackend, WhisperEngine
from hub.speech.port import Health, Segment
from tests.speech.conftest import GOOD_MORNING, MUTE, chunks, silence, words_of


async def test_embedded_engine_recognises_two_utterances_cut_by_silence(
    whisper_engine: WhisperEngine, speak
) -> None:
    rate, first = speak(GOOD_MORNING)
    _, second = speak(MUTE)
    backend = EmbeddedBackend(whisper_engine)
    stream = await backend.open_stream(rate)
    # 20 ms chunks as they come from an Opus decoder; 0.6 s of silence ends the first one.
    for chunk in chunks(first, rate // 50) + chunks(silence(rate, 0.6), rate // 50):
        await stream.feed(chunk)
    for chunk in chunks(second, rate // 50):
        await stream.feed(chunk)
    await stream.flush()
    await stream.close()
    segments: list[Segment] = [segment async for segment in stream.segments()]

    assert stream.status.health is Health.CLOSED
    assert [words_of(s.text) for s in segments] == [words_of(GOOD_MORNING), words_of(MUTE)]
    assert all(s.final for s in segments)
    first_end = len(first) / rate
    assert segments[0].words[0].start < 0.5
    assert segments[0].end <= first_end + 0.3
    assert segments[1].start >= first_end + 0.3  # times count from the stream's start
    assert [w.text.lower().strip(".,") for w in segments[1].words] == words_of(MUTE)


async def test_feeding_a_closed_stream_does_nothing(whisper_engine: WhisperEngine, speak) -> None:
    rate, pcm = speak(GOOD_MORNING)
    stream = await EmbeddedBackend(whisper_engine).open_stream(rate)
    await stream.close()
    await stream.feed(pcm)
    await stream.flush()
    assert [s async for s in stream.segments()] == []
    await asyncio.sleep(0)
