"""Cuts one speaker's 16 kHz audio into utterances with WebRTC's voice activity detector:
300 ms of silence ends one, and none grows past `max_seconds` (Whisper reads 30 s at most)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import webrtcvad

from hub.speech.audio import WHISPER_RATE, Framer, to_int16
from hub.speech.port import Pcm

FRAME_SECONDS = 0.03
FRAME = int(WHISPER_RATE * FRAME_SECONDS)  # 480 samples: webrtcvad takes 10, 20 or 30 ms
SILENCE_FRAMES = 10  # 300 ms


@dataclass(frozen=True, slots=True)
class Utterance:
    """Speech from `start` (seconds since the stream began), at 16 kHz."""

    start: float
    pcm: Pcm


class UtteranceCutter:
    """Feeds frames to the VAD and hands back each utterance once it has ended."""

    def __init__(self, *, aggressiveness: int = 2, max_seconds: float = 15.0) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)
        self._framer = Framer(FRAME)
        self._max_frames = int(max_seconds / FRAME_SECONDS)
        self._frames: list[Pcm] = []
        self._start = 0.0
        self._silence = 0
        self._position = 0  # frames seen

    def push(self, pcm: Pcm) -> list[Utterance]:
        done: list[Utterance] = []
        for frame in self._framer.push(pcm):
            speech = self._vad.is_speech(to_int16(frame), WHISPER_RATE)
            if speech and not self._frames:
                self._start = self._position * FRAME_SECONDS
            if speech or self._frames:
                self._frames.append(frame)
                self._silence = 0 if speech else self._silence + 1
            self._position += 1
            if self._frames and (
                self._silence >= SILENCE_FRAMES or len(self._frames) >= self._max_frames
            ):
                done.append(self._take())
        return done

    def end(self) -> Utterance | None:
        """The utterance in progress, cut now (end of utterance asked by the caller)."""
        return self._take() if self._frames else None

    def _take(self) -> Utterance:
        utterance = Utterance(self._start, np.concatenate(self._frames))
        self._frames, self._silence = [], 0
        return utterance
