"""Relief for an SFU process that has fallen seconds behind: video of people a viewer does not
show large is paused for everybody until it catches up; audio, screen shares and each viewer's
largest tile go on.

Measured (README, "Large meeting with simulcast"): a hub process past its core does not slow
down evenly. Packets wait seconds in its socket buffers, ICE consent answers wait with them,
connections are declared dead and people are taken out: everybody loses everything, audio
first to notice. Shedding most video brings the packet rate under what one loop can carry, so
the meeting degrades into what matters (who speaks, what is shared) instead of ending.

`LoopWatch` measures how late a 100 ms timer wakes and how busy the loop's thread was;
`Relief` turns that into on/off with hysteresis: on after LATE_PROBES wake-ups in a row each
more than LATE seconds late with the thread busy (the loop behind its work, not a garbage
collection, nor a process the machine left waiting), off after CALM_FOR
seconds without a wake-up later than CALM (twice as long each time relief starts again soon
after it ended). Pure apart from `LoopWatch.run`.
"""

from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger(__name__)

PROBE = 0.1  # seconds between the watch's wake-ups
LATE = 0.2  # a wake-up this late counts towards relief
LATE_PROBES = 5  # in a row: the loop has been behind for at least 1.5 s
# ... while busy: the loop's thread used at least this share of the time. A process the
# machine does not schedule (a busy test machine, a noisy neighbour) wakes late too, but
# idle; shedding its video would help nobody.
BUSY = 0.6
CALM = 0.05  # a wake-up no later than this is calm
CALM_FOR = 10.0  # seconds of calm before video comes back
# Video coming back may overload the loop again: relief starting again within REENTRY of its
# end doubles the calm it then waits for, up to CALM_MAX, so that it does not flap.
REENTRY = 60.0
CALM_MAX = 300.0


class Relief:
    """Whether the SFU sheds video now, from the lateness of the loop's wake-ups."""

    def __init__(self) -> None:
        self.active = False
        self.times_entered = 0
        self.calm_needed = CALM_FOR
        self._late_in_a_row = 0
        self._calm_since: float | None = None
        self._ended_at: float | None = None

    def observe(self, lateness: float, now: float, busy: float = 1.0) -> bool:
        """One wake-up `lateness` seconds late, the loop's thread busy for the `busy` share
        of the time since the last one; True if `active` changed."""
        if lateness > LATE and busy >= BUSY:
            self._late_in_a_row += 1
        else:
            self._late_in_a_row = 0
        if lateness > CALM:
            self._calm_since = None
        elif self._calm_since is None:
            self._calm_since = now
        if not self.active and self._late_in_a_row >= LATE_PROBES:
            again = self._ended_at is not None and now - self._ended_at < REENTRY
            self.calm_needed = min(2 * self.calm_needed, CALM_MAX) if again else CALM_FOR
            self.active = True
            self.times_entered += 1
            return True
        calm = self._calm_since is not None and now - self._calm_since >= self.calm_needed
        if self.active and calm:
            self.active = False
            self._ended_at = now
            return True
        return False


class LoopWatch:
    """Wakes every PROBE seconds and tells `relief` how late it woke (every room reads the
    same `Relief`: its viewers' videos are fitted again at their next estimate or tick)."""

    def __init__(self, relief: Relief) -> None:
        self.relief = relief

    async def run(self) -> None:
        before, cpu_before = time.monotonic(), time.thread_time()
        while True:
            expected = before + PROBE
            await asyncio.sleep(PROBE)
            now, cpu = time.monotonic(), time.thread_time()
            busy = (cpu - cpu_before) / max(now - before, 1e-6)
            before, cpu_before = now, cpu
            if self.relief.observe(max(0.0, now - expected), now, busy):
                if self.relief.active:
                    log.warning(
                        "the SFU is seconds behind: video of people not shown large is paused "
                        "for everybody until it catches up (audio and screen shares go on)"
                    )
                else:
                    log.warning("the SFU caught up: video resumes")
