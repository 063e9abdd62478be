"""A participant's WebSocket: join, then signaling, chat and state until the socket closes.

Thin by design: parse with hub/web/signaling.py, authorise, then call the meeting service,
the live-meeting registry and the SFU. A bad message gets an `error` frame and is logged once;
the connection and the meeting go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from functools import partial

from aiohttp import WSMsgType, web

from hub.auth.session import Session
from hub.db.models import Role
from hub.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    HubError,
    TooManyRequests,
    Unauthorized,
)
from hub.federation.cascade import CASCADE
from hub.federation.join import ask_admission, open_link
from hub.federation.link import HostTicket
from hub.i18n import DEFAULT_LANGUAGE, Text, known_language, say
from hub.ids import ParticipantId
from hub.meetings.access import MODERATING, Visitor
from hub.meetings.conference import Conference
from hub.meetings.endpoint import CloseReason
from hub.meetings.notices import Notice
from hub.meetings.presence import LobbyEntry, MediaKind, Presence, Verdict
from hub.meetings.service import MeetingView
from hub.sfu.liveness import PeerState
from hub.sfu.participant import Reception, StreamSource, Which
from hub.sfu.port import MediaRoom
from hub.sfu.sdp import SdpError
from hub.tasks import Tasks
from hub.web import page_messages as out
from hub.web import signaling as sig
from hub.web.frames import lobby_message, participant_info
from hub.web.keys import (
    ADMISSIONS,
    CONFIG,
    FEDERATION,
    FRAMES,
    JOIN_TOKENS,
    LIMITS,
    LIVE,
    MEDIA,
    MEETINGS,
    SOCKETS,
)
from hub.web.moderation import carry_out
from hub.web.sockets import PageSocket
from hub.web.view_throttle import ViewThrottle
from hub.web.visitors import rejoin_ticket, visitor_of

log = logging.getLogger(__name__)

JOIN_TIMEOUT = 15.0
# A person whose media connection is lost is shown as reconnecting at once, and leaves the
# roster if it is not back within this many seconds more (their page, if alive, joins again):
# with the ~5-7 s it takes to notice (hub/sfu/liveness.py), gone within 30 s.
RECONNECT_GRACE = 22.0
CLOSE_MEDIA_LOST = 1001  # "going away": not a 4xxx code, so the page comes back by itself
# 4000-4999: application codes; the page does not try to come back on these.
CLOSE_CODES: dict[CloseReason, int] = {"ended": 4001, "removed": 4003}
LOGGED_REJECTIONS = 10  # per socket: a client sending garbage cannot flood the log
# At most one `view` applied per this many seconds and socket (hub/web/view_throttle.py).
VIEW_INTERVAL = 0.2


REACTION_INTERVAL = 0.5  # seconds between two reactions of one person


class Connection:
    """One person's socket: join (perhaps after waiting in the lobby), then their part in the
    meeting until the socket closes. Once in, it is that person's endpoint in the conference
    (hub/meetings/endpoint.py): it writes the conference's notices as page frames and carries
    out moderators' orders on the person's media."""

    def __init__(
        self,
        app: web.Application,
        ws: PageSocket,
        meeting: MeetingView,
        *,
        remote: str,
        session: Session | None,
    ) -> None:
        self.app = app
        self.remote = remote  # the client's address (rate limits, logs)
        self.session = session  # the page's session, if it has one (else a join token says)
        self.ws = ws
        self.meeting = meeting
        self.meeting_id = meeting.id
        self.participant_id: ParticipantId | None = None
        self.live: Conference | None = None
        self.room: MediaRoom | None = None
        self.waiting: LobbyEntry | None = None
        # Waiting in the lobby of a partner's meeting: the host's ticket.
        self.remote_ticket: HostTicket | None = None
        self._verdict_task: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        self._peer_states: dict[Which, PeerState] = {}
        self._grace: asyncio.Task[None] | None = None
        self._tasks = Tasks()
        self._rejected = 0  # malformed messages so far (only the first ones are logged)
        self._last_reaction = -REACTION_INTERVAL
        self._views: ViewThrottle | None = None  # from the first `view` message on
        self.lang = DEFAULT_LANGUAGE  # what the hub's answers are said in: the page's, once joined

    async def send(self, message: out.ServerMessage) -> None:
        await self.send_frame(out.to_json(message))

    async def send_frame(self, frame: str) -> None:
        if self.ws.closed:
            return
        async with self._send_lock:
            with contextlib.suppress(ConnectionResetError):  # closing under us: nobody to tell
                await self.ws.send_str(frame)

    async def close(self, reason: CloseReason = "ended") -> None:
        """Disconnect from the server side: the meeting ended, or a moderator removed them."""
        await self.ws.close(code=CLOSE_CODES[reason], message=reason.encode())

    # -- the endpoint of this person in the conference --------------------------------------

    async def deliver(self, notice: Notice) -> None:
        await self.send_frame(self.app[FRAMES].frame(notice))

    async def mute(self, target: Presence, kind: MediaKind, by: Presence) -> None:
        """Their microphone or camera stops at our SFU at once; the page is told."""
        audio = False if kind == "audio" else target.audio
        video = False if kind == "video" else target.video
        if self.room is not None:
            self.room.set_forwarding(target.participant_id, audio=audio, video=video)
        await self._send_quietly(out.Muted(kind=kind, by=by.name))
        if self.live is not None:
            await self.live.update(target.participant_id, audio=audio, video=video)

    async def remove(self, target: Presence, by: Presence) -> None:
        """Nothing more reaches them, then their socket closes."""
        if self.room is not None:
            self.room.set_forwarding(target.participant_id, audio=False, video=False)
        await self._send_quietly(out.Denied(reason="removed"))
        await self.close("removed")

    async def error(self, code: str, message: str, request: str | None = None) -> None:
        await self.send(out.Error(code=code, message=message, request=request))

    async def refuse(self, exc: HubError, request: str | None = None) -> None:
        """An error frame saying `exc` in the page's language, with its stable code."""
        retry_after = exc.retry_after if isinstance(exc, TooManyRequests) else None
        await self.send(out.Error(code=exc.code, message=exc.said(self.lang), request=request,
                                  retry_after=retry_after))  # fmt: skip

    async def tell(self, code: str, text: Text, request: str | None = None) -> None:
        await self.error(code, say(self.lang, text), request)

    async def run(self) -> None:
        try:
            await self._wait_for_join()
            async for frame in self.ws:
                if frame.type == WSMsgType.TEXT or frame.type == WSMsgType.BINARY:
                    await self._handle_frame(frame.data)
                elif frame.type == WSMsgType.ERROR:
                    break
        finally:
            # aiohttp cancels the handler when the client's connection drops, often in the
            # middle of this: leaving runs to its end in a task of its own (cancelled half
            # way, closing the connections left their sockets and aiortc's tasks behind).
            leaving = asyncio.get_running_loop().create_task(self._leave())
            self.app[SOCKETS].hold(leaving)
            await asyncio.shield(leaving)

    async def _wait_for_join(self) -> None:
        while True:
            async with asyncio.timeout(JOIN_TIMEOUT):
                frame = await self.ws.receive()
            if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                raise ConnectionResetError("socket closed before joining")
            try:
                message = sig.parse_client_message(frame.data)
            except sig.SignalingError as exc:
                await self.error(exc.code, exc.message, exc.request)
                continue
            if isinstance(message, sig.Join):
                self.lang = known_language(message.lang) or DEFAULT_LANGUAGE
                try:
                    await self._join(message)
                except (TooManyRequests, Unauthorized, BadRequest) as exc:  # may try again
                    await self.refuse(exc, "join")
                    continue
                return
            if isinstance(message, sig.Ping):
                await self.send(out.Pong())
                continue
            await self.tell("not_joined", Text("error.socket.not_joined"), message.type)

    async def _visitor(self, message: sig.Join) -> tuple[Visitor, str]:
        return await visitor_of(
            message, self.session, self.meeting, self.app[JOIN_TOKENS], self.app[ADMISSIONS]
        )

    async def _join(self, message: sig.Join) -> None:
        if self.meeting.host_instance is not None:
            await self._join_hosted_elsewhere(message)
            return
        visitor, name = await self._visitor(message)
        admission = self.app[ADMISSIONS].decide(self.meeting, visitor, "join")
        if admission.enter:
            await self._enter(visitor, name, admission.role, message.audio, message.video)
            return
        await self.app[LIMITS].lobby.hit(self.remote)
        live, entry = self.app[ADMISSIONS].knock(
            self.meeting, visitor.identity, name, admission.role, message.message
        )
        self.waiting, self.live = entry, live
        await live.announce_lobby()
        await self._wait_in_lobby(
            entry.decision, visitor, name, admission.role, message, refusal=lambda: entry.refusal
        )

    async def _join_hosted_elsewhere(self, message: sig.Join) -> None:
        """A meeting a partner hosts: its hub decides (we vouch for the person with a signed
        request); once admitted, the person's media stays on our SFU, cascaded to theirs."""
        host = self.meeting.host_instance
        assert host is not None
        federation = self.app.get(FEDERATION)
        partner = await federation.policy.get(host) if federation is not None else None
        if federation is None or partner is None or not partner.outbound_allowed:
            raise Forbidden(text=Text("error.federation.former_partner"))
        visitor, name = await self._visitor(message)
        outbound = self.app[CASCADE].outbound_for(self.meeting, partner.label)
        async with outbound.asking():
            link = await outbound.ready(partial(open_link, federation))
            answer = await ask_admission(
                federation, self.meeting, visitor, name, message.message, self.lang
            )
            if answer.verdict == "enter":
                await self._enter(visitor, name, Role(answer.role), message.audio, message.video)
                return
            assert answer.ticket is not None
            # A pending ticket keeps the link open until the verdict (OutboundLink.wanted).
            self.remote_ticket = link.await_verdict(answer.ticket)
            await self._wait_in_lobby(
                self.remote_ticket.decision, visitor, name, Role(answer.role), message
            )

    async def _wait_in_lobby(
        self,
        decision: asyncio.Future[Verdict],
        visitor: Visitor,
        name: str,
        role: Role,
        message: sig.Join,
        refusal: Callable[[], str | None] = lambda: None,
    ) -> None:
        """Tell the person to wait, then act on the moderators' verdict when it comes (with
        the reason a moderator gave for a refusal, `refusal()`)."""
        await self.send(out.Waiting())

        async def on_verdict(verdict: Verdict) -> None:
            self.waiting = None
            self.remote_ticket = None
            if verdict == "admitted":
                await self.send(out.Admitted())
                await self._enter(visitor, name, role, message.audio, message.video)
            elif verdict == "denied":
                await self.send(
                    out.Denied(reason="removed" if visitor.removed else "denied", message=refusal())
                )
                await self.close("removed")
            else:
                await self.send(out.MeetingEnded(reason="ended"))
                await self.close("ended")

        async def wait() -> None:
            try:
                await on_verdict(await decision)
            except (ConnectionError, RuntimeError):
                await self.ws.close()
            except HubError as exc:  # e.g. the meeting filled up while they waited
                with contextlib.suppress(Exception):
                    await self.refuse(exc, "join")
                await self.ws.close()

        self._verdict_task = asyncio.create_task(wait(), name=f"lobby {self.meeting_id}")

    async def _enter(
        self, visitor: Visitor, name: str, role: Role, audio: bool, video: bool
    ) -> None:
        self.app[ADMISSIONS].check_room(self.meeting_id)
        participant_id = await self.app[MEETINGS].record_join(
            self.meeting_id, identity=visitor.identity, display_name=name, role=role
        )
        try:  # again: joins written in one batch all passed the first check together
            self.app[ADMISSIONS].check_room(self.meeting_id)
        except Conflict:
            await self.app[MEETINGS].record_leave(self.meeting_id, participant_id)
            raise
        self.participant_id = participant_id
        presence = Presence(
            participant_id=participant_id,
            identity=visitor.identity,
            name=name,
            audio=audio,
            video=video,
            role=role,
        )
        self.live = self.app[LIVE].open(self.meeting_id, locked=self.meeting.locked)
        self.live.enter(presence, self)
        self.room = self.app[MEDIA].acquire(self.meeting_id)
        self.room.watch(participant_id, self._on_peer_state, self._on_reception, self._on_encodings)
        if self.room.on_speaker is None:
            self.room.on_speaker = self.app[LIVE].speaker_announcer(self.meeting_id)
        others = [participant_info(p, self_id=participant_id) for p in self.live.presences.values()]
        await self.send(
            out.Welcome(
                participant_id=participant_id,
                meeting_id=self.meeting_id,
                title=self.meeting.title,
                participants=others,
                ice_servers=[
                    out.IceServer(urls=list(s.urls), username=s.username, credential=s.credential)
                    for s in self.app[CONFIG].sfu.ice_servers
                ],
                role=role.value,
                locked=self.live.locked,
                simulcast=self.app[CONFIG].sfu.simulcast,
                rejoin=rejoin_ticket(self.meeting, visitor.identity, name, self.app[JOIN_TOKENS]),
                subtitles=self.live.subtitles,
                subtitles_allowed=self.live.subtitles_allowed,
                recording=self.live.recording,
                recording_allowed=self.live.recording_allowed,
            )
        )
        if role in MODERATING:
            await self.send(lobby_message(self.live.waiting()))
        await self.live.arrived(participant_id)
        self.room.set_forwarding(participant_id, audio=audio, video=video)
        await self.room.add_subscriber(participant_id, self._subscribe_offer)
        log.info(
            "participant joined",
            extra={"meeting_id": self.meeting_id, "participant_id": participant_id},
        )

    def _on_peer_state(self, which: Which, state: PeerState) -> None:
        """From the SFU (an aiortc event callback): handled in a task of its own."""
        self._peer_states[which] = state
        self._tasks.spawn(self._peer_state_changed(which, state))

    def _on_reception(self, reception: Reception) -> None:
        """From the SFU's packet path or tick: sent in a task of its own."""
        videos = [
            out.ReceivedVideo(participant_id=person, source=source, quality=quality)
            for (person, source), quality in reception.items()
        ]
        self._tasks.spawn(self._send_quietly(out.Reception(videos=videos)))

    def _on_encodings(self, mid: str, rids: list[str]) -> None:
        self._tasks.spawn(self._send_quietly(out.Encodings(mid=mid, rids=rids)))

    async def _send_quietly(self, message: out.ServerMessage) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send(message)

    async def _peer_state_changed(self, which: Which, state: PeerState) -> None:
        """Tell the page (it restarts a failed connection) and the others (they see the
        person as reconnecting); past the grace period the person leaves the roster."""
        if self.participant_id is None:
            return
        await self._send_quietly(out.ConnectionHealth(pc=which, state=state))
        lost = any(state != "connected" for state in self._peer_states.values())
        await self._update(reconnecting=lost)
        if lost and self._grace is None:
            self._grace = asyncio.get_running_loop().create_task(self._leave_unless_back())
        elif not lost and self._grace is not None:
            self._grace.cancel()
            self._grace = None

    async def _leave_unless_back(self) -> None:
        await asyncio.sleep(RECONNECT_GRACE)
        log.info(
            "media not back in %.0f s: taken out of the meeting",
            RECONNECT_GRACE,
            extra={"meeting_id": self.meeting_id, "participant_id": self.participant_id},
        )
        await self.ws.close(code=CLOSE_MEDIA_LOST, message=b"media connection lost")

    async def _subscribe_offer(self, sdp: str, streams: list[StreamSource], restart: bool) -> None:
        await self.send(
            out.SubscribeOffer(
                sdp=sdp,
                streams=[
                    out.StreamInfo(
                        mid=s.mid, participant_id=s.participant_id, source=s.source, kind=s.kind
                    )
                    for s in streams
                ],
                restart=restart,
            )
        )

    async def _handle_frame(self, frame: str | bytes) -> None:
        try:
            message = sig.parse_client_message(frame)
        except sig.SignalingError as exc:
            self._log_rejection(f"rejected signaling message: {exc.message}", exc.code)
            await self.error(exc.code, exc.message, exc.request)
            return
        try:
            if self.participant_id is None:
                await self._while_waiting(message)
            else:
                await self._dispatch(message)
        except SdpError as exc:
            self._log_rejection(f"rejected SDP: {exc}", "bad_sdp")
            await self.error("bad_sdp", str(exc), message.type)
        except HubError as exc:
            await self.refuse(exc, message.type)
        except Exception:  # a bug must cost this message, not the participant's connection
            reference = secrets.token_hex(6)
            log.exception(
                "unexpected error handling %s",
                message.type,
                extra={"reference": reference, "participant_id": self.participant_id},
            )
            await self.tell(
                "internal_error",
                Text("error.unexpected.reference", {"reference": reference}),
                message.type,
            )

    def _log_rejection(self, text: str, code: str) -> None:
        """One line per refused message, for the first few on this socket only."""
        self._rejected += 1
        if self._rejected > LOGGED_REJECTIONS:
            return
        last = self._rejected == LOGGED_REJECTIONS
        log.info(
            "%s%s", text[:300], " (further ones on this socket are answered, not logged)"
            if last else "", extra={"error_code": code, "participant_id": self.participant_id},
        )  # fmt: skip

    async def _while_waiting(self, message: sig.ClientMessage) -> None:
        """In the lobby (or being let in) only ping, leave and a knock's message mean anything."""
        match message:
            case sig.Ping():
                await self.send(out.Pong())
            case sig.Leave():
                await self.ws.close()
            case sig.Knock(message=note) if self.remote_ticket is not None:
                await self.tell("knock_elsewhere", Text("error.knock.elsewhere"), "knock")
            case sig.Knock(message=note) if self.waiting is not None and self.live is not None:
                self.waiting.amend(note)
                await self.live.announce_lobby()
            case _:
                await self.tell("not_admitted", Text("error.socket.not_admitted"), message.type)

    async def _dispatch(self, message: sig.ClientMessage) -> None:
        assert self.participant_id is not None and self.live is not None
        assert self.room is not None
        pid = self.participant_id
        if message.type in sig.MODERATION_TYPES:
            await carry_out(self.live, self.live.presences[pid], message)
            return
        match message:
            case sig.PublishOffer(sdp=sdp, tracks=tracks):
                answer = await self.room.publish(
                    pid, sdp, {track.mid: track.source for track in tracks}
                )
                await self.send(out.PublishAnswer(sdp=answer))
                screen = any(track.source == "screen" for track in tracks)
                await self._update(screen=screen)
            case sig.SubscribeAnswer(sdp=sdp):
                await self.room.subscribe_answer(pid, sdp)
            case sig.IceCandidate():
                await self.room.add_candidate(
                    pid, message.pc, message.candidate, message.sdp_mid, message.sdp_mline_index
                )
            case sig.MediaState(audio=audio, video=video):
                self.room.set_forwarding(pid, audio=audio, video=video)
                await self._update(audio=audio, video=video)
            case sig.Chat(text=text):
                await self.live.chat(pid, text)
            case sig.Hand(raised=raised):
                await self._update(hand=raised)
            case sig.React(emoji=emoji):
                clock = asyncio.get_running_loop().time()
                if clock - self._last_reaction < REACTION_INTERVAL:
                    await self.tell("rate_limited", Text("error.socket.reactions"), "reaction")
                    return
                self._last_reaction = clock
                await self.live.react(pid, emoji)
            case sig.Leave():
                await self.ws.close()
            case sig.Ping():
                await self.send(out.Pong())
            case sig.Reconnect():
                await self.room.restart_subscriber(pid)
            case sig.View():
                await self._view(message)
            case sig.Join():
                await self.tell("already_joined", Text("error.socket.already_joined"), "join")
            case sig.Knock():
                pass  # let in while writing it: the moderators no longer need it

    async def _view(self, message: sig.View) -> None:
        """What the page displays, checked against the meeting, then applied (throttled)."""
        assert self.live is not None
        unknown = sorted({tile.participant for tile in message.tiles} - set(self.live.presences))
        if unknown:
            await self.error(
                "unknown_participant",
                f"view: not in this meeting: {', '.join(unknown[:5])}"
                + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""),
                "view",
            )
            return
        if self._views is None:
            self._views = ViewThrottle(self._apply_view, VIEW_INTERVAL, self.participant_id or "-")
        self._views.offer(message)

    def _apply_view(self, message: sig.View) -> None:
        if self.room is None or self.participant_id is None:
            return  # left meanwhile
        tiles = {ParticipantId(tile.participant): (tile.width, tile.height)
                 for tile in message.tiles}  # fmt: skip
        known = frozenset(self.live.presences) if self.live is not None else frozenset(tiles)
        self.room.set_view(self.participant_id, tiles, visible=message.visible, known=known)

    async def _update(self, **changes: bool) -> None:
        assert self.live is not None and self.participant_id is not None
        await self.live.update(self.participant_id, **changes)

    async def _leave(self) -> None:
        self._tasks.cancel()
        if self._views is not None:
            self._views.cancel()
        if self._grace is not None and self._grace is not asyncio.current_task():
            self._grace.cancel()
        if self._verdict_task is not None and not self._verdict_task.done():
            self._verdict_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._verdict_task
        if self.waiting is not None and self.live is not None:
            entry, self.waiting = self.waiting, None
            await self.live.withdraw([entry.entry_id])
        if self.remote_ticket is not None:
            ticket, self.remote_ticket = self.remote_ticket, None
            await ticket.withdraw()
        try:
            await self._leave_meeting()
        finally:
            if self.meeting.host_instance is not None:
                await self.app[CASCADE].release(self.meeting_id)

    async def _leave_meeting(self) -> None:
        if self.participant_id is None:
            return
        pid, self.participant_id = self.participant_id, None
        room, self.room = self.room, None
        # Each step runs whatever the one before raised: nobody stays in the roster or holds
        # a place in the meeting because closing their connections failed.
        try:
            if room is not None:
                await room.remove_participant(pid)
        finally:
            try:
                if self.live is not None:
                    await self.live.leave(pid)
            finally:
                if room is not None:
                    await self.app[MEDIA].release(self.meeting_id)
                with contextlib.suppress(Exception):
                    await self.app[MEETINGS].record_leave(self.meeting_id, pid)
        log.info("participant left", extra={"meeting_id": self.meeting_id, "participant_id": pid})
