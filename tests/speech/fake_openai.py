"""A fake OpenAI-compatible transcription endpoint (POST /v1/audio/transcriptions): the
multipart form read the way the real API reads it (the SDK's fields, `file` with a filename),
its rules (word times only with verbose_json, bearer key), its error shape, and a
`verbose_json` answer shaped like OpenAI's whose words come from the embedded engine."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from hub.speech.audio import WHISPER_RATE, read_wav, resample
from hub.speech.port import Pcm, Segment

PATH = "/v1/audio/transcriptions"
FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")

Transcribe = Callable[[Pcm], Awaitable[Segment]]


@dataclass
class Received:
    """One request as the server saw it."""

    headers: dict[str, str]
    fields: list[tuple[str, str]]
    filename: str | None
    content_type: str | None
    audio_seconds: float


def error(status: int, message: str, kind: str, code: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(body, status=status)


@dataclass
class FakeOpenAiServer:
    transcribe: Transcribe
    api_key: str = ""
    # None, or "500", "garbage", "slow": how the next answers go wrong.
    fault: str | None = None
    requests: list[Received] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=25 * 1024 * 1024)  # OpenAI's file limit
        app.router.add_post(PATH, self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.api_key:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given, f"Bearer {self.api_key}"):
                return error(
                    401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
                )
        fields: list[tuple[str, str]] = []
        audio: bytes | None = None
        filename = content_type = None
        async for part in await request.multipart():
            if part.name == "file":
                filename, content_type = part.filename, part.headers.get("Content-Type")
                audio = await part.read()
            else:
                fields.append((part.name or "", (await part.read()).decode()))
        values = dict(fields)
        granularities = [value for name, value in fields if name == "timestamp_granularities[]"]
        response_format = values.get("response_format", "json")
        if audio is None or not filename:
            return error(400, "Missing required parameter: 'file'.", "invalid_request_error")
        if "model" not in values:
            return error(400, "Missing required parameter: 'model'.", "invalid_request_error")
        if response_format not in FORMATS:
            return error(
                400, f"Invalid response_format {response_format!r}.", "invalid_request_error"
            )
        if granularities and response_format != "verbose_json":
            return error(
                400,
                "timestamp_granularities requires response_format=verbose_json",
                "invalid_request_error",
            )
        try:
            rate, pcm = read_wav(audio)
        except ValueError:
            return error(400, "Invalid file format.", "invalid_request_error")
        self.requests.append(
            Received(dict(request.headers), fields, filename, content_type, len(pcm) / rate)
        )
        if self.fault == "500":
            return error(
                500, "The server had an error while processing your request.", "server_error"
            )
        if self.fault == "garbage":
            return web.Response(
                body=b"<html>502 Bad Gateway</html>", content_type="application/json"
            )
        if self.fault == "slow":
            await asyncio.sleep(30)
        segment = await self.transcribe(resample(pcm, rate, WHISPER_RATE))
        duration = len(pcm) / rate
        answer: dict[str, object] = {
            "task": "transcribe",
            "language": "english",
            "duration": duration,
            "text": segment.text,
            "segments": [
                {
                    "id": 0,
                    "seek": 0,
                    "start": segment.start,
                    "end": segment.end,
                    "text": " " + segment.text,
                    "tokens": [50364],
                    "temperature": 0.0,
                    "avg_logprob": -0.2,
                    "compression_ratio": 1.0,
                    "no_speech_prob": 0.01,
                }
            ],
            "usage": {"type": "duration", "seconds": round(duration + 0.5)},
        }
        if "word" in granularities:
            answer["words"] = [
                {"word": w.text, "start": w.start, "end": w.end} for w in segment.words
            ]
        return web.json_response(answer)
