"""A meeting's media over one or more SFU workers: the `MediaRoom` (hub/sfu/port.py) that
`WorkerPool` gives its callers.

A meeting starts as one part, a `RemoteRoom` on one worker, and most stay so. When the part's
worker is past its ceiling (`sfu.worker_ceiling` forwarded packets/s, or `sfu.people_per_worker`
people of this meeting), a newcomer goes to a part on another worker, opened for it and joined
to each earlier part by a `WorkerRelay` (hub/sfu/relay.py). Each person stays on the part they
were placed on; what concerns them (their connections, mute, view) goes to that part alone,
orders about people another hub's link brings go to every part (they may be seen on each).
"""

from __future__ import annotations

from typing import Protocol

from hub.ids import MeetingId, ParticipantId
from hub.sfu.audio_tap import AudioTap
from hub.sfu.media import Source
from hub.sfu.participant import EncodingsChanged, PeerStateChanged, ReceptionChanged, SendOffer
from hub.sfu.recording_tap import RecordingTap
from hub.sfu.relay import WorkerRelay
from hub.sfu.remote import RemoteRoom
from hub.sfu.room import SpeakerChanged


class PartPlacer(Protocol):
    """What a spanning meeting asks its pool (hub/sfu/workers.py)."""

    def crowded(self, part: RemoteRoom, people: int) -> bool:
        """Whether `part` should take no more newcomers of its meeting."""
        ...

    def open_part(self, meeting_id: MeetingId, key: MeetingId) -> RemoteRoom | None:
        """A new part placed on a worker that holds no other part of the meeting; None when
        every live worker holds one."""
        ...

    def forget_part(self, part: RemoteRoom) -> None:
        """A part closed before its meeting (its last person left)."""
        ...


def part_key(meeting_id: MeetingId, index: int) -> MeetingId:
    """The name of a meeting's part on its worker: the meeting's own id for the first."""
    return meeting_id if index == 0 else MeetingId(f"{meeting_id}~{index}")


class SpanningRoom:
    """Owns a meeting's parts, where each of its people is, and the relays between parts;
    made by the pool with the first part, `close()`d by it with every part."""

    def __init__(self, meeting_id: MeetingId, placer: PartPlacer, first: RemoteRoom) -> None:
        self.meeting_id = meeting_id
        self.on_speaker: SpeakerChanged | None = None
        self.parts = [first]
        self.relays: list[WorkerRelay] = []
        self._placer = placer
        self._where: dict[ParticipantId, RemoteRoom] = {}
        self._opened = 1
        self._taps: tuple[AudioTap | None, RecordingTap | None] = (None, None)
        # Every part hears everyone (the relays carry all audio): the first part says who speaks.
        first.on_speaker = self._speaker

    async def _speaker(self, participant_id: ParticipantId | None) -> None:
        if self.on_speaker is not None:
            await self.on_speaker(participant_id)

    def part_of(self, participant_id: ParticipantId) -> RemoteRoom | None:
        return self._where.get(participant_id)

    def _part(self, participant_id: ParticipantId) -> RemoteRoom:
        part = self._where.get(participant_id)
        if part is None:
            part = self._where[participant_id] = self._place_newcomer()
        return part

    def _place_newcomer(self) -> RemoteRoom:
        people = {id(part): 0 for part in self.parts}
        for part in self._where.values():
            people[id(part)] += 1
        for part in self.parts:  # the oldest part with room: a meeting stays compact
            if not self._placer.crowded(part, people[id(part)]):
                return part
        key = part_key(self.meeting_id, self._opened)
        new = self._placer.open_part(self.meeting_id, key)
        if new is None:  # every worker holds a part already: the least crowded takes them
            return min(self.parts, key=lambda part: people[id(part)])
        self._opened += 1
        if self._taps != (None, None):
            new.set_taps(*self._taps)
        for part in self.parts:
            relay = WorkerRelay(part, new)
            self.relays.append(relay)
            relay.start()
        self.parts.append(new)
        return new

    def set_taps(self, audio: AudioTap | None, recording: RecordingTap | None) -> None:
        """Tap every part: each person is tapped on the worker where they publish (the
        relays' streams never are), into the hub's one tap of each kind."""
        self._taps = (audio, recording)
        for part in self.parts:
            part.set_taps(audio, recording)

    # -- the MediaRoom calls, each to the part of the person it concerns -------------------------

    def watch(
        self,
        participant_id: ParticipantId,
        on_state: PeerStateChanged,
        on_reception: ReceptionChanged | None = None,
        on_encodings: EncodingsChanged | None = None,
    ) -> None:
        self._part(participant_id).watch(participant_id, on_state, on_reception, on_encodings)

    def set_forwarding(self, participant_id: ParticipantId, *, audio: bool, video: bool) -> None:
        # Stopped where they publish: the relays carry nothing more of them either.
        self._part(participant_id).set_forwarding(participant_id, audio=audio, video=video)

    def set_view(
        self,
        participant_id: ParticipantId,
        tiles: dict[ParticipantId, tuple[int, int]],
        *,
        visible: bool,
        known: frozenset[ParticipantId],
    ) -> None:
        self._part(participant_id).set_view(participant_id, tiles, visible=visible, known=known)

    def set_owner_forwarding(self, owner: ParticipantId, *, audio: bool, video: bool) -> None:
        for part in self.parts:
            part.set_owner_forwarding(owner, audio=audio, video=video)

    async def publish(
        self,
        participant_id: ParticipantId,
        sdp: str,
        sources: dict[str, Source],
        owners: dict[str, ParticipantId] | None = None,
    ) -> str:
        return await self._part(participant_id).publish(participant_id, sdp, sources, owners)

    async def add_subscriber(self, participant_id: ParticipantId, send_offer: SendOffer) -> None:
        await self._part(participant_id).add_subscriber(participant_id, send_offer)

    async def subscribe_answer(self, participant_id: ParticipantId, sdp: str) -> None:
        await self._part(participant_id).subscribe_answer(participant_id, sdp)

    async def add_candidate(
        self,
        participant_id: ParticipantId,
        which: str,
        candidate: str,
        sdp_mid: str | None,
        sdp_mline_index: int | None,
    ) -> None:
        await self._part(participant_id).add_candidate(
            participant_id, which, candidate, sdp_mid, sdp_mline_index
        )

    async def restart_subscriber(self, participant_id: ParticipantId) -> None:
        await self._part(participant_id).restart_subscriber(participant_id)

    async def remove_participant(self, participant_id: ParticipantId) -> None:
        part = self._where.pop(participant_id, None)
        if part is None:
            return
        if part is self.parts[0] or part in self._where.values():
            await part.remove_participant(participant_id)
            return
        # The last of a later part: it closes with its relays, nothing crosses for nobody.
        self.parts.remove(part)
        self._placer.forget_part(part)
        ending = [relay for relay in self.relays if part in relay.parts]
        self.relays = [relay for relay in self.relays if part not in relay.parts]
        for relay in ending:
            await relay.close()
        await part.close()

    async def snapshot(self) -> dict[str, object]:
        """What the first part's worker forwarded (tests and diagnostics; `parts` for all)."""
        return await self.parts[0].snapshot()

    async def close(self) -> None:
        for relay in self.relays:
            await relay.close(leaving=False)
        for part in self.parts:
            await part.close()
