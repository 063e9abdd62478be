"""`Lease`: one node's hold on a named task (the Matrix bot, the partner links) while it can.

The holder renews every `renew_every` seconds. A renewal is trusted from the moment it was
sent, so the key lives at least `ttl` after that moment; if none is confirmed for `ttl -
margin` seconds (Redis unreachable) or one is refused (the key expired and another node took
it), the holder is told it lost the lease `margin` seconds before the key can expire, so it
stops the task before anyone else may start it. Renewal and release check the token
(fencing): a holder that lost the lease never extends or deletes another node's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable

from hub.errors import SharedStateUnavailable
from hub.shared.port import SharedState

log = logging.getLogger(__name__)

TTL = 10.0
RENEW_EVERY = 3.0
MARGIN = 1.0


class Lease:
    """Owns this node's token for lease `name` and the task renewing it. `acquire()` waits
    until the lease is ours; `release()` stops renewing and lets it go. `on_lost` is called
    (once per hold) when it is lost; `lost` is set then too."""

    def __init__(
        self,
        state: SharedState,
        name: str,
        *,
        ttl: float = TTL,
        renew_every: float = RENEW_EVERY,
        margin: float = MARGIN,
        on_lost: Callable[[], None] | None = None,
        holder: str = "",
    ) -> None:
        if not 0 < renew_every < ttl - margin or margin <= 0:
            raise ValueError("a lease needs 0 < renew_every < ttl - margin and margin > 0")
        self.name = name
        # `holder.` first: whoever reads the key knows which node holds it (the rest is secret
        # enough that no other holder can renew or release it by mistake).
        secret = secrets.token_urlsafe(16)
        self.token = f"{holder}.{secret}" if holder else secret
        self.lost = asyncio.Event()
        self._state = state
        self._ttl_ms = round(ttl * 1000)
        self._safe_for = ttl - margin
        self._renew_every = renew_every
        self._on_lost = on_lost
        self._confirmed_at = 0.0
        self._keeper: asyncio.Task[None] | None = None

    @property
    def held(self) -> bool:
        return self._keeper is not None and not self._keeper.done()

    async def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; True when it is ours (then kept renewed)."""
        if self.held:
            return True
        loop = asyncio.get_running_loop()
        sent = loop.time()
        if not await self._state.lease_acquire(self.name, self.token, self._ttl_ms):
            return False
        self._confirmed_at = sent
        self.lost.clear()
        self._keeper = loop.create_task(self._keep())
        log.info("lease %s: held by this node", self.name)
        return True

    async def acquire(self, retry_every: float = 1.0) -> None:
        """Wait until the lease is ours, asking every `retry_every` seconds."""
        while True:
            with contextlib.suppress(SharedStateUnavailable):  # logged by the state
                if await self.try_acquire():
                    return
            await asyncio.sleep(retry_every)

    async def release(self) -> None:
        """Stop renewing; delete the key if it is still ours (else it expires by itself)."""
        keeper, self._keeper = self._keeper, None
        if keeper is None or keeper.done():
            return
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        with contextlib.suppress(SharedStateUnavailable):
            await self._state.lease_release(self.name, self.token)
        log.info("lease %s: released", self.name)

    async def _keep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            deadline = self._confirmed_at + self._safe_for
            await asyncio.sleep(max(0.0, min(self._renew_every, deadline - loop.time())))
            remaining = deadline - loop.time()
            if remaining <= 0:
                self._lose("no renewal confirmed in time")
                return
            sent = loop.time()
            try:
                renewed = await asyncio.wait_for(
                    self._state.lease_renew(self.name, self.token, self._ttl_ms), remaining
                )
            except (SharedStateUnavailable, TimeoutError):
                continue
            if not renewed:
                self._lose("another node holds it")
                return
            self._confirmed_at = sent

    def _lose(self, reason: str) -> None:
        log.warning("lease %s: lost (%s); stopping what it guards", self.name, reason)
        self.lost.set()
        if self._on_lost is not None:
            self._on_lost()
