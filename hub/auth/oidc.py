"""OpenID Connect logins (ProConnect and any compliant provider): the protocol, checked strictly.

Authorization code flow with PKCE (S256), state and nonce of 43 characters, client_secret_post,
ID token and userinfo (JSON or a signed JWT) verified against the provider's JWKS with only the
asymmetric algorithms it advertises, a small clock leeway, and logout through its
end_session_endpoint. Authlib prepares parameters and validates the discovery document; joserfc
verifies signatures and claims.

Everything here is pure (no I/O): the transaction cookie, the callback parameters, the
discovery document, claim checks and signature checks. Failures raise `LoginError` (or
`ValueError` for the cookie) with a reason fit for the log, never a token. The HTTP calls live
in hub/auth/provider.py.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from authlib.oidc import rpinitiated  # type: ignore[import-untyped]
from authlib.oidc.discovery import OpenIDProviderMetadata  # type: ignore[import-untyped]
from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import Key, KeySet

from hub.auth.signing import Signer
from hub.errors import HubError, TooManyRequests
from hub.i18n import Text
from hub.shared.port import ClaimVerdict, SharedState

log = logging.getLogger(__name__)

Clock = Callable[[], float]

# Never "none" nor HS*: a client secret must not be able to mint ID tokens.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
LOGIN_LIFETIME = 600  # seconds between leaving for the provider and coming back
RANDOM_LENGTH = 43  # state, nonce (ProConnect wants >= 32) and the PKCE verifier (43-128)
_MAX_PARAMETER = 2048
ERROR_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MAX_SUB = 255


class LoginError(HubError):
    """A login that must stop here. `reason` goes to the log (never a token or code);
    `message` is the i18n key of what the person is told."""

    status = 400
    code = "login_failed"
    title = Text("error.title.login_failed")
    message = "auth.error.expired"

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(text=self.title)
        self.reason = reason
        if message is not None:
            self.message = message


class LoginRefused(LoginError):
    """The provider said no, or what it sent does not prove who the person is."""

    status = 401
    code = "login_refused"
    message = "auth.error.refused"


class ProviderUnavailable(LoginError):
    """The provider cannot be reached or answers nonsense: nothing the person can fix."""

    status = 502
    code = "provider_unavailable"
    title = Text("error.title.provider_unavailable")
    message = "auth.error.unavailable"


class UnknownProvider(LoginError):
    status = 404
    code = "unknown_provider"
    message = "auth.error.unknown_provider"


def local_next(value: str | None) -> str:
    """Where to go after login: a path on this hub only, never another site."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if len(value) > _MAX_PARAMETER or any(ord(c) < 0x20 or c == "\x7f" for c in value):
        return "/"
    return value


@dataclass(frozen=True)
class LoginTransaction:
    """One login under way: what the callback must find again (kept in a signed cookie)."""

    provider: str
    state: str
    nonce: str
    code_verifier: str
    next_path: str
    created_at: int

    @classmethod
    def start(cls, provider: str, next_path: str, now: float) -> LoginTransaction:
        return cls(
            provider=provider,
            state=str(generate_token(RANDOM_LENGTH)),
            nonce=str(generate_token(RANDOM_LENGTH)),
            code_verifier=str(generate_token(RANDOM_LENGTH + 21)),
            next_path=local_next(next_path),
            created_at=int(now),
        )

    @property
    def expires_at(self) -> int:
        return self.created_at + LOGIN_LIFETIME

    @property
    def code_challenge(self) -> str:
        return str(create_s256_code_challenge(self.code_verifier))


class TransactionCodec:
    """Signs login transactions into cookie values and reads them back (HMAC-SHA256)."""

    def __init__(self, secret_key: str) -> None:
        self._signer = Signer(secret_key, b"hub login transaction v1")

    def encode(self, transaction: LoginTransaction) -> str:
        payload = json.dumps(
            [
                transaction.provider,
                transaction.state,
                transaction.nonce,
                transaction.code_verifier,
                transaction.next_path,
                transaction.created_at,
            ],
            separators=(",", ":"),
        ).encode("utf-8")
        return self._signer.sign(payload)

    def decode(self, value: str, now: float) -> LoginTransaction:
        """The transaction in `value`; ValueError saying why it cannot be used."""
        try:
            payload = self._signer.unsign(value, 4 * _MAX_PARAMETER)
        except ValueError as exc:
            raise ValueError(f"login cookie {exc}") from None
        try:
            fields = json.loads(payload)
            provider, state, nonce, verifier, next_path, created_at = fields
        except (ValueError, TypeError):
            raise ValueError("login cookie content is invalid") from None
        if not all(isinstance(f, str) for f in (provider, state, nonce, verifier, next_path)):
            raise ValueError("login cookie content is invalid")
        if not isinstance(created_at, int) or isinstance(created_at, bool):
            raise ValueError("login cookie content is invalid")
        transaction = LoginTransaction(provider, state, nonce, verifier, next_path, created_at)
        if not created_at - 5 <= now < transaction.expires_at:
            raise ValueError("login transaction has expired")
        return transaction


class SpentStates:
    """States already used by a callback, claimed in the shared state until their transaction
    expires: a callback replayed to this node or to another one is refused."""

    def __init__(self, shared: SharedState, clock: Clock = time.time) -> None:
        self._shared = shared
        self._clock = clock

    async def spend(self, state: str, expires_at: float) -> bool:
        """Mark `state` used; False if it already was (a replayed callback)."""
        ttl_ms = max(1, math.ceil((expires_at - self._clock()) * 1000))
        claim = await self._shared.claim(f"oidc-state:{state}", ttl_ms)
        if claim.verdict is ClaimVerdict.FULL:
            raise TooManyRequests(
                text=Text("error.logins_busy"),
                retry_after=claim.retry_after_ms // 1000 + 1,
            )
        return claim.verdict is ClaimVerdict.FRESH


def parse_callback(query: Mapping[str, str], *, state: str, issuer: str) -> str:
    """The authorization code in the provider's redirect back, once it is proven to answer
    our own request (state, and `iss` when sent: RFC 9207)."""
    received = query.get("state", "")
    if not received or not hmac.compare_digest(received.encode(), state.encode()):
        raise LoginError("callback state does not match the login transaction")
    if "iss" in query and query["iss"] != issuer:
        raise LoginRefused("callback iss is not the provider's issuer")
    error = query.get("error")
    if error is not None:
        shown = error if ERROR_CODE.match(error) else "(malformed)"
        message = "auth.error.denied" if error == "access_denied" else "auth.error.provider"
        raise LoginRefused(f"provider answered error={shown}", message)
    code = query.get("code", "")
    if not code or len(code) > _MAX_PARAMETER:
        raise LoginError("callback without a usable code")
    return code


def _string_list(document: Mapping[str, object], key: str) -> tuple[str, ...]:
    value = document.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


@dataclass(frozen=True)
class ProviderMetadata:
    """What the hub uses from a provider's discovery document, validated."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None
    id_token_algorithms: tuple[str, ...]
    userinfo_algorithms: tuple[str, ...]

    @classmethod
    def parse(cls, document: object, expected_issuer: str) -> ProviderMetadata:
        """Validate with Authlib (RFC 8414 / OIDC Discovery / RP-initiated logout), then our
        own rules; ValueError says what is wrong."""
        if not isinstance(document, dict):
            raise ValueError("discovery document is not a JSON object")
        if document.get("issuer") != expected_issuer:
            raise ValueError("discovery issuer is not the configured issuer")
        try:
            OpenIDProviderMetadata(document).validate(
                metadata_classes=[rpinitiated.OpenIDProviderMetadata]
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"discovery document is invalid: {exc}") from None
        methods = document.get("token_endpoint_auth_methods_supported")
        if isinstance(methods, list) and "client_secret_post" not in methods:
            raise ValueError("provider does not offer client_secret_post")
        challenges = document.get("code_challenge_methods_supported")
        if isinstance(challenges, list) and "S256" not in challenges:
            raise ValueError("provider does not offer PKCE with S256")
        id_algorithms = tuple(
            a
            for a in _string_list(document, "id_token_signing_alg_values_supported")
            if a in ASYMMETRIC_ALGORITHMS
        )
        if not id_algorithms:
            raise ValueError("provider advertises no asymmetric ID token algorithm")
        userinfo_algorithms = tuple(
            a
            for a in _string_list(document, "userinfo_signing_alg_values_supported")
            if a in ASYMMETRIC_ALGORITHMS
        )
        userinfo = document.get("userinfo_endpoint")
        end_session = document.get("end_session_endpoint")
        return cls(
            issuer=expected_issuer,
            authorization_endpoint=str(document["authorization_endpoint"]),
            token_endpoint=str(document["token_endpoint"]),
            jwks_uri=str(document["jwks_uri"]),
            userinfo_endpoint=userinfo if isinstance(userinfo, str) else None,
            end_session_endpoint=end_session if isinstance(end_session, str) else None,
            id_token_algorithms=id_algorithms,
            userinfo_algorithms=userinfo_algorithms or id_algorithms,
        )


@dataclass(frozen=True)
class TokenSet:
    id_token: str
    access_token: str


def parse_token_response(document: object) -> TokenSet:
    if not isinstance(document, dict):
        raise LoginRefused("token response is not a JSON object")
    id_token, access_token = document.get("id_token"), document.get("access_token")
    token_type = document.get("token_type")
    if not isinstance(id_token, str) or not id_token:
        raise LoginRefused("token response has no id_token")
    if not isinstance(access_token, str) or not access_token:
        raise LoginRefused("token response has no access_token")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise LoginRefused("token response is not a bearer token")
    return TokenSet(id_token=id_token, access_token=access_token)


def _claim_problem(exc: JoseError) -> str:
    if isinstance(exc, ExpiredTokenError):
        return "has expired"
    return f"{type(exc).__name__}: {exc.description or exc.error}"


def check_id_token_claims(
    claims: Mapping[str, object],
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    now: int,
    leeway: int,
) -> str:
    """The subject of a signature-verified ID token, once iss, aud, azp, exp, iat and nonce
    are right (OIDC Core 3.1.3.7)."""
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=leeway,
        iss={"essential": True, "value": issuer},
        sub={"essential": True},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True},
    )
    try:
        registry.validate(dict(claims))
    except JoseError as exc:
        raise LoginRefused(f"ID token {_claim_problem(exc)}") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != client_id:
        raise LoginRefused("ID token azp is not this client")
    received = claims.get("nonce")
    if not isinstance(received, str) or not hmac.compare_digest(received.encode(), nonce.encode()):
        raise LoginRefused("ID token nonce does not match the login transaction")
    return _subject(claims.get("sub"), "ID token")


def _subject(value: object, where: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_SUB or not value.isprintable():
        raise LoginRefused(f"{where} sub is not a usable identifier")
    return value


def _text(claims: Mapping[str, object], key: str) -> str:
    value = claims.get(key)
    return " ".join(value.split()) if isinstance(value, str) else ""


@dataclass(frozen=True)
class UserInfo:
    """Who logged in, as the provider vouches for it."""

    sub: str
    email: str | None
    given_name: str
    usual_name: str
    name: str

    @property
    def display_name(self) -> str:
        """given_name + usual_name (ProConnect), else name, else e-mail, else sub."""
        full = " ".join(part for part in (self.given_name, self.usual_name) if part)
        return (full or self.name or self.email or self.sub)[:120]


def check_userinfo_claims(
    claims: Mapping[str, object],
    *,
    subject: str,
    issuer: str,
    client_id: str,
    signed: bool,
) -> UserInfo:
    """Userinfo about the ID token's own subject; a signed one must come from the provider
    (iss) and be meant for this client (aud)."""
    if signed:
        registry = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
        )
        try:
            registry.validate(dict(claims))
        except JoseError as exc:
            raise LoginRefused(f"userinfo JWT {_claim_problem(exc)}") from None
    sub = _subject(claims.get("sub"), "userinfo")
    if not hmac.compare_digest(sub.encode(), subject.encode()):
        raise LoginRefused("userinfo sub is not the ID token's sub")
    email = _text(claims, "email")
    return UserInfo(
        sub=sub,
        email=email[:320] or None,
        given_name=_text(claims, "given_name"),
        usual_name=_text(claims, "usual_name") or _text(claims, "family_name"),
        name=_text(claims, "name"),
    )


def import_signing_keys(document: object) -> KeySet:
    """The signature keys of a JWKS document; keys for encryption or of unknown kinds are
    skipped (Keycloak publishes both), a document with none is an error."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("JWKS is not a JSON object with keys")
    keys: list[Key] = []
    for item in document["keys"]:
        if not isinstance(item, dict) or item.get("use", "sig") != "sig":
            continue
        if item.get("kty") not in ("RSA", "EC", "OKP") or "d" in item:
            continue
        try:
            keys.append(KeySet.import_key_set({"keys": [item]}).keys[0])
        except (JoseError, ValueError, TypeError) as exc:
            log.debug("skipping a JWKS key that does not import: %s", exc)
    if not keys:
        raise ValueError("JWKS has no usable signature key")
    return KeySet(keys)


def token_header(token: str) -> tuple[str, str | None]:
    """The `alg` and `kid` of a compact JWS, without trusting anything else in it."""
    try:
        header = jws.extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError) as exc:
        raise LoginRefused(f"token is not a compact JWS ({type(exc).__name__})") from None
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str):
        raise LoginRefused("token header has no alg")
    return alg, kid if isinstance(kid, str) else None


def find_key(keys: KeySet, kid: str | None, alg: str) -> Key | None:
    """The key named by `kid`, or the only key usable with `alg` when no kid is given."""
    try:
        return keys.get_by_kid(kid, {"alg": alg})
    except JoseError:
        return None


def verify_jwt(token: str, key: Key, alg: str, what: str) -> dict[str, object]:
    # Unregistered header parameters are tolerated (some providers add their own); crit is not.
    registry = jws.JWSRegistry(algorithms=[alg], strict_check_header=False)
    try:
        return dict(jwt.decode(token, key, registry=registry).claims)
    except JoseError as exc:
        raise LoginRefused(f"{what} signature does not verify ({type(exc).__name__})") from None
