"""One error hierarchy for the hub: every domain error carries an HTTP status and a stable code.

The web layer maps these to JSON problem responses or pages in one place (hub/web/errors.py);
the CLI maps `StartupError` to one line on stderr and a non-zero exit.
"""

from __future__ import annotations

from hub.i18n import DEFAULT_LANGUAGE, Text, say


class HubError(Exception):
    """Base of all expected errors: safe to show to the user.

    `text` is what the person is told, said in their language where it is shown (a page, a
    JSON answer, a socket's error frame: each says it in one language); `detail` is that
    sentence in French, for logs. A technical refusal no person reads (a malformed body) may
    give only `detail`, one plain line.
    """

    status: int = 500
    code: str = "internal_error"
    title: Text = Text("error.title.500")

    def __init__(self, detail: str | None = None, *, text: Text | None = None) -> None:
        if not detail:
            text = text or self.title
            detail = say(DEFAULT_LANGUAGE, text)
        super().__init__(detail)
        self.detail = detail
        self.text = text

    def said(self, lang: str) -> str:
        """What the person is told, in `lang` (French when the catalog has no such language)."""
        return say(lang, self.text) if self.text is not None else self.detail


class BadRequest(HubError):
    status = 400
    code = "bad_request"
    title = Text("error.title.400")


class JsonTooDeep(BadRequest):
    """A body nested past hub/bounded_json.py's limit, refused before it was parsed."""

    code = "json_too_deep"


class Unauthorized(HubError):
    status = 401
    code = "unauthorized"
    title = Text("error.title.401")


class Forbidden(HubError):
    status = 403
    code = "forbidden"
    title = Text("error.title.403")


class NotFound(HubError):
    status = 404
    code = "not_found"
    title = Text("error.title.404")


class Conflict(HubError):
    status = 409
    code = "conflict"
    title = Text("error.title.409")


class TooManyRequests(HubError):
    status = 429
    code = "rate_limited"
    title = Text("error.title.429")

    def __init__(
        self, detail: str | None = None, retry_after: int = 1, *, text: Text | None = None
    ) -> None:
        super().__init__(detail, text=text)
        self.retry_after = retry_after


class ServiceUnavailable(HubError):
    status = 503
    code = "unavailable"
    title = Text("error.title.503")


class SharedStateUnavailable(ServiceUnavailable):
    """The store hub nodes share (Redis) does not answer: refused rather than decided alone."""

    code = "shared_state_unavailable"

    def __init__(self) -> None:
        super().__init__(text=Text("shared.unavailable"))


class StartupError(Exception):
    """A condition that stops the hub from starting; its message is one line for the operator."""


class ConfigError(StartupError):
    """The configuration is invalid; the message names the key and where it came from."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's message as one bounded line (its type's name when it has none): what
    a client or a log line is told of a library's refusal, never a traceback."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
