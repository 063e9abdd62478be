"""The cascade link: one meeting shared with one partner instance over one WebSocket.

Each side's people connect to their own hub and SFU. For each meeting and instance pair, one
link carries between the two hubs:

- presences (each side shows the other's people, "Name (Instance)"), chat, lock state, the
  end of the meeting, moderation orders (mute, remove) and lobby verdicts;
- the SDP of two peer connections between the SFUs. In each SFU the link is one more
  participant (`link:<partner>`): it subscribes to the streams of this side's people (one
  leg per stream, so each stream crosses once whatever the number of receivers over there)
  and publishes the other side's streams, each marked with the person it belongs to. Each
  side offers its own people's streams and answers the other's offer, so there is no glare.

The hosting hub accepts the link (`accept_link`, after the signed upgrade was verified); the
partner hub opens it (`OutboundLink`), reopens it with backoff when it fails, and tells its
people in between. A link that closes takes the other side's people out of view; each side's
meeting goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import WSMsgType

from hub.db.models import Role
from hub.errors import Conflict, HubError, ServiceUnavailable
from hub.i18n import Text
from hub.ids import Identity, MeetingId, ParticipantId, ServerName
from hub.meetings.access import MODERATING, REMOVED, may_act_on
from hub.meetings.admission import Admissions
from hub.meetings.conference import Conference, Conferences
from hub.meetings.endpoint import CloseReason
from hub.meetings.notices import (
    ChatSaid,
    LockChanged,
    Notice,
    PersonJoined,
    PersonLeft,
    PersonUpdated,
)
from hub.meetings.presence import MediaKind, Presence, Verdict
from hub.meetings.service import MeetingService, MeetingView, clean_text
from hub.sfu.forwarder import LINK_PREFIX
from hub.sfu.liveness import PeerState
from hub.sfu.participant import StreamSource
from hub.sfu.port import MediaRoom, MediaRooms
from hub.sfu.sdp import SdpError
from hub.tasks import Tasks

from . import messages as m
from .people import labelled, link_participant, presence_info, remote_identity

log = logging.getLogger(__name__)

MAX_COMPLAINTS = 32  # kinds of fault logged per link; `what` is never the partner's text

LINK_HEARTBEAT = 10.0


class LinkSocket(Protocol):
    """What a link needs of a WebSocket (aiohttp's server and client sockets both fit)."""

    @property
    def closed(self) -> bool: ...

    async def send_str(self, data: str, compress: int | None = None) -> None: ...

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool: ...

    def __aiter__(self) -> Any: ...


@dataclass(frozen=True)
class LinkServices:
    """What a cascade link works with, given by the app (hub/federation/cascade.py)."""

    conferences: Conferences
    sfu: MediaRooms
    meetings: MeetingService
    admissions: Admissions


@dataclass
class HostTicket:
    """One of our people waiting in the lobby of the partner hosting the meeting: the host's
    verdict comes through `decision` (a pending one keeps the link open)."""

    link: MeetingLink
    ticket: str
    decision: asyncio.Future[Verdict]

    async def withdraw(self) -> None:
        """They stopped waiting: the host drops its lobby entry, the link may close."""
        pending = self.link.tickets.pop(self.ticket, None)
        if pending is not None:
            pending.cancel()
        await self.link.send(m.Withdraw(type="withdraw", ticket=self.ticket))


@dataclass
class MeetingLink:
    """One open link: the socket, the people it brought into view, its SFU participant.
    In the conference it is the endpoint of the people it brought, and it hears every notice
    (hub/meetings/endpoint.py): it writes them as link messages for the partner.

    Made by `accept_link` (hosting side) or `OutboundLink` (partner side); `run()` serves the
    socket until it closes and then takes everything it added back out.
    """

    services: LinkServices
    meeting: MeetingView
    partner: ServerName
    label: str
    ws: LinkSocket
    hosting: bool
    # Hosting side: who the partner may bring in, with the role we gave them (admissions).
    admitted: dict[Identity, Role] = field(default_factory=dict)
    remote_ids: set[ParticipantId] = field(default_factory=set)
    # Partner side: lobby tickets waiting for the host's verdict (shared by the successive
    # links of one OutboundLink).
    tickets: dict[str, asyncio.Future[Verdict]] = field(default_factory=dict)
    # Hosting side: lobby entries of ours that the partner's people wait in.
    lobby_entries: set[str] = field(default_factory=set)
    detached: asyncio.Event = field(default_factory=asyncio.Event)
    # The partner said whom it brings (its first `hello`): anyone else it had is gone.
    rostered: asyncio.Event = field(default_factory=asyncio.Event)
    # Hosting side: a newer link of the same partner took over (do not tear down its media).
    superseded: bool = False
    # Hosting side: this hub stops, or this node gives the meeting up to another: the people
    # this link brought keep their presence rows, and the next home lets them back.
    handing_over: bool = False
    # Partner side: the host said it restarts (its close is expected; we come back).
    partner_restarting: bool = False
    # The meeting's roster and media are open to the other side. The host opens them only
    # once the partner brought someone it admitted: a partner that merely knows a meeting's
    # id learns nothing of it.
    opened: bool = False
    _room: MediaRoom | None = None
    _send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _complained: set[str] = field(default_factory=set)
    _closing: Tasks = field(default_factory=Tasks)

    @property
    def meeting_id(self) -> MeetingId:
        return self.meeting.id

    @property
    def participant_id(self) -> ParticipantId:
        return link_participant(self.partner)

    @property
    def live(self) -> Conference:
        return self.services.conferences.open(self.meeting_id, locked=self.meeting.locked)

    @property
    def room(self) -> MediaRoom:
        """The room this link holds open (from `_open` to `_shut`)."""
        if self._room is None:
            raise m.LinkError("nothing of this meeting is open to the partner yet")
        return self._room

    async def send(self, message: m._Message) -> None:
        if self.ws.closed:
            return
        async with self._send_lock:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_str(m.to_json(message))

    def await_verdict(self, ticket: str) -> HostTicket:
        """Partner side: one of our people waits in the host's lobby under `ticket`."""
        if self.detached.is_set():  # the host dropped its lobby entry with that link
            raise ServiceUnavailable(text=Text("error.federation.link_interrupted"))
        decision: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self.tickets[ticket] = decision
        return HostTicket(self, ticket, decision)

    def hold_lobby_entry(self, entry_id: str) -> None:
        """Hosting side: a partner's person waits in our lobby through this link (dropped
        with it if it closes)."""
        self.lobby_entries.add(entry_id)

    def lobby_entry_decided(self, entry_id: str) -> None:
        self.lobby_entries.discard(entry_id)

    def hand_over(self) -> None:
        """Hosting side: the meeting moves (this hub restarts, or another of its nodes takes
        it); when this link closes, its people are out of the meeting here but still in it
        by the database."""
        self.handing_over = True

    async def give_way(self) -> None:
        """Hosting side: the partner reconnected before we noticed this link die. Its people
        leave first, then the new link brings them back; the media stays with the new one."""
        self.superseded = True
        await self.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.detached.wait()
        await self._shut()

    # -- serving --------------------------------------------------------------------------

    async def run(self) -> None:
        log.info("cascade link up", extra={"meeting_id": self.meeting_id, "partner": self.partner})
        try:
            if not self.hosting:
                await self._open()
            async for frame in self.ws:
                if frame.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._handle(frame.data)
                elif frame.type == WSMsgType.ERROR:
                    break
        finally:
            try:
                await self._detach()
            finally:
                self.detached.set()

    async def _open(self) -> None:
        """Show the other side our people and offer it their streams; hear our broadcasts."""
        if self.opened:
            return
        self.opened = True
        live = self.live
        live.listen(self.partner, self)
        room = self._room = self.services.sfu.acquire(self.meeting_id)
        if room.on_speaker is None:
            room.on_speaker = self.services.conferences.speaker_announcer(self.meeting_id)
        own = [presence_info(p) for pid, p in live.presences.items() if pid not in self.remote_ids]
        await self.send(m.Hello(type="hello", presences=own))
        room.watch(self.participant_id, self._media_state)
        await room.add_subscriber(self.participant_id, self._offer)

    def _media_state(self, which: str, state: PeerState) -> None:
        """The link's media connection to the partner's SFU failed (consent expired, DTLS
        ended): aiortc cannot renegotiate it, so the link is closed and made again (the
        partner side reconnects with its backoff), rather than left up without media."""
        if state == "failed":
            log.warning(
                "cascade media to %s lost (%s connection): closing the link to remake it",
                self.partner, which, extra={"meeting_id": self.meeting_id},
            )  # fmt: skip
            self._closing.spawn(self.close())

    async def _shut(self) -> None:
        """The link is closing: the partner hears and receives nothing more. (Not done when
        its last person leaves: someone of theirs may be waiting in our lobby, and aiortc
        cannot renegotiate a link connection from scratch.)"""
        if not self.opened:
            return
        self.opened = False
        live = self.services.conferences.get(self.meeting_id)
        if live is not None:
            live.stop_listening(self.partner, self)
        room, self._room = self._room, None
        if room is not None:
            await room.remove_participant(self.participant_id)
            await self.services.sfu.release(self.meeting_id)

    async def close(self, reason: CloseReason = "ended") -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()

    async def _handle(self, frame: str | bytes) -> None:
        try:
            message = m.parse_link_message(frame)
        except m.LinkError as exc:
            self._complain("bad link message", str(exc))
            return
        try:
            await self._dispatch(message)
        except (SdpError, HubError, m.LinkError) as exc:
            self._complain(f"{message.type} refused", str(exc))
        except Exception:  # a bug costs this message, never the link or the meeting
            log.exception(
                "cascade link message %s failed",
                message.type,
                extra={"meeting_id": self.meeting_id, "partner": self.partner},
            )

    def _complain(self, what: str, detail: str) -> None:
        """Log a partner's bad message once per kind of fault (a loop must not flood logs)."""
        if what in self._complained or len(self._complained) >= MAX_COMPLAINTS:
            return
        self._complained.add(what)
        log.warning(
            "cascade link: %s: %s",
            what,
            detail,
            extra={"meeting_id": self.meeting_id, "partner": self.partner},
        )

    async def _dispatch(self, message: m.LinkMessage) -> None:
        match message:
            case m.Hello(presences=presences):
                try:
                    for info in presences:
                        await self._arrive(info)
                finally:
                    self.rostered.set()
            case m.Joined(presence=info):
                await self._arrive(info)
            case m.Updated(presence=info):
                await self._update(info)
            case m.Left(participant_id=pid):
                await self._depart(ParticipantId(pid))
            case m.Offer(sdp=sdp, streams=streams):
                # Only the people this link brought may own its streams: a partner must not
                # show its video under the name of someone of ours.
                if any(ParticipantId(s.participant_id) not in self.remote_ids for s in streams):
                    raise m.LinkError("offer carries streams of people this link did not bring")
                answer = await self.room.publish(
                    self.participant_id,
                    sdp,
                    {s.mid: s.source for s in streams},
                    {s.mid: ParticipantId(s.participant_id) for s in streams},
                )
                await self.send(m.Answer(type="answer", sdp=answer))
            case m.Answer(sdp=sdp):
                await self.room.subscribe_answer(self.participant_id, sdp)
            case m.Chat(participant_id=pid, text=text, at=at):
                await self._chat(ParticipantId(pid), text, at)
            case m.Mute(participant_id=pid, kind=kind, actor=actor):
                await self._muted(ParticipantId(pid), kind, ParticipantId(actor))
            case m.Remove(participant_id=pid, actor=actor):
                await self._removed(ParticipantId(pid), ParticipantId(actor))
            case m.Verdict(ticket=ticket, verdict=verdict):
                future = self.tickets.pop(ticket, None)
                if future is not None and not future.done():
                    future.set_result(verdict)
            case m.Withdraw(ticket=ticket):
                if self.hosting and ticket in self.lobby_entries:
                    await self._drop_lobby_entries([ticket])
            case m.Locked(locked=locked):
                if not self.hosting:
                    await self.live.host_locked(locked)
            case m.Restarting():
                self.partner_restarting = True  # the close that follows is not a failure
            case m.Ended():
                if not self.hosting:
                    await self.services.meetings.end(
                        self.meeting_id,
                        by=Identity.vouched_by("host", self.partner),
                        moderator=True,
                    )

    # -- people of the other side -----------------------------------------------------------

    def _presence_of(self, info: m.PresenceInfo) -> Presence:
        """Who a partner says is in, checked: on the host, only people we admitted, not
        removed since, one presence each, under their partner's name and label."""
        identity = remote_identity(info.identity, self.partner, hosting=self.hosting)
        pid = ParticipantId(info.participant_id)
        if pid.startswith(LINK_PREFIX):
            raise m.LinkError("participant id is reserved")
        live = self.live
        if self.hosting:
            role = self.admitted.get(identity)
            if role is None:
                raise m.LinkError("this person was not admitted to the meeting")
            if live.is_removed(identity):
                raise m.LinkError("this person was removed from the meeting")
            if any(
                live.presences[other].identity == identity
                for other in self.remote_ids
                if other != pid and other in live.presences
            ):
                raise m.LinkError("this person is already in the meeting")
        else:
            role = Role(info.role)
        try:
            name = clean_text(info.name, field="name", limit=m.MAX_NAME_LENGTH)
        except HubError as exc:
            raise m.LinkError(exc.detail) from None
        return Presence(
            participant_id=pid,
            identity=identity,
            name=labelled(name, self.label, info.identity, hosting=self.hosting),
            audio=info.audio,
            video=info.video,
            screen=info.screen,
            hand=info.hand,
            role=role,
        )

    async def _arrive(self, info: m.PresenceInfo) -> None:
        pid = ParticipantId(info.participant_id)
        if pid in self.remote_ids:
            await self._update(info)
            return
        presence = self._presence_of(info)
        live = self.live
        if pid in live.presences:
            raise m.LinkError("participant id is already in use here")
        if self.hosting:
            self.services.admissions.check_room(self.meeting_id)
            # Stored first: a refused row leaves nothing half-entered.
            await self.services.meetings.record_join(
                self.meeting_id,
                identity=presence.identity,
                display_name=presence.name,
                role=presence.role,
                participant_id=pid,
                via_instance=self.partner,
            )
            try:  # again: joins written in one batch all passed the first check together
                self.services.admissions.check_room(self.meeting_id)
            except Conflict:
                await self.services.meetings.record_leave(self.meeting_id, pid)
                raise
        self.remote_ids.add(pid)
        await live.enter_carried(presence, self)
        await self._open()

    async def _update(self, info: m.PresenceInfo) -> None:
        pid = ParticipantId(info.participant_id)
        if pid not in self.remote_ids:
            raise m.LinkError("update for someone this link did not bring")
        current = self.live.presences.get(pid)
        if current is None:
            return
        state = (info.audio, info.video, info.screen, info.hand)
        if state == (current.audio, current.video, current.screen, current.hand):
            return
        if self.hosting:  # what the person turns on again flows again (a mute is no lock)
            self.room.set_owner_forwarding(pid, audio=info.audio, video=info.video)
        await self.live.restate(
            pid, audio=info.audio, video=info.video, screen=info.screen, hand=info.hand
        )

    async def _depart(self, pid: ParticipantId) -> None:
        if pid not in self.remote_ids:
            return
        self.remote_ids.discard(pid)
        current = self.services.conferences.get(self.meeting_id)
        if current is None or current.carrier(pid) is not self:
            return  # a newer link of the same partner brought them back already
        room = self.services.sfu.find(self.meeting_id)
        if room is not None:
            room.set_owner_forwarding(pid, audio=False, video=False)
        await current.leave(pid)
        if self.hosting and not self.handing_over:
            with contextlib.suppress(Exception):
                await self.services.meetings.record_leave(self.meeting_id, pid)

    async def _chat(self, pid: ParticipantId, text: str, at: str) -> None:
        if pid not in self.remote_ids or pid not in self.live.presences:
            raise m.LinkError("chat from someone this link did not bring")
        await self.live.chat(pid, text, at=at)

    # -- moderation across the link ---------------------------------------------------------

    def _order(
        self, target_id: ParticipantId, actor_id: ParticipantId
    ) -> tuple[Presence, Presence]:
        """An order from the other side: its actor must be one of the people this link
        brought and moderate here; its target one of ours; the usual rules between them."""
        live = self.live
        actor = live.presences.get(actor_id)
        if actor_id not in self.remote_ids or actor is None or actor.role not in MODERATING:
            raise m.LinkError("order from someone who does not moderate this meeting")
        target = live.presences.get(target_id)
        if target is None or live.is_carried(target_id):
            raise m.LinkError("order for someone who is not connected here")
        may_act_on(actor, target, REMOVED)
        return actor, target

    async def _muted(self, pid: ParticipantId, kind: MediaKind, actor_id: ParticipantId) -> None:
        actor, target = self._order(pid, actor_id)
        await self.live.mute(actor, target.participant_id, kind)

    async def _removed(self, pid: ParticipantId, actor_id: ParticipantId) -> None:
        actor, target = self._order(pid, actor_id)
        await self.live.remove(actor, target.participant_id)

    # The endpoint of the people this link brought: how our moderators reach them. Their media
    # stops here at once, whatever the partner does with the order.
    async def mute(self, target: Presence, kind: MediaKind, actor: Presence) -> None:
        self.room.set_owner_forwarding(
            target.participant_id,
            audio=target.audio and kind != "audio",
            video=target.video and kind != "video",
        )
        await self.send(
            m.Mute(
                type="mute",
                participant_id=target.participant_id,
                kind=kind,
                actor=actor.participant_id,
            )
        )

    async def remove(self, target: Presence, actor: Presence) -> None:
        self.admitted.pop(target.identity, None)  # back only through a new admission
        self.room.set_owner_forwarding(target.participant_id, audio=False, video=False)
        await self.send(
            m.Remove(
                type="remove", participant_id=target.participant_id, actor=actor.participant_id
            )
        )

    # -- what our side tells its people, relayed ------------------------------------------------

    async def deliver(self, notice: Notice) -> None:
        """Called with every notice of the meeting here: pass on what the partner needs."""
        match notice:
            case PersonJoined(presence=said) | PersonUpdated(presence=said):
                pid = said.participant_id
                presence = self.live.presences.get(pid)
                if pid in self.remote_ids or presence is None:
                    return
                if isinstance(notice, PersonJoined):
                    await self.send(m.Joined(type="joined", presence=presence_info(presence)))
                else:
                    await self.send(m.Updated(type="updated", presence=presence_info(presence)))
            case PersonLeft(participant_id=pid):
                if pid not in self.remote_ids:
                    await self.send(m.Left(type="left", participant_id=pid))
            case ChatSaid(participant_id=pid, text=text, at=at):
                if pid not in self.remote_ids:
                    await self.send(m.Chat(type="chat", participant_id=pid, text=text, at=at))
            case LockChanged(locked=locked) if self.hosting:
                await self.send(m.Locked(type="locked", locked=locked))

    async def _offer(self, sdp: str, streams: list[StreamSource], restart: bool) -> None:
        await self.send(
            m.Offer(
                type="offer",
                sdp=sdp,
                streams=[
                    m.LinkStream(
                        mid=s.mid, participant_id=s.participant_id, source=s.source, kind=s.kind
                    )
                    for s in streams
                ],
            )
        )

    # -- the end of the link --------------------------------------------------------------

    async def _drop_lobby_entries(self, tickets: list[str]) -> None:
        """Our lobby entries for the partner's people, gone (withdrawn, or the link closed)."""
        self.lobby_entries.difference_update(tickets)
        live = self.services.conferences.get(self.meeting_id)
        if live is not None:  # their pending verdicts are cancelled: nothing will be sent
            await live.withdraw(tickets)

    async def _detach(self) -> None:
        for pid in list(self.remote_ids):
            await self._depart(pid)
        for future in self.tickets.values():
            if not future.done():
                future.set_exception(ConnectionError("the link to the hosting instance closed"))
        self.tickets.clear()
        if self.lobby_entries:
            await self._drop_lobby_entries(list(self.lobby_entries))
        if not self.superseded:
            await self._shut()
        self.services.conferences.discard_if_idle(self.meeting_id)
        log.info(
            "cascade link down", extra={"meeting_id": self.meeting_id, "partner": self.partner}
        )
