"""The `[redis] url`: checked once when the configuration is read, shown without its password.

Pure functions; the messages never repeat the URL, which may carry a password.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qs, urlsplit

from redis.asyncio.connection import URL_QUERY_ARGUMENT_PARSERS

SCHEMES = ("redis", "rediss", "unix")


def check_redis_url(url: str) -> None:
    """ValueError saying what is wrong with `url` (an empty one is the in-memory default)."""
    if not url:
        return
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(
            "is not a valid URL (check the port and the brackets of an IPv6 host)"
        ) from None
    if parts.scheme not in SCHEMES:
        raise ValueError("must start with redis://, rediss:// (TLS) or unix://")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    if parts.scheme == "unix":
        if parts.hostname or not parts.path.startswith("/"):
            raise ValueError("unix:// needs the socket's absolute path (unix:///run/redis.sock)")
    else:
        if not parts.hostname:
            raise ValueError("names no host (redis://HOST:PORT/DB)")
        if port == 0:
            raise ValueError("port must be 1-65535")
        database = parts.path.lstrip("/")
        if database and not database.isdigit():
            raise ValueError("the path must be a database number (redis://HOST:PORT/0)")
    for name, values in parse_qs(parts.query, keep_blank_values=True).items():
        parser = URL_QUERY_ARGUMENT_PARSERS.get(name)
        if parser is None:
            raise ValueError(f"unknown option {name!r} in the query string")
        try:
            parser(values[0])
        except (TypeError, ValueError):
            raise ValueError(f"option {name!r} has an invalid value") from None


def redis_password(url: str) -> str:
    """The password the URL carries ('' without one)."""
    return urlsplit(url).password or ""


def is_loopback(url: str) -> bool:
    """Whether the URL reaches a Redis on this machine (a Unix socket or a loopback host)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def display_redis_url(url: str) -> str:
    """The URL for logs and errors: credentials replaced by `***`, query dropped."""
    if not url:
        return "in-memory"
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    credentials = "***@" if parts.username or parts.password else ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{credentials}{host}{port}{parts.path}"
