"""Relief's switch (hub/sfu/relief.py) and which videos a viewer keeps while it is on."""

from __future__ import annotations

from hub.sfu.allocation import Demand
from hub.sfu.downlink import kept_when_shedding
from hub.sfu.relief import CALM_FOR, LATE_PROBES, PROBE, Relief


def test_relief_starts_only_after_the_loop_stayed_seconds_behind_and_ends_after_calm():
    relief = Relief()
    now = 0.0
    for _ in range(LATE_PROBES - 1):  # a long garbage collection or a busy moment: no relief
        now += PROBE
        assert not relief.observe(0.8, now)
    now += PROBE
    assert not relief.observe(0.2, now)  # one wake-up in time breaks the run
    changes = []
    for _ in range(LATE_PROBES):
        now += PROBE
        changes.append(relief.observe(0.8, now))
    assert changes == [False] * (LATE_PROBES - 1) + [True] and relief.active
    now += PROBE
    assert not relief.observe(0.01, now)  # calm starts
    now += CALM_FOR / 2
    assert not relief.observe(0.2, now)  # neither late nor calm: calm must start again
    now += CALM_FOR - PROBE
    assert not relief.observe(0.0, now) and relief.active
    now += CALM_FOR
    assert relief.observe(0.0, now) and not relief.active
    assert relief.times_entered == 1


def test_under_relief_a_viewer_keeps_every_screen_share_and_its_largest_camera_tile():
    def demand(key: str, screen: bool, area: float) -> Demand:
        return Demand(key, [1e5], 0, (1.0 if screen else 0.0, area))

    demands = [demand("anne", False, 320 * 180), demand("bruno", False, 1280 * 720),
               demand("slides", True, 640 * 360), demand("chloé", False, 640 * 360)]  # fmt: skip
    assert kept_when_shedding(demands) == {"bruno", "slides"}
    assert kept_when_shedding([]) == set()
