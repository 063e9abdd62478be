"""`HubPort` over the hub's bridge API (hub/web/bridge_api.py), for a bot run alone.

Requests are plain HTTP calls with the bridge token; events come over one WebSocket that a
background task keeps open, reconnecting with backoff and logging once per outage. A hub
alone does not replay events published while the socket is down; hub nodes (`[redis] url`)
keep them in the bot's stream and number each event they send, and this side answers each
number once its listeners have carried the event (the hub acknowledges the entry only then).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ValidationError
from yarl import URL

from bridge import wire
from bridge.hub_port import BridgeEvent, HubFailure, Language, Listener, RoomMeeting

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)
CONNECT_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_connect=10)
HEARTBEAT_SECONDS = 30.0
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0

Reply = TypeVar("Reply", bound=BaseModel)
Body = TypeVar("Body", bound=BaseModel)


class HttpHub:
    """Owns one HTTP client session to the hub and the task following its event socket.
    Construct it inside the running loop; the task starts with the first `listen()`;
    `close()` stops both."""

    def __init__(self, hub_url: str, token: str) -> None:
        self.base = URL(hub_url.rstrip("/") + wire.PREFIX)
        self._headers = {"Authorization": f"Bearer {token}"}
        self._http = aiohttp.ClientSession(timeout=CONNECT_TIMEOUT)
        self._listeners: list[Listener] = []
        self._events: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()  # set while the event socket is open

    async def close(self) -> None:
        if self._events is not None:
            self._events.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._events
        await self._http.close()

    # -- requests --------------------------------------------------------------------------

    def _room_url(self, room_id: str, action: str) -> URL:
        encoded = quote(room_id, safe="")
        return URL(f"{self.base}/rooms/{encoded}/{action}", encoded=True)

    async def _call(
        self, method: str, room_id: str, action: str, body: BaseModel | None = None
    ) -> Any:
        """The JSON answer (None for 204); a refusal raises HubRefusal, anything else
        HubFailure."""
        url = self._room_url(room_id, action)
        what = f"{method} {wire.PREFIX}/rooms/…/{action}"
        payload = body.model_dump(mode="json") if body is not None else None
        try:
            async with self._http.request(
                method, url, json=payload, headers=self._headers, timeout=REQUEST_TIMEOUT
            ) as answer:
                if answer.status == 204:
                    return None
                text = await answer.text()
                data = _json_or_none(text)
                if answer.status == 200 and data is not None:
                    return data
                if answer.status == 409 and (refusal := wire.refusal_from_json(data)):
                    raise refusal
                detail = data.get("detail") if isinstance(data, dict) else None
                one_line = " ".join(str(detail or text[:200]).split())
                raise HubFailure(f"hub answered {answer.status} to {what}: {one_line}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise HubFailure(f"hub unreachable at {self.base}: {_describe(exc)}") from None

    async def _meeting(
        self, method: str, room_id: str, action: str, body: BaseModel | None = None
    ) -> RoomMeeting:
        data = await self._call(method, room_id, action, body)
        try:
            return wire.meeting_from_json(data)
        except ValueError as exc:
            raise HubFailure(f"hub sent an unreadable answer: {exc}") from None

    async def _reply(
        self,
        model: type[Reply],
        method: str,
        room_id: str,
        action: str,
        body: BaseModel | None = None,
    ) -> Reply:
        data = await self._call(method, room_id, action, body)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise HubFailure(
                f"hub sent an unreadable answer: {wire.validation_message(exc)}"
            ) from None

    async def start_meeting(self, room_id: str, *, by: str, title: str | None) -> RoomMeeting:
        return await self._meeting(
            "POST",
            room_id,
            "start",
            _body(wire.StartMeeting, by=by, title=title and title[: wire.MAX_TEXT]),
        )

    async def room_meeting(self, room_id: str) -> RoomMeeting | None:
        return (await self._reply(wire.MeetingReply, "GET", room_id, "meeting")).meeting

    async def end_meeting(self, room_id: str, *, by: str) -> None:
        await self._call("POST", room_id, "end", _body(wire.EndMeeting, by=by))

    async def set_locked(self, room_id: str, locked: bool, *, by: str) -> RoomMeeting:
        return await self._meeting(
            "POST", room_id, "lock", _body(wire.SetLocked, locked=locked, by=by)
        )

    async def set_subtitles(self, room_id: str, on: bool, *, by: str) -> None:
        await self._call("POST", room_id, "subtitles", _body(wire.Switch, on=on, by=by))

    async def set_recording(self, room_id: str, on: bool, *, by: str) -> None:
        await self._call("POST", room_id, "recording", _body(wire.Switch, on=on, by=by))

    async def admit(self, room_id: str, numbers: tuple[int, ...] | None, *, by: str) -> list[str]:
        chosen = list(numbers) if numbers is not None else None  # None: everyone waiting
        body = _body(wire.AdmitWaiting, numbers=chosen, by=by)
        return (await self._reply(wire.NamesReply, "POST", room_id, "admit", body)).names

    async def refuse(self, room_id: str, number: int, *, by: str, reason: str | None = None) -> str:
        body = _body(wire.RefuseWaiting, number=number, by=by, reason=reason)
        return (await self._reply(wire.NameReply, "POST", room_id, "refuse", body)).name

    async def room_language(self, room_id: str) -> Language:
        return (await self._reply(wire.LanguageReply, "GET", room_id, "language")).language

    async def set_room_language(self, room_id: str, language: Language, *, by: str) -> None:
        body = _body(wire.SetLanguage, language=language, by=by)
        await self._call("PUT", room_id, "language", body)

    async def mute(self, room_id: str, name: str, *, by: str) -> str:
        body = _body(wire.NamedPerson, name=name, by=by)
        return (await self._reply(wire.NameReply, "POST", room_id, "mute", body)).name

    async def invite(self, room_id: str, user_id: str, *, by: str) -> RoomMeeting:
        return await self._meeting(
            "POST", room_id, "invite", _body(wire.Invite, user_id=user_id, by=by)
        )

    async def post_chat(self, room_id: str, *, sender: str, name: str, text: str) -> bool:
        # Cut as the hub would cut them in process, so a long message is not refused here.
        body = _body(
            wire.PostChat, sender=sender, name=name[: wire.MAX_NAME], text=text[: wire.MAX_TEXT]
        )
        return (await self._reply(wire.PostedReply, "POST", room_id, "chat", body)).posted

    async def remember_status(self, room_id: str, meeting_id: str, event_id: str) -> None:
        body = _body(wire.RememberStatus, meeting_id=meeting_id, event_id=event_id)
        await self._call("POST", room_id, "status", body)

    async def update_room(self, room_id: str, members: Mapping[str, int]) -> None:
        await self._call("PUT", room_id, "members", _body(wire.UpdateRoom, members=dict(members)))

    # -- events ----------------------------------------------------------------------------

    def listen(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        if self._events is None:
            self._events = asyncio.create_task(self._follow_events(), name="bridge-hub-events")
        return lambda: self._listeners.remove(listener)

    async def _follow_events(self) -> None:
        """Keep the event socket open: back off 1 s doubling to 60 s between attempts, and
        log an outage once when it starts and once when it ends."""
        backoff = FIRST_BACKOFF
        outage = False
        url = self.base / "events"
        while True:
            try:
                async with self._http.ws_connect(
                    url, headers=self._headers, heartbeat=HEARTBEAT_SECONDS
                ) as ws:
                    if outage:
                        log.info("bridge: event stream from the hub is back")
                    outage, backoff = False, FIRST_BACKOFF
                    self.connected.set()
                    try:
                        await self._read_events(ws)
                    finally:
                        self.connected.clear()
                    reason = f"closed by the hub (code {ws.close_code})"
            except aiohttp.WSServerHandshakeError as exc:
                reason = f"refused with {exc.status}" + (
                    " (check matrix.bridge_token)" if exc.status in (401, 403) else ""
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = _describe(exc)
            if not outage:
                log.warning(
                    "bridge: event stream from %s lost: %s; reconnecting with backoff",
                    url,
                    reason,
                )
                outage = True
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _read_events(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            try:
                event, ack = wire.event_frame_from_json(json.loads(message.data))
            except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError too
                log.error("bridge: unreadable event from the hub dropped: %s", str(exc)[:200])
                continue
            await self._deliver(event)
            if ack is not None:  # carried: the hub may forget it (hub nodes' stream)
                await ws.send_str(json.dumps(wire.ack_to_json(ack)))

    async def _deliver(self, event: BridgeEvent) -> None:
        results = await asyncio.gather(
            *(listener(event) for listener in list(self._listeners)), return_exceptions=True
        )
        for result in results:
            if isinstance(result, Exception):
                log.error("bridge: listener failed on %s", type(event).__name__, exc_info=result)


def _body(model: type[Body], **fields: object) -> Body:
    """A request body, checked before it is sent (the hub checks it again)."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise HubFailure(f"request not sent: {wire.validation_message(exc)}") from None


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _describe(exc: BaseException) -> str:
    return str(exc).replace("\n", " ") or type(exc).__name__
