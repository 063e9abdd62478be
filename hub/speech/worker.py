"""The speech worker: a process of its own (`python -m hub.speech.worker`, started by
hub/speech/worker_client.py) so that decoding and recognition never take the hub's event
loop or its cores' time slices from the packet path.

It reads the hub's messages on stdin (hub/speech/worker_wire.py): first the speech settings,
then Opus payloads per speaker. Each speaker gets a decoder (PyAV's opus, 48 kHz), a
resampler to 16 kHz mono, and a stream of the configured backend (hub/speech/backends.py),
whose voice activity detection cuts utterances. Text and trouble go back on stdout. Logs go
to stderr, which the hub passes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable

import av
import numpy as np

from hub.config_sections import SpeechConfig
from hub.errors import StartupError
from hub.pipes.frames import read_frame
from hub.speech.backends import open_speech_backend
from hub.speech.port import Health, Pcm, SpeechBackend, SpeechStream
from hub.speech.worker_wire import (
    MAX_FRAME,
    Hush,
    Message,
    Packets,
    Said,
    Setup,
    Started,
    Trouble,
    WireError,
    decode,
    encode,
)
from hub.tasks import Tasks

log = logging.getLogger("hub.speech.worker")

RATE = 16_000
OPUS_CLOCK = 48_000
FRAME_TICKS = 960  # 20 ms at 48 kHz: what browsers put in one packet
# The SFU sends nothing while a person is silent: a gap in RTP time becomes silence (so the
# voice detector sees the utterance end), at most this much of it.
MAX_GAP = 0.6
# No packet from a speaker for this long: what they said so far is flushed (made final).
IDLE = 0.5
# A speaker whose stream became unavailable gets a new one after this long, if still talking.
RETRY = 10.0
# A speaker silent this long (left the meeting, muted, or gone quiet) has its backend stream
# closed: a Kyutai connection or a decoder each holds resources; it opens again on speech.
CLOSE_AFTER = 60.0

Send = Callable[[Message], Awaitable[None]]  # a message to the hub (SendMessage, in the process)


class Speaker:
    """One person's audio: decoder, resampler, backend stream and the task that reads the
    stream's text. Made on their first packet; `close` ends it."""

    def __init__(self, key: str, stream: SpeechStream, send: Send) -> None:
        self.key = key
        self.stream = stream
        self._send = send
        self._decoder = av.CodecContext.create("opus", "r")
        self._decoder.sample_rate = OPUS_CLOCK
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        self._last_timestamp: int | None = None
        self.heard_at = time.monotonic()
        self.unflushed = False
        self.flushing: asyncio.Task[None] | None = None
        self.reader = asyncio.get_running_loop().create_task(self._read())

    def decode(self, timestamp: int, payload: bytes) -> Pcm:
        """PCM for one packet, with silence first for the RTP time skipped since the last."""
        parts: list[Pcm] = []
        if self._last_timestamp is not None:
            skipped = ((timestamp - self._last_timestamp) & 0xFFFFFFFF) - FRAME_TICKS
            if 0 < skipped < 1 << 31:  # a later packet (a wrapped-back one is not)
                seconds = min(skipped / OPUS_CLOCK, MAX_GAP)
                parts.append(np.zeros(int(seconds * RATE), dtype=np.float32))
        self._last_timestamp = timestamp
        try:
            frames = self._decoder.decode(av.Packet(payload))
        except av.FFmpegError:  # a damaged packet costs its 20 ms, nothing more
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        for frame in frames:
            for out in self._resampler.resample(frame):
                parts.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    async def _read(self) -> None:
        async for segment in self.stream.segments():
            if segment.text:
                await self._send(
                    Said(self.key, segment.text, segment.final, segment.start, segment.end)
                )
        status = self.stream.status
        if status.health in (Health.UNAVAILABLE, Health.FAILED):
            await self._send(Trouble(self.key, status.health.value, status.reason))

    async def flush(self) -> None:
        self.unflushed = False
        await self.stream.flush()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.stream.flush()
        await self.stream.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


class SendMessage:
    """Writes messages to stdout, one frame each, in order."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._lock = asyncio.Lock()

    async def __call__(self, message: Message) -> None:
        async with self._lock:
            self._writer.write(encode(message))
            await self._writer.drain()


class Worker:
    """All speakers of all meetings of one hub process, on one backend. A speaker silent for
    `close_after` seconds has their stream closed (tests shorten it)."""

    def __init__(
        self, backend: SpeechBackend, send: Send, *, close_after: float = CLOSE_AFTER
    ) -> None:
        self._backend = backend
        self._send = send
        self._close_after = close_after
        self._speakers: dict[str, Speaker] = {}
        self._resting: dict[str, float] = {}  # key -> when a new stream may be tried
        self._closing = Tasks()  # streams of speakers long silent

    async def packets(self, message: Packets) -> None:
        pcm: dict[str, list[Pcm]] = {}
        for key, timestamp, payload in message.packets:
            speaker = await self._speaker(key)
            if speaker is not None:
                pcm.setdefault(key, []).append(speaker.decode(timestamp, payload))
                speaker.heard_at = time.monotonic()
                speaker.unflushed = True
        for key, parts in pcm.items():
            await self._speakers[key].stream.feed(np.concatenate(parts))

    async def _speaker(self, key: str) -> Speaker | None:
        speaker = self._speakers.get(key)
        if speaker is not None and not speaker.stream.status.usable:
            self._resting[key] = time.monotonic() + RETRY
            del self._speakers[key]
            await speaker.close()
            speaker = None
        if speaker is None:
            if time.monotonic() < self._resting.get(key, 0.0):
                return None
            stream = await self._backend.open_stream(RATE)
            speaker = self._speakers[key] = Speaker(key, stream, self._send)
        return speaker

    async def hush(self, key: str) -> None:
        speaker = self._speakers.pop(key, None)
        if speaker is not None:
            await speaker.close()

    def flush_idle(self) -> None:
        """Flush the speakers who stopped talking (in tasks: a flush waits for the backend);
        close those silent for `close_after` seconds."""
        now = time.monotonic()
        for key, speaker in list(self._speakers.items()):
            busy = speaker.flushing is not None and not speaker.flushing.done()
            if speaker.unflushed and now - speaker.heard_at > IDLE and not busy:
                speaker.flushing = asyncio.get_running_loop().create_task(speaker.flush())
            elif not speaker.unflushed and not busy and now - speaker.heard_at > self._close_after:
                del self._speakers[key]
                self._closing.spawn(speaker.close())

    async def close(self) -> None:
        for key in list(self._speakers):
            await self.hush(key)


async def _read_message(reader: asyncio.StreamReader) -> Message | None:
    """The hub's next message; None once it closed our stdin (time to go)."""
    body = await read_frame(reader, MAX_FRAME)
    return None if body is None else decode(body)


async def serve(reader: asyncio.StreamReader, send: Send) -> None:
    """Read the settings, open the backend, then handle messages until stdin closes."""
    first = await _read_message(reader)
    if not isinstance(first, Setup):
        raise WireError("the first message must be the settings")
    config = SpeechConfig.model_validate(first.speech)
    try:
        async with open_speech_backend(config) as backend:
            if backend is None:
                await send(Started(False, "speech.backend is off"))
                return
            await send(Started(True))
            worker = Worker(backend, send)
            ticker = asyncio.get_running_loop().create_task(_tick(worker))
            try:
                while (message := await _read_message(reader)) is not None:
                    if isinstance(message, Packets):
                        await worker.packets(message)
                    elif isinstance(message, Hush):
                        await worker.hush(message.key)
            finally:
                ticker.cancel()
                await worker.close()
    except StartupError as exc:
        await send(Started(False, str(exc)))


async def _tick(worker: Worker) -> None:
    while True:
        await asyncio.sleep(0.1)
        worker.flush_idle()


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**22)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, sys.stdout.buffer
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    await serve(reader, SendMessage(writer))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="speech worker: %(levelname)s %(message)s")
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # a line per utterance
    try:
        asyncio.run(main())
    except WireError as error:
        log.error("stopped: %s", error)
        sys.exit(2)
    except KeyboardInterrupt:
        pass
