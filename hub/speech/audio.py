"""Audio helpers for the backends: resampling to the rate each one needs (Kyutai 24 kHz,
Whisper 16 kHz), fixed-size framing, and a WAV body built in memory."""

from __future__ import annotations

import io
import wave

import av
import numpy as np

from hub.speech.port import Pcm

WHISPER_RATE = 16_000


class Resampler:
    """Converts one stream's chunks from `from_rate` to `to_rate`, keeping the filter state
    between chunks (so chunk edges add no clicks); PyAV's swresample does the work."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        if from_rate <= 0 or to_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {from_rate} and {to_rate}")
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._resampler = self._new()

    def _new(self) -> av.AudioResampler | None:
        if self.from_rate == self.to_rate:
            return None
        return av.AudioResampler(format="flt", layout="mono", rate=self.to_rate)

    def convert(self, pcm: Pcm) -> Pcm:
        pcm = np.asarray(pcm, dtype=np.float32).reshape(-1)
        if self._resampler is None or not len(pcm):
            return pcm
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = self.from_rate
        return self._collect(self._resampler.resample(frame))

    def drain(self) -> Pcm:
        """The samples still inside the filter (at the end of an utterance); the next chunk
        starts a fresh filter, as a drained swresample takes no more input."""
        if self._resampler is None:
            return np.zeros(0, dtype=np.float32)
        tail = self._collect(self._resampler.resample(None))
        self._resampler = self._new()
        return tail

    @staticmethod
    def _collect(frames: list[av.AudioFrame]) -> Pcm:
        if not frames:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames]).astype(
            np.float32, copy=False
        )


def resample(pcm: Pcm, from_rate: int, to_rate: int) -> Pcm:
    """A whole clip at once."""
    resampler = Resampler(from_rate, to_rate)
    return np.concatenate([resampler.convert(pcm), resampler.drain()])


class Framer:
    """Cuts a stream of samples into frames of exactly `size` samples."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pending = np.zeros(0, dtype=np.float32)

    def push(self, pcm: Pcm) -> list[Pcm]:
        data = np.concatenate([self._pending, pcm]) if len(self._pending) else pcm
        count = len(data) // self.size
        frames = [data[i * self.size : (i + 1) * self.size] for i in range(count)]
        self._pending = data[count * self.size :]
        return frames

    def pad(self) -> Pcm | None:
        """The samples left over, completed with silence to one frame; None if there are none."""
        if not len(self._pending):
            return None
        frame = np.zeros(self.size, dtype=np.float32)
        frame[: len(self._pending)] = self._pending
        self._pending = np.zeros(0, dtype=np.float32)
        return frame


def to_int16(pcm: Pcm) -> bytes:
    return (np.clip(pcm, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def wav_bytes(pcm: Pcm, sample_rate: int) -> bytes:
    """A 16-bit mono WAV file in memory (what every transcription API accepts)."""
    body = io.BytesIO()
    with wave.open(body, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(to_int16(pcm))
    return body.getvalue()


def read_wav(data: bytes) -> tuple[int, Pcm]:
    """(sample rate, mono float samples) of a 16-bit PCM WAV; ValueError if it is not one."""
    try:
        with wave.open(io.BytesIO(data), "rb") as clip:
            if clip.getsampwidth() != 2:
                raise ValueError("WAV samples are not 16-bit")
            rate, channels = clip.getframerate(), clip.getnchannels()
            raw = clip.readframes(clip.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a WAV file: {exc}") from None
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768
    return rate, samples.reshape(-1, channels).mean(axis=1).astype(np.float32)
