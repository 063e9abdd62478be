"""The Matrix bot: answers commands in the rooms it is in and keeps each room's meeting visible
there (widget, live status, summary, chat, scheduled reminders).

It reaches Matrix through `MatrixConnection` (bridge/connection.py: login, sync, encryption,
writing to rooms) and the hub only through `HubPort` (bridge/hub_port.py): in process, or over
HTTP when run alone. Every sentence it writes comes from the hub's one catalog, laid out by
bridge/texts.py in the room's language.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
from collections.abc import AsyncIterator

from bridge import texts
from bridge.commands import (
    CommandCall,
    CommandContext,
    CommandRegistry,
    UsageError,
    VisioCommands,
    command_text,
)
from bridge.connection import MatrixConnection, RoomMessage
from bridge.hub_port import (
    DEFAULT_LANGUAGE,
    EVERYONE_NUMBERS,
    BridgeEvent,
    ChatFromMeeting,
    HubPort,
    HubRefusal,
    Language,
    MeetingClosed,
    MeetingSummary,
    PresenceChanged,
    RoomMeeting,
    TranscriptDigest,
    TranscriptReady,
    no_meeting,
)
from bridge.schedule import Reminder, ReminderBook, ScheduleFull
from bridge.session import BotConfig, Session
from hub.i18n import Text

log = logging.getLogger(__name__)

SCHEDULE_FILE = "schedule.json"
WIDGET_EVENT = "im.vector.modular.widgets"
LAYOUT_EVENT = "io.element.widgets.layout"
STATUS_DELAY = 0.5  # seconds: joins and leaves this close together make one status edit


class MatrixBot(VisioCommands):
    """Owns the bot's Matrix connection, its reminders and its side of the hub interface.
    `open()` logs in (first start) or restores the saved device; `run()` syncs until cancelled
    while `serve_hub()` carries hub events to rooms and `serve_reminders()` posts scheduled
    meetings; `close()` ends the HTTP session."""

    def __init__(self, config: BotConfig, hub: HubPort) -> None:
        self.config = config
        self.hub = hub
        self.matrix = MatrixConnection(config, self)
        self.registry = CommandRegistry.of(self, config.prefix)
        self.reminders = ReminderBook(config.store_path / SCHEDULE_FILE)
        self._rosters: dict[str, dict[str, int]] = {}  # what the hub was last told
        # Each hub event with the future its listener waits on: done once carried to its room
        # (the hub acknowledges the event then), cancelled if the bot stops first.
        self._events: asyncio.Queue[tuple[BridgeEvent, asyncio.Future[None]]] = asyncio.Queue()
        self._status_pending: dict[str, RoomMeeting] = {}
        self._languages: dict[str, Language] = {}  # rooms whose language the hub told
        self._status_tasks: set[asyncio.Task[None]] = set()
        self._schedule_changed = asyncio.Event()

    @property
    def session(self) -> Session | None:
        return self.matrix.session

    async def open(self) -> None:
        await self.matrix.open()
        self.reminders.load()

    async def close(self) -> None:
        await self.matrix.close()

    async def run(self) -> None:
        await self.matrix.run()

    # --- What the connection hands on ---------------------------------------------------------

    async def room_synced(self, room_id: str) -> None:
        """Tell the hub who is in the room with which power, when that changed. A hub that
        cannot be reached is told again after a later sync (the loop never stops for it)."""
        roster = self.matrix.members(room_id)
        if roster is None or roster == self._rosters.get(room_id):
            return
        try:
            await self.hub.update_room(room_id, roster)
        except Exception as exc:
            log.warning("matrix bot: the hub was not told who is in %s (%s)", room_id, exc)
            return
        self._rosters[room_id] = roster

    async def room_left(self, room_id: str) -> None:
        """The bot left the room or was removed from it: the hub forgets its roster (its
        members no longer count for the room's meetings)."""
        self._rosters.pop(room_id, None)
        try:
            await self.hub.update_room(room_id, {})
        except Exception as exc:
            log.warning("matrix bot: the hub was not told the bot left %s (%s)", room_id, exc)

    async def room_message(self, message: RoomMessage) -> None:
        room_id, event_id = message.room_id, message.event_id
        try:
            call = self.registry.parse(command_text(message.body), dt.datetime.now(dt.UTC))
        except UsageError as exc:
            await self.notice(room_id, exc.notice(await self.language_of(room_id)), event_id)
            return
        if call is None:
            await self._chat_to_meeting(message)
            return
        language = await self.language_of(room_id)
        context = CommandContext(room_id, message.sender, event_id, message.power, language)
        if not call.spec.permits(message.power):
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

    async def _chat_to_meeting(self, message: RoomMessage) -> None:
        """A plain message of the room goes to the room's meeting chat, if one is live."""
        if message.msgtype != "m.text" or not message.body.strip():
            return
        try:
            await self.hub.post_chat(
                message.room_id,
                sender=message.sender,
                name=message.sender_name,
                text=message.body,
            )
        except Exception:
            log.exception("matrix bot: a room message could not reach the meeting chat")

    async def notice(self, room_id: str, text: str, reply_to: str | None = None) -> str | None:
        return await self.matrix.notice(room_id, text, reply_to)

    # --- Meetings in the room -----------------------------------------------------------------

    async def show_meeting(self, meeting: RoomMeeting, reply_to: str | None) -> None:
        """A new meeting appears in the room: the widget beside the chat, and the status
        message (which carries the link and is edited as people come and go)."""
        widget = {
            "type": "m.custom",
            "url": meeting.widget_url,
            "name": meeting.title,
            "data": {"title": meeting.title},
            "creatorUserId": self.matrix.user_id,
            "id": meeting.widget_id,
        }
        embedded = await self.matrix.put_state(
            meeting.room_id, WIDGET_EVENT, widget, meeting.widget_id
        )
        if embedded:
            layout = {
                "widgets": {
                    meeting.widget_id: {"container": "top", "index": 0, "width": 100, "height": 50}
                }
            }
            await self.matrix.put_state(meeting.room_id, LAYOUT_EVENT, layout, "")
        language = await self.language_of(meeting.room_id)
        status_id = await self.notice(meeting.room_id, self._status(meeting, language), reply_to)
        if status_id is not None:
            await self.hub.remember_status(meeting.room_id, meeting.meeting_id, status_id)
            # Pinned while the meeting runs: Element and Tchap show a room's pins in a banner
            # under its header. (Their "call in progress" header and room-list marks are
            # Element Call's own, and joining from them starts Element Call, not this hub.)
            if embedded:  # the bot may change the room's state
                await self.matrix.pin(meeting.room_id, status_id, True)
            # Whoever knocked while the message was on its way found no id to edit.
            now = await self.hub.room_meeting(meeting.room_id)
            if now is not None and (now.participants, now.waiting, now.locked) != (
                meeting.participants, meeting.waiting, meeting.locked,
            ):  # fmt: skip
                await self.matrix.edit(meeting.room_id, status_id, self._status(now, language))
        if not embedded:
            await self.notice(meeting.room_id, texts.make_me_moderator(language))

    def _status(self, meeting: RoomMeeting, language: Language) -> str:
        return texts.status_text(meeting, language, self.config.prefix)

    async def serve_hub(self) -> None:
        """Carry hub events to the rooms, one at a time, until cancelled. Status edits wait
        `STATUS_DELAY` so that a burst of joins makes one edit. Listens at once (a hub drops
        the events nobody listens for), but handles the first one only after the first sync:
        they are for rooms this client must know."""
        unlisten = self.hub.listen(self._take)
        handled: asyncio.Future[None] | None = None
        try:
            await self.matrix.synced.wait()
            while True:
                event, handled = await self._events.get()
                try:
                    await self._hub_event(event)
                except Exception:
                    log.exception("matrix bot: a hub event could not be carried to its room")
                if not handled.done():
                    handled.set_result(None)
        finally:
            unlisten()
            if handled is not None:
                handled.cancel()
            while not self._events.empty():
                self._events.get_nowait()[1].cancel()

    async def _take(self, event: BridgeEvent) -> None:
        """The hub's listener: returns once the event is carried to its room (a status edit:
        once noted for the next edit), so the hub acknowledges only what was done."""
        handled = asyncio.get_running_loop().create_future()
        self._events.put_nowait((event, handled))
        await handled

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
                await self.matrix.put_state(summary.room_id, WIDGET_EVENT, {}, summary.widget_id)
                posted = await self._post_transcript(summary)
                if summary.status_event_id:
                    await self.matrix.pin(summary.room_id, summary.status_event_id, False)
                    await self.matrix.edit(
                        summary.room_id,
                        summary.status_event_id,
                        texts.ended_status_text(summary, language, posted),
                    )
                await self.notice(summary.room_id, texts.summary_text(summary, language, posted))
            case TranscriptReady(room_id=room_id, transcript=transcript):
                sent = await self.matrix.send_file(
                    room_id, transcript.name, transcript.mimetype, transcript.text.encode()
                )
                if sent is None:
                    language = await self.language_of(room_id)
                    await self.notice(room_id, texts.write(language, "transcript.not_posted"))
            case TranscriptDigest(room_id=room_id, text=text):
                language = await self.language_of(room_id)
                await self.notice(room_id, texts.digest_text(text, language))
            case ChatFromMeeting(room_id=room_id, name=name, text=text):
                line = texts.chat_line(name, text, await self.language_of(room_id))
                await self.matrix.send(room_id, {"msgtype": "m.text", "body": line})

    async def _post_transcript(self, summary: MeetingSummary) -> bool | None:
        """The meeting's transcript as a file in the room: whether it got there (None: the
        meeting has none)."""
        transcript = summary.transcript
        if transcript is None:
            return None
        event_id = await self.matrix.send_file(
            summary.room_id, transcript.name, transcript.mimetype, transcript.text.encode()
        )
        return event_id is not None

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
        await self.matrix.edit(meeting.room_id, status_event_id, text)

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
        room_name = self.matrix.room_name(room_id)
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
        other = await self.matrix.joined_room(target)
        if other is None:
            await self._answer(context, texts.not_in_room(target, context.language))
            return
        await self.notice(other, texts.link_text(meeting, await self.language_of(other)))
        await self._answer(context, texts.link_sent(target, context.language))

    async def lock(self, context: CommandContext, call: CommandCall) -> None:
        await self.hub.set_locked(context.room_id, True, by=context.sender)
        await self._answer(context, texts.locked(True, context.language))

    async def unlock(self, context: CommandContext, call: CommandCall) -> None:
        await self.hub.set_locked(context.room_id, False, by=context.sender)
        await self._answer(context, texts.locked(False, context.language))

    async def transcribe(self, context: CommandContext, call: CommandCall) -> None:
        switch = call.text("switch") or "start"
        await self.hub.set_subtitles(context.room_id, switch == "start", by=context.sender)
        await self._answer(context, texts.write(context.language, f"subtitles.{switch}"))

    async def record(self, context: CommandContext, call: CommandCall) -> None:
        switch = call.text("switch") or "start"
        await self.hub.set_recording(context.room_id, switch == "start", by=context.sender)
        await self._answer(context, texts.write(context.language, f"recording.{switch}"))

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
