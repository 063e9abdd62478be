"""A small OpenAI-compatible chat-completions server for the summary tests: it speaks the exact
wire format of `POST /v1/chat/completions` (request body `model`, `messages` of `{role,
content}`; answer `choices[0].message.content`, with the id, object, created, model, usage the
official API sends), checks the request, and can answer garbage, fail or be slow on demand."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from aiohttp.test_utils import TestServer

Mode = Literal["ok", "garbage", "error", "slow", "redirect"]


@dataclass
class ChatCompletionsServer:
    """Answers `summary` to each well-formed request; `requests` keeps each body received."""

    summary: str = "- Budget : validé.\n- Action : Bruno coupe son micro."
    mode: Mode = "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    elsewhere: int = 0  # requests that followed a redirect (a client must not)
    server: TestServer | None = None

    @property
    def url(self) -> str:
        """The base URL an operator would configure (the client adds /chat/completions)."""
        assert self.server is not None
        return str(self.server.make_url("/v1"))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_post("/elsewhere", self._elsewhere)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    async def _elsewhere(self, request: web.Request) -> web.Response:
        self.elsewhere += 1
        return web.json_response({"choices": [{"message": {"content": "followed"}}]})

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.authorizations.append(request.headers.get("Authorization"))
        messages = body.get("messages")
        if not (
            isinstance(body.get("model"), str)
            and isinstance(messages, list)
            and all(
                isinstance(m, dict) and m.get("role") in ("system", "user", "assistant")
                and isinstance(m.get("content"), str) for m in messages
            )
        ):  # fmt: skip
            error = {"message": "invalid request", "type": "invalid_request_error"}
            return web.json_response({"error": error}, status=400)
        if self.mode == "garbage":
            return web.Response(text="<html>gateway</html>", content_type="text/html")
        if self.mode == "error":
            error = {"message": "model overloaded", "type": "server_error"}
            return web.json_response({"error": error}, status=503)
        if self.mode == "redirect":
            raise web.HTTPTemporaryRedirect("/elsewhere")
        if self.mode == "slow":
            await asyncio.sleep(30)
        return web.Response(
            text=json.dumps(
                {
                    "id": "chatcmpl-test1",
                    "object": "chat.completion",
                    "created": 1764600000,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": self.summary},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 120, "completion_tokens": 20, "total_tokens": 140},
                }
            ),
            content_type="application/json",
        )
