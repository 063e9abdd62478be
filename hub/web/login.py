"""Login and logout routes: /auth/login/<provider>, /auth/callback/<provider>, /auth/logout,
/auth/logged-out, and the cleanup context that owns the HTTP session used to reach providers.

A failed login answers a page saying why (400 transaction, 401 refused, 404 unknown provider,
502 provider unavailable), logged once with its reason, and opens no session: no session
cookie is set and no auth_sessions row is written.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp
from aiohttp import web

from hub import __version__
from hub.auth.http import HTTP_TIMEOUT
from hub.auth.oidc import (
    LOGIN_LIFETIME,
    Clock,
    LoginError,
    LoginTransaction,
    SpentStates,
    TransactionCodec,
    UnknownProvider,
    local_next,
)
from hub.auth.provider import OidcProvider
from hub.auth.session import Session
from hub.config import HubConfig
from hub.ids import Identity, IdentityKind
from hub.shared.port import SharedState
from hub.web.keys import CONFIG, LIMITS, LOGIN_STORE, SESSION_CODEC, SHARED
from hub.web.render import render
from hub.web.requests import current_session

log = logging.getLogger(__name__)

routes = web.RouteTableDef()
NO_STORE = {"Cache-Control": "no-store"}


class Logins:
    """The configured providers, the login-transaction cookie and the spent states; built
    by `login_context` once the app starts (it needs the HTTP session)."""

    def __init__(
        self,
        config: HubConfig,
        http: aiohttp.ClientSession,
        shared: SharedState,
        clock: Clock = time.time,
    ):
        self.http = http  # also reaches Matrix homeservers (hub/web/matrix_login.py)
        self.providers = {
            provider.name: OidcProvider(provider, http, config.public_url, clock)
            for provider in config.auth.providers
        }
        self.transactions = TransactionCodec(config.security.secret_key.get_secret_value())
        self.spent = SpentStates(shared, clock)
        self.clock = clock
        self.secure = not config.dev
        self.cookie_name = "__Host-visio_login" if self.secure else "visio_login"
        self.session_lifetime = config.auth.session_lifetime

    def provider(self, name: str) -> OidcProvider:
        try:
            return self.providers[name]
        except KeyError:
            raise UnknownProvider("no provider of that name is configured") from None

    def set_cookie(self, response: web.StreamResponse, transaction: LoginTransaction) -> None:
        response.set_cookie(
            self.cookie_name,
            self.transactions.encode(transaction),
            max_age=LOGIN_LIFETIME,
            path="/",
            httponly=True,
            secure=self.secure,
            samesite="Lax",
        )

    def clear_cookie(self, response: web.StreamResponse) -> None:
        response.del_cookie(self.cookie_name, path="/", secure=self.secure, httponly=True)

    async def transaction(self, request: web.Request, provider: OidcProvider) -> LoginTransaction:
        """The login this callback finishes, used at most once."""
        value = request.cookies.get(self.cookie_name)
        if not value:
            raise LoginError("callback without a login cookie")
        try:
            transaction = self.transactions.decode(value, self.clock())
        except ValueError as exc:
            raise LoginError(str(exc)) from None
        if transaction.provider != provider.name:
            raise LoginError("login cookie is for another provider")
        if not await self.spent.spend(transaction.state, transaction.expires_at):
            raise LoginError("login transaction was already used (replayed callback)")
        return transaction


LOGINS = web.AppKey("logins", Logins)


@dataclass(frozen=True)
class LoginLink:
    label: str
    href: str


def login_links(request: web.Request, next_path: str) -> list[LoginLink]:
    """One button per configured provider, coming back to `next_path` after login."""
    query = quote(local_next(next_path), safe="/")
    return [
        LoginLink(label=provider.label, href=f"/auth/login/{provider.name}?next={query}")
        for provider in request.app[CONFIG].auth.providers
    ]


def _message_page(
    request: web.Request,
    *,
    status: int,
    heading: str,
    message: str,
    next_path: str = "/",
    buttons: bool = True,
) -> web.Response:
    return render(
        request,
        "auth_message.html",
        status=status,
        http_status=status,
        heading=heading,
        message=message,
        login_providers=login_links(request, next_path) if buttons else [],
        continue_url=None,
    )


def login_required_page(request: web.Request, next_path: str = "/") -> web.Response:
    """403 for a guest who tried what needs a login, with the login buttons."""
    return _message_page(
        request,
        status=403,
        heading="auth.required.heading",
        message="auth.required.text",
        next_path=next_path,
    )


def _failed(request: web.Request, provider: str, exc: LoginError) -> web.Response:
    shown = provider if provider in request.app[LOGINS].providers else "(unknown)"
    log.warning("login through %s failed: %s", shown, exc.reason, extra={"status": exc.status})
    response = _message_page(
        request, status=exc.status, heading="auth.error.heading", message=exc.message
    )
    response.headers.update(NO_STORE)
    return response


@routes.get("/auth/login/{provider}")
async def login(request: web.Request) -> web.StreamResponse:
    """Start a login: remember state, nonce and PKCE verifier, then off to the provider."""
    await request.app[LIMITS].login.hit(request.remote or "-")
    logins = request.app[LOGINS]
    name = request.match_info["provider"]
    try:
        provider = logins.provider(name)
        transaction = LoginTransaction.start(name, request.query.get("next", "/"), logins.clock())
        location = await provider.authorization_url(transaction)
    except LoginError as exc:
        return _failed(request, name, exc)
    response = web.Response(status=302, headers={"Location": location, **NO_STORE})
    logins.set_cookie(response, transaction)
    return response


@routes.get("/auth/callback/{provider}")
async def callback(request: web.Request) -> web.StreamResponse:
    """Finish a login; on success a new session (cookie and row) replaces any guest one."""
    await request.app[LIMITS].login.hit(request.remote or "-")
    logins = request.app[LOGINS]
    name = request.match_info["provider"]
    response: web.Response
    try:
        provider = logins.provider(name)
        transaction = await logins.transaction(request, provider)
        user, id_token = await provider.complete(request.query, transaction)
    except LoginError as exc:
        response = _failed(request, name, exc)
    else:
        session = Session(
            identity=Identity.of(IdentityKind.LOCAL, f"{name}:{user.sub}"),
            display_name=user.display_name,
            session_id=secrets.token_urlsafe(32),
            expires_at=int(logins.clock()) + logins.session_lifetime,
            provider=name,
            email=user.email,
        )
        await request.app[LOGIN_STORE].open(session, id_token)
        log.info("login through %s", name, extra={"identity": session.identity})
        response = web.Response(status=303, headers={"Location": transaction.next_path, **NO_STORE})
        request.app[SESSION_CODEC].set_cookie(response, session)
    logins.clear_cookie(response)
    return response


@routes.post("/auth/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    """End the login here, then at the provider (end_session_endpoint) when it has one.

    The provider is reached through a page that forwards at once (meta refresh, plus a link),
    not a redirect: the CSP's form-action 'self' stops a form's redirect chain at our origin.
    """
    codec = request.app[SESSION_CODEC]
    session = current_session(request)
    response: web.Response = web.Response(status=303, headers={"Location": "/", **NO_STORE})
    if session is not None and not session.is_guest:
        form = await request.post()
        codec.require_csrf(request, session, form.get("csrf_token"))
        id_token = await request.app[LOGIN_STORE].end(session.session_id)
        log.info("logout from %s", session.provider, extra={"identity": session.identity})
        provider = request.app[LOGINS].providers.get(session.provider or "")
        end_session = None
        if provider is not None and id_token is not None:
            try:
                end_session = await provider.end_session_url(id_token)
            except LoginError as exc:  # the hub's own session is over all the same
                log.warning("provider logout through %s skipped: %s", provider.name, exc.reason)
        if end_session is None:
            response = web.Response(
                status=303, headers={"Location": "/auth/logged-out", **NO_STORE}
            )
        else:
            response = render(
                request,
                "auth_message.html",
                http_status=200,
                heading="auth.logging_out.heading",
                message="auth.logging_out.text",
                login_providers=[],
                continue_url=end_session,
            )
            response.headers.update(NO_STORE)
    codec.clear_cookie(response)
    return response


@routes.get("/auth/logged-out")
async def logged_out(request: web.Request) -> web.Response:
    return _message_page(
        request,
        status=200,
        heading="auth.logged_out.heading",
        message="auth.logged_out.text",
        buttons=False,
    )


async def login_context(app: web.Application) -> AsyncIterator[None]:
    """The HTTP session that reaches identity providers and Matrix homeservers (no cookies
    kept: each call stands alone); closed on shutdown."""
    http = aiohttp.ClientSession(
        timeout=HTTP_TIMEOUT,
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": f"visio-hub/{__version__}"},
    )
    try:
        app[LOGINS] = Logins(app[CONFIG], http, app[SHARED])
        yield
    finally:
        await http.close()


def add_login(app: web.Application) -> None:
    """Register the login routes and their cleanup context (after the database's)."""
    app.router.add_routes(routes)
    app.cleanup_ctx.append(login_context)
