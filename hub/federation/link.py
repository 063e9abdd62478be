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
import json
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from hub.db.models import IdentityKind, Role
from hub.errors import HubError
from hub.ids import Identity, MeetingId, ParticipantId, ServerName
from hub.meetings.access import MODERATING
from hub.meetings.events import ChatPosted
from hub.meetings.live import LiveMeeting, Presence, Verdict
from hub.meetings.service import MeetingView
from hub.sfu.forwarder import LINK_PREFIX
from hub.sfu.room import SfuRoom, StreamSource
from hub.sfu.sdp import SdpError
from hub.web import moderation
from hub.web import signaling as sig
from hub.web.keys import EVENTS, LIVE, MEETINGS, SFU

from . import messages as m

log = logging.getLogger(__name__)

LINK_HEARTBEAT = 10.0


class LinkSocket(Protocol):
    """What a link needs of a WebSocket (aiohttp's server and client sockets both fit)."""

    @property
    def closed(self) -> bool: ...

    async def send_str(self, data: str, compress: int | None = None) -> None: ...

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool: ...

    def __aiter__(self) -> Any: ...


def link_participant(partner: ServerName) -> ParticipantId:
    """The SFU participant that stands for a partner instance in a meeting's room."""
    return ParticipantId(f"{LINK_PREFIX}{partner}")


def partner_identity(identity: str, partner: ServerName) -> Identity:
    """How this hub names someone a partner vouches for (kept as is if already relayed)."""
    if identity.startswith(f"{IdentityKind.PARTNER.value}:"):
        return Identity(identity)
    return Identity(f"{IdentityKind.PARTNER.value}:{identity}@{partner}")


def labelled(name: str, label: str, identity: str) -> str:
    """'Name (Label)' for a partner's own people; relayed people already carry their label."""
    if identity.startswith(f"{IdentityKind.PARTNER.value}:"):
        return name
    return f"{name} ({label})"[: m.MAX_NAME_LENGTH]


def presence_info(presence: Presence) -> m.PresenceInfo:
    return m.PresenceInfo(
        participant_id=presence.participant_id,
        identity=presence.identity,
        name=presence.name,
        role=presence.role.value,
        audio=presence.audio,
        video=presence.video,
        screen=presence.screen,
        hand=presence.hand,
    )


@dataclass
class MeetingLink:
    """One open link: the socket, the people it brought into view, its SFU participant.

    Made by `accept_link` (hosting side) or `OutboundLink` (partner side); `run()` serves the
    socket until it closes and then takes everything it added back out.
    """

    app: web.Application
    meeting: MeetingView
    partner: ServerName
    label: str
    ws: LinkSocket
    hosting: bool
    # Hosting side: who the partner may bring in, with the role we gave them (admissions).
    admitted: dict[Identity, Role] = field(default_factory=dict)
    remote_ids: set[ParticipantId] = field(default_factory=set)
    # Partner side: lobby tickets waiting for the host's verdict.
    tickets: dict[str, asyncio.Future[Verdict]] = field(default_factory=dict)
    # Hosting side: lobby entries of ours that the partner's people wait in.
    lobby_entries: set[str] = field(default_factory=set)
    detached: asyncio.Event = field(default_factory=asyncio.Event)
    _send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _complained: set[str] = field(default_factory=set)

    @property
    def meeting_id(self) -> MeetingId:
        return self.meeting.id

    @property
    def participant_id(self) -> ParticipantId:
        return link_participant(self.partner)

    @property
    def live(self) -> LiveMeeting:
        return self.app[LIVE].open(self.meeting_id, locked=self.meeting.locked)

    @property
    def room(self) -> SfuRoom:
        return self.app[SFU].room(self.meeting_id)

    async def send(self, message: m._Message) -> None:
        if self.ws.closed:
            return
        async with self._send_lock:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_str(m.to_json(message))

    # -- serving --------------------------------------------------------------------------

    async def run(self) -> None:
        live = self.live
        live.relays[self.partner] = self.relay
        room = self.room
        if room.on_speaker is None:
            from hub.web.ws import speaker_announcer  # the page's own announcer

            room.on_speaker = speaker_announcer(self.app[LIVE], self.meeting_id)
        own = [presence_info(p) for pid, p in live.presences.items() if pid not in self.remote_ids]
        await self.send(m.Hello(type="hello", presences=own))
        await room.add_subscriber(self.participant_id, self._offer)
        log.info(
            "cascade link up",
            extra={"meeting_id": self.meeting_id, "partner": self.partner},
        )
        try:
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

    async def close(self) -> None:
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
        key = f"{what}: {detail}"[:200]
        if key in self._complained:
            return
        self._complained.add(key)
        log.warning(
            "cascade link: %s: %s",
            what,
            detail,
            extra={"meeting_id": self.meeting_id, "partner": self.partner},
        )

    async def _dispatch(self, message: m.LinkMessage) -> None:
        match message:
            case m.Hello(presences=presences):
                for info in presences:
                    await self._arrive(info)
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
            case m.Mute(participant_id=pid, kind=kind, by=by):
                await self._muted(ParticipantId(pid), kind, by)
            case m.Remove(participant_id=pid):
                await self._removed(ParticipantId(pid))
            case m.Verdict(ticket=ticket, verdict=verdict):
                future = self.tickets.pop(ticket, None)
                if future is not None and not future.done():
                    future.set_result(verdict)
            case m.Withdraw(ticket=ticket):
                if self.hosting and ticket in self.lobby_entries:
                    self.lobby_entries.discard(ticket)
                    if self.live.lobby.pop(ticket, None) is not None:
                        await moderation.announce_lobby(self.live)
            case m.Locked(locked=locked):
                if not self.hosting:
                    self.live.locked = locked
                    await self.live.broadcast(sig.to_json(sig.MeetingStateChanged(locked=locked)))
            case m.Ended():
                if not self.hosting:
                    await self.app[MEETINGS].end(
                        self.meeting_id, by=Identity("partner:host"), moderator=True
                    )

    # -- people of the other side -----------------------------------------------------------

    def _presence_of(self, info: m.PresenceInfo) -> Presence:
        identity = partner_identity(info.identity, self.partner)
        if self.hosting:
            role = self.admitted.get(identity)
            if role is None:
                raise m.LinkError("this person was not admitted to the meeting")
        else:
            role = Role(info.role)
        return Presence(
            participant_id=ParticipantId(info.participant_id),
            identity=identity,
            name=labelled(info.name, self.label, info.identity),
            audio=info.audio,
            video=info.video,
            screen=info.screen,
            hand=info.hand,
            role=role,
        )

    async def _arrive(self, info: m.PresenceInfo) -> None:
        presence = self._presence_of(info)
        pid = presence.participant_id
        live = self.live
        if pid in live.presences and pid not in self.remote_ids:
            raise m.LinkError("participant id is already in use here")
        if pid in self.remote_ids:
            await self._update(info)
            return
        self.remote_ids.add(pid)
        live.enter_remote(presence, self)
        if self.hosting:
            await self.app[MEETINGS].record_join(
                self.meeting_id,
                identity=presence.identity,
                display_name=presence.name,
                role=presence.role,
                participant_id=pid,
                via_instance=self.partner,
            )
        await live.broadcast(
            sig.to_json(sig.ParticipantJoined(participant=moderation.participant_info(presence)))
        )

    async def _update(self, info: m.PresenceInfo) -> None:
        pid = ParticipantId(info.participant_id)
        if pid not in self.remote_ids:
            raise m.LinkError("update for someone this link did not bring")
        current = self.live.presences.get(pid)
        if current is None:
            return
        changed = replace(
            current, audio=info.audio, video=info.video, screen=info.screen, hand=info.hand
        )
        if changed == current:
            return
        self.live.presences[pid] = changed
        await self.live.broadcast(
            sig.to_json(sig.ParticipantUpdated(participant=moderation.participant_info(changed)))
        )

    async def _depart(self, pid: ParticipantId) -> None:
        if pid not in self.remote_ids:
            return
        self.remote_ids.discard(pid)
        current = self.app[LIVE].get(self.meeting_id)
        if current is None or current.remote.get(pid) is not self:
            return  # a newer link of the same partner brought them back already
        left = self.app[LIVE].leave(self.meeting_id, pid)
        live = self.app[LIVE].get(self.meeting_id)
        if left is not None and live is not None:
            await live.broadcast(sig.to_json(sig.ParticipantLeft(participant_id=pid)))
        if self.hosting:
            with contextlib.suppress(Exception):
                await self.app[MEETINGS].record_leave(self.meeting_id, pid)

    async def _chat(self, pid: ParticipantId, text: str, at: str) -> None:
        presence = self.live.presences.get(pid)
        if pid not in self.remote_ids or presence is None:
            raise m.LinkError("chat from someone this link did not bring")
        await self.live.broadcast(
            sig.to_json(sig.ChatMessage(participant_id=pid, name=presence.name, text=text, at=at))
        )
        await self.app[EVENTS].publish(
            ChatPosted(self.meeting_id, pid, presence.name, text, datetime.now(UTC))
        )

    # -- moderation of our people by the other side ---------------------------------------------

    def _own(self, pid: ParticipantId) -> Presence:
        """One of our people, for an order from the other side. The host's orders stand; a
        partner's only while one of its people here moderates (the role we gave them)."""
        presence = self.live.presences.get(pid)
        if presence is None or pid in self.live.remote:
            raise m.LinkError("order for someone who is not connected here")
        if self.hosting and not any(
            self.live.presences[remote].role in MODERATING
            for remote in self.remote_ids
            if remote in self.live.presences
        ):
            raise m.LinkError("order from a partner none of whose people moderates here")
        return presence

    async def _muted(self, pid: ParticipantId, kind: str, by: str) -> None:
        target = self._own(pid)
        audio = False if kind == "audio" else target.audio
        video = False if kind == "video" else target.video
        self.room.set_forwarding(pid, audio=audio, video=video)
        await self.live.send(pid, sig.to_json(sig.Muted(kind=kind, by=by)))
        await moderation.update_presence(self.live, pid, audio=audio, video=video)

    async def _removed(self, pid: ParticipantId) -> None:
        target = self._own(pid)
        live = self.live
        live.removed.add(target.identity)
        self.room.set_forwarding(pid, audio=False, video=False)
        await live.send(pid, sig.to_json(sig.Denied(reason="removed")))
        closer = live.closers.get(pid)
        if closer is not None:
            await closer("removed")

    # RemoteControl: how our moderators reach the people this link brought.
    async def mute(self, participant_id: ParticipantId, kind: str, by: str) -> None:
        await self.send(m.Mute(type="mute", participant_id=participant_id, kind=kind, by=by))

    async def remove(self, participant_id: ParticipantId) -> None:
        await self.send(m.Remove(type="remove", participant_id=participant_id))

    # -- what our side tells its people, relayed ------------------------------------------------

    async def relay(self, frame: str) -> None:
        """Called with every broadcast of the meeting here: pass on what the partner needs."""
        data = json.loads(frame)
        kind = data.get("type")
        live = self.live
        if kind in ("participant_joined", "participant_updated"):
            pid = ParticipantId(data["participant"]["id"])
            presence = live.presences.get(pid)
            if pid in self.remote_ids or presence is None:
                return
            info = presence_info(presence)
            if kind == "participant_joined":
                await self.send(m.Joined(type="joined", presence=info))
            else:
                await self.send(m.Updated(type="updated", presence=info))
        elif kind == "participant_left":
            pid = ParticipantId(data["participant_id"])
            if pid not in self.remote_ids:
                await self.send(m.Left(type="left", participant_id=pid))
        elif kind == "chat":
            pid = ParticipantId(data["participant_id"])
            if pid not in self.remote_ids:
                await self.send(
                    m.Chat(type="chat", participant_id=pid, text=data["text"], at=data["at"])
                )
        elif kind == "meeting_state" and self.hosting:
            await self.send(m.Locked(type="locked", locked=bool(data["locked"])))

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

    async def _detach(self) -> None:
        live = self.app[LIVE].get(self.meeting_id)
        if live is not None and live.relays.get(self.partner) == self.relay:
            del live.relays[self.partner]
        for pid in list(self.remote_ids):
            await self._depart(pid)
        for future in self.tickets.values():
            if not future.done():
                future.set_exception(ConnectionError("the link to the hosting instance closed"))
        self.tickets.clear()
        if live is not None and self.lobby_entries:
            for ticket in self.lobby_entries:
                live.lobby.pop(ticket, None)
            self.lobby_entries.clear()
            await moderation.announce_lobby(live)
        sfu = self.app[SFU]
        room = sfu.rooms.get(self.meeting_id)
        if room is not None:
            await room.remove_participant(self.participant_id)
        if live is not None and not live.presences:
            await sfu.close_room(self.meeting_id)
        self.app[LIVE].discard_if_empty(self.meeting_id)
        log.info(
            "cascade link down", extra={"meeting_id": self.meeting_id, "partner": self.partner}
        )
