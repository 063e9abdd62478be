"""When a meeting's transcript is complete, and handing it out once.

A transcript is complete when its meeting ends, or once the meeting has stayed empty for
`speech.transcript_empty_seconds` (nobody in, nobody waiting: the hub never ends an empty
meeting itself, so without this a meeting everyone just left would never give its rooms the
transcript). Either way it is claimed in the database (`Transcripts.claim`): the same lines
are never handed out twice as new, whichever comes first, on whichever hub node (lines said
after a release make the next one hand out the whole, longer transcript). Once claimed, the
summary service (if the operator set one) is asked for a summary, kept with the meeting.

While a bridge posts to Matrix rooms (`post_through`), a meeting's end is claimed by the bridge
itself the moment the event arrives (`at_end`), and nothing is claimed while it would post to
nobody (its bot not listening): the lines wait for the next release. The empty-meeting waits
live in memory: every empty wait, what was left unreleased (by a stopped hub, or while the bot
was not listening) is released (`Transcripts.left_unreleased`). A summary asked for when the
hub stops is abandoned, logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from hub.ids import MeetingId
from hub.meetings.conference import Conferences
from hub.meetings.events import (
    EventBus,
    LobbyChanged,
    MeetingEnded,
    MeetingEvent,
    ParticipantLeft,
    TranscriptReleased,
    TranscriptSummarised,
)
from hub.meetings.transcript_formats import file_name, markdown
from hub.meetings.transcripts import Transcript, Transcripts
from hub.speech.summary import SummaryFailed
from hub.tasks import Tasks

log = logging.getLogger(__name__)


class Summariser(Protocol):
    """A summary of a Markdown transcript (hub/speech/summary.py); raises
    `SummaryFailed` with a one-line reason."""

    async def summarise(self, transcript: str) -> str: ...


class TranscriptRelease:
    """Owns the empty-meeting timers, the claims made at meetings' ends and the summary
    requests. `start` subscribes to the meeting events; `close` stops everything."""

    Posting = Callable[[], bool]  # whether the bridge would post to the rooms now

    def __init__(
        self,
        transcripts: Transcripts,
        conferences: Conferences,
        events: EventBus,
        *,
        empty_seconds: float,
        summariser: Summariser | None = None,
    ) -> None:
        self._transcripts = transcripts
        self._conferences = conferences
        self._events = events
        self._empty_seconds = empty_seconds
        self._summariser = summariser
        self._timers: dict[MeetingId, asyncio.Task[None]] = {}
        self._posting: TranscriptRelease.Posting | None = None
        self._tasks = Tasks()
        self._summarising: set[MeetingId] = set()
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        self._unsubscribe = self._events.subscribe(self._on_event)
        self._tasks.spawn(self._left_over(), name="transcripts-left-over")

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        for meeting_id in self._summarising:
            # Its transcript is claimed: no later release brings the summary back.
            log.warning(
                "transcript summary abandoned: the hub stopped", extra={"meeting_id": meeting_id}
            )
        self._tasks.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def post_through(self, posting: Posting) -> Callable[[], None]:
        """From now on a bridge hands the transcripts out (the hub's bridge, hub/web/bridge.py):
        it claims meetings' ends itself, and `posting()` False holds every release back. The
        answer undoes it."""
        self._posting = posting

        def undo() -> None:
            if self._posting is posting:
                self._posting = None

        return undo

    def at_end(self, meeting_id: MeetingId) -> asyncio.Task[Transcript | None]:
        """Claim now the transcript the meeting's end hands out; the task's answer is it (None:
        none, or nothing new since it was handed out), however late it is read."""
        return self._tasks.spawn(self._release_at_end(meeting_id))

    def _holds_back(self) -> bool:
        return self._posting is not None and not self._posting()

    async def _on_event(self, event: MeetingEvent) -> None:
        match event:
            case MeetingEnded(meeting_id=meeting_id):
                timer = self._timers.pop(meeting_id, None)
                if timer is not None:
                    timer.cancel()
                if self._posting is None:  # no bridge: the claim serves the summary alone
                    self.at_end(meeting_id)
            case ParticipantLeft(meeting_id=meeting_id) | LobbyChanged(meeting_id=meeting_id):
                timer = self._timers.pop(meeting_id, None)
                if timer is not None:
                    timer.cancel()
                self._timers[meeting_id] = self._tasks.spawn(self._when_still_empty(meeting_id))

    async def _left_over(self) -> None:
        """Every empty wait from the start: release what was left unreleased (by a stopped
        hub, whose waits lived in its memory, or while the bot was not listening)."""
        while True:
            await asyncio.sleep(self._empty_seconds)
            kept_before = datetime.now(UTC) - timedelta(seconds=self._empty_seconds)
            try:
                meetings = await self._transcripts.left_unreleased(kept_before)
            except Exception:  # a database hiccup: the next sweep looks again
                log.exception("transcripts left unreleased not looked for")
                continue
            for meeting_id in meetings:
                if meeting_id not in self._timers:  # else its own wait releases it
                    await self._release_if_empty(meeting_id)

    async def _when_still_empty(self, meeting_id: MeetingId) -> None:
        await asyncio.sleep(self._empty_seconds)
        if self._timers.get(meeting_id) is asyncio.current_task():
            del self._timers[meeting_id]
        await self._release_if_empty(meeting_id)

    async def _release_if_empty(self, meeting_id: MeetingId) -> None:
        live = self._conferences.get(meeting_id)
        if live is not None and not live.idle():
            return  # someone is back (their next departure starts another wait)
        if self._holds_back():
            return  # the bot is not listening: the lines wait for the next release
        try:
            transcript = await self._release(meeting_id)
            if transcript is not None:
                await self._events.publish(
                    TranscriptReleased(
                        meeting_id, datetime.now(UTC), file_name(transcript, "md"),
                        markdown(transcript),
                    )
                )  # fmt: skip
                self._summarise_later(transcript)  # its summary follows the transcript
        except Exception:  # a database hiccup costs this release, never the meeting
            log.exception("transcript not released", extra={"meeting_id": meeting_id})

    async def _release_at_end(self, meeting_id: MeetingId) -> Transcript | None:
        try:
            transcript = await self._release(meeting_id)
        except Exception:  # the meeting's end is told to its rooms all the same
            log.exception("transcript not released", extra={"meeting_id": meeting_id})
            return None
        if transcript is not None:
            # The bridge is turning MeetingEnded (with this transcript) into the rooms'
            # events now: whatever the summary becomes is queued after it.
            self._summarise_later(transcript)
        return transcript

    async def _release(self, meeting_id: MeetingId) -> Transcript | None:
        transcript = await self._transcripts.claim(meeting_id)
        if transcript is not None:
            log.info(
                "transcript complete: %d lines", len(transcript.lines),
                extra={"meeting_id": meeting_id},
            )  # fmt: skip
        return transcript

    def _summarise_later(self, transcript: Transcript) -> None:
        if self._summariser is not None:
            self._tasks.spawn(self._summarise(self._summariser, transcript))

    async def _summarise(self, summariser: Summariser, transcript: Transcript) -> None:
        meeting_id = transcript.meeting_id
        self._summarising.add(meeting_id)
        try:
            await self._summarise_now(summariser, transcript)
        finally:
            self._summarising.discard(meeting_id)

    async def _summarise_now(self, summariser: Summariser, transcript: Transcript) -> None:
        meeting_id = transcript.meeting_id
        text: str | None
        try:
            text = await summariser.summarise(markdown(transcript))
        except SummaryFailed as exc:
            log.warning("transcript summary failed: %s", exc, extra={"meeting_id": meeting_id})
            text = None
        except Exception:  # a bug: the room is told all the same
            log.exception("transcript summary failed", extra={"meeting_id": meeting_id})
            text = None
        else:
            try:
                await self._transcripts.keep_summary(meeting_id, text)
            except Exception:  # the database: the room is told no summary came
                log.exception("transcript summary not kept", extra={"meeting_id": meeting_id})
                text = None
            else:
                log.info("transcript summarised", extra={"meeting_id": meeting_id})
        await self._events.publish(TranscriptSummarised(meeting_id, datetime.now(UTC), text))
