"""Client of Kyutai's streaming speech-to-text server (moshi-server, /api/asr-streaming):
one WebSocket per speaker, 80 ms Audio frames at 24 kHz, Word/EndWord paired into timed
words, a Marker (with silence behind it) to end an utterance.

It speaks to the batched server (`type = "BatchedAsr"`, as in Kyutai's stt-1b-en_fr
configuration), which says Ready first; the single-session server never does, and is seen as
unavailable. That server closes a connection that sends nothing for 20 s: feed silence, or
close the stream, while a speaker is quiet."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator

import aiohttp
import numpy as np

from hub.speech import kyutai_wire as wire
from hub.speech.audio import Framer, Resampler
from hub.speech.port import (
    Pcm,
    Segment,
    SegmentOutbox,
    SpeechFailure,
    SpeechStream,
    StreamStatus,
    Word,
    failed,
    unavailable,
)

logger = logging.getLogger(__name__)

_SILENCE = np.zeros(wire.FRAME, dtype=np.float32)


class KyutaiBackend:
    """Opens one WebSocket per stream on the shared HTTP session (owned by the caller)."""

    name = "kyutai"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        api_key: str,
        *,
        connect_timeout: float = 5.0,
        answer_timeout: float = 10.0,
    ) -> None:
        self._session = session
        self._url = url
        self._api_key = api_key
        self._connect_timeout = connect_timeout
        self._answer_timeout = answer_timeout

    async def open_stream(self, sample_rate: int) -> SpeechStream:
        """Connects and waits for Ready (at most connect + answer timeouts)."""
        stream = KyutaiStream(sample_rate, self._answer_timeout)
        await stream.start(self._session, self._url, self._api_key, self._connect_timeout)
        return stream


class KyutaiStream:
    """Owns one WebSocket and the task reading it; `start` opens both, `close` ends both."""

    def __init__(self, sample_rate: int, answer_timeout: float) -> None:
        self._outbox = SegmentOutbox(KyutaiBackend.name)
        self._resampler = Resampler(sample_rate, wire.SAMPLE_RATE)
        self._framer = Framer(wire.FRAME)
        self._answer_timeout = answer_timeout
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        self._markers = itertools.count(1)
        self._flushed: dict[int, asyncio.Event] = {}
        self._words: list[Word] = []
        self._word_start: tuple[str, float] | None = None
        self._waiting_since: float | None = None  # audio sent and no answer since then
        self._closing = False

    @property
    def status(self) -> StreamStatus:
        return self._outbox.status

    def segments(self) -> AsyncIterator[Segment]:
        return self._outbox.segments()

    async def start(
        self, session: aiohttp.ClientSession, url: str, api_key: str, connect_timeout: float
    ) -> None:
        try:
            self._ws = await self._connect(session, url, api_key, connect_timeout)
            await self._await_ready()
        except SpeechFailure as failure:
            self._outbox.fail(failure)
        except Exception as exc:  # a bug must not reach the meeting: this stream fails
            self._outbox.fail(failed(f"unexpected {type(exc).__name__}: {exc}"))
        if not self.status.usable:
            await self._drop_socket()
            return
        self._outbox.live()
        self._reader = asyncio.create_task(self._read(), name="speech-kyutai")

    async def feed(self, pcm: Pcm) -> None:
        if self.status.usable:
            for frame in self._framer.push(self._resampler.convert(pcm)):
                await self._send(bytes(wire.Audio(frame)))

    async def flush(self) -> None:
        """Send what is left (padded to a frame), a Marker, then silence in real time until the
        Marker comes back: the server answers it only after the model's delay (0.48 s)."""
        if not self.status.usable:
            return
        rest = self._framer.push(self._resampler.drain())
        last = self._framer.pad()
        for frame in [*rest, *([] if last is None else [last])]:
            await self._send(bytes(wire.Audio(frame)))
        marker = next(self._markers)
        done = self._flushed[marker] = asyncio.Event()
        await self._send(bytes(wire.Marker(marker)))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._answer_timeout
        silence = bytes(wire.Audio(_SILENCE))
        while self.status.usable and not done.is_set():
            if loop.time() > deadline:
                self._fail(
                    unavailable(
                        f"no answer to the end of an utterance in {self._answer_timeout:g} s"
                    )
                )
                break
            await self._send(silence)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), wire.STEP_SECONDS)
        self._flushed.pop(marker, None)

    async def close(self) -> None:
        self._closing = True
        # First: a flush running meanwhile stops sending, instead of reporting the closed
        # socket as a broken connection.
        self._outbox.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._drop_socket()

    async def _connect(
        self, session: aiohttp.ClientSession, url: str, api_key: str, connect_timeout: float
    ) -> aiohttp.ClientWebSocketResponse:
        try:
            async with asyncio.timeout(connect_timeout):
                return await session.ws_connect(
                    url, headers={wire.API_KEY_HEADER: api_key}, autoping=True
                )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status in (401, 403):
                raise failed(f"the server refused the API key (HTTP {exc.status})") from None
            raise unavailable(
                f"the server answered HTTP {exc.status} instead of a WebSocket"
            ) from None
        except TimeoutError:
            raise unavailable(f"no connection within {connect_timeout:g} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise unavailable(f"cannot connect: {exc}") from None

    async def _await_ready(self) -> None:
        """Kyutai's batched server says Ready first, or Error ("no free channels") and closes."""
        message = await self._next_message(waiting_for="Ready")
        if isinstance(message, wire.Error):
            raise unavailable(f"the server is not ready: {message.message}")
        if not isinstance(message, wire.Ready):
            raise failed(f"the server's first message is {type(message).__name__}, not Ready")

    async def _next_message(self, *, waiting_for: str | None) -> wire.ServerMessage:
        """The next message. With `waiting_for`, it must come within the answer timeout;
        without, silence is fine unless audio we sent waits for an answer that long."""
        assert self._ws is not None
        loop = asyncio.get_running_loop()
        while True:
            timeout = self._answer_timeout
            if waiting_for is None and self._waiting_since is not None:
                timeout = max(0.01, self._waiting_since + self._answer_timeout - loop.time())
            try:
                frame = await self._ws.receive(timeout=timeout)
            except TimeoutError:
                if waiting_for is not None:
                    raise unavailable(f"no {waiting_for} in {self._answer_timeout:g} s") from None
                since = self._waiting_since
                if since is not None and loop.time() - since >= self._answer_timeout:
                    raise unavailable(
                        f"no answer to our audio in {self._answer_timeout:g} s"
                    ) from None
                continue
            if frame.type is aiohttp.WSMsgType.BINARY:
                try:
                    message = wire.parse_server_message(frame.data)
                except ValueError as exc:
                    raise failed(f"unreadable message from the server: {exc}") from None
                if message is not None:
                    return message
            elif frame.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
            ):
                raise failed(
                    f"the server closed the connection mid-stream (code {self._ws.close_code})"
                )
            elif frame.type is aiohttp.WSMsgType.ERROR:
                raise failed(f"the connection broke: {self._ws.exception()}")
            # text frames: ignored, as the server ignores ours

    async def _read(self) -> None:
        try:
            while True:
                message = await self._next_message(waiting_for=None)
                self._handle(message)
        except SpeechFailure as failure:
            if not self._closing:
                self._fail(failure)
        except Exception as exc:  # a bug must not reach the meeting: it ends this stream
            self._fail(failed(f"unexpected {type(exc).__name__}: {exc}"))

    def _handle(self, message: wire.ServerMessage) -> None:
        self._waiting_since = None
        if isinstance(message, wire.WordStart):
            if self._word_start is not None:  # no EndWord came: it ends where this one starts
                self._add_word(message.start_time)
            self._word_start = (message.text.strip(), message.start_time)
        elif isinstance(message, wire.EndWord):
            if self._word_start is not None:
                self._add_word(message.stop_time)
        elif isinstance(message, wire.Marker):
            if self._word_start is not None:
                self._add_word(self._word_start[1])
            if self._words:
                self._outbox.put(Segment.of_words(tuple(self._words), final=True))
                self._words = []
            event = self._flushed.get(message.id)
            if event is not None:
                event.set()
        elif isinstance(message, wire.Error):
            raise failed(f"the server reported an error: {message.message}")
        # Ready again, Step: nothing to do (Step only proves the server is keeping up)

    def _add_word(self, end: float) -> None:
        assert self._word_start is not None
        text, start = self._word_start
        self._word_start = None
        if text:
            self._words.append(Word(text, start, max(start, end)))
            self._outbox.put(Segment.of_words(tuple(self._words), final=False))

    async def _send(self, data: bytes) -> None:
        if self._ws is None or not self.status.usable:
            return
        try:
            async with self._send_lock:
                await self._ws.send_bytes(data)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            self._fail(failed(f"the connection broke while sending: {exc or type(exc).__name__}"))
            return
        if self._waiting_since is None:
            self._waiting_since = asyncio.get_running_loop().time()

    def _fail(self, failure: SpeechFailure) -> None:
        self._outbox.fail(failure)
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()

    async def _drop_socket(self) -> None:
        if self._ws is not None and not self._ws.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 1.0)
