"""Server names and base URLs of hubs: pure parsing with one precise `ValueError` line each.

A server name is what a hub calls itself and signs with (`visio.finances.gouv.fr`,
`10.0.0.5:8443`, `[2001:db8::1]`); a base URL is only where it is reached. Keeping the two
apart lets a partner move behind another address without changing who it is.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from hub.auth.matrix_openid import MAX_SERVER_NAME
from hub.auth.matrix_openid import parse_server_name as _parse_host_port
from hub.ids import ServerName

__all__ = ["MAX_SERVER_NAME", "parse_base_url", "parse_server_name"]


def parse_server_name(text: str) -> ServerName:
    """`host[:port]` (DNS name, IPv4 or [IPv6]) in lower case; ValueError saying what is wrong.

    Host names are case-insensitive, so `Visio.Finances.gouv.fr` and `visio.finances.gouv.fr`
    are one partner: the lower-case form is the one compared, signed and stored.
    """
    if not isinstance(text, str):
        raise ValueError("server name is not a string")
    if text != text.strip():
        raise ValueError("server name has spaces around it")
    return ServerName(str(_parse_host_port(text.lower())))


def parse_base_url(text: str, *, allow_http: bool = True) -> str:
    """`https://host[:port]` without path, query, fragment or user; no trailing slash.

    No path: signed requests cover the path the partner's hub receives, and the hub's routes
    are absolute, so a prefix would only ever be rewritten away by a proxy and break them.
    """
    value = text.strip().rstrip("/")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise ValueError(f"{text!r} must start with https://")
    if scheme == "http" and not allow_http:
        raise ValueError(f"{text!r} must use https:// (http:// only in dev mode)")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{text!r} must not contain a user or password")
    if parts.path or parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError(f"{text!r} must be scheme://host[:port] only, without a path")
    host = parts.netloc.rsplit("@", 1)[-1]
    try:
        server = _parse_host_port(host.lower())
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    if port is not None and server.port != port:
        raise ValueError(f"{text!r} has an invalid port")
    return f"{scheme}://{server}"
