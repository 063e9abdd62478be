"""Each viewer's downlink shared among the videos it shows (hub/sfu/allocation.py): the pure
policy, then the packet path with viewers whose browsers report REMB."""

from __future__ import annotations

import asyncio
import time

from hypothesis import given
from hypothesis import strategies as st
from test_sfu_simulcast import (
    F,
    H,
    Q,
    feed,
    plis,
    second_leg,
    show,
    simulcast_path,
    three_layers,
    widths,
)

from hub.ids import ParticipantId
from hub.sfu.allocation import (
    HEADROOM,
    PAUSE_MARGIN,
    PROBE_AFTER,
    PROBE_MAX,
    TRIAL,
    Demand,
    Downlink,
    allocate,
)
from hub.sfu.forwarder import SIMULCAST_REMB, UNWATCHED_AFTER
from hub.sfu.packets import receive_subscriber_rtcp
from hub.sfu.participant import MediaParticipant
from hub.sfu.rtcp import RtcpPli, RtcpRemb, parse_compound

RATES = (150_000.0, 500_000.0, 1_500_000.0)  # q, h, f as Chromium sends them at 1280x720


def demand(key: str, wanted: int = 2, priority: float = 0.0, rates=RATES) -> Demand:
    return Demand(key, rates, wanted, (0.0, priority))


def test_without_an_estimate_every_tile_gets_what_it_fits():
    result = allocate([demand("a"), demand("b", wanted=0)], None)
    assert result.layers == {"a": 2, "b": 0} and not result.constrained


def test_a_weak_link_gets_the_lowest_layer_and_a_weaker_one_only_audio():
    # A 300 kbit/s link whose browser estimates 250 kbit/s, 40 kbit/s of it audio.
    assert allocate([demand("a")], 250_000 * HEADROOM - 40_000).layers == {"a": 0}
    assert allocate([demand("a")], 100_000).layers == {"a": 0}  # not far off: kept
    assert allocate([demand("a")], 90_000).layers == {"a": None}


def test_everyone_gets_the_lowest_layer_before_anyone_climbs():
    demands = [demand("speaker", priority=10), demand("b", priority=1), demand("c", priority=1)]
    result = allocate(demands, 150_000 * 3 + 350_000)
    assert result.layers == {"speaker": 1, "b": 0, "c": 0} and result.constrained
    short = allocate(demands, 150_000 * 2 - 40_000)
    assert short.layers == {"speaker": 0, "b": 0, "c": None}


def test_a_screen_share_climbs_before_the_largest_camera_and_is_paused_last():
    share = Demand("share", RATES, 2, (1.0, 100.0))
    camera = Demand("camera", RATES, 2, (0.0, 1e6))
    assert allocate([camera, share], 800_000).layers == {"share": 1, "camera": 0}
    assert allocate([camera, share], 200_000).layers == {"share": 0, "camera": None}


def test_a_probe_adds_one_step_to_the_most_important_demand_lacking_one():
    demands = [demand("a", priority=2), demand("b", priority=1)]
    assert allocate(demands, 300_000, probe=True).layers == {"a": 1, "b": 0}
    assert allocate([demand("a")], 90_000, probe=True).layers == {"a": 0}  # unpaused


@st.composite
def demands_and_budget(draw):
    count = draw(st.integers(0, 8))
    demands = []
    for index in range(count):
        layers = draw(st.integers(1, 3))
        rates = sorted(draw(st.lists(st.floats(10_000, 3e6), min_size=layers, max_size=layers)))
        wanted = draw(st.integers(0, layers - 1))
        demands.append(Demand(index, rates, wanted, (draw(st.sampled_from([0.0, 1.0])),
                                                     draw(st.floats(0, 1e6)))))  # fmt: skip
    return demands, draw(st.floats(0, 1e7))


@given(demands_and_budget(), st.booleans())
def test_an_allocation_stays_within_the_budget_and_under_each_tile(case, probe):
    demands, budget = case
    result = allocate(demands, budget, probe=probe)
    steps = []
    for item in demands:
        index = result.layers[item.key]
        assert index is None or 0 <= index <= item.wanted
        if index is not None:
            steps.append(item.rates[index] - (item.rates[index - 1] if index else 0))
    # A probe is the only way past the budget, by one step at most.
    allowance = max(steps, default=0) if probe else 0
    assert result.total <= budget * PAUSE_MARGIN + allowance + 1e-6
    if not probe:  # nobody is paused while a less important demand has a layer it could give
        for paused in (d for d in demands if result.layers[d.key] is None):
            for other in demands:
                if other.priority < paused.priority and result.layers[other.key] is not None:
                    assert other.rates[0] < paused.rates[0]


def test_a_steady_estimate_limits_nothing_until_the_link_congests():
    link = Downlink()
    # aiortc reports per stream an estimate below what it receives without trouble.
    assert not link.on_estimate(40_000, 0.0, sending=lambda: 58_000) and link.budget() is None
    assert not link.on_estimate(40_000, 1.0, sending=lambda: 58_000)
    assert link.on_estimate(30_000, 2.0, sending=lambda: 58_000)  # it fell: congestion
    assert link.budget() == 30_000 * HEADROOM
    # A first estimate far below what the viewer is sent is congestion already.
    weak = Downlink()
    assert weak.on_estimate(250_000, 0.0, sending=lambda: 1_500_000) and weak.budget() is not None


def test_congestion_forgets_what_a_trial_proved_and_a_failed_trial_waits_longer():
    link = Downlink()
    link.on_estimate(2_000_000, 0.0, sending=lambda: 1_500_000)
    assert link.on_estimate(1_000_000, 0.0, sending=lambda: 1_500_000)
    link.settle(allocate([demand("a")], link.budget()), link.budget())
    assert link.constrained and not link.probing(1.0)
    assert link.probing(PROBE_AFTER)  # constrained for long enough: one step up on trial
    assert link.on_estimate(600_000, PROBE_AFTER + 1, lambda: 0)  # it congested: back, wait longer
    assert not link.probing(PROBE_AFTER + 2) and link.interval == 2 * PROBE_AFTER
    assert link.probing(PROBE_AFTER + 1 + 2 * PROBE_AFTER)
    link.settle(allocate([demand("a")], link.budget(), probe=True), link.budget())
    held = link.total
    end = PROBE_AFTER + 1 + 2 * PROBE_AFTER + TRIAL
    assert not link.probing(end) and link.proven == held  # it held: kept, next try soon
    assert link.budget() == max(600_000 * HEADROOM, held) and link.interval == PROBE_AFTER
    link.on_estimate(300_000, end + 1, lambda: 0)
    assert link.proven == 0 and link.budget() == 300_000 * HEADROOM
    for failed in range(10):  # trials failing one after another: the wait doubles, bounded
        link.trial_until = 0.0
        link.on_estimate(200_000 * 0.8**failed, end + 3 * (failed + 1), lambda: 0)
    assert link.interval == PROBE_MAX


def test_once_every_tile_has_what_it_asks_for_the_viewer_is_free_again():
    link = Downlink()
    link.on_estimate(3_000_000, 0.0, sending=lambda: 1_500_000)
    link.on_estimate(1_000_000, 1.0, sending=lambda: 1_500_000)
    link.settle(allocate([demand("a")], link.budget()), link.budget())
    assert link.budget() is not None
    link.on_estimate(2_000_000, 5.0, sending=lambda: 500_000)  # the link recovered
    link.settle(allocate([demand("a")], link.budget()), link.budget())
    assert not link.constrained and link.budget() is None


# -- the packet path: viewers' REMB --------------------------------------------------------------


def viewer(path, leg, name: str, ssrc: int) -> MediaParticipant:
    member = MediaParticipant(ParticipantId(name), path.counters)
    member.legs, member.legs_by_ssrc = [leg], {ssrc: leg}
    return member


def remb(member: MediaParticipant, bitrate: int, ssrc: int) -> None:
    packet = bytes(RtcpRemb.from_bitrate(0x1234, bitrate, [ssrc]))

    async def run() -> None:  # and let the keyframe requests it spawns go out
        await receive_subscriber_rtcp(member, member.counters, packet)
        await asyncio.sleep(0)

    asyncio.run(run())


def test_a_weak_viewer_drops_to_the_low_layer_alone_and_the_publisher_is_not_told():
    path = simulcast_path()
    stream = path.stream
    strong, strong_sent = path.leg, path.transport
    weak, weak_sent = second_leg(path)
    strong_viewer = viewer(path, strong, "bruno", 0x5555_5555)
    weak_viewer = viewer(path, weak, "chloe", 0x5555_0001)
    told: list[dict] = []
    weak_viewer.on_reception = told.append
    now = time.monotonic()  # the REMB path reads the clock itself
    feed(path, three_layers(1, key=True), start=now - 0.5)
    for layer, rate in zip(stream.layers, RATES, strict=True):
        layer.bitrate = rate
    feed(path, three_layers(2, key=False), start=now - 0.4)
    assert widths(strong_sent)[-1] == widths(weak_sent)[-1] == 1280

    remb(strong_viewer, 4_000_000, 0x5555_5555)
    remb(weak_viewer, 2_000_000, 0x5555_0001)
    remb(weak_viewer, 250_000, 0x5555_0001)  # its link saturated
    assert weak.ceiling is stream.layer("q") and strong.ceiling is None  # not congested
    assert told[-1] == {(ParticipantId("anne"), "camera"): "low"}
    assert Q in plis(path)  # q's keyframe asked for at once
    feed(path, three_layers(3, key=True), start=now + 0.02)
    assert widths(weak_sent)[-1] == 320 and widths(strong_sent)[-1] == 1280

    report = parse_compound(stream.receiver_report())
    assert report[-1].bitrate == SIMULCAST_REMB  # the publisher keeps its top layer

    remb(weak_viewer, 20_000, 0x5555_0001)  # not even the lowest layer fits: audio only
    assert weak.paused and weak.hidden and told[-1] == {(ParticipantId("anne"), "camera"): "paused"}
    sent = len(weak_sent.sent)
    feed(path, three_layers(4, key=True), start=now + 0.03)
    assert len(weak_sent.sent) == sent and widths(strong_sent)[-1] == 1280
    assert {F, H}.isdisjoint(plis(path)[-1:])


def test_a_layer_nobody_watches_is_dropped_at_the_publisher_and_taken_back_at_once():
    path = simulcast_path()
    stream = path.stream
    small = path.leg
    other, _ = second_leg(path)
    feed(path, three_layers(1, key=True), start=100.0)  # every layer's size is known
    assert stream.review_encodings(100.1) is None  # all three wanted (no view yet)
    show(stream, small, (300, 170), True, 100.2)
    show(stream, other, None, False, 100.2)
    assert stream.review_encodings(100.2) is None  # h and f unwanted, but not for long
    assert stream.review_encodings(100.2 + UNWATCHED_AFTER) == ["q"]
    assert stream.review_encodings(103.3) is None  # told once
    # q is wanted but nothing came for seconds: asked again (a message lost), not sooner.
    assert stream.review_encodings(110.0) == ["q"]
    assert stream.review_encodings(110.05) is None
    show(stream, other, (1280, 720), True, 110.1)
    assert stream.review_encodings(110.1) == ["q", "f"]  # at once
    # Its viewer's bandwidth: q at most. h stays encoded (its next trial step), f goes.
    other.ceiling = stream.layer("q")
    assert stream.review_encodings(110.2) == ["q", "h", "f"]
    assert stream.review_encodings(110.2 + UNWATCHED_AFTER) == ["q", "h"]


def test_a_saturated_viewer_gets_a_bounded_share_of_retransmissions():
    path = simulcast_path()
    leg = path.leg
    feed(path, three_layers(1, key=True) + three_layers(2, key=False), start=100.0)
    leg.octets = 100_000  # forwarded so far: 20 % of it may be sent again, 32 KB at once
    assert leg.may_resend(7, 1200, 100.0)
    assert not leg.may_resend(7, 1200, 100.05)  # the same packet again so soon: no
    assert leg.may_resend(7, 1200, 100.2)
    granted = sum(leg.may_resend(seq, 1200, 100.3) for seq in range(1000, 1100))
    assert granted == (32_000 - 2 * 1200) // 1200  # the burst, then nothing
    leg.octets += 12_000  # more forwarded: a fifth of it comes back as budget
    assert sum(leg.may_resend(seq, 1200, 100.4) for seq in range(2000, 2100)) == 2


def test_the_budget_is_the_lowest_estimate_of_the_last_two_seconds():
    link = Downlink()
    link.on_estimate(800_000, 0.0, sending=lambda: 700_000)
    assert link.on_estimate(479_000, 0.3, sending=lambda: 700_000)  # the link saturates
    link.on_estimate(520_000, 0.5, sending=lambda: 150_000)  # a higher one on the way down
    assert link.budget() == 479_000 * HEADROOM
    link.on_estimate(290_000, 0.7, sending=lambda: 150_000)
    link.on_estimate(600_000, 2.8, sending=lambda: 150_000)
    assert link.budget() == 600_000 * HEADROOM  # the low ones are older than the window


def test_a_keyframe_request_for_a_video_the_viewer_does_not_show_goes_nowhere():
    path = simulcast_path()
    feed(path, three_layers(1, key=True), start=time.monotonic() - 2)
    bruno = viewer(path, path.leg, "bruno", 0x5555_5555)
    pli = bytes(RtcpPli(sender_ssrc=0x1234, media_ssrc=0x5555_5555))
    show(path.stream, path.leg, (300, 170), False, time.monotonic())
    before = len(plis(path))
    asyncio.run(receive_subscriber_rtcp(bruno, bruno.counters, pli))
    assert len(plis(path)) == before


def test_a_flood_of_estimates_stays_cheap():
    """A viewer may send thousands of REMB a second: the window keeps one per 100 ms, and the
    allocation is made again only when the budget it would use changes."""
    link = Downlink()
    link.on_estimate(2_000_000, 0.0, sending=lambda: 1_500_000)
    link.on_estimate(500_000, 0.0, sending=lambda: 1_500_000)
    link.settle(allocate([demand("a")], link.budget()), link.budget())
    again = 0
    for step in range(5000):
        now = 0.001 * step
        if link.on_estimate(500_000 + 100_000 * (step % 2), now, sending=lambda: 0.0):
            again += 1
            link.settle(allocate([demand("a")], link.budget()), link.budget())
    assert len(link._recent) <= 21
    assert again == 0  # the budget (the window's lowest) never moved
