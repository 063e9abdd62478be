"""Scheduled meetings: `!visio schedule` writes a reminder; at its time the bot starts the
room's meeting and posts the link. Kept in a JSON file beside the bot's session, so a restart
keeps them; a reminder whose time passed while the bot was down is still posted (late) if it
is less than `LATE_LIMIT` old, and dropped otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MAX_PER_ROOM = 20
LATE_LIMIT = dt.timedelta(hours=1)


class ScheduleFull(Exception):
    """The room already has as many scheduled meetings as it may."""


@dataclass(frozen=True)
class Reminder:
    room_id: str
    when: dt.datetime  # aware
    title: str | None
    by: str  # who scheduled it: the meeting's owner when it starts

    def to_json(self) -> dict[str, str | None]:
        return {
            "room_id": self.room_id,
            "when": self.when.isoformat(),
            "title": self.title,
            "by": self.by,
        }

    @classmethod
    def from_json(cls, data: object) -> Reminder:
        if not isinstance(data, dict):
            raise ValueError("a reminder is an object")
        room_id, when, title, by = (data.get(k) for k in ("room_id", "when", "title", "by"))
        if not isinstance(room_id, str) or not isinstance(when, str) or not isinstance(by, str):
            raise ValueError("a reminder needs room_id, when and by")
        moment = dt.datetime.fromisoformat(when)
        if moment.tzinfo is None:
            raise ValueError("a reminder's time must carry its offset")
        return cls(room_id, moment, title if isinstance(title, str) else None, by)


class ReminderBook:
    """The reminders of every room, in one file written atomically after each change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reminders: list[Reminder] = []

    def load(self) -> None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.error("matrix bot: %s unreadable (%s); no reminders loaded", self.path, exc)
            return
        reminders = []
        for item in raw if isinstance(raw, list) else []:
            try:
                reminders.append(Reminder.from_json(item))
            except ValueError as exc:
                log.warning("matrix bot: a reminder in %s is skipped: %s", self.path, exc)
        self.reminders = sorted(reminders, key=lambda r: r.when)

    def save(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump([reminder.to_json() for reminder in self.reminders], handle)
        temporary.replace(self.path)

    def add(self, reminder: Reminder) -> None:
        if sum(r.room_id == reminder.room_id for r in self.reminders) >= MAX_PER_ROOM:
            raise ScheduleFull(reminder.room_id)
        self.reminders = sorted([*self.reminders, reminder], key=lambda r: r.when)
        self.save()

    def next_time(self) -> dt.datetime | None:
        return self.reminders[0].when if self.reminders else None

    def take_due(self, now: dt.datetime) -> tuple[list[Reminder], list[Reminder]]:
        """Remove and return the reminders whose time has come: (to post, too late to post)."""
        due = [r for r in self.reminders if r.when <= now]
        if not due:
            return [], []
        self.reminders = [r for r in self.reminders if r.when > now]
        self.save()
        fresh = [r for r in due if now - r.when <= LATE_LIMIT]
        return fresh, [r for r in due if now - r.when > LATE_LIMIT]
