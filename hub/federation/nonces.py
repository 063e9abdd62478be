"""Replay protection: the (origin, nonce) pairs of signed requests accepted recently.

A request is accepted while its timestamp is within ±5 minutes of our clock, so a request that
arrives with a timestamp 5 minutes ahead could be replayed until 10 minutes after it arrived:
each pair is remembered 10 minutes from its arrival. Arrival order is then also expiry
order, so expired pairs leave from the front of one ordered dict.

Memory is bounded. When the cache is full of pairs that have not expired, a new request is
refused (`NonceVerdict.FULL`, answered 429) rather than accepted: forgetting an unexpired pair
to make room would let that request be replayed. Only requests whose signature verified reach
the cache, so filling it takes a partner sending more than the bound in 10 minutes (100,000:
over 160 requests a second), which deserves to be slowed down.
"""

from __future__ import annotations

import enum
from collections import OrderedDict

from hub.ids import ServerName

ACCEPTANCE_WINDOW_MS = 5 * 60 * 1000
KEEP_MS = 2 * ACCEPTANCE_WINDOW_MS
MAX_ENTRIES = 100_000


class NonceVerdict(enum.Enum):
    FRESH = "fresh"  # never seen: remembered now, go on
    REPLAYED = "replayed"  # seen within the window: refuse
    FULL = "full"  # no room without forgetting an unexpired nonce: refuse, retry later


class NonceCache:
    """Owns the remembered nonces of one hub process; nothing to start or stop."""

    def __init__(self, *, keep_ms: int = KEEP_MS, max_entries: int = MAX_ENTRIES) -> None:
        self._keep_ms = keep_ms
        self._max_entries = max_entries
        self._expiry: OrderedDict[tuple[ServerName, str], int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expiry)

    def admit(self, origin: ServerName, nonce: str, now_ms: int) -> NonceVerdict:
        """Remember (origin, nonce) if new; say whether the request may go on."""
        self._drop_expired(now_ms)
        key = (origin, nonce)
        if key in self._expiry:
            return NonceVerdict.REPLAYED
        if len(self._expiry) >= self._max_entries:
            return NonceVerdict.FULL
        # A clock stepping back must not reorder the dict: never expire before the last entry.
        last = next(reversed(self._expiry.values()), 0)
        self._expiry[key] = max(now_ms + self._keep_ms, last)
        return NonceVerdict.FRESH

    def retry_after_ms(self, now_ms: int) -> int:
        """How long until the oldest pair expires (when FULL, the time to wait)."""
        first = next(iter(self._expiry.values()), now_ms)
        return max(0, first - now_ms)

    def _drop_expired(self, now_ms: int) -> None:
        while self._expiry:
            key, expires = next(iter(self._expiry.items()))
            if expires > now_ms:
                return
            del self._expiry[key]
