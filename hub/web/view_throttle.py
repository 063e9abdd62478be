"""At most one `view` message applied per interval and socket: a page being resized sends a
burst; the latest one is applied when the interval is over (docs/signaling.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hub.web import signaling as sig

log = logging.getLogger(__name__)


class ViewThrottle:
    """Applies a socket's views through `apply`, never more often than `interval` seconds.
    Lives as long as the socket; `cancel` drops a view still waiting."""

    def __init__(self, apply: Callable[[sig.View], None], interval: float, who: str) -> None:
        self._apply = apply
        self._interval = interval
        self._who = who  # for the log line
        self._at = float("-inf")  # when a view was last applied (loop time)
        self._pending: sig.View | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._logged = False

    def offer(self, message: sig.View) -> None:
        """Apply at once, or (faster than one per interval) the latest when it is over."""
        loop = asyncio.get_running_loop()
        if self._timer is None and loop.time() - self._at >= self._interval:
            self._run(message)
            return
        self._pending = message
        if not self._logged:
            self._logged = True
            log.info("view messages faster than one per %d ms: the latest is applied then "
                     "(logged once per socket)", int(self._interval * 1000),
                     extra={"participant_id": self._who})  # fmt: skip
        if self._timer is None:
            self._timer = loop.call_at(self._at + self._interval, self._run_pending)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending = None

    def _run_pending(self) -> None:
        self._timer = None
        message, self._pending = self._pending, None
        if message is not None:
            self._run(message)

    def _run(self, message: sig.View) -> None:
        self._at = asyncio.get_running_loop().time()
        self._apply(message)
