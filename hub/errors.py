"""One error hierarchy for the hub: every domain error carries an HTTP status and a stable code.

The web layer maps these to JSON problem responses or pages in one place (hub/web/errors.py);
the CLI maps `StartupError` to one line on stderr and a non-zero exit.
"""

from __future__ import annotations

from hub.i18n import Text, in_both


class HubError(Exception):
    """Base of all expected errors: safe to show `detail` to the user.

    With `text`, the message is said in the reader's language where one is known (pages);
    `detail` is then that text in French and English (JSON answers, logs).
    """

    status: int = 500
    code: str = "internal_error"
    title: str = "Erreur interne / Internal error"

    def __init__(self, detail: str | None = None, *, text: Text | None = None) -> None:
        detail = detail or (in_both(text) if text is not None else None) or self.title
        super().__init__(detail)
        self.detail = detail
        self.text = text


class BadRequest(HubError):
    status = 400
    code = "bad_request"
    title = "Requête invalide / Bad request"


class JsonTooDeep(BadRequest):
    """A body nested past hub/bounded_json.py's limit, refused before it was parsed."""

    code = "json_too_deep"


class Unauthorized(HubError):
    status = 401
    code = "unauthorized"
    title = "Authentification requise / Authentication required"


class Forbidden(HubError):
    status = 403
    code = "forbidden"
    title = "Accès refusé / Access denied"


class NotFound(HubError):
    status = 404
    code = "not_found"
    title = "Introuvable / Not found"


class Conflict(HubError):
    status = 409
    code = "conflict"
    title = "Conflit / Conflict"


class TooManyRequests(HubError):
    status = 429
    code = "rate_limited"
    title = "Trop de requêtes / Too many requests"

    def __init__(self, detail: str | None = None, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ServiceUnavailable(HubError):
    status = 503
    code = "unavailable"
    title = "Service indisponible / Service unavailable"


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
