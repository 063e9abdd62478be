"""A twelve-person meeting with pages of four tiles (issue 13): the SFU forwards each viewer
the videos it shows and no other, counted at the SFU itself.

Real components: the hub's app with its SFU, two Chromium meeting pages laid out by
layout.js at 800×420 (which makes pages of four tiles among eleven people), and ten aiortc
people from the benchmark's crowd (bench/sfu/crowd.py: a pre-encoded VP8 clip and Opus-sized
audio, no encoder or decoder, in two worker processes) that each send a `view` of four
people. The hub runs in a thread of this process (tests/support/threaded_hub.py) so the test
reads `SfuRoom.snapshot()`: the packets of every leg, per viewer and per person.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from bench.sfu import crowd
from bench.sfu.media import encode_clip
from bench.sfu.system import stop_process
from tests.browser.support import (
    E2E_PAGE_JS,
    create_meeting,
    describe_page,
    fr,
    new_context,
    open_meeting_page,
    self_id,
    wait_for_flow,
    watch_errors,
)
from tests.conftest import make_config
from tests.support.processes import free_port
from tests.support.threaded_hub import LoopThread, ThreadedHub

VIEWPORT = {"width": 800, "height": 420}  # layout.js: 4 tiles a page among 11 others
PER_PAGE = 4
AIORTC_PEOPLE = 10  # and two Chromium pages: 12
WORKERS = 2
WINDOW = 4.0  # seconds of each measurement window
# From the click to the new people's video at the SFU, and to the old ones' last packet:
# 0.2–0.8 s on this 2-core machine at load 4–7, up to 7 s at load 12 (other tests running).
# Far above it, the page's view did not reach the hub (what a page turned while its media
# reconnected did: still the old four 15 s later).
TURN_LIMIT = 8.0
TILE = (188, 105)  # device pixels of a tile at VIEWPORT, sent in the aiortc people's views

# The people whose tiles the page shows now (not oneself in the corner), in screen order.
SHOWN_JS = """
() => [...document.querySelectorAll('#grid > li:not([hidden]):not(.tile-pip)')]
  .sort((a, b) => Number(a.style.order) - Number(b.style.order))
  .map((tile) => tile.dataset.participant)
"""

Key = tuple[str, str, str]  # viewer, the person its leg carries, kind (by name)


@dataclass(frozen=True)
class Sample:
    """What the SFU had forwarded at one moment, read in one go on the hub's loop."""

    at: float
    video_forwarded: int  # the SFU's own counter (hub_sfu_video_packets_forwarded)
    legs: dict[Key, int]  # packets each leg forwarded
    received: dict[tuple[str, str], int]  # (person, kind) -> packets the SFU received


@dataclass
class Meeting:
    """The meeting at the SFU, with its people's names for readable failures."""

    hub: ThreadedHub
    meeting_id: str
    names: dict[str, str] = field(default_factory=dict)  # participant id -> name

    def sample(self) -> Sample:
        def read() -> Sample:
            legs: dict[Key, int] = {}
            received: dict[tuple[str, str], int] = {}
            for viewer, member in self.hub.room(self.meeting_id).snapshot().items():
                for leg in member["legs"]:
                    if leg["from"] is not None:
                        key = (self.name(viewer), self.name(leg["from"]), leg["kind"])
                        legs[key] = leg["packets"]
                for stream in member["published"].values():
                    received[(self.name(stream["owner"]), stream["kind"])] = stream["packets"]
            forwarded = self.hub.sfu.counters.video_packets_forwarded
            return Sample(time.monotonic(), forwarded, legs, received)

        return self.hub.call(read)

    def name(self, participant_id: str) -> str:
        """Someone who came back with a new id (a page that rejoined) shows as that id."""
        return self.names.get(participant_id, participant_id)

    def page_shows(self, page: Page) -> list[str]:
        return [self.name(pid) for pid in page.evaluate(SHOWN_JS)]


@dataclass(frozen=True)
class Window:
    """Packets per second between two samples."""

    seconds: float
    video_forwarded: float
    legs: dict[Key, float]
    received: dict[tuple[str, str], float]

    @classmethod
    def between(cls, before: Sample, after: Sample) -> Window:
        seconds = after.at - before.at
        return cls(
            seconds,
            (after.video_forwarded - before.video_forwarded) / seconds,
            {k: (n - before.legs.get(k, 0)) / seconds for k, n in after.legs.items()},
            {k: (n - before.received.get(k, 0)) / seconds for k, n in after.received.items()},
        )


def measure(meeting: Meeting, page: Page, shown: dict[str, list[str]]) -> dict[str, float]:
    """Over WINDOW seconds: every viewer gets all the video the SFU receives of each person it
    shows, none of anybody else's, and everyone's audio; the SFU's total is then the
    per-stream rates summed over 4 shown people per viewer, far from 11. Measured against
    what the SFU received, so a machine too loaded for the publishers to keep their rates
    fails nothing. Returns the figures."""
    before = meeting.sample()
    page.wait_for_timeout(WINDOW * 1000)
    window = Window.between(before, meeting.sample())
    everyone = sorted(shown)
    sent = window.received
    faults = [
        f"the SFU receives {person}'s {kind} at {sent.get((person, kind), 0):.1f} packets/s"
        for person in everyone
        for kind, least in (("video", 5), ("audio", 10))
        if sent.get((person, kind), 0) < least
    ]
    assert not faults, "\n".join(faults)
    for viewer in everyone:
        for person in everyone:
            if person == viewer:
                continue
            video = window.legs.get((viewer, person, "video"))
            audio = window.legs.get((viewer, person, "audio"))
            if video is None or audio is None:
                faults.append(f"{viewer} has no leg for {person}'s video or audio")
                continue
            if person in shown[viewer] and video < 0.9 * sent[(person, "video")]:
                faults.append(f"{viewer} shows {person}: {video:.1f} of "
                              f"{sent[(person, 'video')]:.1f} video packets/s")  # fmt: skip
            if person not in shown[viewer] and video != 0:
                faults.append(f"{viewer} does not show {person}: {video:.1f} video packets/s")
            if audio < 0.9 * sent[(person, "audio")]:
                faults.append(f"{viewer} hears {person}: {audio:.1f} of "
                              f"{sent[(person, 'audio')]:.1f} audio packets/s")  # fmt: skip
    assert not faults, f"{len(faults)} faults:\n" + "\n".join(faults[:20])
    total = window.video_forwarded
    shown_legs = [window.legs[(v, p, "video")] for v in everyone for p in shown[v]]
    assert abs(total - sum(shown_legs)) <= 0.01 * total + 1, (total, sum(shown_legs))
    four = sum(sent[(p, "video")] for v in everyone for p in shown[v])
    eleven = sum(sent[(p, "video")] for v in everyone for p in everyone if p != v)
    assert abs(total - four) <= 0.1 * four, f"forwarded {total:.0f}/s, shown {four:.0f}/s"
    assert total < 0.5 * eleven, f"forwarded {total:.0f}/s, as if all shown: {eleven:.0f}/s"
    streams = [sent[(p, "video")] for p in everyone]
    return {
        "total": total,
        "four": four,
        "eleven": eleven,
        "stream_min": min(streams),
        "stream_median": statistics.median(streams),
        "stream_max": max(streams),
        "audio_min": min(v for (_, _, kind), v in window.legs.items() if kind == "audio"),
    }


def settle(meeting: Meeting, page: Page, shown: dict[str, list[str]]) -> None:
    """Until every shown leg forwards video, every audio leg flows (keyframes asked for, the
    last subscribe offers answered) and no other video leg does, within 30 s."""
    deadline = time.monotonic() + 30
    last = meeting.sample()
    while True:
        page.wait_for_timeout(500)
        now = meeting.sample()

        grew = {key for key, packets in now.legs.items() if packets > last.legs.get(key, 0)}
        lagging = [
            (v, p, kind) for v in shown for p in shown if p != v
            for kind in ("audio", "video") if kind == "audio" or p in shown[v]
            if (v, p, kind) not in grew
        ]  # fmt: skip
        unwanted = [
            (v, p) for v in shown for p in shown
            if p != v and p not in shown[v] and (v, p, "video") in grew
        ]  # fmt: skip
        if not lagging and not unwanted:
            return
        assert time.monotonic() < deadline, (
            f"{len(lagging)} legs not flowing: {lagging[:12]}; "
            f"{len(unwanted)} video legs of people not shown forward: {unwanted}"
        )
        last = now


def hidden_legs(base_url: str) -> int:
    """Video legs the SFU counts as hidden (/metrics hub_sfu_video_legs{layer="hidden"})."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith('hub_sfu_video_legs{layer="hidden"}'):
                return int(float(line.rsplit(" ", 1)[1]))
    return 0


@dataclass(frozen=True)
class Turn:
    """A page turned with its pager button, as the SFU saw it (from the click)."""

    on_s: float  # until each newly shown person's leg forwarded video
    off_s: float  # until the last video packet of the people no longer shown
    decoded_s: float  # until the page decoded new frames of each (polled every 0.3 s)


def turn_page(meeting: Meeting, page: Page, viewer: str, old: list[str]) -> Turn:
    """Click "next page" and follow the SFU until the legs of the people the page shows now
    forward video and those of the people it showed (`old`) have been silent for a second."""
    before = meeting.sample()
    clicked = time.monotonic()
    page.click("#page-next")
    new = meeting.page_shows(page)
    assert len(new) == PER_PAGE and not set(new) & set(old), (old, new)
    on: float | None = None
    off = 0.0  # the last poll at which an old leg still grew
    last = before
    while True:
        now = meeting.sample()
        if on is None and all(
            now.legs[(viewer, p, "video")] > before.legs[(viewer, p, "video")] for p in new
        ):
            on = now.at - clicked
        if any(now.legs[(viewer, p, "video")] > last.legs[(viewer, p, "video")] for p in old):
            off = now.at - clicked
        last = now
        if on is not None and now.at - clicked > off + 1.0:
            break
        assert now.at - clicked < 15, (
            f"{viewer}'s page turn: on after {on} s, old until {off} s; the page is "
            + page.evaluate("() => window.visioDebug.state()")
        )
        page.wait_for_timeout(50)
    ids = {name: pid for pid, name in meeting.names.items()}
    wait_for_flow([(page, ids[p], "camera") for p in new], timeout=10)
    return Turn(on, off, time.monotonic() - clicked)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ThreadedHub]:
    port = free_port()
    config = make_config(
        tmp_path,
        server={"port": port, "public_url": f"http://127.0.0.1:{port}"},
        sfu={"candidate_addresses": ["127.0.0.1"]},
    )
    hub = ThreadedHub(config).start()
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[LoopThread, list[crowd.Worker]]]:
    """The crowd's worker processes (nobody joined yet) and the loop that talks to them."""
    clip = encode_clip(seconds=2.0, width=384, height=288, bitrate=300_000)  # ~34 packets/s
    crowd.save_clip(tmp_path / "clip.json", clip)
    driver = LoopThread("crowd driver")
    team = driver.run(crowd.start_workers(WORKERS, "127.0.0.1", tmp_path / "clip.json", tmp_path))
    try:
        yield driver, team
    finally:
        for worker in team:
            driver.run(worker.close(), timeout=30)
            stop_process(worker.managed)
        driver.close()


async def join_crowd(
    team: list[crowd.Worker], shares: list[list[int]], base_url: str, meeting_id: str
) -> None:
    await asyncio.gather(*(
        worker.call("hub_join", base_url=base_url, meeting=meeting_id, people=share, hidden=True)
        for worker, share in zip(team, shares, strict=True)
    ))  # fmt: skip


def test_a_paged_meeting_of_twelve_forwards_only_the_videos_each_viewer_shows(
    browser: Browser, hub: ThreadedHub, workers: tuple[LoopThread, list[crowd.Worker]]
) -> None:
    started = time.monotonic()
    driver, team = workers
    owner = new_context(browser, hub.base_url)
    meeting = Meeting(hub, create_meeting(owner.new_page(), "Douze"))
    owner.close()
    pages: dict[str, Page] = {}
    errors: list[str] = []

    def open_page(name: str) -> None:
        page = open_meeting_page(
            browser, hub.base_url, meeting.meeting_id, name, init_scripts=(E2E_PAGE_JS,),
            context_options={"viewport": VIEWPORT}, timeout=30_000,
        )  # fmt: skip
        pages[name] = page
        errors.extend(watch_errors(page))
        state = page.evaluate("() => window.visioDebug.state()")
        assert state == "connected", (
            f"{name}'s page is {state}: {page.locator('#join-failed').text_content()!r}, "
            f"{describe_page(page)}"
        )
        meeting.names[self_id(page)] = name

    try:
        # One page first (it lays out again as the others arrive), the crowd, the other page
        # last. The crowd joins with its screens hidden: no video for it until its views
        # (all-to-all video meanwhile would only load the two cores)
        open_page("Anne")
        numbers = list(range(AIORTC_PEOPLE))
        shares = [numbers[w::WORKERS] for w in range(WORKERS)]
        driver.run(join_crowd(team, shares, hub.base_url, meeting.meeting_id), timeout=90)
        open_page("Bruno")
        joined_s = time.monotonic() - started
        for worker in team:
            found = driver.run(worker.call("participant_ids"))
            meeting.names.update({pid: f"person{n}" for n, pid in found.items()})
        assert len(meeting.names) == 12
        ids = {name: pid for pid, name in meeting.names.items()}

        # What each page shows, as it says: page 1 of 3, four people.
        shown: dict[str, list[str]] = {}
        for name, page in pages.items():
            page.wait_for_function("() => document.querySelectorAll('#grid > li').length == 12")
            status = page.locator("#page-status").text_content()
            assert status == fr("meeting.page.status", page=1, pages=3)
            shown[name] = meeting.page_shows(page)
            assert len(shown[name]) == PER_PAGE, shown[name]
        # Each aiortc person shows the next four of the roster (so everyone is shown by some).
        roster = [f"person{n}" for n in numbers] + list(pages)
        for index, name in enumerate(roster[:AIORTC_PEOPLE]):
            shown[name] = [roster[(index + k) % len(roster)] for k in range(1, PER_PAGE + 1)]
        width, height = TILE
        for worker, share in zip(team, shares, strict=True):
            driver.run(worker.call("view", views={
                str(n): [{"participant": ids[p], "width": width, "height": height}
                         for p in shown[f"person{n}"]]
                for n in share
            }))  # fmt: skip

        anne = pages["Anne"]
        settle(meeting, anne, shown)
        settled_s = time.monotonic() - started
        assert hidden_legs(hub.base_url) == 12 * (11 - PER_PAGE)
        first = measure(meeting, anne, shown)

        # Each page turns to page 2 with its pager button.
        turns = {}
        for name, page in pages.items():
            turns[name] = turn = turn_page(meeting, page, name, shown[name])
            assert turn.on_s < TURN_LIMIT and turn.off_s < TURN_LIMIT, turn
            status = page.locator("#page-status").text_content()
            assert status == fr("meeting.page.status", page=2, pages=3)
            shown[name] = meeting.page_shows(page)
        second = measure(meeting, anne, shown)

        diagnostics = [driver.run(worker.call("diagnostics")) for worker in team]
        assert all(not d["signaling_errors"] for d in diagnostics), diagnostics
        assert errors == []
        print(
            f"\n12 people joined in {joined_s:.1f} s, all legs as shown at {settled_s:.1f} s"
            + "".join(
                f"\n{label}: video forwarded {w['total']:.0f} packets/s; 12 viewers x 4 shown "
                f"at each person's rate {w['four']:.0f}/s, x 11 would be {w['eleven']:.0f}/s; "
                f"each person's video received at {w['stream_min']:.0f}–{w['stream_max']:.0f} "
                f"(median {w['stream_median']:.0f}) packets/s and forwarded to each viewer "
                f"showing them; 84 legs not shown: 0 packets; slowest audio leg "
                f"{w['audio_min']:.1f}/s"
                for label, w in (("page 1", first), ("after the page turns", second))
            )
            + "".join(
                f"\n{name} to page 2: new videos forwarded after {t.on_s:.2f} s, the old ones' "
                f"last packet at {t.off_s:.2f} s, decoded on the page by {t.decoded_s:.2f} s"
                for name, t in turns.items()
            )
            + f"\nkeyframe requests to the aiortc people (each restarts their clip at its "
            f"keyframe): {sum(d['keyframe_requests'] for d in diagnostics)}"
            + f"\ntest body {time.monotonic() - started:.1f} s"
        )
    except BaseException:
        print(f"\nthe hub's log, last lines:\n{hub.log()}")
        raise
    finally:
        for page in pages.values():
            page.context.close()
