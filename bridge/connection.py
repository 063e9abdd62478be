"""The bot's Matrix side: one matrix-nio client that logs in once, syncs, keeps end-to-end
encryption going and writes to rooms. It only translates: what a message means is the bot's
business (bridge/bot.py), which it reaches through the `RoomListener` it is given.

End-to-end encryption is on (matrix-nio's vodozemac extra): the crypto store and the device
live in `<data_dir>/matrix-bot` and are reused across restarts; an event that cannot be
decrypted yet is kept and retried after each sync, as its keys often arrive a little later.

Delivery is at most once: the sync token is saved before a batch is handled, so a restart never
delivers a message twice (a crash mid-batch loses that batch's messages instead).
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nio import (
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    ErrorResponse,
    InviteMemberEvent,
    LoginResponse,
    MegolmEvent,
    RoomGetEventResponse,
    RoomGetStateEventResponse,
    RoomMemberEvent,
    RoomMessageText,
    RoomPutStateResponse,
    RoomSendResponse,
    SyncResponse,
    UploadResponse,
)

from bridge.power import RoomPowers
from bridge.session import BotConfig, BotError, Session, secret_file

log = logging.getLogger(__name__)

SESSION_FILE = "session.json"
PICKLE_KEY_FILE = "store.key"
MAX_BACKOFF = 60.0
# Element and Tchap show a room's pins in a banner under its header.
PINNED_EVENT = "m.room.pinned_events"
PIN_ATTEMPTS = 3  # writes of one pin change racing others' (each re-read and merged)
UNDECRYPTED_KEEP = 600.0  # seconds an undecryptable message is retried
MAX_UNDECRYPTED = 200


@dataclass(frozen=True)
class RoomMessage:
    """A text message someone else wrote in a joined room, with their power there when they
    wrote it (a promotion earlier in the same sync counts)."""

    room_id: str
    event_id: str
    sender: str
    sender_name: str  # their display name in the room, or their user id
    body: str
    msgtype: str
    power: int


class RoomListener(Protocol):
    """What the connection hands on: each new message, each room after a sync, and each
    room the bot left or was removed from."""

    async def room_message(self, message: RoomMessage) -> None: ...

    async def room_synced(self, room_id: str) -> None: ...

    async def room_left(self, room_id: str) -> None: ...


def _source(event: Any) -> dict[str, Any]:
    source = getattr(event, "source", None)
    return source if isinstance(source, dict) else {}


def server_of(user_id: str) -> str:
    """`@alice:example.org:8448` → `example.org:8448`."""
    return user_id.partition(":")[2]


class MatrixConnection:
    """Owns one nio client and the bot's session file. `open()` logs in (first start) or
    restores the saved device; `run()` syncs until cancelled, joining rooms whose invite
    comes from an allowed homeserver and handing messages to the listener; `close()` ends the
    HTTP session."""

    def __init__(self, config: BotConfig, listener: RoomListener) -> None:
        self.config = config
        self.listener = listener
        self.session: Session | None = None
        self._powers: dict[str, RoomPowers] = {}
        self._undecrypted: list[tuple[str, MegolmEvent, float]] = []
        self._synced = False
        self.synced = asyncio.Event()  # set once the first sync is handled (rooms known)
        self.client = AsyncClient(
            config.homeserver_url,
            config.user_id,
            store_path=str(config.store_path),
            config=AsyncClientConfig(
                encryption_enabled=True,
                store_sync_tokens=False,
                pickle_key=secret_file(config.store_path / PICKLE_KEY_FILE),
            ),
        )

    @property
    def session_path(self) -> Path:
        return self.config.store_path / SESSION_FILE

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    async def open(self) -> None:
        session = Session.load(self.session_path)
        if session is not None:
            if (session.user_id, session.homeserver_url) != (
                self.config.user_id,
                self.config.homeserver_url,
            ):
                raise BotError(f"{self.session_path}: session of another account or homeserver")
            self.client.restore_login(session.user_id, session.device_id, session.access_token)
            log.info("matrix bot: restored device %s of %s", session.device_id, session.user_id)
        else:
            response = await self.client.login(
                self.config.password, device_name=self.config.device_name
            )
            if not isinstance(response, LoginResponse):
                raise BotError(f"login of {self.config.user_id} failed: {response.message}")
            session = Session(
                self.config.homeserver_url,
                str(response.user_id),
                str(response.device_id),
                str(response.access_token),
            )
            session.save(self.session_path)
            log.info("matrix bot: logged in as %s, device %s", session.user_id, session.device_id)
        self.session = session
        if self.client.should_upload_keys:
            await self._crypto_chores()

    async def close(self) -> None:
        await self.client.close()

    async def run(self) -> None:
        """Sync and deliver until cancelled; transient errors back off, a dead token stops."""
        backoff = 1.0
        while True:
            # Full state on the first sync of each process: room power levels live in memory.
            response = await self.client.sync(
                timeout=self.config.sync_timeout_ms,
                since=self._next_batch,
                full_state=not self._synced,
            )
            if not isinstance(response, SyncResponse):
                if response.status_code == "M_UNKNOWN_TOKEN":
                    raise BotError(f"access token of {self.config.user_id} was revoked")
                log.warning(
                    "matrix bot: sync failed (%s), retry in %.0f s", response.message, backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 1.0
            await self.handle_sync(response)
            await self._crypto_chores()
            self._synced = True
            self.synced.set()

    async def _crypto_chores(self) -> None:
        """What an encrypting client owes after each sync: outgoing to-device messages, its
        one-time keys, other devices' keys, and sessions with devices it must write to."""
        client = self.client
        answers: list[Any] = [await client.send_to_device_messages()]
        if client.should_upload_keys:
            answers.append(await client.keys_upload())
        if client.should_query_keys:
            answers.append(await client.keys_query())
        if client.should_claim_keys:
            answers.append(await client.keys_claim(client.get_users_for_key_claiming()))
        for answer in answers:
            for item in answer if isinstance(answer, list) else [answer]:
                if isinstance(item, ErrorResponse):
                    log.warning("matrix bot: key exchange failed: %s", item.message)

    @property
    def _next_batch(self) -> str | None:
        return self.session.next_batch if self.session else None

    async def handle_sync(self, response: SyncResponse) -> None:
        assert self.session is not None, "open() first"
        first = self.session.next_batch is None
        self.session.next_batch = str(response.next_batch)
        self.session.save(self.session_path)  # before answering: at most once
        for room_id, invite in response.rooms.invite.items():
            await self._answer_invite(str(room_id), invite.invite_state)
        for room_id, room in response.rooms.join.items():
            powers = self._powers.setdefault(str(room_id), RoomPowers())
            for event in room.state:
                powers.apply(_source(event))
            events = room.timeline.events
            # A room just joined shows some history: its old commands are not for the bot.
            joined_at = max(
                (index for index, event in enumerate(events) if self._is_own_join(event)),
                default=-1,
            )
            for index, event in enumerate(events):
                powers.apply(_source(event))  # in order: a command after a promotion counts
                if first or index <= joined_at:
                    continue  # nothing said before the bot's first start is for it
                await self._timeline_event(str(room_id), event)
        await self._retry_undecrypted()
        for room_id in response.rooms.join:
            await self.listener.room_synced(str(room_id))
        for room_id in response.rooms.leave:
            self._powers.pop(str(room_id), None)
            await self.listener.room_left(str(room_id))

    def members(self, room_id: str) -> dict[str, int] | None:
        """Who is joined to the room, with their power level; None for a room not joined."""
        room = self.client.rooms.get(room_id)
        if room is None:
            return None
        powers = self._powers.get(room_id, RoomPowers())
        return {str(user): powers.level(str(user)) for user in room.users}

    async def _timeline_event(self, room_id: str, event: Any) -> None:
        if isinstance(event, MegolmEvent):
            self._keep_undecrypted(room_id, event)
        elif isinstance(event, RoomMessageText) and event.sender != self.client.user_id:
            sender = str(event.sender)
            room = self.client.rooms.get(room_id)
            message = RoomMessage(
                room_id=room_id,
                event_id=str(event.event_id),
                sender=sender,
                sender_name=(room.user_name(sender) if room is not None else None) or sender,
                body=str(event.body),
                msgtype=str(getattr(event, "msgtype", "m.text")),
                power=self._powers[room_id].level(sender),
            )
            await self.listener.room_message(message)

    def _keep_undecrypted(self, room_id: str, event: MegolmEvent) -> None:
        log.info("matrix bot: undecryptable event in %s, retried when keys arrive", room_id)
        if len(self._undecrypted) >= MAX_UNDECRYPTED:
            self._undecrypted.pop(0)
        self._undecrypted.append((room_id, event, time.monotonic()))

    async def _retry_undecrypted(self) -> None:
        """Events whose keys came with this sync (or later) are handled now, in order."""
        if not self._undecrypted or self.client.olm is None:
            return
        now, kept = time.monotonic(), []
        for room_id, event, since in self._undecrypted:
            try:
                decrypted = self.client.olm.decrypt_megolm_event(event, room_id)
            except EncryptionError:
                if now - since < UNDECRYPTED_KEEP:
                    kept.append((room_id, event, since))
                else:
                    log.warning("matrix bot: gave up on an undecryptable event in %s", room_id)
                continue
            await self._timeline_event(room_id, decrypted)
        self._undecrypted = kept

    def _is_own_join(self, event: Any) -> bool:
        """The bot's join, not a later change of its display name (also a "join")."""
        return (
            isinstance(event, RoomMemberEvent)
            and event.state_key == self.client.user_id
            and event.membership == "join"
            and event.prev_membership != "join"
        )

    async def _answer_invite(self, room_id: str, invite_state: list[Any]) -> None:
        inviter = next(
            (
                str(event.sender)
                for event in invite_state
                if isinstance(event, InviteMemberEvent)
                and event.state_key == self.client.user_id
                and event.membership == "invite"
            ),
            None,
        )
        allowed = self.config.allowed_homeservers
        if inviter is not None and server_of(inviter) in allowed:
            log.info("matrix bot: joining %s (invited by %s)", room_id, inviter)
            answer: Any = await self.client.join(room_id)
        else:
            log.info("matrix bot: declining %s (invited by %s)", room_id, inviter)
            answer = await self.client.room_leave(room_id)
        if isinstance(answer, ErrorResponse):  # logged once; the next invite is tried afresh
            log.warning("matrix bot: answering the invite to %s failed: %s", room_id, answer)

    # --- Rooms ------------------------------------------------------------------------------

    def room_name(self, room_id: str) -> str | None:
        room = self.client.rooms.get(room_id)
        return room.display_name if room is not None else None

    async def joined_room(self, target: str) -> str | None:
        """The id of the room `target` names (`!id` or `#alias`), if the bot is in it."""
        if target.startswith("!"):
            room_id: str | None = target
        else:
            answer = await self.client.room_resolve_alias(target)
            room_id = str(answer.room_id) if hasattr(answer, "room_id") else None
        return room_id if room_id is not None and room_id in self.client.rooms else None

    async def send(self, room_id: str, content: dict[str, Any]) -> str | None:
        """Send a room message (encrypted where the room is); its event id, or None."""
        response = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        if not isinstance(response, RoomSendResponse):
            log.warning("matrix bot: message to %s failed: %s", room_id, response.message)
            return None
        return str(response.event_id)

    async def send_file(self, room_id: str, name: str, mimetype: str, data: bytes) -> str | None:
        """Upload `data` and post it as an m.file; in an encrypted room the upload is
        encrypted and the event carries its keys (`file`), never a readable `url`. The event
        id, or None (logged) if the homeserver refused the upload or the message."""
        room = self.client.rooms.get(room_id)
        encrypted = room is not None and room.encrypted
        response, keys = await self.client.upload(
            io.BytesIO(data), content_type=mimetype, filename=name,
            encrypt=encrypted, filesize=len(data),
        )  # fmt: skip
        if not isinstance(response, UploadResponse):
            log.warning("matrix bot: upload of %s to %s refused: %s", name, room_id, response)
            return None
        content: dict[str, Any] = {
            "msgtype": "m.file",
            "body": name,
            "filename": name,
            "info": {"mimetype": mimetype, "size": len(data)},
        }
        if keys is not None:
            content["file"] = {**keys, "url": response.content_uri}
        else:
            content["url"] = response.content_uri
        return await self.send(room_id, content)

    async def notice(self, room_id: str, text: str, reply_to: str | None = None) -> str | None:
        content: dict[str, Any] = {"msgtype": "m.notice", "body": text}
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        return await self.send(room_id, content)

    async def edit(self, room_id: str, event_id: str, text: str) -> None:
        """Replace the text of one of the bot's own notices (an m.replace edit)."""
        new = {"msgtype": "m.notice", "body": text}
        await self.send(
            room_id,
            {
                "msgtype": "m.notice",
                "body": f"* {text}",
                "m.new_content": new,
                "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
            },
        )

    async def put_state(
        self, room_id: str, event_type: str, content: dict[str, Any], key: str
    ) -> str | None:
        """Set one state event; its event id, or None (logged) when the server refuses."""
        response = await self.client.room_put_state(room_id, event_type, content, state_key=key)
        if isinstance(response, RoomPutStateResponse):
            return str(response.event_id)
        log.warning("matrix bot: %s in %s refused: %s", event_type, room_id, response.message)
        return None

    async def pin(self, room_id: str, event_id: str, pinned: bool) -> None:
        """Pin or unpin one event, keeping every other pin of the room as it is.

        Matrix has no compare-and-set for state: a person pinning a message in Element between
        our read and our write would lose their pin. So each write is checked against what it
        replaced (as the homeserver ordered the writes): if that is not the
        list we read, our change is made again on top of theirs."""
        answer = await self.client.room_get_state_event(room_id, PINNED_EVENT, "")
        if isinstance(answer, RoomGetStateEventResponse) and "errcode" not in answer.content:
            before = _pins_of(answer.content)
        elif getattr(answer, "status_code", None) == "M_NOT_FOUND":
            before = []  # nothing pinned yet
        else:
            log.warning("matrix bot: pinned events of %s unreadable: %s", room_id, answer)
            return
        for _ in range(PIN_ATTEMPTS):
            after = [e for e in before if e != event_id] + ([event_id] if pinned else [])
            if after == before:
                return
            written = await self.put_state(room_id, PINNED_EVENT, {"pinned": after}, "")
            if written is None:
                return
            replaced = await self._replaced_pins(room_id, written)
            if replaced is None or replaced == before:
                return  # nobody wrote in between (or we cannot tell: nothing more to do)
            log.info("matrix bot: pins of %s changed while ours were written: merged", room_id)
            before = replaced
        log.warning("matrix bot: pins of %s keep changing: left as they are", room_id)

    async def _replaced_pins(self, room_id: str, written: str) -> list[str] | None:
        """The pin list our state event `written` replaced (None if it cannot be read):
        Synapse names the replaced event in `unsigned.replaces_state`, not its content."""
        ours = await self._event(room_id, written)
        unsigned = ours.get("unsigned") if ours is not None else None
        replaced = unsigned.get("replaces_state") if isinstance(unsigned, dict) else None
        if ours is None or not isinstance(replaced, str):
            return None if ours is None else []  # nothing was pinned before ours
        previous = await self._event(room_id, replaced)
        content = previous.get("content") if previous is not None else None
        return _pins_of(content) if isinstance(content, dict) else None

    async def _event(self, room_id: str, event_id: str) -> dict[str, Any] | None:
        answer = await self.client.room_get_event(room_id, event_id)
        if not isinstance(answer, RoomGetEventResponse):
            log.warning("matrix bot: event %s of %s unreadable: %s", event_id, room_id, answer)
            return None
        return _source(answer.event)


def _pins_of(content: dict[str, Any]) -> list[str]:
    listed = content.get("pinned")
    return [e for e in listed if isinstance(e, str)] if isinstance(listed, list) else []
