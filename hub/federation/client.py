"""Signed requests to partner hubs, over a client session that only reaches public addresses.

The outbound guard works on the socket aiohttp is about to connect (its `socket_factory`),
after name resolution, on the very address used: a partner's DNS answering 127.0.0.1 or
10.0.0.1 on the second lookup cannot turn this hub into a proxy to its own network. IP
literals in a base URL meet the same check. `[federation] allow_private_networks` (dev mode
only) lifts it for tests and labs.

Redirects are never followed (a signed request is for one destination; a link upgrade too),
answers are read up to a bound, every call has a timeout, no cookie or proxy variable is used.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
from typing import Any

import aiohttp
from aiohappyeyeballs import AddrInfoType
from yarl import URL

from hub import __version__, bounded_json
from hub.auth.http import read_bounded
from hub.errors import Forbidden, NotFound, ServiceUnavailable
from hub.ids import ServerName

from .keys import Clock, InstanceKeys, PublishedKeys, system_clock, verify_published
from .policy import Partner, PartnerPolicy
from .signing import AuthorizationParams, canonical_json, format_authorization, signing_payload

log = logging.getLogger(__name__)

KEYS_PATH = "/.well-known/hub/keys"
TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5, sock_read=10)
MAX_ANSWER = 1024 * 1024
MAX_WS_MESSAGE = 1024 * 1024
WS_HEARTBEAT = 20.0
USER_AGENT = f"visio-hub/{__version__} (federation)"
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_REFUSED_MARK = "refused by the outbound guard"

# An answer from a partner, untyped until the caller validates it with its message model.
JsonAnswer = dict[str, Any]


class PartnerUnknown(Forbidden):
    """A destination that is not in the partner policy: nothing is sent."""

    code = "not_a_partner"


class PartnerUnreachable(ServiceUnavailable):
    """The partner could not be reached or answered something unusable."""

    code = "partner_unreachable"


class OutboundRefused(PartnerUnreachable):
    """The partner's address is private, loopback, link-local, multicast or unspecified."""

    code = "address_refused"


class PartnerRefusedUs(Forbidden):
    """The partner answered 401/403: it does not (or no longer) accept this hub. `status`
    tells them apart: 403 is its allow-list (final until its operator lists us again), 401 a
    signature, key or clock it could not check (worth trying again)."""

    code = "refused_by_partner"

    def __init__(self, detail: str, status: int) -> None:
        super().__init__(detail)
        self.status = status

    @property
    def removed_us(self) -> bool:
        """Whether the partner took us off its allow-list (403 `not_a_partner`)."""
        return self.status == 403


class MeetingGone(NotFound):
    """The partner answered 404 for a meeting's link: it has ended, or never existed."""

    code = "meeting_gone"


class AddressRefused(OSError):
    """Raised by the socket factory for a non-public address (aiohttp wraps it)."""


class RedirectRefused(aiohttp.ClientError):
    """A partner answered a redirect; a signed request is never taken elsewhere."""


def is_forbidden_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a hub must not connect there: anything not globally routable unicast."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64:  # a public IPv4 address reached through NAT64 is fine
            return is_forbidden_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        teredo = address.teredo[1] if address.teredo else None
        for embedded in (address.ipv4_mapped, address.sixtofour, teredo):
            if embedded is not None and is_forbidden_address(embedded):
                return True
        if address.is_site_local:
            return True
    return (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
    )


def _guarded_socket(addr_info: AddrInfoType) -> socket.socket:
    """aiohttp's socket factory: refuses the connection before it is made."""
    family, kind, proto, _, address = addr_info
    try:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
    except ValueError:
        raise AddressRefused(f"{address[0]!r} is not an IP address ({_REFUSED_MARK})") from None
    if is_forbidden_address(ip):
        raise AddressRefused(f"{ip} is not a public address ({_REFUSED_MARK})")
    return socket.socket(family, kind, proto)


async def _refuse_redirect(
    session: aiohttp.ClientSession,
    context: object,
    params: aiohttp.TraceRequestRedirectParams,
) -> None:
    raise RedirectRefused(f"answered a redirect ({params.response.status}); not followed")


class FederationClient:
    """Owns one aiohttp session for everything this hub sends to partners.

    Create it inside the event loop (the app's cleanup context does); `close()` ends it.
    """

    def __init__(
        self,
        server_name: ServerName,
        keys: InstanceKeys,
        policy: PartnerPolicy,
        *,
        allow_private_networks: bool = False,
        clock: Clock = system_clock,
        timeout: aiohttp.ClientTimeout = TIMEOUT,
        max_answer: int = MAX_ANSWER,
    ) -> None:
        self.server_name = server_name
        self._keys = keys
        self._policy = policy
        self._clock = clock
        self._max_answer = max_answer
        redirects = aiohttp.TraceConfig()
        redirects.on_request_redirect.append(_refuse_redirect)
        connector = aiohttp.TCPConnector(
            socket_factory=None if allow_private_networks else _guarded_socket,
            limit_per_host=16,
            ttl_dns_cache=60,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            trace_configs=[redirects],
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
        )

    async def close(self) -> None:
        await self._session.close()

    def signed_headers(
        self, destination: ServerName, method: str, path: str, body: bytes
    ) -> dict[str, str]:
        """The Authorization header of one request (path with its query, exactly as sent).

        Checks nothing about `destination`: `request` and `ws_connect` look it up first.
        """
        if not path.startswith("/") or not path.isascii() or any(c in path for c in " #\t"):
            raise ValueError("path must be an ASCII path starting with '/', already encoded")
        timestamp = self._clock()
        nonce = secrets.token_urlsafe(18)
        payload = signing_payload(
            method, path, self.server_name, destination, timestamp, nonce, body
        )
        params = AuthorizationParams(
            origin=self.server_name,
            destination=destination,
            key_id=self._keys.key_id,
            timestamp_ms=timestamp,
            nonce=nonce,
            signature=self._keys.sign(payload),
        )
        return {"Authorization": format_authorization(params)}

    async def request(
        self, destination: str, method: str, path: str, body: object | None, lang: str = "fr"
    ) -> tuple[int, JsonAnswer]:
        """Send a signed request to a partner; its status and JSON object answer ({} if empty),
        a refusal's sentences said in `lang` (Accept-Language: the person's, when one asks).

        Raises PartnerUnknown (not in the policy), OutboundRefused (not a public address) or
        PartnerUnreachable (connection, timeout, redirect, oversized or non-JSON answer).
        """
        partner = await self._partner(destination)
        data = canonical_json(body) if body is not None else b""
        headers = self.signed_headers(partner.server_name, method, path, data)
        if body is not None:
            headers["Content-Type"] = "application/json"
        headers["Accept-Language"] = lang
        url = URL(partner.base_url + path, encoded=True)
        try:
            async with self._session.request(
                method, url, data=data or None, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                raw = await read_bounded(response, self._max_answer)
        except Exception as exc:
            raise self._failure(partner, exc) from None
        if 300 <= status < 400:
            raise PartnerUnreachable(
                f"{partner.server_name} answered a redirect ({status}); not followed"
            )
        return status, _json_object(partner, status, raw)

    async def ws_connect(self, destination: str, path: str) -> aiohttp.ClientWebSocketResponse:
        """A WebSocket to a partner, opened with a signed GET upgrade, with heartbeats."""
        partner = await self._partner(destination)
        headers = self.signed_headers(partner.server_name, "GET", path, b"")
        url = URL(partner.base_url + path, encoded=True)
        try:
            return await self._session.ws_connect(
                url, headers=headers, heartbeat=WS_HEARTBEAT, max_msg_size=MAX_WS_MESSAGE
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status in (401, 403):
                raise PartnerRefusedUs(
                    f"{partner.server_name} refuses this hub ({exc.status}); ask its operator "
                    "to list us as a partner",
                    exc.status,
                ) from None
            if exc.status == 404:
                raise MeetingGone(f"{partner.server_name} has no such meeting (any more)") from None
            raise self._failure(partner, exc) from None
        except Exception as exc:
            raise self._failure(partner, exc) from None

    async def fetch_keys(self, server_name: ServerName) -> PublishedKeys:
        """A partner's public keys, from its own signed document (KeyDocumentError if bad)."""
        partner = await self._partner(server_name)
        url = URL(partner.base_url + KEYS_PATH, encoded=True)
        try:
            async with self._session.get(url, allow_redirects=False) as response:
                status = response.status
                raw = await read_bounded(response, self._max_answer)
        except Exception as exc:
            raise self._failure(partner, exc) from None
        if status != 200:
            raise PartnerUnreachable(f"{partner.server_name} answered {status} for its keys")
        document = _json_object(partner, status, raw)
        return verify_published(document, partner.server_name, now=self._clock())

    async def _partner(self, destination: str) -> Partner:
        partner = await self._policy.get(destination)
        if partner is None:
            raise PartnerUnknown(f"{destination[:255]} is not a partner of this hub")
        return partner

    @staticmethod
    def _failure(partner: Partner, exc: BaseException) -> PartnerUnreachable:
        """One line for a failed exchange (aiohttp's messages may quote headers: not kept)."""
        name = partner.server_name
        if _is_refused(exc):
            return OutboundRefused(
                f"{name} ({partner.base_url}) resolves to a non-public address; refused "
                "(federation.allow_private_networks is for tests only)"
            )
        if isinstance(exc, RedirectRefused):
            return PartnerUnreachable(f"{name} {exc}")
        if isinstance(exc, aiohttp.WSServerHandshakeError):
            return PartnerUnreachable(f"{name} refused the WebSocket upgrade ({exc.status})")
        if isinstance(exc, TimeoutError):
            return PartnerUnreachable(f"{name} did not answer in time")
        if isinstance(exc, ValueError):  # read_bounded
            return PartnerUnreachable(f"{name} answered more than the size limit")
        return PartnerUnreachable(f"{name} is unreachable ({type(exc).__name__})")


def _is_refused(exc: BaseException) -> bool:
    """Whether a connection failed on the guard (alone, or among several addresses tried)."""
    os_error = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else None
    for candidate in (exc, os_error, exc.__cause__):
        if isinstance(candidate, AddressRefused) or _REFUSED_MARK in str(candidate or ""):
            return True
    return False


def _json_object(partner: Partner, status: int, raw: bytes) -> JsonAnswer:
    if not raw:
        return {}
    try:
        document = bounded_json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        document = None
    if not isinstance(document, dict):
        raise PartnerUnreachable(f"{partner.server_name} answered {status} without a JSON object")
    return document
