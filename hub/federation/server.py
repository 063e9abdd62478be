"""Inbound federation: every request under /_hub/federation/v1/ is verified before its handler.

Verification is a middleware bound to that prefix rather than a decorator on each handler:
a handler added later under the prefix is protected without anyone remembering to ask, which
is the secure default (a decorator forgotten once is a public endpoint). Handlers read what was
verified with `verified(request)`, which fails loudly for a route outside the prefix instead
of returning something unverified.

Checks, in this order (cheapest and least revealing first), each refusal logged once at
warning with its reason and the claimed origin, never the header or the signature:

1. an Authorization header that parses (401 `signature_missing` / `signature_malformed`);
2. destination is this hub (401 `wrong_destination`);
3. the timestamp is within 5 minutes of our clock (401 `stale_request`);
4. the origin is a partner (403 `not_a_partner`), before any key of theirs is fetched;
5. the signature verifies with the origin's key for that time (401 `unknown_key` /
   `bad_signature`);
6. the nonce was not seen (401 `replayed`; 429 when the nonce cache is full).

Also here: the public keys document and the ping, the cleanup context that builds the
`Federation` object, and the routes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import hdrs, web

from hub.errors import Forbidden, NotFound, TooManyRequests, Unauthorized
from hub.i18n import Text
from hub.ids import ServerName
from hub.shared.port import ClaimVerdict
from hub.web.errors import Handler
from hub.web.keys import CONFIG, DATABASE, FEDERATION, SHARED

from .client import KEYS_PATH
from .keyring import KeyUnavailable
from .nonces import ACCEPTANCE_WINDOW_MS
from .policy import Partner
from .service import Federation
from .signing import SignatureError, parse_authorization, signing_payload

log = logging.getLogger(__name__)

PREFIX = "/_hub/federation/v1/"
KEYS_MAX_AGE = 300  # seconds a cache may keep our keys document (a rotation shows soon)


@dataclass(frozen=True)
class VerifiedRequest:
    """A request whose signature, destination, time and nonce were checked."""

    origin: ServerName
    partner: Partner
    body: bytes


VERIFIED = web.RequestKey("federation_verified", VerifiedRequest)


class SignedRequestRefused(Unauthorized):
    """A signed request refused; `code` says which check failed."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class NotAPartner(Forbidden):
    code = "not_a_partner"


def _refuse(
    request: web.Request, origin: str, error: Unauthorized | Forbidden | TooManyRequests
) -> Unauthorized | Forbidden | TooManyRequests:
    log.warning(
        "federation: refused %s %s from %s: %s (%s)",
        request.method,
        request.rel_url.raw_path,  # as it came: a decoded path could hold a line break
        origin,
        error.detail,
        error.code,
        extra={"origin": origin, "refusal": error.code},
    )
    return error


async def verify_request(request: web.Request) -> VerifiedRequest:
    """Check a signed request from a partner (see the module docstring for the order)."""
    federation = request.app[FEDERATION]
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is None:
        raise _refuse(
            request,
            "-",
            SignedRequestRefused(
                "signature_missing", "Authorization: HubSignature header is missing"
            ),
        )
    try:
        params = parse_authorization(header)
    except SignatureError as exc:
        raise _refuse(request, "-", SignedRequestRefused("signature_malformed", str(exc))) from None
    origin = params.origin
    if params.destination != federation.server_name:
        raise _refuse(
            request,
            origin,
            SignedRequestRefused(
                "wrong_destination",
                f"wrong destination: this hub is {federation.server_name}",
            ),
        )
    now = federation.clock()
    if abs(params.timestamp_ms - now) > ACCEPTANCE_WINDOW_MS:
        raise _refuse(
            request,
            origin,
            SignedRequestRefused(
                "stale_request", "timestamp is more than 5 minutes away from this hub's clock"
            ),
        )
    partner = await federation.policy.get(origin)
    if partner is None:
        raise _refuse(request, origin, NotAPartner(f"{origin} is not a partner of this hub"))
    body = await request.read()
    payload = signing_payload(
        request.method,
        request.raw_path,
        origin,
        params.destination,
        params.timestamp_ms,
        params.nonce,
        body,
    )
    try:
        valid = await federation.keyring.verify(
            origin, params.key_id, params.timestamp_ms, payload, params.signature
        )
    except KeyUnavailable as exc:
        raise _refuse(request, origin, SignedRequestRefused("unknown_key", str(exc))) from None
    if not valid:
        raise _refuse(
            request,
            origin,
            SignedRequestRefused("bad_signature", f"signature by {params.key_id} does not verify"),
        )
    claim = await federation.nonces.admit(origin, params.nonce)
    if claim.verdict is ClaimVerdict.TAKEN:
        raise _refuse(
            request,
            origin,
            SignedRequestRefused("replayed", "nonce already used: replayed request"),
        )
    if claim.verdict is ClaimVerdict.FULL:
        retry_after = claim.retry_after_ms // 1000 + 1
        raise _refuse(
            request,
            origin,
            TooManyRequests("too many signed requests in the last minutes", retry_after),
        )
    return VerifiedRequest(origin=origin, partner=partner, body=body)


def verified(request: web.Request) -> VerifiedRequest:
    """What the middleware verified for this request (handlers under /_hub/federation/v1/)."""
    try:
        return request[VERIFIED]
    except KeyError:
        raise RuntimeError(
            f"{request.path} was not verified: federation handlers belong under {PREFIX}"
        ) from None


def _under_prefix(request: web.Request) -> bool:
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else ""
    return request.path.startswith(PREFIX) or canonical.startswith(PREFIX)


@web.middleware
async def federation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Verify every request under /_hub/federation/v1/ before its handler runs."""
    if not _under_prefix(request):
        return await handler(request)
    if FEDERATION not in request.app:
        raise NotFound(text=Text("error.federation.off"))
    request[VERIFIED] = await verify_request(request)
    return await handler(request)


async def keys_document(request: web.Request) -> web.Response:
    """Our public keys, signed (public: partners fetch it to verify our requests)."""
    response = web.json_response(request.app[FEDERATION].published_keys())
    response.headers[hdrs.CACHE_CONTROL] = f"public, max-age={KEYS_MAX_AGE}"
    return response


async def ping(request: web.Request) -> web.Response:
    """Answers a partner's signed ping: who we are and who they proved to be."""
    origin = verified(request).origin
    return web.json_response({"server_name": request.app[FEDERATION].server_name, "origin": origin})


def add_federation_routes(app: web.Application) -> None:
    """The keys document and the ping; none when federation is off (they answer 404)."""
    if app[CONFIG].federation.server_name is None:
        return
    app.router.add_get(KEYS_PATH, keys_document)
    app.router.add_get(f"{PREFIX}ping", ping)


async def federation_context(app: web.Application) -> AsyncIterator[None]:
    """Build the `Federation` object at start (after the database) and close it on shutdown;
    nothing, and no FEDERATION key, while `[federation] server_name` is empty."""
    config = app[CONFIG]
    if config.federation.server_name is None:
        yield
        return
    federation = await Federation.start(config, app[DATABASE].sessions, app[SHARED])
    app[FEDERATION] = federation
    partners = await federation.policy.all()
    log.info(
        "federation on as %s with key %s, %d partner(s)",
        federation.server_name,
        federation.keys.key_id,
        len(partners),
    )
    try:
        yield
    finally:
        await federation.close()
