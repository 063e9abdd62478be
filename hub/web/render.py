"""Jinja2 rendering shared by pages and error answers: language, path and helpers in context."""

from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web

from hub import __version__
from hub.i18n import LANG_COOKIE, LANGUAGES, negotiate, translate
from hub.resources import resource_dir
from hub.web.keys import CONFIG, TEMPLATES


def template_environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(resource_dir("templates")),
        autoescape=jinja2.select_autoescape(("html", "xml")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["version"] = __version__
    environment.globals["languages"] = LANGUAGES
    environment.globals["t"] = translate
    return environment


def render(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    """Render `name` in the request's language; remember a language chosen with ?lang=."""
    lang = negotiate(request)
    template = request.app[TEMPLATES].get_template(name)
    html = template.render(lang=lang, path=request.path, **context)
    response = web.Response(text=html, status=status, content_type="text/html")
    if context.get("csrf_token"):
        # The token is the session's: no cache, shared or the browser's, may keep the page.
        response.headers["Cache-Control"] = "no-store"
    if request.query.get("lang") in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="Lax",
            secure=not request.app[CONFIG].dev,
        )
    return response
