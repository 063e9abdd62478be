"""A relay between two parts of one meeting on two SFU workers, set up by the hub that owns both.

It is the cascade link of hub/federation/link.py without a partner to distrust: on each part,
one relay participant (`link:~<the other part>`) subscribes to that part's streams, one leg
per stream, and publishes the other part's streams, each marked with the person it belongs
to. So each stream crosses once between the two workers, whatever the number of its viewers
over there; the workers' rooms treat the relay as a cascade link (its REMB per stream speaks
for its own viewers, it is fitted into no downlink) and never hand one relay's streams to
another (`carries`, hub/sfu/forwarder.py), so in a meeting over three workers nothing crosses
twice either.

The media goes over an aiortc-to-aiortc WebRTC connection between the two workers, as between
two hubs: DTLS-SRTP, so no other process on the machine can inject packets into a meeting, and
the RTCP feedback (keyframe requests, NACK, REMB) crosses with the media. The hub carries only
the SDP: each part's subscribe offer for its relay participant is published on the other part,
and the answer goes back.

When either side's connection fails (its worker died and the part moved, or the network
between two machines broke), both relay participants are removed and the relay starts over:
aiortc cannot restart ICE on a connection.
"""

from __future__ import annotations

import contextlib
import logging
from functools import partial

from hub.errors import HubError
from hub.ids import ParticipantId
from hub.sfu.forwarder import RELAY_PREFIX
from hub.sfu.liveness import PeerState
from hub.sfu.participant import StreamSource, Which
from hub.sfu.remote import RemoteRoom
from hub.sfu.sdp import SdpError
from hub.tasks import Tasks

log = logging.getLogger(__name__)


def relay_participant(part: RemoteRoom) -> ParticipantId:
    """The participant that stands for `part` in the rooms of the meeting's other parts."""
    return ParticipantId(f"{RELAY_PREFIX}{part.meeting_id}")


class WorkerRelay:
    """Joins two parts; `start()`ed by its meeting when the second part opens, started over by
    itself when a connection fails, `close()`d with the meeting."""

    def __init__(self, first: RemoteRoom, second: RemoteRoom) -> None:
        self.parts = (first, second)
        self._generation = 0
        self._tasks = Tasks()

    def start(self) -> None:
        generation = self._generation
        for here, there in (self.parts, self.parts[::-1]):
            # On `here`, the participant standing for `there` takes here's streams.
            here.watch(relay_participant(there), partial(self._state, generation))
            self._tasks.spawn(self._subscribe(generation, here, there))

    async def _subscribe(self, generation: int, here: RemoteRoom, there: RemoteRoom) -> None:
        carry = partial(self._carry, generation, here, there)
        try:
            await here.add_subscriber(relay_participant(there), carry)
        except (HubError, TimeoutError) as exc:  # its worker is away: it fails, we start over
            log.info("worker relay not opened on %s: %s", here.meeting_id, exc)

    async def _carry(
        self,
        generation: int,
        here: RemoteRoom,
        there: RemoteRoom,
        sdp: str,
        streams: list[StreamSource],
        restart: bool,
    ) -> None:
        """An offer of here's streams: published on `there` by the participant standing for
        `here`, and there's answer handed back."""
        if generation != self._generation:
            return
        try:
            answer = await there.publish(
                relay_participant(here),
                sdp,
                {s.mid: s.source for s in streams},
                {s.mid: s.participant_id for s in streams},
            )
            if generation == self._generation:
                await here.subscribe_answer(relay_participant(there), answer)
        except (HubError, TimeoutError) as exc:
            log.info("worker relay offer not carried to %s: %s", there.meeting_id, exc)
        except (SdpError, RuntimeError) as exc:  # a bug of ours: the offer waits, then restarts
            log.error("worker relay offer refused by %s: %s", there.meeting_id, exc)

    def _state(self, generation: int, which: Which, state: PeerState) -> None:
        if state != "failed" or generation != self._generation:
            return
        self._generation += 1
        log.warning("worker relay %s <-> %s: %s connection failed, starting over",
                    *(p.meeting_id for p in self.parts), which)  # fmt: skip
        self._tasks.spawn(self._start_over(self._generation))

    async def _start_over(self, generation: int) -> None:
        for here, there in (self.parts, self.parts[::-1]):
            with contextlib.suppress(HubError, TimeoutError):  # a worker away has none left
                await here.remove_participant(relay_participant(there))
        if generation == self._generation:
            self.start()

    async def close(self, *, leaving: bool = True) -> None:
        """Stop; `leaving`: the meeting goes on, its relay participants leave both parts."""
        self._generation += 1
        self._tasks.cancel()
        if leaving:
            for here, there in (self.parts, self.parts[::-1]):
                with contextlib.suppress(HubError, TimeoutError):
                    await here.remove_participant(relay_participant(there))
