"""The hub's client of one identity provider: discovery, keys, token and userinfo calls.

All HTTP goes through the app's one aiohttp session, with timeouts, bounded reads and no
redirects followed. The discovery document and the JWKS are cached per provider; a token that
names an unknown key refetches the JWKS once (key rotation), at most once per minute, so a
stream of forged key ids cannot turn the hub into a request amplifier.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import aiohttp
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.common.urls import add_params_to_uri  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_grant_uri,
    prepare_token_request,
)
from joserfc.jwk import Key, KeySet

from hub import bounded_json
from hub.auth.http import read_bounded
from hub.auth.oidc import (
    ERROR_CODE,
    RANDOM_LENGTH,
    Clock,
    LoginRefused,
    LoginTransaction,
    ProviderMetadata,
    ProviderUnavailable,
    TokenSet,
    UserInfo,
    check_id_token_claims,
    check_userinfo_claims,
    find_key,
    import_signing_keys,
    parse_callback,
    parse_token_response,
    token_header,
    verify_jwt,
)
from hub.config_sections import OidcProviderConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_DOCUMENT = 512 * 1024  # bytes read from any provider answer
METADATA_TTL = 3600.0
JWKS_TTL = 3600.0
JWKS_REFETCH_INTERVAL = 60.0  # at most one unknown-kid refetch per provider in this time


async def _read_body(response: aiohttp.ClientResponse, what: str) -> bytes:
    """The whole body, refused past MAX_DOCUMENT bytes (a provider is trusted, not blindly)."""
    try:
        return await read_bounded(response, MAX_DOCUMENT)
    except ValueError:
        raise ProviderUnavailable(f"{what} is larger than {MAX_DOCUMENT} bytes") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ProviderUnavailable(f"{what} could not be read ({type(exc).__name__})") from None


async def _read_json(response: aiohttp.ClientResponse, what: str) -> object:
    body = await _read_body(response, what)
    try:
        return bounded_json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ProviderUnavailable(f"{what} is not JSON") from None


@dataclass(frozen=True)
class _Cached(Generic[T]):
    value: T
    fetched_at: float


class OidcProvider:
    """One configured provider: its discovery document and JWKS (cached), and the calls a
    login makes. Uses the app's HTTP session; redirects are never followed."""

    def __init__(
        self,
        config: OidcProviderConfig,
        http: aiohttp.ClientSession,
        public_url: str,
        clock: Clock = time.time,
    ) -> None:
        self.config = config
        self.name = config.name
        self.redirect_uri = f"{public_url}/auth/callback/{config.name}"
        self.post_logout_redirect_uri = f"{public_url}/auth/logged-out"
        self.clock = clock
        self._http = http
        self._metadata: _Cached[ProviderMetadata] | None = None
        self._keys: _Cached[KeySet] | None = None
        self._last_refetch = float("-inf")
        self._lock = asyncio.Lock()

    async def _get(self, url: str, what: str, **headers: str) -> aiohttp.ClientResponse:
        try:
            response = await self._http.get(url, allow_redirects=False, headers=headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailable(f"{what} unreachable ({type(exc).__name__})") from None
        return response

    async def _get_json(self, url: str, what: str) -> object:
        async with await self._get(url, what, Accept="application/json") as response:
            if response.status != 200:
                raise ProviderUnavailable(f"{what} answered HTTP {response.status}")
            return await _read_json(response, what)

    async def metadata(self) -> ProviderMetadata:
        """The discovery document, fetched at first use and again after METADATA_TTL."""
        async with self._lock:
            cached = self._metadata
            if cached is None or self.clock() - cached.fetched_at > METADATA_TTL:
                url = f"{self.config.issuer}/.well-known/openid-configuration"
                document = await self._get_json(url, "discovery document")
                try:
                    parsed = ProviderMetadata.parse(document, self.config.issuer)
                except ValueError as exc:
                    raise ProviderUnavailable(str(exc)) from None
                cached = self._metadata = _Cached(parsed, self.clock())
            return cached.value

    async def _fetch_keys(self, metadata: ProviderMetadata) -> KeySet:
        document = await self._get_json(metadata.jwks_uri, "JWKS")
        try:
            keys = import_signing_keys(document)
        except ValueError as exc:
            raise ProviderUnavailable(str(exc)) from None
        self._keys = _Cached(keys, self.clock())
        return keys

    async def signing_key(self, kid: str | None, alg: str) -> Key:
        """The provider's key for a token; an unknown kid refetches the JWKS once (key
        rotation), at most once per JWKS_REFETCH_INTERVAL."""
        metadata = await self.metadata()
        async with self._lock:
            cached = self._keys
            if cached is None or self.clock() - cached.fetched_at > JWKS_TTL:
                keys = await self._fetch_keys(metadata)
            else:
                keys = cached.value
            key = find_key(keys, kid, alg)
            if key is None and self.clock() - self._last_refetch >= JWKS_REFETCH_INTERVAL:
                self._last_refetch = self.clock()
                log.info("refetching the JWKS of %s for an unknown key id", self.name)
                key = find_key(await self._fetch_keys(metadata), kid, alg)
        if key is None:
            raise LoginRefused("token is signed with a key the provider does not publish")
        return key

    async def _verify(
        self, token: str, algorithms: tuple[str, ...], what: str
    ) -> dict[str, object]:
        alg, kid = token_header(token)
        if alg not in algorithms:
            raise LoginRefused(f"{what} algorithm {alg[:16]!r} is not allowed")
        return verify_jwt(token, await self.signing_key(kid, alg), alg, what)

    async def authorization_url(self, transaction: LoginTransaction) -> str:
        metadata = await self.metadata()
        return str(
            prepare_grant_uri(
                metadata.authorization_endpoint,
                self.config.client_id,
                "code",
                redirect_uri=self.redirect_uri,
                scope=list(self.config.scopes),
                state=transaction.state,
                nonce=transaction.nonce,
                code_challenge=transaction.code_challenge,
                code_challenge_method="S256",
                acr_values=self.config.acr_values,
            )
        )

    async def _redeem(self, code: str, transaction: LoginTransaction) -> TokenSet:
        metadata = await self.metadata()
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=self.redirect_uri,
            client_id=self.config.client_id,
            client_secret=self.config.client_secret.get_secret_value(),
            code_verifier=transaction.code_verifier,
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        try:
            response = await self._http.post(
                metadata.token_endpoint, data=body, headers=headers, allow_redirects=False
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailable(
                f"token endpoint unreachable ({type(exc).__name__})"
            ) from None
        async with response:
            document = await _read_json(response, "token response")
            if response.status == 200:
                return parse_token_response(document)
            error = document.get("error") if isinstance(document, dict) else None
            shown = error if isinstance(error, str) and ERROR_CODE.match(error) else "?"
            if response.status == 400 and shown != "invalid_client":
                raise LoginRefused(f"token endpoint refused the code (error={shown})")
            raise ProviderUnavailable(f"token endpoint answered HTTP {response.status} ({shown})")

    async def _userinfo(
        self, metadata: ProviderMetadata, tokens: TokenSet, subject: str
    ) -> UserInfo:
        assert metadata.userinfo_endpoint is not None
        headers = {
            "Authorization": f"Bearer {tokens.access_token}",
            "Accept": "application/jwt, application/json",
        }
        async with await self._get(metadata.userinfo_endpoint, "userinfo", **headers) as response:
            if response.status == 401:
                raise LoginRefused("userinfo refused the access token")
            if response.status != 200:
                raise ProviderUnavailable(f"userinfo answered HTTP {response.status}")
            kind = response.content_type
            if kind == "application/jwt":
                body = await _read_body(response, "userinfo JWT")
                token = body.decode("ascii", "replace").strip()
                claims = await self._verify(token, metadata.userinfo_algorithms, "userinfo JWT")
            elif kind == "application/json":
                document = await _read_json(response, "userinfo")
                if not isinstance(document, dict):
                    raise LoginRefused("userinfo is not a JSON object")
                claims = document
            else:
                raise ProviderUnavailable(f"userinfo has content type {kind[:40]!r}")
        return check_userinfo_claims(
            claims,
            subject=subject,
            issuer=metadata.issuer,
            client_id=self.config.client_id,
            signed=kind == "application/jwt",
        )

    async def complete(
        self, query: Mapping[str, str], transaction: LoginTransaction
    ) -> tuple[UserInfo, str]:
        """Finish a login from the callback's query: who logged in, and the raw ID token
        (kept for logout's id_token_hint)."""
        metadata = await self.metadata()
        code = parse_callback(query, state=transaction.state, issuer=metadata.issuer)
        tokens = await self._redeem(code, transaction)
        claims = await self._verify(tokens.id_token, metadata.id_token_algorithms, "ID token")
        subject = check_id_token_claims(
            claims,
            issuer=metadata.issuer,
            client_id=self.config.client_id,
            nonce=transaction.nonce,
            now=int(self.clock()),
            leeway=self.config.leeway,
        )
        if metadata.userinfo_endpoint is None:
            user = check_userinfo_claims(
                claims,
                subject=subject,
                issuer=metadata.issuer,
                client_id=self.config.client_id,
                signed=False,
            )
        else:
            user = await self._userinfo(metadata, tokens, subject)
        return user, tokens.id_token

    async def end_session_url(self, id_token: str) -> str | None:
        """Where to send the browser so the provider ends its own session too (or None)."""
        metadata = await self.metadata()
        if metadata.end_session_endpoint is None:
            return None
        params = [
            ("id_token_hint", id_token),
            ("state", str(generate_token(RANDOM_LENGTH))),
            ("post_logout_redirect_uri", self.post_logout_redirect_uri),
        ]
        return str(add_params_to_uri(metadata.end_session_endpoint, params))
