"""The Kyutai client against a fake moshi-server speaking the real protocol byte for byte
(tests/speech/fake_moshi.py), whose words come from the embedded engine (Whisper tiny.en)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
import numpy as np
import pytest

from hub.speech.embedded import WhisperEngine
from hub.speech.kyutai import KyutaiBackend
from hub.speech.port import Health, Segment, SpeechStream
from hub.speech.worker import Worker
from hub.speech.worker_wire import Message, Packets, Said
from tests.speech.conftest import GOOD_MORNING, HEAR_ME, chunks, serve, silence, words_of
from tests.speech.fake_moshi import PATH, FakeMoshiServer
from tests.speech.test_worker import opus_packets

KEYS = {
    "public_token": "normal",
    "garbage_token": "garbage",
    "close_token": "close",
    "error_token": "error",
    "mute_token": "mute",
    "no_ready_token": "no-ready",
}


@pytest.fixture
async def moshi(whisper_engine: WhisperEngine) -> AsyncIterator[tuple[FakeMoshiServer, str]]:
    fake = FakeMoshiServer(whisper_engine.transcribe, KEYS)
    async with serve(fake.app()) as base:
        yield fake, base.replace("http://", "ws://") + PATH


def backend(
    http: aiohttp.ClientSession, url: str, key: str = "public_token", answer_timeout: float = 10.0
) -> KyutaiBackend:
    # The fake decodes an utterance when its Marker arrives (1-5 s on busy shared cores).
    return KyutaiBackend(http, url, key, connect_timeout=2.0, answer_timeout=answer_timeout)


async def say(stream: SpeechStream, rate: int, pcm, *, flush: bool = True) -> None:
    for chunk in chunks(pcm, rate // 50):  # 20 ms, as an Opus decoder gives them
        await stream.feed(chunk)
    if flush:
        await stream.flush()


async def collected(stream: SpeechStream) -> list[Segment]:
    await stream.close()
    return [segment async for segment in stream.segments()]


async def test_kyutai_client_gets_timed_words_from_fake_moshi_server_driven_by_embedded_engine(
    moshi, http, speak
) -> None:
    fake, url = moshi
    rate, first = speak(HEAR_ME)
    _, second = speak(GOOD_MORNING)
    stream = await backend(http, url).open_stream(rate)
    assert stream.status.health is Health.LIVE

    await say(stream, rate, first)  # each utterance ended by a Marker
    await say(stream, rate, second)
    segments = await collected(stream)

    assert stream.status.health is Health.CLOSED
    final = [s for s in segments if s.final]
    assert [words_of(s.text) for s in final] == [words_of(HEAR_ME), words_of(GOOD_MORNING)]
    # Words grow one at a time in partial segments before each final one.
    assert [len(s.words) for s in segments] == [1, 2, 3, 4, 4, 1, 2, 3, 3]
    times = [t for s in final for word in s.words for t in (word.start, word.end)]
    assert times == sorted(times)
    assert times[0] >= 0
    # Times run on from the first utterance (its clip, padded and followed by silence).
    assert final[1].start > len(first) / rate
    assert fake.received_markers == [1, 2]
    assert fake.audio_message_sizes == {1920}
    # Audio went in 80 ms frames at 24 kHz: both clips, then silence until each Marker.
    assert fake.audio_frames >= (len(first) + len(second)) / rate / 0.08


async def test_bad_api_key_is_a_clear_failure_from_fake_moshi_server(moshi, http, caplog) -> None:
    _, url = moshi
    caplog.set_level(logging.WARNING, logger="hub.speech")
    stream = await backend(http, url, key="wrong").open_stream(48_000)

    assert stream.status.health is Health.FAILED
    assert stream.status.reason == "the server refused the API key (HTTP 401)"
    assert [r.getMessage() for r in caplog.records] == [
        "speech kyutai failed: the server refused the API key (HTTP 401)"
    ]
    await stream.feed(silence(48_000, 0.1))  # no exception, nothing sent
    await stream.flush()
    assert await collected(stream) == []


async def test_no_free_channels_from_fake_moshi_server_means_unavailable(
    whisper_engine: WhisperEngine, http
) -> None:
    fake = FakeMoshiServer(whisper_engine.transcribe, KEYS, slots=0)
    async with serve(fake.app()) as base:
        url = base.replace("http://", "ws://") + PATH
        stream = await backend(http, url).open_stream(16_000)
    assert stream.status.health is Health.UNAVAILABLE
    assert stream.status.reason == "the server is not ready: no free channels"


@pytest.mark.parametrize(
    ("key", "health", "reason"),
    [
        ("close_token", Health.FAILED, "the server closed the connection mid-stream (code 1000)"),
        (
            "garbage_token",
            Health.FAILED,
            "unreadable message from the server: not msgpack (FormatError)",
        ),
        ("error_token", Health.FAILED, "the server reported an error: model crashed"),
        ("mute_token", Health.UNAVAILABLE, "no answer to our audio in 1 s"),
    ],
)
async def test_fake_moshi_server_failing_mid_stream_gives_a_clear_state_and_no_exception(
    moshi, http, speak, caplog, key: str, health: Health, reason: str
) -> None:
    _, url = moshi
    caplog.set_level(logging.WARNING, logger="hub.speech")
    rate, pcm = speak(GOOD_MORNING)
    stream = await backend(http, url, key=key, answer_timeout=1.0).open_stream(rate)
    assert stream.status.health is Health.LIVE

    await say(stream, rate, pcm)
    await say(stream, rate, pcm)  # after the failure: ignored
    segments = await collected(stream)

    assert (stream.status.health, stream.status.reason) == (health, reason)
    assert segments == []
    assert len(caplog.records) == 1


async def test_fake_moshi_server_never_saying_ready_means_unavailable(moshi, http) -> None:
    _, url = moshi
    stream = await backend(http, url, "no_ready_token", answer_timeout=1.0).open_stream(16_000)
    assert (stream.status.health, stream.status.reason) == (
        Health.UNAVAILABLE,
        "no Ready in 1 s",
    )
    await stream.close()


async def test_no_server_listening_means_unavailable(http) -> None:
    stream = await backend(http, "ws://127.0.0.1:9/api/asr-streaming").open_stream(16_000)
    assert stream.status.health is Health.UNAVAILABLE
    assert stream.status.reason.startswith("cannot connect: ")


async def test_one_broken_stream_leaves_the_others_alone_on_fake_moshi_server_with_embedded_engine(
    moshi, http, speak
) -> None:
    _, url = moshi
    rate, pcm = speak(GOOD_MORNING)
    good = await backend(http, url).open_stream(rate)
    broken = await backend(http, url, key="close_token").open_stream(rate)

    await asyncio.gather(say(good, rate, pcm), say(broken, rate, pcm))

    assert broken.status.health is Health.FAILED
    assert good.status.health is Health.LIVE
    final = [s for s in await collected(good) if s.final]
    assert [words_of(s.text) for s in final] == [words_of(GOOD_MORNING)]


async def test_a_silent_speakers_stream_is_closed_after_the_silence_timeout(
    moshi, http, speak
) -> None:
    """The worker (hub/speech/worker.py, in this process) gives Bruno's packets to a Kyutai
    stream: one WebSocket held on the fake server. Once he has been silent `close_after`
    seconds (60 in production, 1.5 here) the stream is closed, and the server's slot is free
    again; not before."""
    fake, url = moshi
    said: list[Message] = []
    flushed_at: list[float] = []  # when his words came back final (the flush is done)

    async def send(message: Message) -> None:
        said.append(message)
        if isinstance(message, Said) and message.final:
            flushed_at.append(time.monotonic())

    close_after = 1.5
    worker = Worker(backend(http, url), send, close_after=close_after)
    free = fake.free_slots
    rate, pcm = speak(GOOD_MORNING)
    speech = opus_packets(np.concatenate([pcm, silence(rate, 0.5)]), rate)

    async def tick() -> None:  # as the worker's own ticker does
        while True:
            await asyncio.sleep(0.1)
            worker.flush_idle()

    ticker = asyncio.get_running_loop().create_task(tick())
    try:
        await worker.packets(Packets(tuple(("m1/bruno", ts, data) for ts, data in speech)))
        last_packet = time.monotonic()
        async with asyncio.timeout(10):
            while fake.free_slots == free:  # the stream's WebSocket is open
                await asyncio.sleep(0.05)
        async with asyncio.timeout(close_after + 10):
            while fake.free_slots != free:  # until the worker closes it
                await asyncio.sleep(0.05)
        closed = time.monotonic()
        # Not before the timeout; nor long after it, or after the flush it waits for (the
        # fake decodes on the Marker: seconds on busy shared cores).
        assert closed - last_packet >= close_after, closed - last_packet
        assert flushed_at, said
        assert closed - max(last_packet + close_after, flushed_at[0]) < 1.5
    finally:
        ticker.cancel()
        await worker.close()
