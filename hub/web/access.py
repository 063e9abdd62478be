"""Access log lines without query strings: a token in a URL must never reach a log file."""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from hub.web.keys import CLIENT


class AccessLogger(AbstractAccessLogger):
    """One structured line per request: client, method, path, status, bytes, milliseconds."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        client = request.get(CLIENT)  # absent only if no middleware ran (a malformed request)
        self.logger.info(
            "%s %s %s",
            request.method,
            request.rel_url.raw_path,  # as it came: a decoded path could hold a line break
            response.status,
            extra={
                "remote": client.address if client is not None else request.remote or "-",
                "bytes": response.body_length,
                "ms": round(time * 1000, 1),
            },
        )
