"""Scheduled meetings: the reminder book on disk, and the bot posting a reminder on time."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import stat
import time
from pathlib import Path

import pytest

from bridge import texts
from bridge.bot import running
from bridge.hub_port import MeetingSummary
from bridge.schedule import LATE_LIMIT, MAX_PER_ROOM, Reminder, ReminderBook, ScheduleFull
from hub.web.bridge import LocalHub
from tests.bridge.people import Person, moderated_room
from tests.bridge.test_bot import bot_config
from tests.support.synapse import Synapse

NOW = dt.datetime(2026, 12, 1, 13, 30, tzinfo=dt.UTC)


def reminder(minutes: float, room: str = "!a:example.org") -> Reminder:
    return Reminder(room, NOW + dt.timedelta(minutes=minutes), "Point", "@alice:example.org")


def test_reminders_survive_a_restart_and_come_due_once(tmp_path: Path):
    path = tmp_path / "bot" / "schedule.json"
    book = ReminderBook(path)
    book.add(reminder(30))
    book.add(reminder(-5))
    book.add(reminder(-(LATE_LIMIT.total_seconds() / 60) - 1))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = ReminderBook(path)
    again.load()
    assert again.reminders == book.reminders
    due, missed = again.take_due(NOW)
    assert [r.when for r in due] == [NOW - dt.timedelta(minutes=5)]
    assert len(missed) == 1
    assert again.take_due(NOW) == ([], [])
    reloaded = ReminderBook(path)
    reloaded.load()
    assert [r.when for r in reloaded.reminders] == [NOW + dt.timedelta(minutes=30)]


def test_a_room_has_a_bounded_number_of_reminders(tmp_path: Path):
    book = ReminderBook(tmp_path / "schedule.json")
    for minute in range(MAX_PER_ROOM):
        book.add(reminder(minute))
    with pytest.raises(ScheduleFull):
        book.add(reminder(99))
    book.add(reminder(99, room="!other:example.org"))  # another room is not affected
    assert len(book.reminders) == MAX_PER_ROOM + 1


def test_a_damaged_file_loses_only_the_bad_entries(tmp_path: Path):
    path = tmp_path / "schedule.json"
    good = reminder(10).to_json()
    path.write_text(json.dumps([good, {"room_id": 3}, {**good, "when": "2026-12-01T14:00"}]))
    book = ReminderBook(path)
    book.load()
    assert book.reminders == [reminder(10)]
    path.write_text("{not json")
    broken = ReminderBook(path)
    broken.load()
    assert broken.reminders == []


def test_summary_and_duration_texts():
    summary = MeetingSummary(
        room_id="!a:b", meeting_id="abc-defg-hij", title="Revue", widget_id="w",
        status_event_id=None, started_at=NOW, ended_at=NOW + dt.timedelta(minutes=65),
        participant_count=3, names=("Alice", "Bob"),
    )  # fmt: skip
    assert texts.summary_text(summary, "fr").splitlines() == [
        "Réunion « Revue » terminée.",
        "Durée : 1 h 05 min",
        "Participants : 3",
        "Noms : Alice, Bob",
    ]
    assert texts.summary_text(summary, "en").splitlines() == [
        "Meeting “Revue” ended.",
        "Duration: 1 h 05 min",
        "Participants: 3",
        "Names: Alice, Bob",
    ]
    assert texts.duration_text(None, NOW, "fr") == "personne n'est venu"
    assert texts.duration_text(None, NOW, "en") == "nobody came"
    assert texts.duration_text(NOW, NOW + dt.timedelta(seconds=20), "fr") == "moins d'une minute"


async def test_the_bot_posts_the_link_when_a_scheduled_meeting_starts(
    synapse: Synapse, tmp_path: Path, local_hub: LocalHub
):
    config = bot_config(synapse, tmp_path)
    alice = Person(synapse, synapse.register(f"alice{secrets.token_hex(3)}"))
    room = await alice.create_room([config.user_id], **moderated_room(config.user_id))
    async with running(config, local_hub) as bot:
        await alice.wait_membership(room, config.user_id, "join")
        when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        bot.add_reminder(Reminder(room, when, "Point du mardi", alice.user.user_id))
        began = time.monotonic()

        async def reminded() -> list[str]:
            return [
                body
                for event in await alice.notices_from(room, config.user_id)
                if (body := event["content"]["body"]).startswith("C'est l'heure")
            ]

        (text,) = await alice.wait_until(reminded, "reminder posted")
    meeting = await local_hub.room_meeting(room)
    assert meeting is not None and meeting.title == "Point du mardi"
    assert meeting.url in text
    assert time.monotonic() - began < 10
    assert bot.reminders.reminders == []
