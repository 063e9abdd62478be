"""Replay protection: the (origin, nonce) pairs of signed requests accepted recently.

A request is accepted while its timestamp is within ±5 minutes of our clock, so a request that
arrives with a timestamp 5 minutes ahead could be replayed until 10 minutes after it arrived:
each pair is claimed for 10 minutes from its arrival, in the shared state (hub/shared/), so
a request accepted by one hub node is refused as a replay by every other node too.

In memory (one node) the number of claims is bounded: when full of pairs that have not
expired, a new request is refused (`ClaimVerdict.FULL`, answered 429) rather than one
forgotten, which would let its request be replayed. Only requests whose signature verified
reach this point, so filling it takes a partner sending over 160 requests a second.
"""

from __future__ import annotations

from hub.ids import ServerName
from hub.shared.port import Claim, SharedState

ACCEPTANCE_WINDOW_MS = 5 * 60 * 1000
KEEP_MS = 2 * ACCEPTANCE_WINDOW_MS


class Nonces:
    """Claims each verified request's nonce once; state lives in the shared state."""

    def __init__(self, state: SharedState, *, keep_ms: int = KEEP_MS) -> None:
        self._state = state
        self._keep_ms = keep_ms

    async def admit(self, origin: ServerName, nonce: str) -> Claim:
        """FRESH the first time (origin, nonce) is seen within `keep_ms`; TAKEN after."""
        return await self._state.claim(f"nonce:{origin}:{nonce}", self._keep_ms)
