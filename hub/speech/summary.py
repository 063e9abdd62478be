"""A transcript's summary from an OpenAI-compatible chat service the operator configured
([transcript_summary]): one `POST {url}/chat/completions` with the prompt as the system message
and the Markdown transcript as the user's, the answer's `choices[0].message.content` kept.

`chat_request` and `chat_answer` are the wire format, pure; `ChatSummariser` sends it. Any
trouble (no connection, a slow or refusing service, an answer that is not one) is one
`SummaryFailed` with a one-line reason, never another exception.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from hub import bounded_json
from hub.config_summary import SummaryConfig
from hub.speech import openai_http as http

PATH = "/chat/completions"
MAX_ANSWER = 1 << 20  # bytes: a summary is a page, never a megabyte
MAX_SUMMARY = 20_000  # characters kept


class SummaryFailed(Exception):
    """The service gave no summary; the message says why, on one line."""


def chat_request(model: str, prompt: str, transcript: str) -> dict[str, Any]:
    """The request body: the model, the prompt as system message, the transcript as user's."""
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": prompt},
            {"role": "user", "content": transcript},
        ],
        "stream": False,
    }


def chat_answer(body: bytes) -> str:
    """`choices[0].message.content` of a chat completion, stripped; ValueError if the body
    is not one or the content is empty."""
    try:
        answer: Any = bounded_json.loads(body)  # from outside: too deep is refused, not a crash
    except ValueError:
        raise ValueError("the answer is not JSON") from None
    try:
        content = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ValueError("the answer has no choices[0].message.content") from None
    if not isinstance(content, str) or not content.strip():
        raise ValueError("choices[0].message.content is empty or not text")
    return content.strip()[:MAX_SUMMARY]


class ChatSummariser:
    """Sends transcripts to the configured service on the caller's HTTP session."""

    def __init__(self, config: SummaryConfig, session: aiohttp.ClientSession) -> None:
        self._config = config
        self._session = session
        self._url = config.url + PATH
        self._headers = http.bearer_headers(config.api_key.get_secret_value())

    async def summarise(self, transcript: str) -> str:
        config = self._config
        body = chat_request(config.model, config.prompt, transcript)
        try:
            answer = await http.post(
                self._session, self._url, json=body, headers=self._headers,
                limits=aiohttp.ClientTimeout(total=config.timeout), waited=config.timeout,
                limit=MAX_ANSWER,
            )  # fmt: skip
        except http.Unanswered as exc:
            raise SummaryFailed(str(exc)) from None
        if answer.status != 200:
            raise SummaryFailed(answer.failure)
        data = answer.body
        if len(data) > MAX_ANSWER:
            raise SummaryFailed(f"the answer is longer than {MAX_ANSWER} bytes")
        try:
            return chat_answer(data)
        except ValueError as exc:
            raise SummaryFailed(f"unreadable answer: {exc}") from None
