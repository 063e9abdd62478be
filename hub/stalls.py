"""What stops the event loop — and media with it: the garbage collector's pauses and the
loop's own lateness, measured for /metrics; the collector's pauses kept short in `hub serve`.

Every object the hub creates while starting (modules, SQLAlchemy mappers, templates, aiortc's
tables…) lives as long as the process, yet each full collection walked all of them with the
event loop stopped — and media with it: 74 to 374 ms per full collection in a 10-person
meeting (measured with bench/sfu on this machine), the tail of the forwarding latency.
`freeze_startup_objects()`, once the hub serves, moves them out of the collector's sight.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from prometheus_client import Histogram

PAUSE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
LAG_PERIOD = 0.05  # seconds between two wake-ups of the lag probe


class PauseMeter:
    """Times each collection into `histogram` (label: generation); `install()` adds it to
    the interpreter's collector callbacks, `remove()` takes it out."""

    def __init__(self, histogram: Histogram) -> None:
        # One child per generation, made once: collections of generation 0 are frequent.
        self._by_generation = [histogram.labels(generation=str(g)) for g in range(3)]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started:
            pause = time.perf_counter() - self._started
            self._by_generation[min(int(info.get("generation", 2)), 2)].observe(pause)

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)


def freeze_startup_objects() -> int:
    """Collect what start-up left behind, then exempt everything alive from later
    collections (for the process that serves; tests build many apps and must not).
    Returns how many objects are now frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class LoopLag:
    """How late the event loop wakes a timer (`LAG_PERIOD` apart): every packet waiting in a
    socket meanwhile waited as long. `run()` is the probe's task; cancel it to stop."""

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_PERIOD)
            self._histogram.observe(max(0.0, loop.time() - before - LAG_PERIOD))
