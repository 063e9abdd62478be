"""Relief's switch (hub/sfu/relief.py) and which videos a viewer keeps while it is on."""

from __future__ import annotations

from hub.sfu.allocation import Demand
from hub.sfu.downlink import kept_when_shedding
from hub.sfu.relief import CALM_FOR, CALM_MAX, LATE_PROBES, PROBE, REENTRY, Relief


def test_relief_starts_only_after_the_loop_stayed_seconds_behind_and_ends_after_calm():
    relief = Relief()
    now = 0.0
    for _ in range(LATE_PROBES - 1):  # a long garbage collection or a busy moment: no relief
        now += PROBE
        assert not relief.observe(0.8, now)
    now += PROBE
    assert not relief.observe(0.1, now)  # one wake-up in time breaks the run
    for _ in range(3 * LATE_PROBES):  # late but idle: a process the machine left waiting
        now += PROBE
        assert not relief.observe(0.8, now, busy=0.2)
    changes = []
    for _ in range(LATE_PROBES):
        now += PROBE
        changes.append(relief.observe(0.8, now))
    assert changes == [False] * (LATE_PROBES - 1) + [True] and relief.active
    now += PROBE
    assert not relief.observe(0.01, now)  # calm starts
    now += CALM_FOR / 2
    assert not relief.observe(0.15, now)  # neither late nor calm: calm must start again
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


def test_relief_that_starts_again_soon_waits_twice_as_long_before_video_comes_back():
    relief = Relief()
    now = 0.0

    def behind() -> None:
        nonlocal now
        for _ in range(LATE_PROBES):
            now += PROBE
            relief.observe(0.9, now)
        assert relief.active

    def calm_until_it_ends() -> float:
        nonlocal now
        started = now
        while relief.active:
            now += 1.0
            relief.observe(0.0, now)
        return now - started

    behind()
    assert calm_until_it_ends() == CALM_FOR + 1  # the first calm wake-up starts the count
    behind()  # at once: the video it let back in was too much
    assert calm_until_it_ends() == 2 * CALM_FOR + 1
    for _ in range(10):
        behind()
        calm_until_it_ends()
    assert relief.calm_needed == CALM_MAX
    now += REENTRY + 1  # a quiet minute: the next relief starts from the short calm again
    behind()
    assert calm_until_it_ends() == CALM_FOR + 1
