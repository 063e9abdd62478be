"""The OpenAI-compatible client against a fake /v1/audio/transcriptions speaking the real API
(multipart form, verbose_json, error shape; tests/speech/fake_openai.py), whose words come
from the embedded engine (Whisper tiny.en)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from hub.speech import openai_wire as wire
from hub.speech.embedded import WhisperEngine
from hub.speech.openai_compat import OpenAiBackend
from hub.speech.port import Health, Segment, SpeechStream, Word
from hub.speech.utterance_stream import LEAD_IN
from tests.speech.conftest import MUTE, chunks, serve, words_of
from tests.speech.fake_openai import FakeOpenAiServer

KEY = "sk-test-key"


@pytest.fixture
async def openai(whisper_engine: WhisperEngine) -> AsyncIterator[tuple[FakeOpenAiServer, str]]:
    fake = FakeOpenAiServer(whisper_engine.transcribe, api_key=KEY)
    async with serve(fake.app()) as base:
        yield fake, base + "/v1"


def backend(
    http: aiohttp.ClientSession, url: str, key: str = KEY, answer_timeout: float = 10.0
) -> OpenAiBackend:
    return OpenAiBackend(
        http, url, model="whisper-1", language="en", api_key=key, answer_timeout=answer_timeout
    )


async def say_and_close(stream: SpeechStream, rate: int, pcm) -> list[Segment]:
    for chunk in chunks(pcm, rate // 50):
        await stream.feed(chunk)
    await stream.flush()
    await stream.close()
    return [segment async for segment in stream.segments()]


async def test_openai_client_gets_words_from_fake_openai_endpoint_driven_by_embedded_engine(
    openai, http, speak
) -> None:
    fake, url = openai
    rate, pcm = speak(MUTE)
    stream = await backend(http, url).open_stream(rate)

    segments = await say_and_close(stream, rate, pcm)

    assert stream.status.health is Health.CLOSED
    assert [words_of(s.text) for s in segments] == [words_of(MUTE)]
    assert segments[0].final
    assert [words_of(w.text) for w in segments[0].words] == [[w] for w in words_of(MUTE)]
    assert 0 <= segments[0].start < segments[0].end <= len(pcm) / rate + 0.1
    (request,) = fake.requests
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Accept"] == "application/json"
    assert request.fields == wire.form_fields(model="whisper-1", language="en")
    assert (request.filename, request.content_type) == ("utterance.wav", "audio/wav")
    # The utterance the VAD cut: the speech, without the silence espeak adds at the end.
    # The utterance, after the short silence every utterance gets before it.
    assert 0.8 * len(pcm) / rate < request.audio_seconds <= len(pcm) / rate + LEAD_IN + 0.1


@pytest.mark.parametrize(
    ("fault", "key", "health", "reason"),
    [
        (
            None,
            "wrong",
            Health.FAILED,
            "the server refused the API key (HTTP 401: Incorrect API key provided.)",
        ),
        (
            "500",
            KEY,
            Health.UNAVAILABLE,
            "HTTP 500: The server had an error while processing your request.",
        ),
        (
            "garbage",
            KEY,
            Health.FAILED,
            "unreadable answer: not JSON (Expecting value: line 1 column 1 (char 0))",
        ),
        ("slow", KEY, Health.UNAVAILABLE, "no answer in 1 s"),
    ],
)
async def test_fake_openai_endpoint_failing_gives_a_clear_state_and_no_exception(
    openai, http, speak, caplog, fault: str | None, key: str, health: Health, reason: str
) -> None:
    fake, url = openai
    fake.fault = fault
    caplog.set_level(logging.WARNING, logger="hub.speech")
    rate, pcm = speak(MUTE)
    stream = await backend(http, url, key=key, answer_timeout=1.0).open_stream(rate)

    segments = await say_and_close(stream, rate, pcm)

    assert segments == []
    assert (stream.status.health, stream.status.reason) == (health, reason)
    assert [r.getMessage() for r in caplog.records] == [f"speech openai {health.value}: {reason}"]


async def test_without_a_key_no_authorization_header_is_sent(
    whisper_engine: WhisperEngine, http, speak
) -> None:
    fake = FakeOpenAiServer(whisper_engine.transcribe, fault="500")
    rate, pcm = speak(MUTE)
    async with serve(fake.app()) as base:
        stream = await backend(http, base + "/v1", key="").open_stream(rate)
        await say_and_close(stream, rate, pcm)
    (request,) = fake.requests
    assert "Authorization" not in request.headers


async def test_no_server_listening_means_unavailable(http, speak) -> None:
    rate, pcm = speak(MUTE)
    stream = await backend(http, "http://127.0.0.1:9/v1").open_stream(rate)
    assert await say_and_close(stream, rate, pcm) == []
    assert stream.status.health is Health.UNAVAILABLE
    assert stream.status.reason.startswith("cannot reach the server: ")


# The verbose_json answer captured from the official SDK's model (findings, point 5).
VERBOSE = {
    "task": "transcribe",
    "language": "english",
    "duration": 3.18,
    "text": "Hello everybody, the meeting starts now.",
    "segments": [
        {
            "id": 0,
            "seek": 0,
            "start": 0.0,
            "end": 3.18,
            "text": " Hello everybody, the meeting starts now.",
            "tokens": [50364, 2425],
            "temperature": 0.0,
            "avg_logprob": -0.21,
            "compression_ratio": 0.9,
            "no_speech_prob": 0.01,
        }
    ],
    "words": [
        {"word": "Hello", "start": 0.0, "end": 0.42},
        {"word": "everybody", "start": 0.42, "end": 1.1},
    ],
    "usage": {"type": "duration", "seconds": 4},
}


def test_verbose_json_answer_parses_into_timed_words() -> None:
    segment = wire.parse_verbose_json(json.dumps(VERBOSE).encode())
    assert segment == Segment(
        text="Hello everybody, the meeting starts now.",
        start=0.0,
        end=1.1,
        words=(Word("Hello", 0.0, 0.42), Word("everybody", 0.42, 1.1)),
        final=True,
    )


def test_verbose_json_without_words_keeps_the_segment_times() -> None:
    answer = {key: value for key, value in VERBOSE.items() if key != "words"}
    segment = wire.parse_verbose_json(json.dumps(answer).encode())
    assert (segment.start, segment.end, segment.words) == (0.0, 3.18, ())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[1]", "not a JSON object"),
        (b'{"segments": []}', 'no "text" string'),
        (b'{"text": "a", "words": {}}', '"words" is not a list'),
        (
            b'{"text": "a", "words": [{"word": "a", "start": "0"}]}',
            "words[0].start is not a number",
        ),
        (b'{"text": "a", "segments": [3]}', "segments[0] is not an object"),
    ],
)
def test_bad_answers_say_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(ValueError) as error:
        wire.parse_verbose_json(body)
    assert str(error.value) == message


def test_error_message_is_read_from_the_openai_error_shape() -> None:
    body = (
        b'{"error": {"message": "Rate\\nlimit  reached", "type": "x", "param": null, "code": null}}'
    )
    assert wire.error_message(body) == "Rate limit reached"
    assert wire.error_message(b"<html>") == ""
