"""The embedded engine: faster-whisper (CTranslate2) on a model folder the operator installs,
run in worker threads (CTranslate2 releases the GIL while it computes) so the event loop never
waits for it. Installed with the `speech` extra; nothing is downloaded at run time."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hub.errors import first_line
from hub.speech.audio import WHISPER_RATE
from hub.speech.port import Pcm, Segment, SpeechStream, Word, failed
from hub.speech.utterance_stream import UtteranceStream


class WhisperEngine:
    """Owns one loaded Whisper model and the threads that run it; `load` starts it (blocking,
    ~0.5 s for tiny), `close` stops the threads. Several streams share one engine."""

    def __init__(self, model: Any, executor: ThreadPoolExecutor, language: str) -> None:
        self._model = model
        self._executor = executor
        self.language = language

    @classmethod
    def load(cls, model_dir: Path, *, language: str, workers: int = 1) -> WhisperEngine:
        """Load the CTranslate2 model in `model_dir`; a missing or broken model raises
        RuntimeError with one line naming the setting."""
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise RuntimeError(
                "speech.backend = embedded needs faster-whisper: pip install 'visio-hub[speech]'"
            ) from None
        if not (model_dir / "model.bin").is_file():
            raise RuntimeError(f"speech.embedded_model_dir: {model_dir} holds no model.bin")
        try:
            # A folder is loaded as it is: faster-whisper downloads only for a model *name*.
            model = WhisperModel(
                str(model_dir),
                device="cpu",
                compute_type="int8",
                cpu_threads=1,
                num_workers=workers,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise RuntimeError(
                f"speech.embedded_model_dir: cannot load {model_dir}: {first_line(exc)}"
            ) from None
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="whisper")
        return cls(model, executor, language)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def transcribe(self, pcm: Pcm) -> Segment:
        """A final segment for a 16 kHz clip, timed from its start."""
        loop = asyncio.get_running_loop()
        try:
            words = await loop.run_in_executor(self._executor, self._decode, pcm, self.language)
        except RuntimeError as exc:  # executor shut down, or CTranslate2 refused the input
            raise failed(f"embedded engine: {exc}") from None
        return Segment.of_words(words, final=True)

    def _decode(self, pcm: Pcm, language: str) -> tuple[Word, ...]:
        if len(pcm) < WHISPER_RATE // 10:
            return ()
        segments, _info = self._model.transcribe(
            pcm,
            language=language,
            beam_size=1,
            condition_on_previous_text=False,
            word_timestamps=True,
            vad_filter=False,
        )
        words: list[Word] = []
        for segment in segments:
            for word in segment.words or ():
                text = word.word.strip()
                if text:
                    words.append(Word(text, float(word.start), float(word.end)))
        return tuple(words)


class EmbeddedBackend:
    """Streams whose utterances the shared engine decodes in its threads; the engine is
    loaded before (a missing model stops the start with one line) and closed by its owner."""

    name = "embedded"

    def __init__(self, engine: WhisperEngine) -> None:
        self._engine = engine

    async def open_stream(self, sample_rate: int) -> SpeechStream:
        return UtteranceStream(self.name, sample_rate, self._engine)
