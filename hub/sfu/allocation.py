"""How much video each viewer gets: its downlink estimate shared among the tiles it shows.

A viewer's browser measures the delay of what we send it and tells us how much it can take
(REMB, RTCP PSFB 15). We use REMB rather than transport-wide congestion control: with
transport-cc the *sender* runs the estimator, which here would mean parsing a feedback packet
per leg every few milliseconds and running Google's delay filter in Python for every viewer;
REMB gives us the viewer's own estimate about once a second, and Chromium sends a lower one
at once when its link saturates.

`allocate` is pure: given what each shown video asks for (its layers' bitrates, the layer
that fits its tile, a priority) and a budget, it gives every stream the lowest layer in
priority order while the budget lasts (the rest, when their lowest layer is well above what
is left, are paused: audio only), then climbs the
most important ones towards the layer their tile wants. Screen shares come first, then
larger tiles.

`Downlink` keeps one viewer's estimate. An estimate only falls on congestion, and it cannot
rise much above what the viewer receives, so a viewer held at a low layer would stay there
for good: now and then (4 s, doubling up to 32 s after each failure) one stream is moved up
one step on trial. If the estimate falls within `TRIAL` seconds the step is taken back,
otherwise it is kept.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

HEADROOM = 0.9  # of the estimate, for retransmissions and bursts (keyframes)
# A video is paused only when its lowest layer exceeds what is left by more than this: after
# any congestion a browser's estimate falls to ~85 % of what it received, which would
# otherwise pause a single-layer video at the first queueing delay.
PAUSE_MARGIN = 1.5
DROP = 0.92  # an estimate below this share of the previous one means congestion
PROBE_AFTER = 4.0  # seconds of a constrained allocation before one step up is tried
PROBE_MAX = 32.0
TRIAL = 3.0  # seconds a trial step must hold without congestion to be kept
# A first estimate below this share of what the viewer is being sent is congestion already.
FIRST_CREDIBLE = 0.5
# The budget is the lowest estimate of this many seconds: while a link saturates, the
# browser's estimate falls over about a second, and a layer must not be taken on the way.
WINDOW = 2.0
# Estimates closer together than this are kept as one (the lowest): Chromium sends 30-40 a
# second while its estimate falls, and a viewer may send thousands.
GRAIN = 0.1


@dataclass(frozen=True)
class Demand:
    """One shown video: `rates[i]` is the bitrate of its i-th flowing layer (lowest first),
    `wanted` the index of the layer its tile asks for."""

    key: Hashable
    rates: Sequence[float]
    wanted: int
    priority: tuple[float, ...]


@dataclass(frozen=True)
class Allocation:
    """The layer index of each demand (None: paused for lack of bandwidth), the bitrate that
    makes, and whether some demand got less than it wanted."""

    layers: dict[Hashable, int | None]
    total: float
    constrained: bool


def allocate(demands: Sequence[Demand], budget: float | None, *, probe: bool = False) -> Allocation:
    """Share `budget` (bits/s; None: no limit known) among `demands`; with `probe`, one more
    step than the budget allows is given to the most important demand that lacks one."""
    if budget is None:
        layers: dict[Hashable, int | None] = {d.key: d.wanted for d in demands}
        return Allocation(layers, sum(d.rates[d.wanted] for d in demands), False)
    order = sorted(demands, key=lambda d: d.priority, reverse=True)
    remaining = budget
    layers = {}
    for demand in order:  # first everyone's lowest layer, most important first
        if demand.rates[0] <= max(remaining, 0.0) * PAUSE_MARGIN:
            layers[demand.key] = 0
            remaining -= demand.rates[0]
        else:
            layers[demand.key] = None
    for demand in order:  # then upwards, most important first
        index = layers[demand.key]
        while index is not None and index < demand.wanted:
            step = demand.rates[index + 1] - demand.rates[index]
            if step > remaining:
                break
            remaining -= step
            index += 1
        layers[demand.key] = index
    if probe:
        for demand in order:
            index = layers[demand.key]
            if index is None:
                layers[demand.key] = 0
                break
            if index < demand.wanted:
                layers[demand.key] = index + 1
                break
    total = 0.0
    constrained = False
    for demand in demands:
        index = layers[demand.key]
        if index is None:
            constrained = True
            continue
        total += demand.rates[index]
        constrained = constrained or index < demand.wanted
    return Allocation(layers, total, constrained)


class Downlink:
    """One viewer's bandwidth: whether its link showed congestion, its last estimate, what a
    successful trial proved it can take, and when to try the next step up.

    An estimate limits the viewer only once it showed congestion: it fell, or the first one
    was well below what the viewer was being sent. Some receivers (aiortc) report per stream
    an estimate below what they receive without trouble; a steady one is no reason to take
    anything away. Once every tile has what it asks for within the estimate, the viewer is
    free again until the next congestion.
    """

    def __init__(self) -> None:
        self.estimate: float | None = None
        self._recent: deque[tuple[float, float]] = deque()  # (when, estimate), WINDOW long
        self.congested = False
        self.proven = 0.0  # bits/s a trial carried without congestion (0 after congestion)
        self.interval = PROBE_AFTER
        self.next_probe = 0.0
        self.trial_until: float | None = None
        self.constrained = False
        self.total = 0.0  # what the last allocation sends
        self.used: float | None = None  # the budget the last allocation was made with

    def budget(self) -> float | None:
        """Bits/s the viewer's videos may take; None while it is not limited."""
        if self.estimate is None or not self.congested:
            return None
        lowest = min(estimate for _, estimate in self._recent)
        return max(lowest * HEADROOM, self.proven)

    def on_estimate(self, bitrate: float, now: float, sending: Callable[[], float]) -> bool:
        """Note the viewer's estimate (`sending()`: bits/s of video it is being sent, asked
        for the first estimate only); True if the allocation should be made again
        (congestion, or a budget other than the last allocation's)."""
        previous, self.estimate = self.estimate, float(bitrate)
        recent = self._recent
        while recent and recent[0][0] < now - WINDOW:
            recent.popleft()
        # Congestion is a new low: an estimate under the window's lowest (estimates going up
        # and down again, honest or not, are not congestion each time they go down).
        lowest = min((estimate for _, estimate in recent), default=None)
        if recent and now - recent[-1][0] < GRAIN:
            recent[-1] = (recent[-1][0], min(recent[-1][1], self.estimate))
        else:
            recent.append((now, self.estimate))
        if previous is None:
            limit = sending() * FIRST_CREDIBLE
        else:
            limit = (previous if lowest is None else lowest) * DROP
        if bitrate < limit:  # congestion: whatever was proven no longer holds
            self.congested = True
            self.proven = 0.0
            if self.trial_until is not None:
                self.trial_until = None
                self.interval = min(self.interval * 2, PROBE_MAX)
            self.next_probe = now + self.interval
            return True
        return self.congested and self.budget() != self.used

    def probing(self, now: float) -> bool:
        """Whether the next allocation adds a trial step (and start one if it is time)."""
        if self.trial_until is not None:
            if now < self.trial_until:
                return True
            # The step held: keep it, and try the next one after the shortest wait.
            self.trial_until = None
            self.proven = max(self.proven, self.total)
            self.interval = PROBE_AFTER
            self.next_probe = now + self.interval
            return False
        if self.congested and self.constrained and now >= self.next_probe:
            self.trial_until = now + TRIAL
            return True
        return False

    def settle(self, allocation: Allocation, budget: float | None) -> None:
        self.used = budget
        self.total = allocation.total
        self.constrained = allocation.constrained
        if self.congested and not allocation.constrained and self.trial_until is None:
            self.congested = False  # every tile has what it asks for: free again
            self.proven = 0.0
            self.interval = PROBE_AFTER
