"""Matrix OpenID: turn a token a Matrix client handed out (widget `get_openid`) into the
Matrix user id it proves, by asking that user's own homeserver.

The homeserver is found from `matrix_server_name` by Matrix server discovery (an operator's
override map first, then the explicit port, then /.well-known/matrix/server, then port 8448),
never from a URL the client sends: otherwise anyone could run a "homeserver" that vouches for
`@minister:interieur.tchap.gouv.fr`. The answer's `sub` must belong to that same server.

Parsing (server names, user ids, .well-known bodies) is pure and raises `ValueError` with a
precise message; `verify_openid` does the I/O and raises hub errors. The token never reaches a
log line, an error message or a chained exception (the userinfo URL carries it).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import aiohttp

from hub import bounded_json
from hub.auth.http import HTTP_TIMEOUT, read_bounded
from hub.errors import BadRequest, Forbidden, ServiceUnavailable, Unauthorized
from hub.i18n import Text
from hub.ids import MatrixUserId, ServerName

log = logging.getLogger(__name__)

MAX_SERVER_NAME = 255
MAX_USER_ID = 255
MAX_TOKEN = 1024
MAX_ANSWER = 64 * 1024  # bytes read from a userinfo or .well-known answer
DEFAULT_FEDERATION_PORT = 8448
USERINFO_PATH = "/_matrix/federation/v1/openid/userinfo"
WELL_KNOWN_PATH = "/.well-known/matrix/server"

_IPV6_CHARS = re.compile(r"^[0-9A-Fa-f:.]+$")
_DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# Historical user ids allow any printable ASCII except ':' in the localpart (spec, "User
# Identifiers"); new ones are [a-z0-9._=/+-]. We accept both, as homeservers still hold old ones.
_LOCALPART = re.compile(r"^[\x21-\x39\x3b-\x7e]+$")
# Tokens are opaque, but every homeserver issues URL-safe printable ASCII; anything else is not
# worth a request.
_TOKEN = re.compile(r"^[\x21-\x7e]+$")


@dataclass(frozen=True)
class ParsedServerName:
    """A server name split into host (brackets kept for IPv6) and optional port."""

    host: str
    port: int | None
    is_ip: bool

    def __str__(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


def parse_server_name(value: str) -> ParsedServerName:
    """Check a Matrix server name (`host[:port]`, host a DNS name, IPv4 or [IPv6])."""
    if not value:
        raise ValueError("server name is empty")
    if len(value) > MAX_SERVER_NAME:
        raise ValueError(f"server name is longer than {MAX_SERVER_NAME} characters")
    if value.startswith("["):
        close = value.find("]")
        if close < 0:
            raise ValueError("server name has an unclosed '[' (IPv6 literal)")
        host, rest = value[: close + 1], value[close + 1 :]
        # The character check refuses scope ids ("%eth0"), which ipaddress accepts.
        if not _is_ipv6(host[1:-1]):
            raise ValueError("server name has an invalid IPv6 literal")
        is_ip = True
    else:
        host, sep, port_text = value.partition(":")
        rest = sep + port_text
        is_ip = _is_ipv4(host)
        if not is_ip:
            _check_dns_name(host)
    port: int | None = None
    if rest:
        if not rest.startswith(":"):
            raise ValueError("server name has characters after the IPv6 literal")
        digits = rest[1:]
        # No leading zero: "host:08448" would name the server differently from its users' ids.
        if not digits.isascii() or not digits.isdigit() or len(digits) > 5 or digits[0] == "0":
            raise ValueError("server name has an invalid port")
        port = int(digits)
        if not 1 <= port <= 65535:
            raise ValueError("server name port is outside 1-65535")
    return ParsedServerName(host=host, port=port, is_ip=is_ip)


def _is_ipv6(literal: str) -> bool:
    if not _IPV6_CHARS.match(literal):
        return False
    try:
        ipaddress.IPv6Address(literal)
    except ValueError:
        return False
    return True


def _is_ipv4(host: str) -> bool:
    if not re.fullmatch(r"[0-9.]+", host):
        return False
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        raise ValueError("server name looks like an IPv4 address but is not one") from None
    return True


def _check_dns_name(host: str) -> None:
    if not host:
        raise ValueError("server name has no host")
    for label in host.removesuffix(".").split("."):
        if not _DNS_LABEL.match(label):
            raise ValueError(
                "server name host must be DNS labels of letters, digits and inner dashes"
            )


def parse_user_id(value: str) -> tuple[str, ServerName]:
    """Split `@localpart:server` into its parts, checking both."""
    if len(value) > MAX_USER_ID:
        raise ValueError(f"user id is longer than {MAX_USER_ID} characters")
    if not value.startswith("@"):
        raise ValueError("user id does not start with '@'")
    localpart, sep, server = value[1:].partition(":")
    if not sep:
        raise ValueError("user id has no ':server' part")
    if not _LOCALPART.match(localpart):
        raise ValueError("user id has an empty or invalid localpart")
    parse_server_name(server)
    return localpart, ServerName(server)


def parse_well_known(body: bytes) -> ParsedServerName:
    """The delegated server in a /.well-known/matrix/server answer (`{"m.server": ...}`)."""
    try:
        document = bounded_json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(".well-known/matrix/server is not JSON") from None
    if not isinstance(document, dict):
        raise ValueError(".well-known/matrix/server is not a JSON object")
    delegated = document.get("m.server")
    if not isinstance(delegated, str):
        raise ValueError('.well-known/matrix/server has no "m.server" string')
    return parse_server_name(delegated)


def federation_url(server: ParsedServerName) -> str:
    """Base URL of a server whose name has a port or is an IP, or of a delegated server.

    SRV records (`_matrix-fed._tcp`) are not consulted: a delegated name without a port goes
    to 8448, which is what Tchap's and most deployments' .well-known files name anyway.
    """
    return f"https://{server.host}:{server.port or DEFAULT_FEDERATION_PORT}"


def _check_token(token: str) -> None:
    if not token or len(token) > MAX_TOKEN or not _TOKEN.match(token):
        raise Unauthorized(text=Text("error.matrix.token_invalid"))


async def resolve_homeserver(
    http: aiohttp.ClientSession,
    server_name: str,
    overrides: Mapping[str, str],
    http_timeout: aiohttp.ClientTimeout = HTTP_TIMEOUT,
) -> str:
    """Base URL to reach `server_name` over federation (no trailing slash)."""
    if server_name in overrides:
        return overrides[server_name].rstrip("/")
    server = parse_server_name(server_name)
    if server.is_ip or server.port is not None:
        return federation_url(server)
    try:
        async with http.get(
            f"https://{server.host}{WELL_KNOWN_PATH}",
            timeout=http_timeout,
            max_redirects=3,
        ) as response:
            if response.status != 200:
                return federation_url(server)
            return federation_url(parse_well_known(await read_bounded(response, MAX_ANSWER)))
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        # The spec's fallback: no usable .well-known means the server name itself on 8448.
        log.debug("no .well-known for %s (%s)", server_name, type(exc).__name__)
        return federation_url(server)


async def verify_openid(
    http: aiohttp.ClientSession,
    token: str,
    matrix_server_name: str,
    *,
    overrides: Mapping[str, str],
    allowed_homeservers: Collection[str],
    http_timeout: aiohttp.ClientTimeout = HTTP_TIMEOUT,
) -> MatrixUserId:
    """The Matrix user an OpenID token proves, as its homeserver `matrix_server_name` says.

    Raises `BadRequest` for a malformed server name, `Forbidden` for a homeserver outside
    `allowed_homeservers` (empty: none is; the hub contacts only homeservers the operator
    listed), `Unauthorized` for a token the homeserver does not
    know (or that proves a user of another server), `ServiceUnavailable` when the homeserver
    cannot be reached or answers nonsense. No request is made before the inputs are checked.
    """
    try:
        parse_server_name(matrix_server_name)
    except ValueError as exc:
        raise BadRequest(f"matrix_server_name: {exc}") from None
    if matrix_server_name not in allowed_homeservers:
        raise Forbidden(
            text=Text("error.matrix.server_not_allowed", {"server": matrix_server_name})
        )
    _check_token(token)
    base = await resolve_homeserver(http, matrix_server_name, overrides, http_timeout)
    unavailable = Text("error.matrix.server_unreachable", {"server": matrix_server_name})
    try:
        async with http.get(
            f"{base}{USERINFO_PATH}",
            params={"access_token": token},
            timeout=http_timeout,
            allow_redirects=False,  # a redirect would carry the token to another host
        ) as response:
            status = response.status
            body = await read_bounded(response, MAX_ANSWER)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        # `from None`: aiohttp's exceptions may quote the URL, which holds the token.
        log.warning("matrix openid: %s unreachable (%s)", matrix_server_name, type(exc).__name__)
        raise ServiceUnavailable(text=unavailable) from None
    if status in (401, 403):
        # The caller logs the refusal once; the homeserver's status is detail.
        log.debug("matrix openid: %s refused a token (%d)", matrix_server_name, status)
        raise Unauthorized(text=Text("error.matrix.token_refused"))
    if status != 200:
        log.warning("matrix openid: %s answered %d", matrix_server_name, status)
        raise ServiceUnavailable(text=unavailable)
    user_id = _sub_of(body, matrix_server_name)
    log.info("matrix openid: verified %s", user_id)
    return user_id


def _sub_of(body: bytes, matrix_server_name: str) -> MatrixUserId:
    try:
        document = bounded_json.loads(body)
    except (ValueError, UnicodeDecodeError):
        document = None
    sub = document.get("sub") if isinstance(document, dict) else None
    if not isinstance(sub, str):
        log.warning("matrix openid: %s answered without a sub", matrix_server_name)
        raise ServiceUnavailable(text=Text("error.matrix.bad_answer"))
    try:
        _, server = parse_user_id(sub)
    except ValueError as exc:
        log.warning("matrix openid: %s answered an invalid sub (%s)", matrix_server_name, exc)
        raise ServiceUnavailable(text=Text("error.matrix.bad_answer")) from None
    if server != matrix_server_name:
        # A homeserver vouching for someone else's users: never trust it.
        log.warning("matrix openid: %s vouched for %s", matrix_server_name, sub)
        raise Unauthorized(text=Text("error.matrix.wrong_server"))
    return MatrixUserId(sub)
