"""One request to an OpenAI-compatible service the operator configured (transcription,
summary): the bearer key, the time limits, no redirect followed (only the configured host is
contacted), and every way it can fail as one `Unanswered` with a one-line reason. What the
answer means is each caller's (hub/speech/openai_wire.py, hub/speech/summary.py)."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from hub.speech.openai_wire import error_message


class Unanswered(Exception):
    """No answer came: the message says why, on one line."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # at most `limit` + 1 bytes when a limit was given

    @property
    def failure(self) -> str:
        """`HTTP 503: model overloaded` (the OpenAI convention's error.message, if any)."""
        message = error_message(self.body)
        return f"HTTP {self.status}" + (f": {message}" if message else "")


def bearer_headers(api_key: str) -> dict[str, str]:
    """JSON asked for; `Authorization: Bearer <key>` when there is a key."""
    found = {"Accept": "application/json"}
    if api_key:
        found["Authorization"] = f"Bearer {api_key}"
    return found


async def post(
    session: aiohttp.ClientSession, url: str, *, headers: dict[str, str],
    limits: aiohttp.ClientTimeout, waited: float, limit: int | None = None,
    json: object = None, data: aiohttp.FormData | None = None,
) -> Answer:  # fmt: skip
    """POST `json` or `data`; `waited` is the limit the reason names when time runs out."""
    try:
        async with session.post(
            url, json=json, data=data, headers=headers, timeout=limits, allow_redirects=False
        ) as response:
            body = await (response.read() if limit is None else response.content.read(limit + 1))
            return Answer(response.status, body)
    except TimeoutError:
        raise Unanswered(f"no answer in {waited:g} s") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise Unanswered(f"cannot reach the server: {exc}") from None
    except ValueError:  # a request aiohttp refuses to build (the URL is checked at start)
        raise Unanswered("the request could not be made from the configured URL") from None
