"""Signed server-to-server requests: canonical JSON, the `HubSignature` header, what is signed.

Pure and I/O free. A request from hub A to hub B carries

    Authorization: HubSignature origin="a.example",destination="b.example",
        key="ed25519:k1",ts="1763800000000",nonce="<22-128 url-safe chars>",sig="<base64>"

(one line), like Matrix's X-Matrix with a timestamp and a nonce against replay. `sig` is the
ed25519 signature, in unpadded standard base64, of `signing_payload(...)`: the canonical JSON
of the method, the path with its query as sent, both server names, the timestamp, the nonce and
the SHA-256 of the body. The receiver checks each of them (hub/federation/server.py).

Parsing follows RFC 9110 auth-params: the scheme and field names are case-insensitive, values
are tokens or quoted strings, whitespace is tolerated around commas and '='. Inside quotes
only \\" and \\\\ are escapes (no value we sign needs another, and one spelling per value
leaves nothing to disagree about). A field named twice is refused (which one would count?).
Unknown fields are ignored: they are not signed, so they can carry no meaning; a later version
that needs the receiver to enforce something new must use a new scheme name, never an
optional field an old hub would skip.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from hub.ids import ServerName

from .names import parse_server_name

__all__ = [
    "MAX_HEADER",
    "SCHEME",
    "AuthorizationParams",
    "SignatureError",
    "canonical_json",
    "format_authorization",
    "parse_authorization",
    "parse_key_id",
    "parse_server_name",
    "signing_payload",
    "unpadded_b64decode",
    "unpadded_b64encode",
]

SCHEME = "HubSignature"
MAX_HEADER = 4096
SIGNATURE_SIZE = 64  # ed25519
# Interoperable JSON integers (IEEE doubles represent these exactly, as Matrix requires too).
MAX_SAFE_INTEGER = 2**53 - 1

_FIELDS = ("origin", "destination", "key", "ts", "nonce", "sig")
# RFC 9110 token characters.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_KEY_ID = re.compile(r"^ed25519:[A-Za-z0-9_]{1,64}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{22,128}$")
_DIGITS = re.compile(r"^(0|[1-9][0-9]{0,14})$")  # below 2**53
_STANDARD_B64 = re.compile(r"^[A-Za-z0-9+/]*$")
_OWS = " \t"

T = TypeVar("T")


class SignatureError(ValueError):
    """An Authorization header or a signed document this hub does not accept; one line."""


@dataclass(frozen=True)
class AuthorizationParams:
    """The fields of a `HubSignature` Authorization header."""

    origin: ServerName
    destination: ServerName
    key_id: str
    timestamp_ms: int
    nonce: str
    signature: bytes


# --- canonical JSON -------------------------------------------------------------------------


def canonical_json(value: object) -> bytes:
    """The one byte string two hubs sign for a JSON value: sorted keys, no spaces, UTF-8.

    Only what every JSON implementation reads back exactly is accepted: objects with string
    keys, arrays, strings, booleans, null and integers within ±(2**53 - 1). Floats are refused
    (NaN and infinities are not JSON, and other languages print the rest differently).
    """
    _check_canonical(value, "value")
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("canonical JSON refuses strings with lone surrogates") from None


def _check_canonical(value: object, where: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise ValueError(f"canonical JSON refuses {where}: integer outside ±(2**53 - 1)")
        return
    if isinstance(value, float):
        raise ValueError(f"canonical JSON refuses {where}: floats are not allowed")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"canonical JSON refuses {where}: object keys must be strings")
            _check_canonical(item, f"{where}.{key}"[:200])
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_canonical(item, f"{where}[{index}]"[:200])
        return
    raise ValueError(f"canonical JSON refuses {where}: {type(value).__name__} is not JSON")


# --- base64 and key ids ---------------------------------------------------------------------


def unpadded_b64encode(data: bytes) -> str:
    """Standard base64 without '=' padding (the Matrix convention for keys and signatures)."""
    return base64.b64encode(data).rstrip(b"=").decode("ascii")


def unpadded_b64decode(text: str) -> bytes:
    """The inverse of `unpadded_b64encode`; ValueError for anything else (padding, URL-safe
    characters, stray bits), so that one signature has exactly one spelling."""
    if not _STANDARD_B64.match(text) or len(text) % 4 == 1:
        raise ValueError("is not unpadded base64")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise ValueError("is not unpadded base64") from None
    if unpadded_b64encode(data) != text:
        raise ValueError("is not canonical unpadded base64")
    return data


def parse_key_id(text: str) -> str:
    """`ed25519:<1-64 letters, digits or _>`; ValueError otherwise."""
    if not _KEY_ID.match(text):
        raise ValueError("is not an ed25519 key id (ed25519:<1-64 letters, digits or _>)")
    return text


# --- the signed payload ---------------------------------------------------------------------


def signing_payload(
    method: str,
    path_with_query: str,
    origin: ServerName,
    destination: ServerName,
    timestamp_ms: int,
    nonce: str,
    body: bytes,
) -> bytes:
    """The bytes signed for one request: every part an attacker could want to swap."""
    return canonical_json(
        {
            "method": method.upper(),
            "uri": path_with_query,
            "origin": origin,
            "destination": destination,
            "ts": timestamp_ms,
            "nonce": nonce,
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
    )


# --- the Authorization header ---------------------------------------------------------------


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_authorization(params: AuthorizationParams) -> str:
    """The header value for `params` (checked as `parse_authorization` would check them)."""
    values = {
        "origin": params.origin,
        "destination": params.destination,
        "key": params.key_id,
        "ts": str(params.timestamp_ms),
        "nonce": params.nonce,
        "sig": unpadded_b64encode(params.signature),
    }
    header = f"{SCHEME} " + ",".join(f"{name}={_quote(values[name])}" for name in _FIELDS)
    if parse_authorization(header) != params:
        raise SignatureError("authorization fields are not in their canonical form")
    return header


def _label(name: str) -> str:
    return f'field "{name}"' if name in _FIELDS else "a field"


def _skip_ows(text: str, index: int) -> int:
    while index < len(text) and text[index] in _OWS:
        index += 1
    return index


def _read_quoted(text: str, index: int, name: str) -> tuple[str, int]:
    """The unescaped content of the quoted string starting at text[index] == '"'."""
    chars: list[str] = []
    index += 1
    while index < len(text):
        char = text[index]
        if char == '"':
            return "".join(chars), index + 1
        if char == "\\":
            if index + 1 >= len(text):
                raise SignatureError(f"{_label(name)} ends with a lone backslash")
            escaped = text[index + 1]
            if escaped not in ('"', "\\"):
                raise SignatureError(f'{_label(name)} has an escape other than \\" or \\\\')
            chars.append(escaped)
            index += 2
            continue
        chars.append(char)
        index += 1
    raise SignatureError(f"{_label(name)} has an unterminated quoted value")


def _split_fields(text: str, start: int) -> dict[str, str]:
    """Field name (lower case) -> unescaped value, for `name=value, ...` from text[start:]."""
    fields: dict[str, str] = {}
    index = _skip_ows(text, start)
    if index >= len(text):
        raise SignatureError(f"{SCHEME} header has no fields")
    while True:
        match = _TOKEN.match(text, index)
        if match is None:
            if index < len(text) and text[index] == ",":
                raise SignatureError(f"empty field at character {index + 1}")
            raise SignatureError(f"expected a field name at character {index + 1}")
        name = match.group().lower()
        index = _skip_ows(text, match.end())
        if index >= len(text) or text[index] != "=":
            raise SignatureError(f'{_label(name)} has no "=" after its name')
        index = _skip_ows(text, index + 1)
        if index < len(text) and text[index] == '"':
            value, index = _read_quoted(text, index, name)
        else:
            token = _TOKEN.match(text, index)
            if token is None:
                raise SignatureError(f"{_label(name)} has no value")
            value, index = token.group(), token.end()
        if name in fields:
            raise SignatureError(f"{_label(name)} appears twice")
        fields[name] = value
        index = _skip_ows(text, index)
        if index >= len(text):
            return fields
        if text[index] != ",":
            raise SignatureError(f'expected "," after {_label(name)} at character {index + 1}')
        index = _skip_ows(text, index + 1)
        if index >= len(text):
            raise SignatureError(f"empty field at character {index + 1}")


def parse_authorization(header: str) -> AuthorizationParams:
    """Read a `HubSignature` Authorization header; SignatureError with one precise line.

    The messages name fields, never their values: they are logged and sent back, and a
    mistaken header may hold somebody's token.
    """
    if not isinstance(header, str) or not header.strip(_OWS):
        raise SignatureError("Authorization header is empty")
    if len(header) > MAX_HEADER:
        raise SignatureError(f"Authorization header is longer than {MAX_HEADER} characters")
    if any((char < " " and char != "\t") or char == "\x7f" for char in header):
        raise SignatureError("Authorization header contains a control character")
    scheme = _TOKEN.match(header, _skip_ows(header, 0))
    if scheme is None or scheme.group().lower() != SCHEME.lower():
        raise SignatureError(f"authorization scheme is not {SCHEME}")
    if scheme.end() < len(header) and header[scheme.end()] not in _OWS:
        raise SignatureError(f"authorization scheme is not {SCHEME}")
    fields = _split_fields(header, scheme.end())
    for name in _FIELDS:
        if name not in fields:
            raise SignatureError(f'missing field "{name}"')
    return AuthorizationParams(
        origin=_field("origin", fields["origin"], parse_server_name),
        destination=_field("destination", fields["destination"], parse_server_name),
        key_id=_field("key", fields["key"], parse_key_id),
        timestamp_ms=_field("ts", fields["ts"], _parse_timestamp),
        nonce=_field("nonce", fields["nonce"], _parse_nonce),
        signature=_field("sig", fields["sig"], _parse_signature),
    )


def _field(name: str, value: str, parse: Callable[[str], T]) -> T:
    try:
        return parse(value)
    except ValueError as exc:
        raise SignatureError(f'field "{name}": {exc}') from None


def _parse_timestamp(text: str) -> int:
    if not _DIGITS.match(text):
        raise ValueError("is not a time in milliseconds (digits, no sign or leading zero)")
    return int(text)


def _parse_nonce(text: str) -> str:
    if not _NONCE.match(text):
        raise ValueError("must be 22-128 URL-safe base64 characters")
    return text


def _parse_signature(text: str) -> bytes:
    signature = unpadded_b64decode(text)
    if len(signature) != SIGNATURE_SIZE:
        raise ValueError(f"is not a {SIGNATURE_SIZE}-byte ed25519 signature")
    return signature
