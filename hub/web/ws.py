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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import WSMsgType, web

from hub.db.models import MeetingState, Role
from hub.errors import Conflict, Forbidden, HubError
from hub.ids import MeetingId, ParticipantId
from hub.meetings.events import MeetingEnded, MeetingEvent
from hub.meetings.live import LiveMeeting, LiveMeetings, Presence
from hub.meetings.service import MeetingView
from hub.sfu.room import SfuRoom, StreamSource
from hub.sfu.sdp import SdpError
from hub.web import signaling as sig
from hub.web.keys import CONFIG, LIVE, MEETINGS, SESSION, SFU
from hub.web.requests import require_session

log = logging.getLogger(__name__)

JOIN_TIMEOUT = 15.0
# 4000-4999: application codes; the page does not try to come back on these.
CLOSE_MEETING_ENDED = 4001
HEARTBEAT = 20.0


def participant_info(
    presence: Presence, *, self_id: ParticipantId | None = None
) -> sig.ParticipantInfo:
    return sig.ParticipantInfo(
        id=presence.participant_id,
        name=presence.name,
        audio=presence.audio,
        video=presence.video,
        screen=presence.screen,
        hand=presence.hand,
        is_self=presence.participant_id == self_id,
    )


def speaker_announcer(
    live: LiveMeetings, meeting_id: MeetingId
) -> Callable[[ParticipantId | None], Awaitable[None]]:
    """Tell everyone in the meeting who is speaking now (the SFU decides, from audio levels)."""

    async def announce(participant_id: ParticipantId | None) -> None:
        meeting = live.get(meeting_id)
        if meeting is not None:
            await meeting.broadcast(sig.to_json(sig.ActiveSpeaker(participant_id=participant_id)))

    return announce


def meeting_end_listener(app: web.Application) -> Callable[[MeetingEvent], Awaitable[None]]:
    """When a meeting ends, everyone in it is told and disconnected, and its media stops."""

    async def on_event(event: MeetingEvent) -> None:
        if isinstance(event, MeetingEnded):
            farewell = sig.to_json(sig.MeetingEnded(reason="ended"))
            await app[LIVE].disconnect_all(event.meeting_id, farewell)
            await app[SFU].close_room(event.meeting_id)

    return on_event


def check_origin(request: web.Request) -> None:
    """Refuse cross-site WebSocket hijacking: the page must come from this very host."""
    origin = request.headers.get("Origin")
    if origin is None:
        return  # not a browser (browsers always send Origin on WebSocket requests)
    allowed = {request.app[CONFIG].public_url, f"{request.scheme}://{request.host}"}
    if origin.rstrip("/") not in allowed:
        raise Forbidden("Origine refusée / Origin not allowed")


class Connection:
    """One participant's socket and its part in the meeting, from join to leave."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, meeting: MeetingView):
        self.request = request
        self.app = request.app
        self.ws = ws
        self.meeting_id = meeting.id
        self.title = meeting.title
        self.participant_id: ParticipantId | None = None
        self.live: LiveMeeting | None = None
        self.room: SfuRoom | None = None
        self._send_lock = asyncio.Lock()

    async def send(self, message: sig.ServerMessage) -> None:
        await self.send_frame(sig.to_json(message))

    async def send_frame(self, frame: str) -> None:
        if self.ws.closed:
            return
        async with self._send_lock:
            await self.ws.send_str(frame)

    async def close(self) -> None:
        """Disconnect this participant from the server side (meeting ended, later: removed)."""
        await self.ws.close(code=CLOSE_MEETING_ENDED, message=b"meeting ended")

    async def error(self, code: str, message: str, request: str | None = None) -> None:
        await self.send(sig.Error(code=code, message=message, request=request))

    async def run(self) -> None:
        try:
            await self._wait_for_join()
            async for frame in self.ws:
                if frame.type == WSMsgType.TEXT or frame.type == WSMsgType.BINARY:
                    await self._handle_frame(frame.data)
                elif frame.type == WSMsgType.ERROR:
                    break
        finally:
            await self._leave()

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
                await self._join(message)
                return
            if isinstance(message, sig.Ping):
                await self.send(sig.Pong())
                continue
            await self.error("not_joined", "send a join message first", message.type)

    async def _join(self, message: sig.Join) -> None:
        session = self.request[SESSION]
        meetings = self.app[MEETINGS]
        limit = self.app[CONFIG].sfu.max_participants
        live = self.app[LIVE].get(self.meeting_id)
        if live is not None and len(live.presences) >= limit:
            raise Conflict(
                f"La réunion est complète ({limit} personnes) / "
                f"The meeting is full ({limit} participants)"
            )
        participant_id = await meetings.record_join(
            self.meeting_id, identity=session.identity, display_name=message.name,
            role=Role.PARTICIPANT,
        )  # fmt: skip
        self.participant_id = participant_id
        presence = Presence(
            participant_id=participant_id,
            identity=session.identity,
            name=" ".join(message.name.split()),
            audio=message.audio,
            video=message.video,
        )
        self.live = self.app[LIVE].enter(self.meeting_id, presence, self.send_frame, self.close)
        self.room = self.app[SFU].room(self.meeting_id)
        if self.room.on_speaker is None:
            self.room.on_speaker = speaker_announcer(self.app[LIVE], self.meeting_id)
        others = [participant_info(p, self_id=participant_id) for p in self.live.presences.values()]
        await self.send(
            sig.Welcome(
                participant_id=participant_id,
                meeting_id=self.meeting_id,
                title=self.title,
                participants=others,
                ice_servers=[
                    sig.IceServer(urls=list(s.urls), username=s.username, credential=s.credential)
                    for s in self.app[CONFIG].sfu.ice_servers
                ],
            )
        )
        await self.live.broadcast(
            sig.to_json(sig.ParticipantJoined(participant=participant_info(presence))),
            exclude=participant_id,
        )
        self.room.set_forwarding(participant_id, audio=message.audio, video=message.video)
        await self.room.add_subscriber(participant_id, self._subscribe_offer)
        log.info(
            "participant joined",
            extra={"meeting_id": self.meeting_id, "participant_id": participant_id},
        )

    async def _subscribe_offer(self, sdp: str, streams: list[StreamSource], restart: bool) -> None:
        await self.send(
            sig.SubscribeOffer(
                sdp=sdp,
                streams=[
                    sig.StreamInfo(
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
            log.info(
                "rejected signaling message: %s",
                exc.message,
                extra={"error_code": exc.code, "participant_id": self.participant_id},
            )
            await self.error(exc.code, exc.message, exc.request)
            return
        try:
            await self._dispatch(message)
        except SdpError as exc:
            log.info("rejected SDP: %s", exc, extra={"participant_id": self.participant_id})
            await self.error("bad_sdp", str(exc), message.type)
        except HubError as exc:
            await self.error(exc.code, exc.detail, message.type)
        except Exception:  # a bug must cost this message, not the participant's connection
            reference = secrets.token_hex(6)
            log.exception(
                "unexpected error handling %s",
                message.type,
                extra={"reference": reference, "participant_id": self.participant_id},
            )
            await self.error(
                "internal_error", f"unexpected error, reference {reference}", message.type
            )

    async def _dispatch(self, message: sig.ClientMessage) -> None:
        assert self.participant_id is not None and self.live is not None
        assert self.room is not None
        pid = self.participant_id
        match message:
            case sig.PublishOffer(sdp=sdp, tracks=tracks):
                answer = await self.room.publish(
                    pid, sdp, {track.mid: track.source for track in tracks}
                )
                await self.send(sig.PublishAnswer(sdp=answer))
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
                presence = self.live.presences[pid]
                await self.live.broadcast(
                    sig.to_json(
                        sig.ChatMessage(
                            participant_id=pid,
                            name=presence.name,
                            text=text,
                            at=datetime.now(UTC).isoformat(timespec="seconds"),
                        )
                    )
                )
            case sig.Hand(raised=raised):
                await self._update(hand=raised)
            case sig.Leave():
                await self.ws.close()
            case sig.Ping():
                await self.send(sig.Pong())
            case sig.Reconnect():
                await self.room.restart_subscriber(pid)
            case sig.Join():
                await self.error("already_joined", "this socket has already joined", "join")

    async def _update(self, **changes: bool) -> None:
        assert self.live is not None and self.participant_id is not None
        before = self.live.presences.get(self.participant_id)
        presence = self.live.update(self.participant_id, **changes)
        if presence is None or presence == before:
            return
        await self.live.broadcast(
            sig.to_json(sig.ParticipantUpdated(participant=participant_info(presence)))
        )

    async def _leave(self) -> None:
        if self.participant_id is None:
            return
        pid, self.participant_id = self.participant_id, None
        if self.room is not None:
            await self.room.remove_participant(pid)
        left = self.app[LIVE].leave(self.meeting_id, pid)
        if self.live is not None and left is not None:
            await self.live.broadcast(sig.to_json(sig.ParticipantLeft(participant_id=pid)))
        if self.live is not None and not self.live.presences:
            await self.app[SFU].close_room(self.meeting_id)
        with contextlib.suppress(Exception):
            await self.app[MEETINGS].record_leave(self.meeting_id, pid)
        log.info("participant left", extra={"meeting_id": self.meeting_id, "participant_id": pid})


async def meeting_socket(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/meetings/{meeting_id}/ws — upgrade, then run the participant's connection."""
    require_session(request)
    check_origin(request)
    meeting = await request.app[MEETINGS].get(request.match_info["meeting_id"])
    if meeting.state is MeetingState.ENDED:
        raise Forbidden("La réunion est terminée / The meeting has ended")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=sig.MAX_FRAME * 2)
    await ws.prepare(request)
    connection = Connection(request, ws, meeting)
    try:
        await connection.run()
    except (TimeoutError, ConnectionResetError):
        pass
    except HubError as exc:
        with contextlib.suppress(Exception):
            await connection.error(exc.code, exc.detail)
    finally:
        await ws.close()
    return ws
