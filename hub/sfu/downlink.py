"""One viewer's video legs fitted into its downlink (the policy is hub/sfu/allocation.py).

`share_downlink` runs when the viewer's estimate changes, when its page says what it shows,
and once a second (layer bitrates move, trial steps start and end). It sets each shown video
leg's ceiling (the highest layer it may take) or pauses it, lets the streams re-point their
legs, and tells the viewer's page what it now receives when that changed.
"""

from __future__ import annotations

from hub.sfu.allocation import Demand, allocate
from hub.sfu.forwarder import InboundStream, Leg
from hub.sfu.layer_choice import fitting
from hub.sfu.participant import MediaParticipant, Quality, Reception
from hub.sfu.reception import Layer

# A layer that just started has no measured rate yet, and an encoder ramps a layer up over
# seconds: count at least this many bits per second and pixel of its size (Chromium's VP8
# targets are about 2: 143, 490 and 1840 kbit/s at 320, 640 and 1280 wide), and never less
# than MIN_RATE. At 0.8 a viewer whose link was saturating took h on the way down.
MIN_BITS_PER_PIXEL = 1.5
MIN_RATE = 30_000.0


def rate(layer: Layer) -> float:
    return max(layer.bitrate, MIN_RATE, MIN_BITS_PER_PIXEL * layer.width * layer.height)


def quality(leg: Leg) -> Quality:
    if leg.paused:
        return "paused"
    source, layer = leg.source, leg.target or leg.layer
    if source is None or layer is None or layer.index == len(source.layers) - 1:
        return "high"
    return "low" if layer.index == 0 else "medium"


def share_downlink(member: MediaParticipant, now: float) -> None:
    """Fit the viewer's shown videos into its bandwidth estimate (see the module doc)."""
    if member.link:
        return
    demands: list[Demand] = []
    offered: dict[Leg, list[Layer]] = {}
    for leg in member.legs:
        source = leg.source
        if source is None or leg.kind != "video" or not source.forwarding or not source.active:
            continue
        flowing = source.flowing(now)
        if not leg.shown or not flowing:
            # Nothing to share out for it: no ceiling or pause of an earlier allocation.
            source.limit(leg, None, False, now)
            continue
        wanted = flowing.index(fitting(flowing, leg.tile))
        area = leg.tile[0] * leg.tile[1] if leg.tile is not None else 0
        priority = (1.0 if source.source == "screen" else 0.0, float(area))
        rates = [rate(layer) for layer in flowing]
        demands.append(Demand(leg, rates, wanted, priority))
        offered[leg] = flowing
    # Browsers estimate from the packets carrying abs-send-time, which the hub writes on
    # video only: the estimate is what video may take, audio is not subtracted again.
    if member.relief.active:  # the SFU is behind (hub/sfu/relief.py): the rest
        kept = kept_when_shedding(demands)  # pauses, and what they free goes to the kept ones
        demands = [demand for demand in demands if demand.key in kept]
    downlink = member.downlink
    budget = downlink.budget()
    allocation = allocate(demands, budget, probe=downlink.probing(now))
    downlink.settle(allocation, budget)
    touched: set[InboundStream] = set()
    for leg, flowing in offered.items():
        source = leg.source
        assert source is not None
        index = allocation.layers.get(leg)  # not allocated at all: paused
        ceiling = None if budget is None or index is None else flowing[index]
        if source.limit(leg, ceiling, index is None, now):
            touched.add(source)
    for stream in touched:
        stream.choose_target(now)
    tell_reception(member)


def kept_when_shedding(demands: list[Demand]) -> set[object]:
    """The videos a viewer keeps while the SFU sheds video: every screen share and its one
    largest camera tile."""
    kept: set[object] = {d.key for d in demands if d.priority[0] > 0}
    cameras = [d for d in demands if d.priority[0] == 0]
    if cameras:
        kept.add(max(cameras, key=lambda d: d.priority[1]).key)
    return kept


def sending(member: MediaParticipant) -> float:
    """Bits/s of video the viewer is being sent now (its legs' current layers)."""
    return sum(
        leg.layer.bitrate
        for leg in member.legs
        if leg.kind == "video" and leg.layer is not None and not leg.hidden
    )


def tell_reception(member: MediaParticipant) -> None:
    """Send the viewer's page what it receives of each shown video, if that changed."""
    reception: Reception = {
        (leg.source.participant_id, leg.source.source): quality(leg)
        for leg in member.legs
        if leg.kind == "video" and leg.source is not None and leg.shown
    }
    if reception != member.reception:
        member.reception = reception
        if member.on_reception is not None:
            member.on_reception(reception)
