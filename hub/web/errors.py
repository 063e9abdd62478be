"""The one place where errors become HTTP answers: JSON problems for APIs, pages for people.

Expected errors (`HubError`) are shown as they are. Anything else is logged once in full with
a reference id, and the person is given only that id, never a traceback.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hub.errors import HubError, NotFound, TooManyRequests
from hub.i18n import CATALOG, DEFAULT_LANGUAGE, Text, negotiate, say
from hub.web.keys import METRICS
from hub.web.render import render

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PROBLEM_TYPE = "application/problem+json"
_MACHINE_PREFIXES = ("/api/", "/_hub/", "/health/", "/metrics")


def wants_json(request: web.Request) -> bool:
    """API and machine paths answer JSON; a browser asking for HTML gets a page."""
    if request.path.startswith(_MACHINE_PREFIXES):
        return True
    accept = request.headers.get("Accept", "")
    return "text/html" not in accept and ("json" in accept or not accept)


def status_title(status: int) -> Text:
    """The catalog's title of an HTTP status (a generic one for a status without its own)."""
    key = f"error.title.{status}"
    if key in CATALOG[DEFAULT_LANGUAGE]:
        return Text(key)
    return Text("error.title.other", {"status": str(status)})


def problem_response(
    request: web.Request,
    *,
    status: int,
    code: str,
    title: Text,
    text: Text | None = None,
    detail: str | None = None,
    reference: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The error in the reader's language (`negotiate`: ?lang=, the page's cookie, then
    Accept-Language, French by default), told in `Content-Language`: a JSON problem for
    machines, a page for a browser. `text` is what the person is told; `detail`, a plain
    line, stands in for it when the error has no sentence of the catalog."""
    lang = negotiate(request)
    title_said = say(lang, title)
    told = say(lang, text) if text is not None else detail or title_said
    all_headers = {"Content-Language": lang, **(headers or {})}
    if not wants_json(request):
        try:
            response = render(
                request,
                "error.html",
                status=status,
                http_status=status,
                title=title_said,
                detail=told,
                reference=reference,
            )
        except Exception:  # a broken template must not hide the original error
            log.exception("error page could not be rendered; answering JSON instead")
        else:
            response.headers.update(all_headers)
            return response
    body: dict[str, Any] = {"status": status, "code": code, "title": title_said, "detail": told}
    if reference:
        body["reference"] = reference
    return web.json_response(body, status=status, content_type=PROBLEM_TYPE, headers=all_headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HubError as exc:
        headers = {}
        if isinstance(exc, TooManyRequests):
            headers["Retry-After"] = str(exc.retry_after)
        return problem_response(
            request,
            status=exc.status,
            code=exc.code,
            title=exc.title,
            text=exc.text,
            detail=exc.detail,
            headers=headers,
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like go through untouched
        if exc.status == 404:
            missing = NotFound(text=Text("error.no_page", {"path": request.path[:200]}))
            return problem_response(
                request, status=404, code=missing.code, title=missing.title, text=missing.text
            )
        return problem_response(
            request,
            status=exc.status,
            code=exc.reason.lower().replace(" ", "_"),
            title=status_title(exc.status),
            headers={k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")},
        )
    except Exception:
        reference = secrets.token_hex(6)
        log.exception(
            "unexpected error answering %s %s",
            request.method,
            request.rel_url.raw_path,  # as it came: a decoded path could hold a line break
            extra={"reference": reference},
        )
        request.app[METRICS].unexpected_errors.inc()
        return problem_response(
            request,
            status=500,
            code="internal_error",
            title=status_title(500),
            text=Text("error.unexpected"),
            reference=reference,
        )
