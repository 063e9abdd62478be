"""This hub's ed25519 signing keys: the key file, rotation, and the signed public document.

The key file is ours, plain text, one key per line, current key first:

    # comment lines and blank lines are ignored
    ed25519 <version> <unpadded base64 seed>
    ed25519 <version> <unpadded base64 seed> expired_ts=<ms>

The key id is `ed25519:<version>` (the Matrix layout: the algorithm, then the version). Only
the current key signs. Retired keys are still published, with the time they stopped signing,
so a partner verifies a request signed before then; they are dropped 30 days after.
The file is written 0600 in a 0700 folder and refused when others may read it.

Every time here is Unix time in milliseconds.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.ids import ServerName

from .signing import canonical_json, parse_key_id, unpadded_b64decode, unpadded_b64encode

ALGORITHM = "ed25519"
SEED_SIZE = 32
HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
# A retired key verifies requests signed before it was retired; after this, nobody needs it.
RETIRED_KEEP_MS = 30 * DAY_MS
# However long a document says it is valid, partners trust it at most this long.
MAX_VALIDITY_MS = 7 * DAY_MS
_VERSION = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_EXPIRED = re.compile(r"^expired_ts=(0|[1-9][0-9]{0,14})$")
FILE_HEADER = (
    "# Federation signing keys of this hub (`hub keys generate` writes this file).\n"
    "# Current key first, then retired ones. Private: never copy it anywhere else.\n"
)

Clock = Callable[[], int]


def system_clock() -> int:
    """Now, in Unix milliseconds."""
    return time.time_ns() // 1_000_000


class KeyFileError(ValueError):
    """The key file is missing, unreadable, too open or malformed; one line with its path."""


class KeyDocumentError(ValueError):
    """A published keys document this hub does not accept; one line."""


@dataclass(frozen=True)
class VerifyKey:
    """A public key; `expired_ts` set when its owner retired it (it then verifies only
    what was signed before)."""

    key_id: str
    public_key: Ed25519PublicKey = field(repr=False)
    expired_ts: int | None = None

    @property
    def public_base64(self) -> str:
        return unpadded_b64encode(self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def verifies(self, payload: bytes, signature: bytes, at_ts: int) -> bool:
        """Whether `signature` is this key's over `payload`, signed at `at_ts`."""
        if self.expired_ts is not None and at_ts >= self.expired_ts:
            return False
        try:
            self.public_key.verify(signature, payload)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def from_base64(cls, key_id: str, text: str, expired_ts: int | None = None) -> VerifyKey:
        raw = unpadded_b64decode(text)
        if len(raw) != 32:
            raise ValueError("is not a 32-byte ed25519 public key")
        return cls(key_id, Ed25519PublicKey.from_public_bytes(raw), expired_ts)


@dataclass(frozen=True)
class SigningKey:
    """One of our private keys (never printed: its repr shows only the id)."""

    key_id: str
    seed: bytes = field(repr=False)
    expired_ts: int | None = None

    @cached_property
    def private_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    def sign(self, payload: bytes) -> bytes:
        return self.private_key.sign(payload)

    @property
    def verify_key(self) -> VerifyKey:
        return VerifyKey(self.key_id, self.private_key.public_key(), self.expired_ts)

    @property
    def seed_base64(self) -> str:
        return unpadded_b64encode(self.seed)


@dataclass(frozen=True)
class InstanceKeys:
    """This hub's keys: `current` signs; `retired` are published for earlier signatures."""

    current: SigningKey
    retired: tuple[SigningKey, ...] = ()

    @property
    def key_id(self) -> str:
        return self.current.key_id

    def sign(self, payload: bytes) -> bytes:
        return self.current.sign(payload)


@dataclass(frozen=True)
class PublishedKeys:
    """A partner's keys as its signed document says, trusted until `valid_until_ts`."""

    server_name: ServerName
    valid_until_ts: int
    verify_keys: Mapping[str, VerifyKey]
    old_verify_keys: Mapping[str, VerifyKey]

    def key(self, key_id: str) -> VerifyKey | None:
        return self.verify_keys.get(key_id) or self.old_verify_keys.get(key_id)


# --- the key file ---------------------------------------------------------------------------


def load(path: Path) -> InstanceKeys:
    """Read the key file; KeyFileError naming the file (and line) otherwise."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyFileError(f"{path}: file not found; create it with `hub keys generate`") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise KeyFileError(f"{path}: cannot read: {reason}") from None
    if os.name == "posix" and stat.S_IMODE(mode) & 0o077:
        raise KeyFileError(
            f"{path}: other users may access it (mode {stat.S_IMODE(mode):04o}); "
            f"run `chmod 600 {path}`"
        )
    keys: list[SigningKey] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            key = _parse_line(line, first=not keys)
        except ValueError as exc:
            raise KeyFileError(f"{path}:{number}: {exc}") from None
        if any(existing.key_id == key.key_id for existing in keys):
            raise KeyFileError(f"{path}:{number}: key id {key.key_id} is used twice")
        keys.append(key)
    if not keys:
        raise KeyFileError(f"{path}: holds no key; create one with `hub keys generate`")
    return InstanceKeys(current=keys[0], retired=tuple(keys[1:]))


def _parse_line(line: str, *, first: bool) -> SigningKey:
    parts = line.split()
    if len(parts) not in (3, 4):
        raise ValueError("expected `ed25519 <version> <seed>` and, for a retired key, expired_ts=")
    algorithm, version, seed_text = parts[:3]
    if algorithm != ALGORITHM:
        raise ValueError(f"unknown algorithm (only {ALGORITHM})")
    if not _VERSION.match(version):
        raise ValueError("key version must be 1-64 letters, digits or _")
    try:
        seed = unpadded_b64decode(seed_text)
    except ValueError:
        raise ValueError("seed is not unpadded base64") from None
    if len(seed) != SEED_SIZE:
        raise ValueError(f"seed is not {SEED_SIZE} bytes")
    expired_ts: int | None = None
    if len(parts) == 4:
        match = _EXPIRED.match(parts[3])
        if match is None:
            raise ValueError("expected expired_ts=<milliseconds> after the seed")
        expired_ts = int(match.group(1))
    if first and expired_ts is not None:
        raise ValueError("the first key is the current one and cannot have expired_ts")
    if not first and expired_ts is None:
        raise ValueError("a retired key (any key after the first) needs expired_ts=<ms>")
    return SigningKey(f"{ALGORITHM}:{version}", seed, expired_ts)


def _format(keys: InstanceKeys) -> str:
    lines = [FILE_HEADER]
    for key in (keys.current, *keys.retired):
        version = key.key_id.removeprefix(f"{ALGORITHM}:")
        expired = f" expired_ts={key.expired_ts}" if key.expired_ts is not None else ""
        lines.append(f"{ALGORITHM} {version} {key.seed_base64}{expired}\n")
    return "".join(lines)


def _write(path: Path, keys: InstanceKeys) -> None:
    """Replace the file atomically: a crash leaves the old keys or the new ones, never half."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(_format(keys))
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def generate(path: Path, now: int) -> InstanceKeys:
    """Create the key file, or rotate: a new current key, the old one retired at `now`.

    Retired keys older than 30 days are dropped. An unreadable or malformed file is never
    overwritten (KeyFileError): it may be the only copy of keys partners trust.
    """
    previous = load(path) if path.exists() or path.is_symlink() else None
    taken = {key.key_id for key in (previous.current, *previous.retired)} if previous else set()
    key_id = f"{ALGORITHM}:{secrets.token_hex(4)}"
    while key_id in taken:  # pragma: no cover - 1 in 4 billion
        key_id = f"{ALGORITHM}:{secrets.token_hex(4)}"
    retired: list[SigningKey] = []
    if previous is not None:
        retired.append(replace(previous.current, expired_ts=now))
        retired.extend(
            key
            for key in previous.retired
            if key.expired_ts is not None and key.expired_ts >= now - RETIRED_KEEP_MS
        )
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    keys = InstanceKeys(SigningKey(key_id, seed), tuple(retired))
    _write(path, keys)
    return keys


# --- the published document -----------------------------------------------------------------


def published_keys(
    keys: InstanceKeys, server_name: ServerName, now: int, validity_ms: int
) -> dict[str, object]:
    """The signed document served at /.well-known/hub/keys (valid at most 7 days)."""
    document: dict[str, object] = {
        "server_name": server_name,
        "valid_until_ts": now + max(0, min(validity_ms, MAX_VALIDITY_MS)),
        "verify_keys": {keys.key_id: {"key": keys.current.verify_key.public_base64}},
        "old_verify_keys": {
            key.key_id: {"key": key.verify_key.public_base64, "expired_ts": key.expired_ts}
            for key in keys.retired
        },
    }
    signature = keys.sign(canonical_json(document))
    document["signatures"] = {server_name: {keys.key_id: unpadded_b64encode(signature)}}
    return document


def verify_published(document: object, server_name: ServerName, now: int) -> PublishedKeys:
    """A partner's keys from its document, if `server_name` signed it with each of its current
    keys and it is still valid; KeyDocumentError saying why not."""
    if not isinstance(document, dict):
        raise KeyDocumentError("keys document is not a JSON object")
    if document.get("server_name") != server_name:
        raise KeyDocumentError(f"keys document is not {server_name}'s (server_name differs)")
    valid_until = document.get("valid_until_ts")
    if not isinstance(valid_until, int) or isinstance(valid_until, bool):
        raise KeyDocumentError("keys document has no integer valid_until_ts")
    if valid_until <= now:
        raise KeyDocumentError("keys document has expired (valid_until_ts is past)")
    verify_keys = _read_keys(document.get("verify_keys"), "verify_keys", retired=False)
    if not verify_keys:
        raise KeyDocumentError("keys document has no verify_keys")
    old_keys = _read_keys(document.get("old_verify_keys", {}), "old_verify_keys", retired=True)
    if verify_keys.keys() & old_keys.keys():
        raise KeyDocumentError("keys document lists a key as both current and old")
    signatures = document.get("signatures")
    ours = signatures.get(server_name) if isinstance(signatures, dict) else None
    if not isinstance(ours, dict):
        raise KeyDocumentError(f"keys document is not signed by {server_name}")
    try:
        payload = canonical_json({k: v for k, v in document.items() if k != "signatures"})
    except ValueError as exc:
        raise KeyDocumentError(f"keys document: {exc}") from None
    for key_id, key in verify_keys.items():
        signature_text = ours.get(key_id)
        if not isinstance(signature_text, str):
            raise KeyDocumentError(f"keys document is not signed by its key {key_id}")
        try:
            signature = unpadded_b64decode(signature_text)
        except ValueError:
            raise KeyDocumentError(f"keys document signature by {key_id} is malformed") from None
        if not key.verifies(payload, signature, now):
            raise KeyDocumentError(f"keys document signature by {key_id} does not verify")
    return PublishedKeys(
        server_name=server_name,
        valid_until_ts=min(valid_until, now + MAX_VALIDITY_MS),
        verify_keys=verify_keys,
        old_verify_keys=old_keys,
    )


def _read_keys(value: object, where: str, *, retired: bool) -> dict[str, VerifyKey]:
    if not isinstance(value, dict):
        raise KeyDocumentError(f"keys document {where} is not an object")
    keys: dict[str, VerifyKey] = {}
    for key_id, entry in value.items():
        try:
            parse_key_id(key_id)
        except ValueError as exc:
            raise KeyDocumentError(f"keys document {where}: a key id {exc}") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise KeyDocumentError(f"keys document {where}.{key_id} has no key")
        expired_ts: int | None = None
        if retired:
            expired_ts = entry.get("expired_ts")
            if not isinstance(expired_ts, int) or isinstance(expired_ts, bool):
                raise KeyDocumentError(f"keys document {where}.{key_id} has no expired_ts")
        try:
            keys[key_id] = VerifyKey.from_base64(key_id, entry["key"], expired_ts)
        except ValueError as exc:
            raise KeyDocumentError(f"keys document {where}.{key_id}: key {exc}") from None
    return keys
