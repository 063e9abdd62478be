"""Signed session cookies and CSRF tokens.

A session says who the browser is (an identity string and a display name). It is a signed,
not encrypted, cookie: it holds nothing secret, and the signature (HMAC-SHA256 with a key
derived from security.secret_key) stops forgery. Outside dev mode the cookie uses the
`__Host-` prefix, so it is Secure, host-only and path `/`, and cannot collide with a cookie of
an identity provider served from the same host on another port.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import dataclass

from aiohttp import web

from hub.auth.signing import Signer, b64
from hub.errors import Forbidden
from hub.i18n import Text
from hub.ids import Identity

SESSION_LIFETIME = 12 * 3600
MAX_COOKIE = 4096  # browsers keep no larger cookie
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Session:
    """Who the browser is. `provider` is set for a login through an identity provider (its
    server-side row in auth_sessions must still be open); None for a guest."""

    identity: Identity
    display_name: str
    session_id: str
    expires_at: int
    provider: str | None = None
    email: str | None = None

    @property
    def is_guest(self) -> bool:
        return self.provider is None


class SessionCodec:
    """Signs and verifies session cookies and derives per-session CSRF tokens."""

    def __init__(self, secret_key: str, *, secure: bool) -> None:
        self._cookie = Signer(secret_key, b"hub session cookie v1")
        self._csrf = Signer(secret_key, b"hub csrf token v1")
        self.secure = secure
        self.cookie_name = "__Host-visio_session" if secure else "visio_session"

    def encode(self, session: Session) -> str:
        payload = json.dumps(
            {
                "i": session.identity,
                "n": session.display_name,
                "s": session.session_id,
                "e": session.expires_at,
                "p": session.provider,
                "m": session.email,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
        return self._cookie.sign(payload)

    def decode(self, value: str, *, now: float | None = None) -> Session | None:
        """The session in a cookie value, or None if it is malformed, forged or expired."""
        try:
            payload = self._cookie.unsign(value, MAX_COOKIE)
        except ValueError:
            return None
        try:
            data = json.loads(payload)
            session = Session(
                identity=Identity(str(data["i"])),
                display_name=str(data["n"]),
                session_id=str(data["s"]),
                expires_at=int(data["e"]),
                provider=None if data.get("p") is None else str(data["p"]),
                email=None if data.get("m") is None else str(data["m"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires_at < (time.time() if now is None else now):
            return None
        return session

    def csrf_token(self, session: Session) -> str:
        return b64(self._csrf.mac(session.session_id.encode()))

    def check_csrf(self, session: Session, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.csrf_token(session).encode())

    def new_guest(self, display_name: str = "") -> Session:
        return Session(
            identity=Identity.new_guest(),
            display_name=display_name,
            session_id=secrets.token_urlsafe(16),
            expires_at=int(time.time()) + SESSION_LIFETIME,
        )

    def clear_cookie(self, response: web.StreamResponse) -> None:
        response.del_cookie(self.cookie_name, path="/", secure=self.secure, httponly=True)

    def set_cookie(self, response: web.StreamResponse, session: Session) -> None:
        response.set_cookie(
            self.cookie_name,
            self.encode(session),
            max_age=max(0, session.expires_at - int(time.time())),
            path="/",
            httponly=True,
            secure=self.secure,
            samesite="Lax",
        )

    def read(self, request: web.Request) -> Session | None:
        value = request.cookies.get(self.cookie_name)
        return self.decode(value) if value else None

    def require_csrf(self, request: web.Request, session: Session, token: object = None) -> None:
        """A state-changing request carried by a cookie must prove it comes from our page:
        the token in the X-CSRF-Token header, or `token` (a form's csrf_token field)."""
        if request.method in SAFE_METHODS:
            return
        if token is None:
            token = request.headers.get(CSRF_HEADER, "")
        if not isinstance(token, str) or not self.check_csrf(session, token):
            raise Forbidden(text=Text("error.csrf"))
