"""Structured logging for the hub: one logger tree, a request id on every line, no secrets.

`setup_logging` installs one handler on the root logger whose filters add the current request
id and scrub anything that looks like a token, so even a third-party library's log line or an
exception message cannot leak one.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from typing import Any, ClassVar

from aiohttp.http_exceptions import HttpProcessingError

from hub.config_sections import LoggingConfig

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# key=value and "key": "value" forms of well-known secret names, and bearer tokens.
_SENSITIVE_NAMES = (
    r"access_token|refresh_token|id_token|id_token_hint|token|client_secret|secret_key|"
    r"secret|password|passwd|code|state|nonce|code_verifier|api_key|authorization|sig"
)
_SECRET_PATTERNS = (
    re.compile(rf"(?i)\b({_SENSITIVE_NAMES})=([^&\s\"',;]+)"),
    re.compile(rf"(?i)([\"']?\b(?:{_SENSITIVE_NAMES})[\"']?\s*:\s*[\"'])([^\"']+)([\"'])"),
    re.compile(
        r"(?i)\b(bearer|basic|x-matrix|x-hub-signature|hubsignature)\s+[A-Za-z0-9._~+/=:,\"-]+"
    ),
    # A URL's password: scheme://user:password@host
    re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/\s@]+:)([^@\s]+)(@)"),
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """Replace secret values in free text; keys stay so the line still says what was there."""
    text = _SECRET_PATTERNS[0].sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)
    text = _SECRET_PATTERNS[2].sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _SECRET_PATTERNS[3].sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)


class ContextFilter(logging.Filter):
    """Adds `request_id` to every record and redacts secrets from message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class MalformedRequestFilter(logging.Filter):
    """Turns aiohttp's report of a request it could not parse (bad request line, header or
    length: answered 400 before any handler ran) from an ERROR with a traceback into one
    WARNING line: the client's mistake or a scanner, nothing for an operator to fix."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError) and record.levelno > logging.WARNING:
            # aiohttp's message spans lines (the offending bytes, a caret under them).
            parts = (line.strip() for line in error.message.splitlines())
            reason = " ".join(part for part in parts if part.strip("^"))
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "-"
            record.msg = "malformed HTTP request from %s refused with %d: %s: %s"
            record.args = (remote, error.code, type(error).__name__, reason[:200])
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the extra fields a caller passed via `extra=`."""

    _standard: ClassVar[frozenset[str]] = frozenset(
        logging.LogRecord("", 0, "", 0, "", (), None).__dict__
    ) | {"message", "request_id", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in record.__dict__.items():
            if key not in self._standard and not key.startswith("_"):
                payload[key] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_text:
            payload["exc"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable line; extra fields appended as key=value so text logs stay greppable."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [
            f"{key}={value}"
            for key, value in record.__dict__.items()
            if key not in JsonFormatter._standard and not key.startswith("_")
        ]
        return f"{line} {' '.join(extras)}" if extras else line


def setup_logging(config: LoggingConfig, *, dev: bool) -> None:
    """Install the hub's single handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_hub_handler", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._hub_handler = True  # type: ignore[attr-defined]
    use_json = config.format == "json" or (config.format == "auto" and not dev)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedRequestFilter) for f in server.filters):
        server.addFilter(MalformedRequestFilter())
    level = getattr(logging, config.level.upper())
    for name in ("hub", "bridge", "aiohttp.access"):
        logging.getLogger(name).setLevel(level)
    # These narrate every step (alembic each context, aiortc each packet): warnings only.
    for name in ("aiortc", "aioice", "alembic"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
