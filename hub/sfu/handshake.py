"""The opening of a control connection to a worker on another machine, after TLS and before
the control protocol (hub/sfu/control.py): the hub says `hello` with the shared secret, its
instance id and the protocol version; the worker answers `welcome` or `refused` (and closes).

Pure: frames are those of control.py (hub/pipes/frames.py: a 4-byte length, here a JSON
object), but a hello may be at most `MAX_HELLO` bytes (hub/sfu/tcp.py `read_opening`), so an
unauthenticated peer cannot make the worker read a megabyte.
The secret is compared in constant time and never appears in an error.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from hub.sfu import control
from hub.sfu.control import ControlError, Field

VERSION = 1  # of the control protocol; both ends must speak the same
MAX_HELLO = 4096
HELLO: dict[str, dict[str, Field]] = {"hello": {"secret": "str", "hub": "str", "version": "int"}}
ANSWERS: dict[str, dict[str, Field]] = {"welcome": {"pid": "int"}, "refused": {"error": "str"}}
MAX_HUB_ID = 64


class HandshakeRefused(ValueError):
    """The peer is not let in (or did not let us in); the text says why, in one line."""


@dataclass(frozen=True)
class Hello:
    hub: str  # the hub process's random id: a hub that reconnects replaces its old connection


def hello(secret: str, hub: str) -> bytes:
    return control.encode("hello", secret=secret, hub=hub, version=VERSION)


def welcome(pid: int) -> bytes:
    return control.encode("welcome", pid=pid)


def refusal(reason: str) -> bytes:
    return control.encode("refused", error=reason)


def secret_matches(given: str, expected: str) -> bool:
    """Constant time whatever the lengths: both are hashed to 32 bytes first."""
    return hmac.compare_digest(
        hashlib.sha256(given.encode()).digest(), hashlib.sha256(expected.encode()).digest()
    )


def check_hello(body: bytes, secret: str) -> Hello:
    """The hub's hello, checked: JSON, the version we speak, the right secret."""
    try:
        message = control.parse(body, HELLO, need_id=False)
    except ControlError as exc:
        raise HandshakeRefused(f"not a hello: {exc}") from None
    if message.integer("version") != VERSION:
        raise HandshakeRefused(
            f"the hub speaks control protocol {message.integer('version')}, this worker "
            f"{VERSION}: run the same version of the hub on both machines"
        )
    if not secret_matches(message.text("secret"), secret):
        raise HandshakeRefused("wrong secret")
    hub = message.text("hub")
    if not hub or len(hub) > MAX_HUB_ID:
        raise HandshakeRefused("hello: 'hub' is empty or too long")
    return Hello(hub)


def check_answer(body: bytes) -> int:
    """The worker's answer to our hello: its pid, or HandshakeRefused with its reason."""
    try:
        message = control.parse(body, ANSWERS, need_id=False)
    except ControlError as exc:
        raise HandshakeRefused(f"not a worker's answer: {exc}") from None
    if message.type == "refused":
        raise HandshakeRefused(f"refused by the worker: {message.text('error')[:200]}")
    return message.integer("pid")
