"""One playable file from a recording's tracks, made offline (`hub recordings compose ID`):
each camera and screen decoded and laid out (a grid, or the loudest speaker large with the
others in a strip below), every microphone decoded and mixed, encoded to VP8 + Opus in WebM.

Costly (about a CPU second per second of meeting at 1280x720): run it as a background job,
never on a hub that is forwarding a meeting at the same time.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import numpy as np

from hub.recording.manifest import Manifest, TrackEntry

Layout = Literal["grid", "speaker"]
FPS = 15
RATE = 48_000
AUDIO_FRAME = 960  # 20 ms
TILE = (320, 240)
LEVEL_WINDOW = 0.5  # seconds over which the speaker layout compares loudness


def _video_frames(path: Path, start: float) -> Iterator[tuple[float, Any]]:
    """(meeting time, RGB array) of each decoded picture; a damaged one is skipped."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.FFmpegError:
                continue
            for frame in frames:
                if frame.pts is None or frame.time_base is None:
                    continue
                yield start + float(frame.pts * frame.time_base), frame


def _audio(path: Path) -> Any:
    """The track decoded to 48 kHz mono float samples."""
    parts = []
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    with av.open(str(path)) as container:
        for packet in container.demux(container.streams.audio[0]):
            try:
                frames = packet.decode()
            except av.FFmpegError:
                continue
            for frame in frames:
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray().reshape(-1))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


class _Picture:
    """The latest picture of one video track at a given time, scaled to its tile."""

    def __init__(self, frames: Iterator[tuple[float, Any]]) -> None:
        self._frames = frames
        self._next: tuple[float, Any] | None = next(frames, None)
        self.current: Any = None
        self._scaled: dict[tuple[int, int], Any] = {}

    def at(self, t: float) -> Any:
        while self._next is not None and self._next[0] <= t:
            self.current = self._next[1]
            self._scaled.clear()
            self._next = next(self._frames, None)
        return self.current

    def scaled(self, size: tuple[int, int]) -> Any:
        if size not in self._scaled:
            frame = self.current.reformat(width=size[0], height=size[1], format="rgb24")
            self._scaled[size] = frame.to_ndarray()
        return self._scaled[size]


def _tiles(count: int, layout: Layout, speaker: int) -> list[tuple[int, int, int, int]]:
    """(x, y, width, height) of each video's tile on the canvas."""
    if layout == "speaker" and count > 1:
        width, height = TILE[0] * 2, TILE[1] * 2
        small = (width // (count - 1) // 2 * 2, height // 4 // 2 * 2)
        tiles, others = [], 0
        for index in range(count):
            if index == speaker:
                tiles.append((0, 0, width, height))
            else:
                tiles.append((others * small[0], height, small[0], small[1]))
                others += 1
        return tiles
    columns = max(1, math.ceil(math.sqrt(count)))
    return [
        ((i % columns) * TILE[0], (i // columns) * TILE[1], TILE[0], TILE[1]) for i in range(count)
    ]


def _canvas_size(count: int, layout: Layout) -> tuple[int, int]:
    if layout == "speaker" and count > 1:
        return TILE[0] * 2, TILE[1] * 2 + TILE[1] // 2
    columns = max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / columns))
    return TILE[0] * columns, TILE[1] * rows


def compose(manifest: Manifest, folder: Path, out: Path, layout: Layout = "grid") -> float:
    """Write the composite to `out` (WebM); returns its duration in seconds. The tracks are
    the manifest's files, in `folder`."""
    videos = _feeds([t for t in manifest.tracks if t.kind == "video"])
    mics = [t for t in manifest.tracks if t.kind == "audio"]
    duration = max((t.start + t.duration for t in manifest.tracks), default=0.0)
    if duration <= 0:
        raise ValueError("the recording has no track with any frame")
    mix = np.zeros(int(duration * RATE) + AUDIO_FRAME, dtype=np.float32)
    loudness: dict[str, Any] = {}
    for track in mics:
        samples = _audio(folder / track.file)
        begin = int(track.start * RATE)
        samples = samples[: len(mix) - begin]
        mix[begin : begin + len(samples)] += samples
        window = int(LEVEL_WINDOW * RATE)
        energy = np.zeros(len(mix) // window + 1)
        squares = np.square(samples)
        for index in range(0, len(squares), window):
            energy[(begin + index) // window] = float(squares[index : index + window].mean())
        earlier = loudness.get(track.participant_id)  # a microphone in segments: add them
        loudness[track.participant_id] = energy if earlier is None else earlier + energy
    np.clip(mix, -1.0, 1.0, out=mix)
    size = _canvas_size(len(videos), layout)
    with av.open(str(out), "w", format="webm") as container:
        video_out: Any = container.add_stream("libvpx", rate=FPS)
        video_out.width, video_out.height = size
        video_out.pix_fmt = "yuv420p"
        video_out.options = {"deadline": "realtime", "cpu-used": "8", "b": "1000k"}
        audio_out: Any = container.add_stream("libopus", rate=RATE, layout="mono")
        _write_video(container, video_out, folder, videos, loudness, (size, duration, layout))
        _write_audio(container, audio_out, mix)
    return duration


def _feeds(videos: list[TrackEntry]) -> list[list[TrackEntry]]:
    """Each camera or screen as one tile: the segments a publisher's new connection made
    (hub/sfu/recording_tap.py) are one feed, in time order."""
    feeds: dict[tuple[str, str], list[TrackEntry]] = {}
    for track in sorted(videos, key=lambda t: t.start):
        feeds.setdefault((track.participant_id, track.source), []).append(track)
    return list(feeds.values())


def _speaker(videos: list[list[TrackEntry]], loudness: dict[str, Any], t: float) -> int:
    levels = []
    for track, *_ in videos:
        energy = loudness.get(track.participant_id)
        index = int(t / LEVEL_WINDOW)
        levels.append(energy[index] if energy is not None and index < len(energy) else 0.0)
    return int(np.argmax(levels)) if levels else 0


def _write_video(
    container: Any, stream: Any, folder: Path, videos: list[list[TrackEntry]],
    loudness: dict[str, Any], shape: tuple[tuple[int, int], float, Layout],
) -> None:  # fmt: skip
    size, duration, layout = shape
    pictures = [
        _Picture(
            itertools.chain.from_iterable(_video_frames(folder / t.file, t.start) for t in feed)
        )
        for feed in videos
    ]
    for index in range(int(duration * FPS)):
        t = index / FPS
        canvas = np.zeros((size[1], size[0], 3), dtype=np.uint8)
        tiles = _tiles(len(videos), layout, _speaker(videos, loudness, t))
        for picture, (x, y, width, height) in zip(pictures, tiles, strict=True):
            if picture.at(t) is not None:
                canvas[y : y + height, x : x + width] = picture.scaled((width, height))
        frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
        frame.pts, frame.time_base = index, Fraction(1, FPS)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def _write_audio(container: Any, stream: Any, mix: Any) -> None:
    for index in range(0, len(mix) - AUDIO_FRAME + 1, AUDIO_FRAME):
        chunk = mix[index : index + AUDIO_FRAME].reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, index, Fraction(1, RATE)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
