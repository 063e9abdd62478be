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
from hub.i18n import Text, negotiate, say, translate
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


def problem_response(
    request: web.Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    reference: str | None = None,
    headers: dict[str, str] | None = None,
    text: Text | None = None,
) -> web.Response:
    """JSON for machines (title and detail in French and English); for a browser, a page in
    its language: the status's title, and `text` when the error carries one."""
    body: dict[str, Any] = {"status": status, "code": code, "title": title, "detail": detail}
    if reference:
        body["reference"] = reference
    if not wants_json(request):
        lang = negotiate(request)
        page_title = translate(lang, f"error.title.{status}")
        if page_title == f"error.title.{status}":  # a status without its own title
            page_title = title
        try:
            response = render(
                request,
                "error.html",
                status=status,
                http_status=status,
                title=page_title,
                detail=say(lang, text) if text is not None else detail,
                reference=reference,
            )
        except Exception:  # a broken template must not hide the original error
            log.exception("error page could not be rendered; answering JSON instead")
        else:
            response.headers.update(headers or {})
            return response
    return web.json_response(body, status=status, content_type=PROBLEM_TYPE, headers=headers)


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
            detail=exc.detail,
            headers=headers,
            text=exc.text,
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like go through untouched
        if exc.status == 404:
            missing = NotFound(f"Aucune page à l'adresse {request.path} / No page at this address")
            return problem_response(
                request,
                status=404,
                code=missing.code,
                title=missing.title,
                detail=missing.detail,
            )
        return problem_response(
            request,
            status=exc.status,
            code=exc.reason.lower().replace(" ", "_"),
            title=exc.reason,
            detail=exc.text or exc.reason,
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
            title="Erreur interne / Internal error",
            detail=(
                "Une erreur inattendue s'est produite ; donnez cette référence à l'équipe "
                "d'exploitation. / An unexpected error occurred; give this reference to the "
                "operators."
            ),
            reference=reference,
        )
