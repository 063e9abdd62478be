"""Client of an OpenAI-compatible transcription endpoint: each utterance the VAD cuts goes
as one WAV in one multipart request; the answer's words come back as a final segment."""

from __future__ import annotations

import aiohttp

from hub.speech import openai_http as http
from hub.speech import openai_wire as wire
from hub.speech.audio import WHISPER_RATE, wav_bytes
from hub.speech.port import Pcm, Segment, SpeechFailure, SpeechStream, failed, unavailable
from hub.speech.utterance_stream import UtteranceStream


class OpenAiBackend:
    """Sends utterances on the shared HTTP session (owned by the caller); one request at a
    time per stream, so a speaker's segments come back in order."""

    name = "openai"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        model: str,
        language: str,
        api_key: str = "",
        connect_timeout: float = 5.0,
        answer_timeout: float = 10.0,
    ) -> None:
        self._session = session
        self._url = base_url.rstrip("/") + wire.PATH
        self._fields = wire.form_fields(model=model, language=language)
        self._headers = http.bearer_headers(api_key)
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout, sock_read=answer_timeout
        )
        self._answer_timeout = answer_timeout

    async def open_stream(self, sample_rate: int) -> SpeechStream:
        return UtteranceStream(self.name, sample_rate, self)

    async def transcribe(self, pcm: Pcm) -> Segment:
        """One utterance (16 kHz) to a final segment; SpeechFailure says why not."""
        form = aiohttp.FormData()
        for name, value in self._fields:
            form.add_field(name, value)
        form.add_field(
            "file", wav_bytes(pcm, WHISPER_RATE), filename="utterance.wav", content_type="audio/wav"
        )
        try:
            answer = await http.post(
                self._session, self._url, data=form, headers=self._headers,
                limits=self._timeout, waited=self._answer_timeout,
            )  # fmt: skip
        except http.Unanswered as exc:
            raise unavailable(str(exc)) from None
        if answer.status != 200:
            raise _http_failure(answer.status, answer.failure)
        body = answer.body
        try:
            return wire.parse_verbose_json(body)
        except ValueError as exc:
            raise failed(f"unreadable answer: {exc}") from None


def _http_failure(status: int, detail: str) -> SpeechFailure:
    if status in (401, 403):
        return failed(f"the server refused the API key ({detail})")
    if status == 429 or status >= 500:
        return unavailable(detail)  # overloaded or down: another time may work
    return failed(detail)
