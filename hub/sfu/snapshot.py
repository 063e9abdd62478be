"""What a room really forwarded, per participant: for tests and diagnostics (`SfuRoom.snapshot`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hub.sfu.participant import MediaParticipant


def snapshot(participants: Iterable[MediaParticipant]) -> dict[str, Any]:
    return {
        member.participant_id: {
            "published": {mid: {"kind": s.kind, "source": s.source, "active": s.active,
                                "owner": s.participant_id, "packets": s.packets,
                                "forwarding": s.forwarding, "legs": len(s.legs),
                                "layers": [{"rid": layer.rid, "ssrc": layer.ssrc,
                                            "rtx_ssrc": layer.rtx_ssrc,
                                            "packets": layer.received,
                                            "width": layer.width, "height": layer.height}
                                           for layer in s.layers]}
                          for mid, s in member.streams.items()},
            "legs": [{"mid": leg.mid, "kind": leg.kind, "packets": leg.packets,
                      "fast_path": leg.egress.packets if leg.egress else 0,
                      "from": leg.source.participant_id if leg.source else None,
                      "started": leg.started,
                      "layer": leg.layer.rid if leg.layer else None}
                     for leg in member.legs],
        }
        for member in participants
    }  # fmt: skip
