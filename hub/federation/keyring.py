"""Partners' verification keys: an in-memory cache honouring each document's validity, in front
of a fetch from the partner itself (GET {base_url}/.well-known/hub/keys, through the guarded
outbound client).

Fetching is bounded because whoever sends a request chooses its key id: a forged id must not
make us hammer the partner it claims to be. So there is at most one fetch in flight per
server, and at most one fetch per server every 30 s, whatever the outcome; a key still
unknown after that is refused.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from hub.errors import first_line
from hub.ids import ServerName

from .keys import Clock, KeyDocumentError, PublishedKeys, VerifyKey, system_clock

log = logging.getLogger(__name__)

REFETCH_INTERVAL_MS = 30_000


class KeyUnavailable(Exception):
    """No key verifies this signature: unknown id, retired before the request, or the
    partner's keys could not be fetched. The message is one line, safe to log and answer."""


class KeyFetcher(Protocol):
    async def fetch_keys(self, server_name: ServerName) -> PublishedKeys:
        """The partner's verified keys document; KeyDocumentError or OSError-like on failure."""
        ...


class Keyring:
    """Owns the cache of partners' keys; nothing to start or stop (fetches run in callers)."""

    def __init__(
        self,
        fetcher: KeyFetcher,
        *,
        clock: Clock = system_clock,
        refetch_interval_ms: int = REFETCH_INTERVAL_MS,
    ) -> None:
        self._fetcher = fetcher
        self._clock = clock
        self._refetch_interval_ms = refetch_interval_ms
        self._documents: dict[ServerName, PublishedKeys] = {}
        self._last_fetch: dict[ServerName, int] = {}
        self._locks: dict[ServerName, asyncio.Lock] = {}

    async def verification_key(self, server_name: ServerName, key_id: str, at_ts: int) -> VerifyKey:
        """The key `server_name` signed with as `key_id`, valid for a signature made at
        `at_ts`; KeyUnavailable otherwise."""
        lock = self._locks.setdefault(server_name, asyncio.Lock())
        async with lock:  # waiters reuse what the one fetch in flight brings
            key = self._cached(server_name, key_id)
            if key is None:
                await self._refresh(server_name)
                key = self._cached(server_name, key_id)
        if key is None:
            raise KeyUnavailable(f"unknown key {key_id} of {server_name}")
        if key.expired_ts is not None and at_ts >= key.expired_ts:
            raise KeyUnavailable(f"key {key_id} of {server_name} was retired before this request")
        return key

    async def verify(
        self, server_name: ServerName, key_id: str, at_ts: int, payload: bytes, signature: bytes
    ) -> bool:
        """Whether `signature` over `payload` is `server_name`'s (KeyUnavailable without key)."""
        key = await self.verification_key(server_name, key_id, at_ts)
        return key.verifies(payload, signature, at_ts)

    def _cached(self, server_name: ServerName, key_id: str) -> VerifyKey | None:
        document = self._documents.get(server_name)
        if document is None:
            return None
        if document.valid_until_ts <= self._clock():
            del self._documents[server_name]
            return None
        return document.key(key_id)

    async def _refresh(self, server_name: ServerName) -> None:
        now = self._clock()
        last = self._last_fetch.get(server_name)
        if last is not None and now - last < self._refetch_interval_ms:
            return  # fetched moments ago: a key it did not have is not worth asking again
        self._last_fetch[server_name] = now
        try:
            document = await self._fetcher.fetch_keys(server_name)
        except KeyDocumentError as exc:
            raise KeyUnavailable(f"keys of {server_name} are invalid: {exc}") from None
        except Exception as exc:  # the refusal that follows is logged once, with this reason
            reason = first_line(exc)
            raise KeyUnavailable(f"keys of {server_name} could not be fetched: {reason}") from None
        log.info(
            "federation: keys of %s fetched (%s)", server_name, ", ".join(document.verify_keys)
        )
        self._documents[server_name] = document
