"""The speakers' voices: English phrases made once by espeak-ng, and a microphone track that
says them on cue, noting when each phrase's speech starts and ends.

The track is what aiortc's sender reads, so the hub gets real Opus from aiortc's encoder with
the audio-level extension aiortc computes from each frame, as a browser sends its microphone:
20 ms frames all the time, digital silence between phrases.
"""

from __future__ import annotations

import asyncio
import fractions
import shutil
import subprocess
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from aiortc import MediaStreamTrack
from av import AudioFrame

from bench.sfu.system import BenchError
from hub.speech.audio import read_wav, resample

RATE = 48_000
FRAME = 960  # 20 ms
# |sample| above this (about -40 dBFS) is speech: espeak-ng pads its output with near silence.
SPEECH_FLOOR = 0.01

# The first seven are the phrases Whisper tiny.en got right in both espeak voices
# (docs/speech-and-recording-findings.md); the others were not chosen for it.
PHRASES = (
    "good morning everyone",
    "please mute your microphone",
    "thank you and welcome",
    "can you hear me",
    "let us start the presentation",
    "i will share my screen",
    "see you next week",
    "today we talk about the budget",
    "who is taking notes",
    "i agree with this proposal",
    "let us take a short break",
    "the next meeting is on friday",
)


def speak(phrase: str) -> np.ndarray:
    """`phrase` in espeak-ng's en-us voice at 150 words a minute, 48 kHz int16, trimmed to
    its speech (first to last sample above SPEECH_FLOOR)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise BenchError("espeak-ng is not installed (apt-get install espeak-ng)")
    wav = subprocess.run(
        [espeak, "-v", "en-us", "-s", "150", "--stdout", phrase], check=True, capture_output=True
    ).stdout
    rate, pcm = read_wav(wav)
    pcm = resample(pcm, rate, RATE)
    loud = np.flatnonzero(np.abs(pcm) > SPEECH_FLOOR)
    if not len(loud):
        raise BenchError(f"espeak-ng said nothing for {phrase!r}")
    speech = pcm[loud[0] : loud[-1] + 1]
    return (np.clip(speech, -1, 1) * 32767).astype(np.int16)


@dataclass
class Spoken:
    """One phrase as it went to the encoder: `start` and `end` (time.perf_counter) are when
    its first and last speech samples did; `end` stays 0.0 until it has."""

    speaker: int
    phrase: str
    start: float = 0.0
    end: float = 0.0

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class _Cue:
    spoken: Spoken | None  # None: silence
    samples: np.ndarray
    played: int = 0


class Voice(MediaStreamTrack):
    """A microphone: silence, and the phrases given to `say` in turn, paced at real time
    (late by more than 100 ms, e.g. a stalled loop: it moves on, never bursts)."""

    kind = "audio"

    def __init__(self, speaker: int) -> None:
        super().__init__()
        self.speaker = speaker
        self._cues: deque[_Cue] = deque()
        self._sent = 0  # samples handed out
        self._start: float | None = None

    def say(self, phrase: str, speech: np.ndarray, after: float) -> Spoken:
        """Queue `after` seconds of silence, then `speech`; its record fills in as it plays."""
        spoken = Spoken(self.speaker, phrase)
        self._cues.append(_Cue(None, np.zeros(int(after * RATE), np.int16)))
        self._cues.append(_Cue(spoken, speech))
        return spoken

    @property
    def quiet(self) -> bool:
        """Nothing left to say."""
        return not self._cues

    async def recv(self) -> AudioFrame:
        now = time.perf_counter()
        if self._start is None or now - (self._start + self._sent / RATE) > 0.1:
            self._start = now - self._sent / RATE
        wait = self._start + self._sent / RATE - now
        if wait > 0:
            await asyncio.sleep(wait)
        now = time.perf_counter()
        samples = self._fill(now)
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate, frame.pts = RATE, self._sent
        frame.time_base = fractions.Fraction(1, RATE)
        self._sent += FRAME
        return frame

    def _fill(self, now: float) -> np.ndarray:
        """The next FRAME samples from the cues (silence when none), noting when speech
        starts and ends: `now` is when this frame's first sample goes."""
        out = np.zeros(FRAME, np.int16)
        filled = 0
        while filled < FRAME and self._cues:
            cue = self._cues[0]
            take = min(FRAME - filled, len(cue.samples) - cue.played)
            out[filled : filled + take] = cue.samples[cue.played : cue.played + take]
            if cue.spoken is not None and cue.played == 0:
                cue.spoken.start = now + filled / RATE
            cue.played += take
            filled += take
            if cue.played >= len(cue.samples):
                if cue.spoken is not None:
                    cue.spoken.end = now + filled / RATE
                self._cues.popleft()
        return out
