"""Access log lines without query strings: a token in a URL must never reach a log file."""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


class AccessLogger(AbstractAccessLogger):
    """One structured line per request: method, path, status, bytes, milliseconds."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status,
            extra={
                "remote": request.remote or "-",
                "bytes": response.body_length,
                "ms": round(time * 1000, 1),
            },
        )
