"""The configured speech backend, opened and closed as one resource (fit for an aiohttp
cleanup context): the HTTP session the service clients share, or the loaded engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from hub.config_sections import SpeechConfig
from hub.errors import StartupError
from hub.speech.embedded import EmbeddedBackend, WhisperEngine
from hub.speech.kyutai import KyutaiBackend
from hub.speech.openai_compat import OpenAiBackend
from hub.speech.port import SpeechBackend


@asynccontextmanager
async def open_speech_backend(config: SpeechConfig) -> AsyncIterator[SpeechBackend | None]:
    """None when speech is off. An embedded model that cannot be loaded stops the start with
    one line (StartupError); a service that is down only makes its streams unavailable."""
    if config.backend == "off":
        yield None
        return
    if config.backend == "embedded":
        assert config.embedded_model_dir is not None  # the section refuses it otherwise
        try:
            engine = await asyncio.to_thread(
                WhisperEngine.load,
                config.embedded_model_dir,
                language=config.language,
                workers=config.embedded_workers,
            )
        except RuntimeError as exc:
            raise StartupError(str(exc)) from None
        try:
            yield EmbeddedBackend(engine)
        finally:
            engine.close()
        return
    async with aiohttp.ClientSession() as session:
        if config.backend == "kyutai":
            yield KyutaiBackend(
                session,
                config.kyutai_url,
                config.kyutai_api_key.get_secret_value(),
                connect_timeout=config.connect_timeout,
                answer_timeout=config.answer_timeout,
            )
        else:
            yield OpenAiBackend(
                session,
                config.openai_url,
                model=config.openai_model,
                language=config.language,
                api_key=config.openai_api_key.get_secret_value(),
                connect_timeout=config.connect_timeout,
                answer_timeout=config.answer_timeout,
            )
