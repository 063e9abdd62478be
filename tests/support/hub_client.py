"""Talking to an in-process hub as browsers do: a guest session from the home page, and the
CSRF header that session's pages carry."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from hub.auth.session import SessionCodec
from hub.config import HubConfig
from hub.web.app import create_app
from hub.web.keys import SESSION_CODEC


def csrf_header(
    app: web.Application, jar: aiohttp.abc.AbstractCookieJar, url: URL
) -> dict[str, str]:
    """The X-CSRF-Token header for the session cookie `jar` holds for `url`."""
    return codec_csrf_header(app[SESSION_CODEC], jar, url)


def codec_csrf_header(
    codec: SessionCodec, jar: aiohttp.abc.AbstractCookieJar, url: URL
) -> dict[str, str]:
    """The same for a hub in another process, whose secret key the test chose."""
    session = codec.decode(jar.filter_cookies(url)[codec.cookie_name].value)
    assert session is not None, "no valid session cookie"
    return {"X-CSRF-Token": codec.csrf_token(session)}


async def api_client(aiohttp_client: Any, config: HubConfig) -> tuple[Any, dict[str, str]]:
    """A test client holding a guest session (as the home page gives) and its CSRF header."""
    client = await aiohttp_client(create_app(config))
    page = await client.get("/", headers={"Accept": "text/html"})
    assert page.status == 200
    return client, csrf_header(client.app, client.session.cookie_jar, client.make_url("/"))


async def another_browser(client: Any) -> tuple[aiohttp.ClientSession, dict[str, str]]:
    """A second browser on the same hub: its own cookie jar, guest session and CSRF header.
    The caller closes it."""
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    await http.get(client.make_url("/"), headers={"Accept": "text/html"})
    return http, csrf_header(client.app, http.cookie_jar, client.make_url("/"))
