"""The rooms' side of meeting events: each meeting event (a join, a leave, a chat line, an end,
a transcript handed out) turned into the bridge events of the Matrix rooms linked to the
meeting, in order, and handed to the bot here or, on hub nodes, into the stream the bot's node
reads (hub/web/bot_events.py). Made and closed by `LocalHub` (hub/web/bridge.py), whose
`views` say how a room sees its meeting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bridge.hub_port import (
    BridgeEvent,
    ChatFromMeeting,
    HubFailure,
    Listener,
    MeetingClosed,
    MeetingSummary,
    PresenceChanged,
    RoomMeeting,
    TranscriptDigest,
    TranscriptFile,
    TranscriptReady,
)
from hub.meetings.events import (
    ChatPosted,
    EventBus,
    LobbyChanged,
    MeetingEnded,
    MeetingEvent,
    ParticipantJoined,
    ParticipantLeft,
    TranscriptReleased,
    TranscriptSummarised,
)
from hub.meetings.rooms import RoomLinks, RoomLinkView
from hub.meetings.service import MeetingService
from hub.meetings.transcript_formats import file_name, markdown
from hub.meetings.transcript_release import TranscriptRelease
from hub.meetings.transcripts import Transcript
from hub.web.bot_events import EventOutlet
from hub.web.transcripts import MARKDOWN_TYPE

log = logging.getLogger(__name__)
# At a stop, how long the events already queued (the last leaves) may take to reach the bot.
DRAIN_WAIT = 2.0
# Meeting events waiting to be turned into bridge events; past that (the worker stuck on a
# store that does not answer) the newest are dropped, counted and said in one line.
MAX_BACKLOG = 10_000

Claim = asyncio.Task[Transcript | None]  # a meeting's transcript claimed at its end
Views = Callable[[list[RoomLinkView]], Awaitable[list[RoomMeeting]]]


class _Backlog(asyncio.Queue[tuple[MeetingEvent, Claim | None]]):
    """The meeting events waiting for the worker, each with its transcript claim (a
    meeting's end), at most `MAX_BACKLOG` of them; past that an event is dropped (never an
    end, whose claim must be handed on) and counted in `dropped` until the worker says so."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def put_nowait(self, item: tuple[MeetingEvent, Claim | None]) -> None:
        if self.qsize() >= MAX_BACKLOG and item[1] is None:
            self.dropped += 1
            return
        super().put_nowait(item)


class RoomEvents:
    """Owns the task turning meeting events into bridge events (started with the first
    listener, or the first event the outlet wants); `close()` stops it after carrying what
    is queued."""

    def __init__(
        self, *, events: EventBus, meetings: MeetingService, room_links: RoomLinks,
        transcript_release: TranscriptRelease, outlet: EventOutlet, views: Views,
        summary_names: bool,
    ) -> None:  # fmt: skip
        self._meetings = meetings
        self._room_links = room_links
        self._release = transcript_release
        self._outlet = outlet
        self._views = views
        self._summary_names = summary_names
        # Meeting events wait here for the worker: the publisher (a join, a leave, a chat
        # line) never waits for the database reads that turn them into bridge events.
        # A meeting's end comes with its transcript's claim, made when the event arrived.
        self._pending = _Backlog()
        self._worker: asyncio.Task[None] | None = None
        self._failing = False  # the last event failed on the shared state (said once)
        self._unsubscribe = events.subscribe(self._on_event)
        self._unpost = transcript_release.post_through(lambda: self._outlet.wanted)

    async def close(self) -> None:
        """Stop hearing meeting events; those queued (the leaves of the sockets just closed
        by a stop) are carried first, for at most `DRAIN_WAIT` seconds."""
        self._unsubscribe()
        self._unpost()
        if self._worker is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DRAIN_WAIT):
                    await self._pending.join()
            if self._pending.qsize():
                log.warning("bridge: %d meeting event(s) not carried at the stop",
                            self._pending.qsize())  # fmt: skip
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    def listen(self, listener: Listener) -> Callable[[], None]:
        unlisten = self._outlet.listen(listener)
        self._start_worker()
        return unlisten

    def _start_worker(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._carry(), name="bridge-events")

    async def _on_event(self, event: MeetingEvent) -> None:
        if self._outlet.wanted:
            self._start_worker()
            # Claimed now, not when the worker reaches it (it waits on the bot's sends).
            claim = (
                self._release.at_end(event.meeting_id) if isinstance(event, MeetingEnded) else None
            )
            self._pending.put_nowait((event, claim))

    async def _carry(self) -> None:
        """Turn queued meeting events into bridge events for the linked rooms, in order, and
        hand them to the bot (here, or through the stream to the node where it runs)."""
        while True:
            event, claim = await self._pending.get()
            if self._pending.dropped:
                log.warning("bridge: %d meeting event(s) dropped, %d waiting",
                            self._pending.dropped, MAX_BACKLOG)  # fmt: skip
                self._pending.dropped = 0
            try:
                bridge_events = await self._bridge_events(event, claim)
            except HubFailure as exc:  # the shared state is away: one line for the outage
                if not self._failing:
                    log.warning("bridge: meeting events not carried to their rooms: %s", exc)
                self._failing = True
                self._pending.task_done()
                continue
            except Exception:
                log.exception("bridge: %s not carried to its rooms", type(event).__name__)
                self._pending.task_done()
                continue
            if self._failing:
                log.info("bridge: meeting events carried to their rooms again")
                self._failing = False
            try:
                await self._outlet.publish(bridge_events)
            finally:
                self._pending.task_done()

    async def _bridge_events(self, event: MeetingEvent, claim: Claim | None) -> list[BridgeEvent]:
        links = await self._room_links.rooms_of(event.meeting_id)
        if not links:
            return []
        match event:
            case ParticipantJoined() | ParticipantLeft() | LobbyChanged():
                return [PresenceChanged(view) for view in await self._views(links)]
            case MeetingEnded():
                meeting = await self._meetings.get(event.meeting_id)
                names = event.participant_names if self._summary_names else ()
                transcript = await self._transcript_file(claim)
                return [
                    MeetingClosed(
                        MeetingSummary(
                            room_id=link.room_id,
                            meeting_id=link.meeting_id,
                            title=meeting.title,
                            widget_id=link.widget_id,
                            status_event_id=link.status_event_id,
                            started_at=meeting.started_at,
                            ended_at=event.at,
                            participant_count=event.participant_count,
                            names=names,
                            transcript=transcript,
                        )
                    )
                    for link in links
                ]
            case ChatPosted():
                return [
                    ChatFromMeeting(link.room_id, event.display_name, event.text) for link in links
                ]
            case TranscriptReleased(file_name=name, markdown=text):
                file = TranscriptFile(name, MARKDOWN_TYPE, text)
                return [TranscriptReady(link.room_id, link.meeting_id, file) for link in links]
            case TranscriptSummarised(text=text):
                return [TranscriptDigest(link.room_id, link.meeting_id, text) for link in links]
        return []

    async def _transcript_file(self, claim: Claim | None) -> TranscriptFile | None:
        """The transcript handed out because the meeting ended (None: none, or the rooms
        already had it when the meeting stayed empty, and nothing was said since)."""
        if claim is None:
            return None
        await asyncio.wait([claim])  # stopped with the hub: no transcript, the worker goes on
        transcript = None if claim.cancelled() else claim.result()
        if transcript is None:
            return None
        return TranscriptFile(file_name(transcript, "md"), MARKDOWN_TYPE, markdown(transcript))
