"""The end of a phrase reaches the engine without waiting: the tap's hangover carries enough
silence for the worker's voice detector to end the utterance, so the worker's idle flush
(0.5 s later) is not what ends it. Real espeak-ng speech, Opus and audio levels as aiortc
sends them, the real tap, the worker's decoding and the utterance stream (bench/speech/cut.py);
no engine."""

from __future__ import annotations

import shutil

import pytest

from bench.speech.cut import cut
from bench.speech.voice import PHRASES, speak
from hub.sfu.audio_tap import HANGOVER
from tests.conftest import skip_or_fail


@pytest.mark.parametrize("phrase", PHRASES[:4])
async def test_the_voice_detector_ends_the_utterance_before_the_tap_stops(phrase: str) -> None:
    if shutil.which("espeak-ng") is None:
        skip_or_fail("espeak-ng is not installed (scripts/test.sh installs it)")
    heard = await cut(phrase, speak(phrase), HANGOVER)
    assert heard.utterances == 1
    assert heard.vad_cut_s is not None, f"only the idle flush would end {phrase!r}"
    assert heard.vad_cut_s <= heard.tap_stops_s
    assert heard.vad_cut_s < 0.5
