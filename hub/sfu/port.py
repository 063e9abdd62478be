"""The SFU of a meeting, as the web, meetings and federation layers see it.

Two implementations: `Sfu`/`SfuRoom` (hub/sfu/service.py, hub/sfu/room.py), the media in the
hub's own process, and `WorkerPool`/`RemoteRoom` (hub/sfu/workers.py, hub/sfu/remote.py),
the media in `hub sfu-worker` processes. Callers hold a `MediaRooms` and never know which.
"""

from __future__ import annotations

from typing import Protocol

from hub.ids import MeetingId, ParticipantId
from hub.sfu.audio_tap import AudioTap
from hub.sfu.media import Source
from hub.sfu.participant import EncodingsChanged, PeerStateChanged, ReceptionChanged, SendOffer
from hub.sfu.recording_tap import RecordingTap
from hub.sfu.room import SpeakerChanged


class MediaRoom(Protocol):
    """One meeting's media: the calls of hub/sfu/room.py that callers make, and its callbacks."""

    on_speaker: SpeakerChanged | None

    def watch(
        self,
        participant_id: ParticipantId,
        on_state: PeerStateChanged,
        on_reception: ReceptionChanged | None = None,
        on_encodings: EncodingsChanged | None = None,
    ) -> None: ...

    def set_forwarding(
        self, participant_id: ParticipantId, *, audio: bool, video: bool
    ) -> None: ...

    def set_view(
        self,
        participant_id: ParticipantId,
        tiles: dict[ParticipantId, tuple[int, int]],
        *,
        visible: bool,
        known: frozenset[ParticipantId],
    ) -> None: ...

    def set_owner_forwarding(self, owner: ParticipantId, *, audio: bool, video: bool) -> None: ...

    async def publish(
        self,
        participant_id: ParticipantId,
        sdp: str,
        sources: dict[str, Source],
        owners: dict[str, ParticipantId] | None = None,
    ) -> str: ...

    async def add_subscriber(
        self, participant_id: ParticipantId, send_offer: SendOffer
    ) -> None: ...

    async def subscribe_answer(self, participant_id: ParticipantId, sdp: str) -> None: ...

    async def add_candidate(
        self,
        participant_id: ParticipantId,
        which: str,
        candidate: str,
        sdp_mid: str | None,
        sdp_mline_index: int | None,
    ) -> None: ...

    async def restart_subscriber(self, participant_id: ParticipantId) -> None: ...

    async def remove_participant(self, participant_id: ParticipantId) -> None: ...


class MediaRooms(Protocol):
    """Every meeting's media; started by the app's cleanup context, which `close()`s it."""

    def acquire(self, meeting_id: MeetingId) -> MediaRoom:
        """The meeting's room, kept open until each `acquire` is `release`d."""
        ...

    async def release(self, meeting_id: MeetingId) -> None: ...

    async def close_room(self, meeting_id: MeetingId) -> None:
        """Close at once, whoever uses it (the meeting ended)."""
        ...

    def find(self, meeting_id: MeetingId) -> MediaRoom | None:
        """The meeting's room if it is open, without opening it."""
        ...

    def set_audio_tap(self, meeting_id: MeetingId, tap: AudioTap | None) -> None:
        """Copy the meeting's voiced microphone packets into `tap` (None: stop), wherever its
        media is: in this process, or batched from its worker processes."""
        ...

    def set_recording_tap(self, meeting_id: MeetingId, tap: RecordingTap | None) -> None:
        """Copy every packet of the meeting's tracks into `tap` (None: stop), likewise; the
        video publishers are asked for a keyframe at once."""
        ...

    async def close(self) -> None: ...
