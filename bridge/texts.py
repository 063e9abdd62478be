"""What the bot writes in rooms about meetings, French first then English. Pure functions.

Every user-supplied value (titles, names) arrives here already limited in length by the hub;
these functions only lay the sentences out.
"""

from __future__ import annotations

import datetime as dt

from bridge.commands import PARIS
from bridge.hub_port import MeetingSummary, RoomMeeting

MAX_LISTED = 20  # names listed in a status or summary before "and N more"


def _names(names: tuple[str, ...]) -> str:
    if not names:
        return "—"
    shown = ", ".join(names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return f"{shown} (+{more})" if more > 0 else shown


def status_text(meeting: RoomMeeting) -> str:
    """The live status message: the link, who is in, who waits. Edited on every change."""
    lock_fr = " — verrouillée" if meeting.locked else ""
    lock_en = " — locked" if meeting.locked else ""
    lines = [
        f"Réunion « {meeting.title} » en cours{lock_fr} / Meeting on{lock_en}",
        f"Lien / Link : {meeting.url}",
        *_partner_lines(meeting),
        f"Présents / In the call ({len(meeting.participants)}) : {_names(meeting.participants)}",
    ]
    if meeting.waiting:
        lines.append(f"En attente / Waiting ({len(meeting.waiting)}) : {_names(meeting.waiting)}")
    return "\n".join(lines)


def ended_status_text(summary: MeetingSummary) -> str:
    return f"Réunion « {summary.title} » terminée / Meeting ended"


def duration_text(started: dt.datetime | None, ended: dt.datetime) -> str:
    """`1 h 05 min`, `12 min`, `moins d'une minute / under a minute`."""
    if started is None:
        return "personne n'est venu / nobody came"
    minutes = int((ended - started).total_seconds() // 60)
    if minutes < 1:
        return "moins d'une minute / under a minute"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def summary_text(summary: MeetingSummary) -> str:
    lines = [
        f"Réunion « {summary.title} » terminée / Meeting ended.",
        f"Durée / Duration : {duration_text(summary.started_at, summary.ended_at)}",
        f"Participants : {summary.participant_count}",
    ]
    if summary.names:
        lines.append(f"Noms / Names : {_names(summary.names)}")
    return "\n".join(lines)


def _partner_lines(meeting: RoomMeeting) -> list[str]:
    return [
        f"Agents {link.label} / {link.label} staff : {link.url}" for link in meeting.partner_links
    ]


def link_text(meeting: RoomMeeting) -> str:
    return "\n".join([f"Réunion « {meeting.title} » / Meeting: {meeting.url}",
                      *_partner_lines(meeting)])  # fmt: skip


def paris_time(when: dt.datetime) -> str:
    return when.astimezone(PARIS).strftime("%Y-%m-%d %H:%M")


def scheduled_text(when: dt.datetime, title: str | None) -> str:
    name = f" « {title} »" if title else ""
    return (
        f"Réunion{name} planifiée le {paris_time(when)} (heure de Paris) : le lien sera publié "
        "ici à l'heure.\n"
        f"Meeting{name} scheduled for {paris_time(when)} (Paris time): the link will be posted "
        "here when it starts."
    )


def reminder_text(meeting: RoomMeeting) -> str:
    return (
        f"C'est l'heure de la réunion « {meeting.title} » / The meeting starts now: {meeting.url}"
    )


def chat_line(name: str, text: str) -> str:
    """A message of the meeting's chat, as the bot repeats it in the room."""
    return f"{name} : {text}"
