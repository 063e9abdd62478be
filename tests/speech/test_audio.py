"""Resampling, framing, WAV and the utterance cutter (the audio side of every backend)."""

from __future__ import annotations

import numpy as np
import pytest

from hub.speech.audio import Framer, Resampler, read_wav, resample, wav_bytes
from hub.speech.utterances import UtteranceCutter
from tests.speech.conftest import GOOD_MORNING, chunks, silence


def test_resampler_keeps_the_duration_across_chunks_and_utterances() -> None:
    tone = np.sin(np.arange(22_050) * 2 * np.pi * 440 / 22_050).astype(np.float32)
    resampler = Resampler(22_050, 24_000)
    for _ in range(2):  # a drained filter starts again for the next utterance
        out = np.concatenate(
            [resampler.convert(c) for c in chunks(tone, 441)] + [resampler.drain()]
        )
        assert len(out) == 24_000
        assert out.dtype == np.float32
        assert abs(float(np.abs(out).max()) - 1.0) < 0.05


def test_same_rate_passes_samples_through() -> None:
    pcm = np.linspace(-1, 1, 100, dtype=np.float32)
    assert np.array_equal(resample(pcm, 16_000, 16_000), pcm)
    with pytest.raises(ValueError, match="sample rates must be positive, got 0 and 16000"):
        Resampler(0, 16_000)


def test_framer_cuts_exact_frames_and_pads_the_rest() -> None:
    framer = Framer(4)
    frames = framer.push(np.arange(6, dtype=np.float32)) + framer.push(
        np.arange(3, dtype=np.float32)
    )
    assert [f.tolist() for f in frames] == [[0, 1, 2, 3], [4, 5, 0, 1]]
    padded = framer.pad()
    assert padded is not None and padded.tolist() == [2, 0, 0, 0]
    assert framer.pad() is None


def test_wav_round_trip_and_refusal() -> None:
    pcm = np.array([0.0, 0.5, -0.5, 1.0], dtype=np.float32)
    rate, back = read_wav(wav_bytes(pcm, 16_000))
    assert rate == 16_000
    assert np.allclose(back, pcm, atol=1e-4)
    with pytest.raises(ValueError, match="not a WAV file"):
        read_wav(b"RIFF....WAVEjunk")


def test_utterances_end_after_300_ms_of_silence(speak) -> None:
    rate, pcm = speak(GOOD_MORNING)
    speech = resample(pcm, rate, 16_000)
    loud = np.nonzero(np.abs(speech) > 1e-3)[0]
    speech = speech[loud[0] : loud[-1] + 1]  # espeak ends its clips with 0.4 s of silence
    cutter = UtteranceCutter()
    gap = silence(16_000, 0.25)  # shorter than 300 ms: the same utterance goes on
    done = cutter.push(np.concatenate([speech, gap, speech, silence(16_000, 0.5), speech]))
    assert len(done) == 1
    assert done[0].start < 0.3
    assert len(done[0].pcm) / 16_000 > 2 * len(speech) / 16_000 * 0.8
    last = cutter.end()
    assert last is not None and last.start > done[0].start + len(done[0].pcm) / 16_000
    assert cutter.end() is None
