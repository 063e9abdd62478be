"""A live meeting: who is in it, through which endpoint, who waits in its lobby, who was
removed, whether it is locked, and the rules for changing any of that.

This is the state that lives as long as the connections do; what must survive a restart is in
the database (hub/meetings/service.py, reached through `MeetingRecords`). Every change goes
through a method of `Conference`, which checks the rules (who may admit, mute, remove, lock,
end, give roles) and tells the endpoints; no other module writes its state. A refused action
raises Forbidden / NotFound, which each transport answers in its own way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Protocol

from hub.db.models import Role
from hub.errors import Conflict, Forbidden, NotFound
from hub.i18n import Text
from hub.ids import Identity, MeetingId, ParticipantId

from . import recording as rules
from .access import GIVEN_A_ROLE, MODERATING, REMOVED, may_act_on, moderating
from .endpoint import CloseReason, Endpoint
from .events import ChatPosted, EventBus, LobbyChanged
from .lobby import Lobby
from .notices import (
    ChatSaid,
    Ended,
    LinkState,
    LobbyNow,
    LockChanged,
    Notice,
    PersonJoined,
    PersonLeft,
    PersonUpdated,
    Reacted,
    RecordingNow,
    Speaking,
    SubtitleSaid,
    SubtitlesNow,
)
from .presence import LobbyEntry, MediaKind, Presence, Verdict, WaitingPerson
from .subtitles import SubtitleState, SubtitleSwitch
from .switches import Switches

log = logging.getLogger(__name__)


class MeetingRecords(Protocol):
    """What a live meeting stores (hub/meetings/service.py's MeetingService)."""

    async def set_locked(self, meeting_id: MeetingId, locked: bool) -> object: ...

    async def record_role(self, participant_id: ParticipantId, role: Role) -> None: ...

    async def end(self, meeting_id: str, *, by: Identity, moderator: bool = False) -> object: ...


class Conference:
    """One live meeting. Made by `Conferences.open` on the first join or knock, dropped by
    it once nobody is in, waiting, or linked.

    Its people are reached through endpoints: `_own` (each carries one person of this hub),
    `_carried` (people a partner hub's link brought: that link carries them) and `_listeners`
    (cascade links, which hear every notice and pick what concerns their partner).
    """

    def __init__(
        self,
        meeting_id: MeetingId,
        *,
        locked: bool,
        records: MeetingRecords,
        events: EventBus | None = None,
        on_idle: Callable[[Conference], None] = lambda conference: None,
        subtitles: SubtitleSwitch | None = None,
        recorder: rules.RecordingSwitch | None = None,
    ) -> None:
        self.meeting_id = meeting_id
        self._switches = Switches(meeting_id, subtitles, recorder)
        self._locked = locked
        self._records = records
        self._events = events
        self._on_idle = on_idle
        self._presences: dict[ParticipantId, Presence] = {}
        self._own: dict[ParticipantId, Endpoint] = {}
        self._carried: dict[ParticipantId, Endpoint] = {}
        self._listeners: dict[str, Endpoint] = {}
        self._lobby = Lobby()
        self._removed: set[Identity] = set()
        self._hands_raised = 0  # how many times a hand went up: orders the queue

    # -- reading ------------------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        return self._locked

    @property
    def presences(self) -> Mapping[ParticipantId, Presence]:
        """Everyone in the meeting, in order of arrival (read only)."""
        return MappingProxyType(self._presences)

    @property
    def lobby(self) -> Mapping[str, LobbyEntry]:
        """Everyone waiting, by entry id (read only)."""
        return self._lobby.entries

    @property
    def subtitles(self) -> SubtitleState:
        return self._switches.subtitles

    @property
    def subtitles_allowed(self) -> bool:
        return self._switches.subtitles_allowed

    @property
    def recording(self) -> bool:
        return self._switches.recording

    @property
    def recording_allowed(self) -> bool:
        return self._switches.recording_allowed

    def present_as(self, identity: Identity) -> Presence | None:
        """This identity's presence in the meeting, if it is in (the latest one)."""
        found = [p for p in self._presences.values() if p.identity == identity]
        return found[-1] if found else None

    def is_removed(self, identity: Identity) -> bool:
        return identity in self._removed

    def carrier(self, participant_id: ParticipantId) -> Endpoint | None:
        """The endpoint through which this person is in the meeting."""
        return self._own.get(participant_id) or self._carried.get(participant_id)

    def is_carried(self, participant_id: ParticipantId) -> bool:
        """Whether this person came through a partner hub's link (not a socket of ours)."""
        return participant_id in self._carried

    def own_people(self) -> int:
        """How many people are in through an endpoint of this hub (not a partner's link)."""
        return sum(1 for pid in self._presences if pid not in self._carried)

    def idle(self) -> bool:
        return not (self._presences or self._lobby or self._listeners)

    def waiting(self) -> tuple[WaitingPerson, ...]:
        """Everyone waiting, oldest first, as moderators see them."""
        return self._lobby.waiting()

    def _target(self, participant_id: str) -> Presence:
        presence = self._presences.get(ParticipantId(participant_id))
        if presence is None:
            raise NotFound(text=Text("error.participant.missing"))
        return presence

    # -- telling --------------------------------------------------------------------------------

    async def _tell(self, notice: Notice, *, exclude: ParticipantId | None = None) -> None:
        """Every state change of the meeting ends here: each endpoint hears the notice once
        (a dead one never blocks the others). With several hub nodes the conference lives on
        the meeting's home only, and a person whose socket is on another node is reached
        through their relayed `Connection` (hub/web/relay.py): nothing here knows nodes."""
        # A page's socket carries one person (in `_own`); a cascade link listens for all the
        # people it carries (in `_listeners`, never in `_own`): each hears it once.
        targets = [endpoint for pid, endpoint in self._own.items() if pid != exclude]
        targets += self._listeners.values()
        await asyncio.gather(*(_deliver(endpoint, notice) for endpoint in targets))

    async def _tell_one(self, participant_id: ParticipantId, notice: Notice) -> None:
        endpoint = self._own.get(participant_id)
        if endpoint is not None:
            await _deliver(endpoint, notice)

    async def announce_lobby(self) -> None:
        """Tell the moderators who is waiting now (only them: the lobby is nobody else's
        business), and the meeting's subscribers that the lobby changed (the Matrix rooms)."""
        notice = LobbyNow(self.waiting())
        await asyncio.gather(
            *(
                _deliver(endpoint, notice)
                for pid, endpoint in self._own.items()
                if pid in self._presences and self._presences[pid].role in MODERATING
            )
        )
        if self._events is not None:
            await self._events.publish(LobbyChanged(self.meeting_id, datetime.now(UTC)))

    def _drop_if_idle(self) -> None:
        if self.idle():
            self._switches.stop_all()
            self._on_idle(self)

    # -- people ---------------------------------------------------------------------------------

    def enter(self, presence: Presence, endpoint: Endpoint) -> None:
        """Someone of ours is in, reached through `endpoint`; `arrived` tells the others once
        the endpoint has welcomed them. Being let in again lifts an earlier removal."""
        self._removed.discard(presence.identity)
        self._presences[presence.participant_id] = presence
        self._own[presence.participant_id] = endpoint

    async def arrived(self, participant_id: ParticipantId) -> None:
        presence = self._presences.get(participant_id)
        if presence is not None:
            await self._tell(PersonJoined(presence), exclude=participant_id)

    async def enter_carried(self, presence: Presence, link: Endpoint) -> None:
        """Someone a partner hub's link brought (their own hub holds their socket). Unlike
        `enter`, a removal stands: the link refuses removed people before this."""
        self._presences[presence.participant_id] = presence
        self._carried[presence.participant_id] = link
        await self._tell(PersonJoined(presence))

    async def leave(self, participant_id: ParticipantId) -> Presence | None:
        """Someone is gone (their socket closed, or their link took them out)."""
        self._own.pop(participant_id, None)
        self._carried.pop(participant_id, None)
        presence = self._presences.pop(participant_id, None)
        self._drop_if_idle()
        if presence is not None:
            await self._tell(PersonLeft(participant_id))
        return presence

    async def update(
        self,
        participant_id: ParticipantId,
        *,
        audio: bool | None = None,
        video: bool | None = None,
        screen: bool | None = None,
        hand: bool | None = None,
        reconnecting: bool | None = None,
    ) -> None:
        """Change someone's visible state and tell everyone, if anything changed. A raised
        hand takes the next place in the queue."""
        current = self._presences.get(participant_id)
        if current is None:
            return
        hand_order = current.hand_order
        if hand is not None and hand != current.hand:
            if hand:
                self._hands_raised += 1
            hand_order = self._hands_raised if hand else 0
        updated = replace(
            current,
            audio=current.audio if audio is None else audio,
            video=current.video if video is None else video,
            screen=current.screen if screen is None else screen,
            hand=current.hand if hand is None else hand,
            hand_order=hand_order,
            reconnecting=current.reconnecting if reconnecting is None else reconnecting,
        )
        if updated == current:
            return
        self._presences[participant_id] = updated
        await self._tell(PersonUpdated(updated))

    async def restate(
        self, participant_id: ParticipantId, *, audio: bool, video: bool, screen: bool, hand: bool
    ) -> None:
        """A partner hub restates one of its people's state (their hub orders its own hands)."""
        current = self._presences.get(participant_id)
        if current is None:
            return
        changed = replace(current, audio=audio, video=video, screen=screen, hand=hand)
        if changed == current:
            return
        self._presences[participant_id] = changed
        await self._tell(PersonUpdated(changed))

    async def chat(self, participant_id: ParticipantId, text: str, at: str | None = None) -> None:
        """Someone in the meeting writes to everyone (`at`: when their own hub says)."""
        presence = self._presences.get(participant_id)
        if presence is None:
            raise NotFound(text=Text("error.participant.missing"))
        now = datetime.now(UTC)
        written = at if at is not None else now.isoformat(timespec="seconds")
        await self._tell(ChatSaid(participant_id, presence.name, text, written))
        if self._events is not None:
            await self._events.publish(
                ChatPosted(self.meeting_id, participant_id, presence.name, text, now)
            )

    async def chat_from_room(self, sender: Identity, name: str, text: str) -> None:
        """A line written in a Matrix room linked to the meeting (not posted back there)."""
        at = datetime.now(UTC).isoformat(timespec="seconds")
        await self._tell(ChatSaid(str(sender), name, text, at))

    async def react(self, participant_id: ParticipantId, emoji: str) -> None:
        await self._tell(Reacted(participant_id, emoji))

    async def speaking(self, participant_id: ParticipantId | None) -> None:
        await self._tell(Speaking(participant_id))

    async def link_state(self, notice: LinkState) -> None:
        await self._tell(notice)

    # -- subtitles ------------------------------------------------------------------------------

    async def set_subtitles(self, actor: Presence, on: bool) -> None:
        """A moderator starts or stops live subtitles; everyone is told, and sees it."""
        moderating(actor)
        with self._logged_conflict(actor, "subtitles"):
            self._switches.set_subtitles(on)
        log.info("subtitles %s", self.subtitles, extra=self._extra(actor))
        await self._tell(SubtitlesNow(self.subtitles, by=actor.name))

    async def subtitle(self, participant_id: ParticipantId, text: str, final: bool) -> str | None:
        """Words recognised from someone's microphone (late ones, after a stop, are dropped).
        The speaker's name if they were shown: only those may go into the transcript."""
        presence = self._presences.get(participant_id)
        if self.subtitles == "off" or presence is None:
            return None
        if self._switches.heard():
            await self._tell(SubtitlesNow("on"))
        await self._tell(SubtitleSaid(participant_id, presence.name, text, final))
        return presence.name

    async def subtitles_unavailable(self) -> None:
        """The speech service is down or too slow: shown to everyone, the meeting goes on."""
        if self._switches.unavailable():
            await self._tell(SubtitlesNow("unavailable"))

    async def set_recording(self, actor: Presence, on: bool) -> None:
        """A moderator starts or stops recording; everyone is told, and sees it."""
        moderating(actor)
        with self._logged_conflict(actor, "recording"):
            self._switches.set_recording(on, actor.name)
        log.info("recording %s", "on" if on else "off", extra=self._extra(actor))
        await self._tell(RecordingNow(on, by=actor.name))

    async def recording_failed(self) -> None:
        """The recording that stopped could not be stored: its moderators are told (the
        others saw it stop; what happens to its files is the moderators' business)."""
        notice = RecordingNow(self.recording, failed=True)
        await asyncio.gather(
            *(
                _deliver(endpoint, notice)
                for pid, endpoint in self._own.items()
                if pid in self._presences and self._presences[pid].role in MODERATING
            )
        )

    # -- the lobby ------------------------------------------------------------------------------

    def knock(
        self,
        identity: Identity,
        name: str,
        role: Role,
        *,
        since: datetime,
        message: str | None = None,
    ) -> LobbyEntry:
        """Someone waits to be let in; their verdict comes through the entry's `decision`.
        The caller keeps the entry (to withdraw it if they go), then `announce_lobby`."""
        return self._lobby.knock(identity, name, role, since, message)

    async def withdraw(self, entry_ids: Iterable[str]) -> None:
        """These people stopped waiting (they left, or the link they waited through closed)."""
        if self._lobby.withdraw(entry_ids):
            await self.announce_lobby()
        self._drop_if_idle()

    async def decide(
        self, actor: Presence, entry_id: str, verdict: Verdict, refusal: str | None = None
    ) -> LobbyEntry:
        """A moderator admits or denies a waiting person (a denial may say why)."""
        moderating(actor)
        entry = self._lobby.take(entry_id)
        if entry is None:
            raise NotFound(text=Text("error.lobby.missing"))
        if verdict == "denied":
            entry.refusal = refusal or None
        entry.decision.set_result(verdict)
        if verdict == "admitted":
            self._removed.discard(entry.identity)
        log.info("lobby entry %s", verdict, extra=self._extra(actor))
        await self.announce_lobby()
        return entry

    # -- moderation -----------------------------------------------------------------------------

    def _extra(self, actor: Presence) -> dict[str, str]:
        return {"meeting_id": self.meeting_id, "participant_id": actor.participant_id}

    @contextlib.contextmanager
    def _logged_conflict(self, actor: Presence, switch: str) -> Iterator[None]:
        """A switch turned to what it already is (a moderator stopping twice, from the page,
        the API or the room): refused, nothing changed, one log line."""
        try:
            yield
        except Conflict as refused:
            log.info("%s refused: %s", switch, refused.said("en"), extra=self._extra(actor))
            raise

    async def mute(self, actor: Presence, target_id: str, kind: MediaKind) -> None:
        """Turn someone's microphone or camera off: their endpoint stops it at once."""
        moderating(actor)
        target = self._target(target_id)
        if target.participant_id == actor.participant_id:
            raise Forbidden(text=Text("error.mute.own"))
        carrier = self.carrier(target.participant_id)
        if carrier is not None:
            await carrier.mute(target, kind, actor)
        log.info("participant muted (%s) by a moderator", kind, extra=self._extra(actor))

    async def remove(self, actor: Presence, target_id: str) -> None:
        """Take someone out; they come back only if a moderator lets them in again."""
        moderating(actor)
        target = self._target(target_id)
        may_act_on(actor, target, REMOVED)
        self._removed.add(target.identity)
        carrier = self.carrier(target.participant_id)
        if carrier is not None:
            await carrier.remove(target, actor)
        log.info("participant removed by a moderator", extra=self._extra(actor))

    async def lock(self, actor: Presence, locked: bool) -> None:
        moderating(actor)
        await self._records.set_locked(self.meeting_id, locked)
        self._locked = locked
        await self._tell(LockChanged(locked))
        log.info("meeting %s", "locked" if locked else "unlocked", extra=self._extra(actor))

    async def host_locked(self, locked: bool) -> None:
        """The partner hub hosting this meeting (un)locked it."""
        self._locked = locked
        await self._tell(LockChanged(locked))

    async def set_role(self, actor: Presence, target_id: str, role: Role) -> None:
        moderating(actor)
        target = self._target(target_id)
        may_act_on(actor, target, GIVEN_A_ROLE)
        if target.participant_id in self._carried:
            raise Forbidden(text=Text("error.role.remote"))
        updated = replace(target, role=role)
        if updated == target:
            return
        self._presences[target.participant_id] = updated
        await self._records.record_role(target.participant_id, role)
        await self._tell(PersonUpdated(updated))
        if role in MODERATING:
            await self._tell_one(target.participant_id, LobbyNow(self.waiting()))
        log.info("participant role set to %s", role.value, extra=self._extra(actor))

    async def lower_hands(self, actor: Presence, target_id: str | None) -> None:
        """Lower one raised hand, or all. Our own people's hands only: a partner's people
        raise and lower theirs on their hub."""
        moderating(actor)
        targets = (
            [self._target(target_id)] if target_id is not None
            else [p for p in self._presences.values() if p.hand]
        )  # fmt: skip
        for target in targets:
            if target.participant_id not in self._carried:
                await self.update(target.participant_id, hand=False)
        log.info("%d raised hand(s) lowered by a moderator", len(targets), extra=self._extra(actor))

    async def end(self, actor: Presence) -> None:
        """End the meeting for everyone (the stored meeting's end tells `end_all`)."""
        moderating(actor)
        await self._records.end(self.meeting_id, by=actor.identity, moderator=True)

    async def end_all(self, notice: Ended) -> int:
        """The meeting is over: everyone is told, the lobby hears "ended", and every endpoint
        of ours is closed. Returns how many were."""
        self._switches.stop_all()
        await self._tell(notice)
        self._lobby.close()
        own = list(self._own.values())
        reason: CloseReason = "ended"
        await asyncio.gather(*(endpoint.close(reason) for endpoint in own), return_exceptions=True)
        return len(own)

    # -- cascade links --------------------------------------------------------------------------

    def listen(self, key: str, link: Endpoint) -> None:
        """A cascade link hears every notice from now on (one per partner hub)."""
        self._listeners[key] = link

    def stop_listening(self, key: str, link: Endpoint) -> None:
        if self._listeners.get(key) is link:
            del self._listeners[key]
        self._drop_if_idle()


async def _deliver(endpoint: Endpoint, notice: Notice) -> None:
    try:
        await endpoint.deliver(notice)
    except (ConnectionError, RuntimeError) as exc:  # closing socket: its handler cleans up
        log.debug("dropped a notice to %r: %s", endpoint, exc)
    except Exception:  # one endpoint's trouble must not stop the meeting's other notices
        log.exception("delivering %s failed", type(notice).__name__)


class Conferences:
    """All live meetings of this hub process: created on the first join or knock, dropped
    when idle. Made once by the app factory with the stores the meetings use."""

    def __init__(
        self,
        records: MeetingRecords,
        events: EventBus | None = None,
        subtitles: SubtitleSwitch | None = None,
        recorder: rules.RecordingSwitch | None = None,
    ) -> None:
        self._meetings: dict[MeetingId, Conference] = {}
        self._records = records
        self._events = events
        self._subtitles, self._recorder = subtitles, recorder

    def get(self, meeting_id: MeetingId) -> Conference | None:
        return self._meetings.get(meeting_id)

    def open(self, meeting_id: MeetingId, *, locked: bool) -> Conference:
        """The live meeting, created (with the stored lock state) if nobody was there."""
        conference = self._meetings.get(meeting_id)
        if conference is None:
            conference = Conference(
                meeting_id, locked=locked, records=self._records, events=self._events,
                on_idle=self._drop, subtitles=self._subtitles, recorder=self._recorder,
            )  # fmt: skip
            self._meetings[meeting_id] = conference
        return conference

    def discard_if_idle(self, meeting_id: MeetingId) -> None:
        """Let a meeting go if nobody is in, waiting or linked (one opened to look at it)."""
        conference = self._meetings.get(meeting_id)
        if conference is not None and conference.idle():
            self._drop(conference)

    def _drop(self, conference: Conference) -> None:
        if self._meetings.get(conference.meeting_id) is conference:
            del self._meetings[conference.meeting_id]

    def speaker_announcer(
        self, meeting_id: MeetingId
    ) -> Callable[[ParticipantId | None], Awaitable[None]]:
        """Tell everyone in the meeting who is speaking now (the SFU decides, from levels)."""

        async def announce(participant_id: ParticipantId | None) -> None:
            conference = self._meetings.get(meeting_id)
            if conference is not None:
                await conference.speaking(participant_id)

        return announce

    async def end_all(self, meeting_id: MeetingId, notice: Ended) -> int:
        conference = self._meetings.get(meeting_id)
        return 0 if conference is None else await conference.end_all(notice)
