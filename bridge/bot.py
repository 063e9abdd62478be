"""The Matrix bot: one matrix-nio client that joins rooms it is invited to, answers commands,
and keeps each room's meeting visible in the room (widget, live status, summary, chat).

It reaches the hub only through `HubPort` (bridge/hub_port.py): in process, or over HTTP when
run alone. End-to-end encryption is on (matrix-nio's vodozemac extra): the crypto store and the
device live in `<data_dir>/matrix-bot` and are reused across restarts; an event that cannot be
decrypted yet is kept and retried after each sync, as its keys often arrive a little later.

Delivery is at most once: the sync token is saved before a batch is handled, so a restart never
answers a command twice (a crash mid-batch loses that batch's commands instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    ErrorResponse,
    InviteMemberEvent,
    LoginResponse,
    MegolmEvent,
    RoomGetStateEventResponse,
    RoomMemberEvent,
    RoomMessageText,
    RoomPutStateResponse,
    RoomSendResponse,
    SyncResponse,
)

from bridge import texts
from bridge.commands import (
    DEFAULT_PREFIX,
    CommandCall,
    CommandContext,
    CommandRegistry,
    UsageError,
    VisioCommands,
)
from bridge.hub_port import (
    DEFAULT_LANGUAGE,
    EVERYONE_NUMBERS,
    BridgeEvent,
    ChatFromMeeting,
    HubPort,
    HubRefusal,
    Language,
    MeetingClosed,
    PresenceChanged,
    RoomMeeting,
    no_meeting,
)
from bridge.power import RoomPowers
from bridge.schedule import Reminder, ReminderBook, ScheduleFull
from hub.i18n import Text

log = logging.getLogger(__name__)

SESSION_FILE = "session.json"
PICKLE_KEY_FILE = "store.key"
SCHEDULE_FILE = "schedule.json"
SYNC_TIMEOUT_MS = 30_000
MAX_BACKOFF = 60.0
WIDGET_EVENT = "im.vector.modular.widgets"
LAYOUT_EVENT = "io.element.widgets.layout"
# The live status message is pinned while the meeting runs: Element and Tchap show a room's
# pins in a banner under its header. (Their "call in progress" header and room-list marks are
# Element Call's own, and joining from them starts Element Call, not this hub: README, Tchap.)
PINNED_EVENT = "m.room.pinned_events"
STATUS_DELAY = 0.5  # seconds: joins and leaves this close together make one status edit
UNDECRYPTED_KEEP = 600.0  # seconds an undecryptable command is retried
MAX_UNDECRYPTED = 200


class BotError(RuntimeError):
    """The bot cannot go on (bad credentials, a session file for another account)."""


@dataclass(frozen=True)
class BotConfig:
    """Who the bot is and where it keeps its session; `password` serves the first login only."""

    homeserver_url: str
    user_id: str
    password: str
    data_dir: Path
    prefix: str = DEFAULT_PREFIX
    # Server names whose users may invite the bot; empty: nobody may.
    allowed_homeservers: tuple[str, ...] = ()
    device_name: str = "Visio"
    sync_timeout_ms: int = SYNC_TIMEOUT_MS

    @property
    def store_path(self) -> Path:
        return self.data_dir / "matrix-bot"


@dataclass
class Session:
    """What survives a restart: the device (never log in twice) and the sync position."""

    homeserver_url: str
    user_id: str
    device_id: str
    access_token: str
    next_batch: str | None = None

    @classmethod
    def load(cls, path: Path) -> Session | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise BotError(f"{path}: unreadable session file ({type(exc).__name__})") from None
        fields = ("homeserver_url", "user_id", "device_id", "access_token")
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in fields):
            raise BotError(f"{path}: incomplete session file")
        next_batch = data.get("next_batch")
        return cls(
            data["homeserver_url"],
            data["user_id"],
            data["device_id"],
            data["access_token"],
            next_batch if isinstance(next_batch, str) and next_batch else None,
        )

    def save(self, path: Path) -> None:
        """Atomically, readable by the owner only (it holds the access token)."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle)
        temporary.replace(path)


def _secret_file(path: Path) -> str:
    """A random key kept in `path` (0600), created on first use: it encrypts nio's store."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key


def _source(event: Any) -> dict[str, Any]:
    source = getattr(event, "source", None)
    return source if isinstance(source, dict) else {}


def server_of(user_id: str) -> str:
    """`@alice:example.org:8448` → `example.org:8448`."""
    return user_id.partition(":")[2]


def command_text(body: str) -> str:
    """The body without the quoted reply fallback (`> <@user> …` lines and one blank line)."""
    lines = body.split("\n")
    if not lines[0].startswith("> "):
        return body
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    if lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines)


class MatrixBot(VisioCommands):
    """Owns one nio client, its session file and the bot's side of the hub interface.
    `open()` logs in (first start) or restores the saved device; `run()` syncs until cancelled
    while `serve_hub()` carries hub events to rooms and posts scheduled reminders; `close()`
    ends the HTTP session."""

    def __init__(self, config: BotConfig, hub: HubPort) -> None:
        self.config = config
        self.hub = hub
        self.registry = CommandRegistry.of(self, config.prefix)
        self.session: Session | None = None
        self.reminders = ReminderBook(config.store_path / SCHEDULE_FILE)
        self._powers: dict[str, RoomPowers] = {}
        self._rosters: dict[str, dict[str, int]] = {}  # what the hub was last told
        self._undecrypted: list[tuple[str, MegolmEvent, float]] = []
        self._events: asyncio.Queue[BridgeEvent] = asyncio.Queue()
        self._status_pending: dict[str, RoomMeeting] = {}
        self._languages: dict[str, Language] = {}  # rooms whose language the hub told
        self._status_tasks: set[asyncio.Task[None]] = set()
        self._schedule_changed = asyncio.Event()
        self._synced = False
        self.client = AsyncClient(
            config.homeserver_url,
            config.user_id,
            store_path=str(config.store_path),
            config=AsyncClientConfig(
                encryption_enabled=True,
                store_sync_tokens=False,
                pickle_key=_secret_file(config.store_path / PICKLE_KEY_FILE),
            ),
        )

    @property
    def session_path(self) -> Path:
        return self.config.store_path / SESSION_FILE

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
        self.reminders.load()
        if self.client.should_upload_keys:
            await self._crypto_chores()

    async def close(self) -> None:
        await self.client.close()

    async def run(self) -> None:
        """Sync and answer until cancelled; transient errors back off, a dead token stops."""
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
            await self._tell_roster(str(room_id))

    async def _tell_roster(self, room_id: str) -> None:
        """Tell the hub who is in the room with which power, when that changed. A hub that
        cannot be reached is told again after a later sync (the loop never stops for it)."""
        room = self.client.rooms.get(room_id)
        if room is None:
            return
        powers = self._powers.get(room_id, RoomPowers())
        roster = {str(user): powers.level(str(user)) for user in room.users}
        if roster == self._rosters.get(room_id):
            return
        try:
            await self.hub.update_room(room_id, roster)
        except Exception as exc:
            log.warning("matrix bot: the hub was not told who is in %s (%s)", room_id, exc)
            return
        self._rosters[room_id] = roster

    async def _timeline_event(self, room_id: str, event: Any) -> None:
        if isinstance(event, MegolmEvent):
            self._keep_undecrypted(room_id, event)
        elif isinstance(event, RoomMessageText) and event.sender != self.client.user_id:
            await self.handle_message(room_id, event, self._powers[room_id].level(event.sender))

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

    async def handle_message(self, room_id: str, event: Any, power: int) -> None:
        event_id, sender = str(event.event_id), str(event.sender)
        body = command_text(str(event.body))
        try:
            call = self.registry.parse(body, dt.datetime.now(dt.UTC))
        except UsageError as exc:
            await self.notice(room_id, exc.notice(await self.language_of(room_id)), event_id)
            return
        if call is None:
            await self._chat_to_meeting(room_id, sender, event)
            return
        language = await self.language_of(room_id)
        context = CommandContext(room_id, sender, event_id, power, language)
        if not call.spec.permits(power):
            await self.notice(room_id, texts.moderators_only(language), event_id)
            return
        try:
            await self.registry.handlers[call.spec](context, call)
        except HubRefusal as refusal:
            await self.notice(room_id, refusal.notice(language), event_id)
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("matrix bot: command %s failed [ref %s]", call.spec.name, reference)
            await self.notice(room_id, texts.internal_error(reference, language), event_id)

    async def language_of(self, room_id: str) -> Language:
        """The room's language, asked of the hub once per room (French if it cannot say)."""
        language = self._languages.get(room_id)
        if language is None:
            try:
                language = self._languages[room_id] = await self.hub.room_language(room_id)
            except Exception as exc:
                log.warning("matrix bot: language of %s unknown (%s)", room_id, exc)
                return DEFAULT_LANGUAGE
        return language

    async def _chat_to_meeting(self, room_id: str, sender: str, event: Any) -> None:
        """A plain message of the room goes to the room's meeting chat, if one is live."""
        if getattr(event, "msgtype", "m.text") != "m.text" or not str(event.body).strip():
            return
        room = self.client.rooms.get(room_id)
        name = room.user_name(sender) if room is not None else None
        try:
            await self.hub.post_chat(room_id, sender=sender, name=name or sender, text=event.body)
        except Exception:
            log.exception("matrix bot: a room message could not reach the meeting chat")

    async def send(self, room_id: str, content: dict[str, Any]) -> str | None:
        """Send a room message (encrypted where the room is); its event id, or None."""
        response = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        if not isinstance(response, RoomSendResponse):
            log.warning("matrix bot: message to %s failed: %s", room_id, response.message)
            return None
        return str(response.event_id)

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
    ) -> bool:
        response = await self.client.room_put_state(room_id, event_type, content, state_key=key)
        if isinstance(response, RoomPutStateResponse):
            return True
        log.warning("matrix bot: %s in %s refused: %s", event_type, room_id, response.message)
        return False

    async def pin(self, room_id: str, event_id: str, pinned: bool) -> None:
        """Pin or unpin one event, keeping every other pin of the room as it is."""
        answer = await self.client.room_get_state_event(room_id, PINNED_EVENT, "")
        if isinstance(answer, RoomGetStateEventResponse) and "errcode" not in answer.content:
            listed = answer.content.get("pinned")
            before = [e for e in listed if isinstance(e, str)] if isinstance(listed, list) else []
        elif getattr(answer, "status_code", None) == "M_NOT_FOUND":
            before = []  # nothing pinned yet
        else:
            log.warning("matrix bot: pinned events of %s unreadable: %s", room_id, answer)
            return
        after = [e for e in before if e != event_id] + ([event_id] if pinned else [])
        if after != before:
            await self.put_state(room_id, PINNED_EVENT, {"pinned": after}, "")

    # --- Meetings in the room -----------------------------------------------------------------

    async def show_meeting(self, meeting: RoomMeeting, reply_to: str | None) -> None:
        """A new meeting appears in the room: the widget beside the chat, and the status
        message (which carries the link and is edited as people come and go)."""
        widget = {
            "type": "m.custom",
            "url": meeting.widget_url,
            "name": meeting.title,
            "data": {"title": meeting.title},
            "creatorUserId": self.client.user_id,
            "id": meeting.widget_id,
        }
        embedded = await self.put_state(meeting.room_id, WIDGET_EVENT, widget, meeting.widget_id)
        if embedded:
            layout = {
                "widgets": {
                    meeting.widget_id: {"container": "top", "index": 0, "width": 100, "height": 50}
                }
            }
            await self.put_state(meeting.room_id, LAYOUT_EVENT, layout, "")
        language = await self.language_of(meeting.room_id)
        status_id = await self.notice(meeting.room_id, self._status(meeting, language), reply_to)
        if status_id is not None:
            await self.hub.remember_status(meeting.room_id, meeting.meeting_id, status_id)
            if embedded:  # the bot may change the room's state
                await self.pin(meeting.room_id, status_id, True)
            # Whoever knocked while the message was on its way found no id to edit.
            now = await self.hub.room_meeting(meeting.room_id)
            if now is not None and (now.participants, now.waiting, now.locked) != (
                meeting.participants, meeting.waiting, meeting.locked,
            ):  # fmt: skip
                await self.edit(meeting.room_id, status_id, self._status(now, language))
        if not embedded:
            await self.notice(meeting.room_id, texts.make_me_moderator(language))

    def _status(self, meeting: RoomMeeting, language: Language) -> str:
        return texts.status_text(meeting, language, self.config.prefix)

    async def serve_hub(self) -> None:
        """Carry hub events to the rooms, one at a time, until cancelled. Status edits wait
        `STATUS_DELAY` so that a burst of joins makes one edit."""
        unlisten = self.hub.listen(self._events.put)
        try:
            while True:
                event = await self._events.get()
                try:
                    await self._hub_event(event)
                except Exception:
                    log.exception("matrix bot: a hub event could not be carried to its room")
        finally:
            unlisten()

    async def _hub_event(self, event: BridgeEvent) -> None:
        match event:
            case PresenceChanged(meeting=meeting):
                first = meeting.room_id not in self._status_pending
                self._status_pending[meeting.room_id] = meeting
                if first:
                    asyncio.get_running_loop().call_later(
                        STATUS_DELAY, self._flush_status, meeting.room_id
                    )
            case MeetingClosed(summary=summary):
                self._status_pending.pop(summary.room_id, None)
                language = await self.language_of(summary.room_id)
                await self.put_state(summary.room_id, WIDGET_EVENT, {}, summary.widget_id)
                if summary.status_event_id:
                    await self.pin(summary.room_id, summary.status_event_id, False)
                    await self.edit(
                        summary.room_id,
                        summary.status_event_id,
                        texts.ended_status_text(summary, language),
                    )
                await self.notice(summary.room_id, texts.summary_text(summary, language))
            case ChatFromMeeting(room_id=room_id, name=name, text=text):
                line = texts.chat_line(name, text, await self.language_of(room_id))
                await self.send(room_id, {"msgtype": "m.text", "body": line})

    def _flush_status(self, room_id: str) -> None:
        meeting = self._status_pending.pop(room_id, None)
        if meeting is not None:
            task = asyncio.get_running_loop().create_task(self._edit_status(meeting))
            self._status_tasks.add(task)
            task.add_done_callback(self._status_tasks.discard)

    async def _edit_status(self, event_meeting: RoomMeeting) -> None:
        """Edit the status message with the room's meeting as it is now: an event's view may
        be older than the burst it belongs to (a join is published before the person's
        connection is registered), and the last view is what the room must show."""
        try:
            meeting = await self.hub.room_meeting(event_meeting.room_id)
        except Exception as exc:
            log.warning("matrix bot: meeting of %s not read again (%s)", event_meeting.room_id, exc)
            meeting = event_meeting
        if meeting is None or meeting.meeting_id != event_meeting.meeting_id:
            return  # ended meanwhile: the summary edits the message
        # Read again too: someone may knock before the new status message's id is stored.
        status_event_id = meeting.status_event_id or event_meeting.status_event_id
        if status_event_id is None:
            return  # the status message is being posted, with what is true now
        text = self._status(meeting, await self.language_of(meeting.room_id))
        await self.edit(meeting.room_id, status_event_id, text)

    async def serve_reminders(self) -> None:
        """Post each scheduled meeting when its time comes (checked at least every minute)."""
        while True:
            now = dt.datetime.now(dt.UTC)
            due, missed = self.reminders.take_due(now)
            for reminder in missed:
                log.warning(
                    "matrix bot: a reminder for %s was missed by over an hour", reminder.room_id
                )
            for reminder in due:
                try:
                    meeting = await self._start(reminder.room_id, reminder.by, reminder.title, None)
                    language = await self.language_of(reminder.room_id)
                    await self.notice(reminder.room_id, texts.reminder_text(meeting, language))
                except Exception:
                    log.exception("matrix bot: a scheduled meeting could not start")
            upcoming = self.reminders.next_time()
            wait = 60.0 if upcoming is None else min(60.0, (upcoming - now).total_seconds())
            self._schedule_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._schedule_changed.wait(), max(wait, 0.0))

    def add_reminder(self, reminder: Reminder) -> None:
        """Keep a scheduled meeting (on disk) and wake the reminder task for it."""
        try:
            self.reminders.add(reminder)
        except ScheduleFull:
            raise HubRefusal(Text("bot.refusal.schedule_full")) from None
        self._schedule_changed.set()

    async def _start(
        self, room_id: str, by: str, title: str | None, reply_to: str | None
    ) -> RoomMeeting:
        room = self.client.rooms.get(room_id)
        room_name = room.display_name if room is not None else None
        meeting = await self.hub.start_meeting(room_id, by=by, title=title or room_name)
        if meeting.status_event_id is None:
            await self.show_meeting(meeting, reply_to)
        elif reply_to is not None:
            language = await self.language_of(room_id)
            await self.notice(room_id, texts.already_on(meeting, language), reply_to)
        return meeting

    async def _meeting(self, room_id: str) -> RoomMeeting:
        meeting = await self.hub.room_meeting(room_id)
        if meeting is None:
            raise no_meeting(self.config.prefix)
        return meeting

    # --- Handlers ---------------------------------------------------------------------------

    async def help(self, context: CommandContext, call: CommandCall) -> None:
        text = self.registry.help_text(call.text("command"), context.language)
        await self.notice(context.room_id, text, context.event_id)

    async def start(self, context: CommandContext, call: CommandCall) -> None:
        await self._start(context.room_id, context.sender, call.text("title"), context.event_id)

    async def end(self, context: CommandContext, call: CommandCall) -> None:
        await self.hub.end_meeting(context.room_id, by=context.sender)  # summary follows

    async def status(self, context: CommandContext, call: CommandCall) -> None:
        meeting = await self._meeting(context.room_id)
        await self._answer(context, self._status(meeting, context.language))

    async def link(self, context: CommandContext, call: CommandCall) -> None:
        meeting = await self._meeting(context.room_id)
        await self._answer(context, texts.link_text(meeting, context.language))

    async def _answer(self, context: CommandContext, text: str) -> None:
        await self.notice(context.room_id, text, context.event_id)

    async def invite(self, context: CommandContext, call: CommandCall) -> None:
        target = call.text("target") or ""
        if target.startswith("@"):
            meeting = await self.hub.invite(context.room_id, target, by=context.sender)
            await self._answer(context, texts.invited(target, meeting, context.language))
            return
        meeting = await self._meeting(context.room_id)
        other = await self._room_id(target)
        if other is None or other not in self.client.rooms:
            await self._answer(context, texts.not_in_room(target, context.language))
            return
        await self.notice(other, texts.link_text(meeting, await self.language_of(other)))
        await self._answer(context, texts.link_sent(target, context.language))

    async def _room_id(self, target: str) -> str | None:
        if target.startswith("!"):
            return target
        answer = await self.client.room_resolve_alias(target)
        return str(answer.room_id) if hasattr(answer, "room_id") else None

    async def lock(self, context: CommandContext, call: CommandCall) -> None:
        await self.hub.set_locked(context.room_id, True, by=context.sender)
        await self._answer(context, texts.locked(True, context.language))

    async def unlock(self, context: CommandContext, call: CommandCall) -> None:
        await self.hub.set_locked(context.room_id, False, by=context.sender)
        await self._answer(context, texts.locked(False, context.language))

    async def admit(self, context: CommandContext, call: CommandCall) -> None:
        number = call.number("who")
        numbers = (number,) if number is not None else EVERYONE_NUMBERS
        names = await self.hub.admit(context.room_id, numbers, by=context.sender)
        await self._answer(context, texts.admitted(names, context.language))

    async def refuse(self, context: CommandContext, call: CommandCall) -> None:
        number = call.number("number")
        assert number is not None  # a required argument
        reason = call.text("reason")
        name = await self.hub.refuse(context.room_id, number, by=context.sender, reason=reason)
        await self._answer(context, texts.refused(name, reason, context.language))

    async def mute(self, context: CommandContext, call: CommandCall) -> None:
        name = await self.hub.mute(context.room_id, call.text("name") or "", by=context.sender)
        await self._answer(context, texts.muted(name, context.language))

    async def language(self, context: CommandContext, call: CommandCall) -> None:
        language = call.language("language")
        assert language is not None  # a required argument
        await self.hub.set_room_language(context.room_id, language, by=context.sender)
        self._languages[context.room_id] = language
        await self._answer(context, texts.language_set(language))

    async def schedule(self, context: CommandContext, call: CommandCall) -> None:
        when = call.when("when")
        assert when is not None  # a required argument
        self.add_reminder(Reminder(context.room_id, when, call.text("title"), context.sender))
        text = texts.scheduled_text(when, call.text("title"), context.language)
        await self._answer(context, text)


def _report_end(task: asyncio.Task[None]) -> None:
    """A bot task that stops by itself is worth one log line (a revoked token, a bug)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("matrix bot: %s stopped", task.get_name(), exc_info=task.exception())


@contextlib.asynccontextmanager
async def running(config: BotConfig, hub: HubPort) -> AsyncIterator[MatrixBot]:
    """A bot logged in, syncing and serving the hub for the duration of the block."""
    bot = MatrixBot(config, hub)
    try:
        await bot.open()
        tasks = [
            asyncio.create_task(bot.run(), name="matrix-bot-sync"),
            asyncio.create_task(bot.serve_hub(), name="matrix-bot-hub-events"),
            asyncio.create_task(bot.serve_reminders(), name="matrix-bot-reminders"),
        ]
        for task in tasks:
            task.add_done_callback(_report_end)
        try:
            yield bot
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await bot.close()
