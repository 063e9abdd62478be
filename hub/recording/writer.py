"""One recorded track written to a file as it arrives, with PyAV's muxer (nothing decoded or
encoded): VP8 frames into WebM, Opus packets into Ogg (a streaming format: a recorder that
dies mid-way leaves a file that still plays to where it stopped).

Timing is the track's RTP clock (90 kHz video, 48 kHz Opus) from its first written frame;
the muxer rescales to the container's own time base.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from hub.recording.depacketize import RtpClock, Vp8Assembler, keyframe_size, opus_head

log = logging.getLogger(__name__)


class TrackWriter:
    """Owns one output file: opened on the first frame it can write (a keyframe for video),
    closed by `close`. A write that fails (disk full, a codec that changed) stops this track,
    logged once; the others go on."""

    def __init__(self, path: Path, mime: str, clock_rate: int) -> None:
        if mime not in ("video/vp8", "audio/opus"):
            raise ValueError(f"cannot record {mime} (VP8 and Opus only)")
        self.path = path
        self.mime = mime
        self.clock_rate = clock_rate
        self._time_base = Fraction(1, clock_rate)
        self._container: av.container.OutputContainer | None = None
        self._stream: av.stream.Stream | None = None
        self._assembler = Vp8Assembler() if mime == "video/vp8" else None
        self._clock = RtpClock()
        self.frames = 0
        self.width = 0
        self.height = 0
        self.first_arrival: float | None = None  # when its first written frame came
        self.last_ticks = 0
        self.error: str | None = None

    @property
    def duration(self) -> float:
        return self.last_ticks / self.clock_rate if self.frames else 0.0

    def packet(
        self, seq: int, timestamp: int, marker: bool, payload: bytes, arrival: float
    ) -> None:
        if self.error is not None:
            return
        try:
            if self._assembler is None:
                self._write(timestamp, payload, arrival)
                return
            frame = self._assembler.push(seq, timestamp, marker, payload, arrival)
            if frame is not None:
                self._write(frame.timestamp, frame.data, frame.arrival)
        except ValueError:
            pass  # a damaged packet: its frame is dropped (Vp8Assembler)
        except (OSError, av.FFmpegError) as exc:
            self.error = str(exc)[:200]
            log.error("recording of %s stopped: %s", self.path.name, self.error)

    def _write(self, timestamp: int, data: bytes, arrival: float) -> None:
        if self._container is None:
            self._open(data)
        assert self._container is not None and self._stream is not None
        ticks = self._clock.ticks(timestamp)
        if self.frames and ticks <= self.last_ticks:
            return  # a duplicate or a reordered old frame: a muxer wants rising times
        packet = av.Packet(data)
        packet.stream = self._stream
        packet.pts = packet.dts = ticks
        packet.time_base = self._time_base
        if self._assembler is not None and not data[0] & 0x01:
            packet.is_keyframe = True
        self._container.mux(packet)
        if self.first_arrival is None:
            self.first_arrival = arrival
        self.last_ticks = ticks
        self.frames += 1

    def _open(self, first: bytes) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))  # 0600 first
        if self._assembler is not None:
            size = keyframe_size(first)
            if size is None:  # the assembler starts on a keyframe; never trust it blindly
                raise ValueError("the first frame is no VP8 keyframe")
            self.width, self.height = size
            container = av.open(str(self.path), "w", format="webm")
            stream: av.stream.Stream = container.add_stream("libvpx", rate=30)
            video: Any = stream.codec_context
            video.width, video.height = size
            video.pix_fmt = "yuv420p"
        else:
            container = av.open(str(self.path), "w", format="ogg")
            stream = container.add_stream("libopus", rate=48_000, layout="stereo")
            # RTP carries no OpusHead: without ours the muxer would ask an encoder for one.
            stream.codec_context.extradata = opus_head(2)
        stream.time_base = self._time_base
        self._container, self._stream = container, stream

    def close(self) -> None:
        container, self._container = self._container, None
        if container is None:
            return
        try:
            container.close()
        except (OSError, av.FFmpegError) as exc:
            self.error = self.error or str(exc)[:200]
            log.error("closing %s failed: %s", self.path.name, self.error)
