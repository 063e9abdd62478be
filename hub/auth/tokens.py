"""Join tokens: short-lived signed grants binding one identity to one meeting and role.

A token without a role (`"role": null`) only proves who its holder is (the Matrix widget's
identity, see hub/web/matrix_login.py): it grants no entry, the meeting's usual rules decide.

A *rejoin ticket* (`"rejoin": true`, no role) is given in the welcome to whoever entered: the
page keeps it for this meeting (sessionStorage) and shows it with its next join, so a reload,
a lost connection or a hub restart does not send an admitted person back to the lobby. It
counts only beside a session of the same identity, and never as a join token.

An HS256 JWT (joserfc) signed with a key derived from security.secret_key for this purpose
only. Verification accepts exactly one algorithm (so "none" and algorithm swaps fail), checks
issuer, audience (the meeting's own URL: a token for meeting A never opens meeting B), expiry
and a lifetime of at most an hour, and says precisely why a token was refused.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from hub.auth.signing import derive_key
from hub.db.models import Role
from hub.errors import Unauthorized
from hub.i18n import Text
from hub.ids import Identity, MeetingId

ALGORITHM = "HS256"
MAX_LIFETIME = 3600
DEFAULT_LIFETIME = 900
LEEWAY = 5  # seconds of clock difference tolerated (tokens cross no other server yet)


@dataclass(frozen=True)
class JoinGrant:
    """What a verified join token allows."""

    meeting_id: MeetingId
    identity: Identity
    display_name: str
    role: Role | None  # None: proves the identity only, lets no one in by itself
    expires_at: int
    token_id: str
    rejoin: bool = False  # a rejoin ticket, not a join token


def _refused(reason: str) -> Unauthorized:
    return Unauthorized(text=Text("error.token_refused", {"reason": reason}))


class JoinTokens:
    """Issues and verifies join tokens for one hub (its issuer URL and secret)."""

    def __init__(self, secret_key: str, issuer: str) -> None:
        derived = derive_key(secret_key, b"hub join token v1")
        self._key = OctKey.import_key(derived)
        self.issuer = issuer

    def audience(self, meeting_id: MeetingId) -> str:
        return f"{self.issuer}/m/{meeting_id}"

    def issue(
        self,
        *,
        meeting_id: MeetingId,
        identity: Identity,
        display_name: str,
        role: Role | None,
        lifetime: int = DEFAULT_LIFETIME,
        now: int | None = None,
        rejoin: bool = False,
    ) -> str:
        if not 0 < lifetime <= MAX_LIFETIME:
            raise ValueError(f"join token lifetime must be 1-{MAX_LIFETIME} s, not {lifetime}")
        issued = int(time.time()) if now is None else now
        claims = {
            "iss": self.issuer,
            "aud": self.audience(meeting_id),
            "sub": identity,
            "name": display_name,
            "role": None if role is None else role.value,
            "iat": issued,
            "nbf": issued,
            "exp": issued + lifetime,
            "jti": secrets.token_urlsafe(12),
        }
        if rejoin:
            if role is not None:
                raise ValueError("a rejoin ticket grants no role")
            claims["rejoin"] = True
        return jwt.encode({"alg": ALGORITHM, "typ": "JWT"}, claims, self._key, [ALGORITHM])

    def verify(self, token: str, *, meeting_id: MeetingId, now: int | None = None) -> JoinGrant:
        """The grant in `token` for `meeting_id`; Unauthorized saying why otherwise."""
        try:
            decoded = jwt.decode(token, self._key, algorithms=[ALGORITHM])
        except JoseError as exc:
            raise _refused(f"not a valid signed token ({exc.error})") from None
        except (ValueError, TypeError):
            raise _refused("not a valid signed token") from None
        claims = decoded.claims
        current = int(time.time()) if now is None else now
        try:
            issuer, audience = str(claims["iss"]), claims["aud"]
            subject, name = str(claims["sub"]), str(claims["name"])
            role = None if claims["role"] is None else Role(claims["role"])
            token_id = str(claims["jti"])
            rejoin = claims.get("rejoin", False)
            if not isinstance(rejoin, bool) or (rejoin and role is not None):
                raise ValueError("rejoin")
            issued, not_before, expires = int(claims["iat"]), int(claims["nbf"]), int(claims["exp"])
        except (KeyError, ValueError, TypeError):
            raise _refused("a required claim is missing or malformed") from None
        if issuer != self.issuer:
            raise _refused("issued by another hub")
        if audience != self.audience(meeting_id):
            raise _refused("issued for another meeting")
        if expires - issued > MAX_LIFETIME:
            raise _refused("lifetime longer than an hour")
        if expires + LEEWAY < current:
            raise _refused("expired")
        if not_before - LEEWAY > current:
            raise _refused("not valid yet")
        identity = Identity.read(subject)
        if identity is None:
            raise _refused("no known kind of identity")
        return JoinGrant(
            meeting_id=meeting_id,
            identity=identity,
            display_name=name,
            role=role,
            expires_at=expires,
            token_id=token_id,
            rejoin=rejoin,
        )
