"""What the SFU counts on its packet paths: plain integers, read by the /metrics collector
(hub/sfu/service.py) only when /metrics is read."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.sfu.guard import DropLog


@dataclass
class SfuCounters:
    """Plain counters updated on the packet path, read by the /metrics collector."""

    packets_in: int = 0
    packets_in_fast: int = 0  # of which decrypted in the socket callback (hub/sfu/guard.py)
    packets_forwarded: int = 0
    video_packets_forwarded: int = 0
    bytes_forwarded: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    keyframe_requests_forwarded: int = 0
    nacks_answered: int = 0
    muted_drops: int = 0
    # Datagrams refused at the media sockets before any layer below could see them.
    datagrams: DropLog = field(default_factory=DropLog)

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
