"""What the bot writes in rooms, laid out in the room's one language (French unless the room
chose English). Pure functions: every sentence comes from the hub's one catalog
(hub/i18n.py, keys `bot.*`), as the pages' do; only the layout of the lines is here.

Every user-supplied value (titles, names) arrives here already limited in length by the hub;
these functions only lay the sentences out.
"""

from __future__ import annotations

import datetime as dt

from bridge.commands import PARIS
from bridge.hub_port import Language, MeetingSummary, RoomMeeting, Waiting
from hub.i18n import Text, say

MAX_LISTED = 20  # names listed in a status or summary before "(+N)"


def write(language: Language, key: str, **values: object) -> str:
    """The catalog's sentence `bot.<key>` in the room's language, its placeholders filled."""
    return say(language, Text(f"bot.{key}", {name: str(value) for name, value in values.items()}))


def _names(names: tuple[str, ...]) -> str:
    if not names:
        return "—"
    shown = ", ".join(names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return f"{shown} (+{more})" if more > 0 else shown


def _waiting_line(person: Waiting, language: Language) -> str:
    line = f"  {person.number}. {person.name} ({write(language, f'kind.{person.kind}')})"
    if person.message:
        return write(language, "status.message", line=line, message=person.message)
    return line


def status_text(meeting: RoomMeeting, language: Language, prefix: str) -> str:
    """The live status message: the link, who is in, who waits under which number. Edited
    on every change."""
    heading = "status.locked" if meeting.locked else "status.on"
    lines = [
        write(language, heading, title=meeting.title),
        write(language, "status.link", url=meeting.url),
        *_partner_lines(meeting, language),
        write(
            language,
            "status.present",
            count=len(meeting.participants),
            names=_names(meeting.participants),
        ),
    ]
    if meeting.waiting:
        lines.append(write(language, "status.waiting", count=len(meeting.waiting), prefix=prefix))
        lines += [_waiting_line(person, language) for person in meeting.waiting[:MAX_LISTED]]
        if len(meeting.waiting) > MAX_LISTED:
            lines.append(f"  (+{len(meeting.waiting) - MAX_LISTED})")
    return "\n".join(lines)


def ended_status_text(
    summary: MeetingSummary, language: Language, transcript_posted: bool | None = None
) -> str:
    """The status message once the meeting ended; with whether its transcript reached the room
    (None: it has none)."""
    ended = write(language, "ended", title=summary.title)
    if transcript_posted is None or summary.transcript is None:
        return ended
    if transcript_posted:
        return f"{ended}\n" + write(language, "transcript.posted", name=summary.transcript.name)
    return f"{ended}\n" + write(language, "transcript.not_posted")


def digest_text(summary: str | None, language: Language) -> str:
    """The summary of a transcript as the room reads it, or why there is none."""
    if summary is None:
        return write(language, "digest.failed")
    return write(language, "digest.title") + "\n\n" + summary


def duration_text(started: dt.datetime | None, ended: dt.datetime, language: Language) -> str:
    """`1 h 05 min`, `12 min`, `moins d'une minute`."""
    if started is None:
        return write(language, "duration.nobody")
    minutes = int((ended - started).total_seconds() // 60)
    if minutes < 1:
        return write(language, "duration.under_a_minute")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def summary_text(
    summary: MeetingSummary, language: Language, transcript_posted: bool | None = None
) -> str:
    """The notice a meeting's end leaves in the room; it says so if the transcript's file was
    refused (the status message, edited, is easy to miss)."""
    duration = duration_text(summary.started_at, summary.ended_at, language)
    lines = [
        ended_status_text(summary, language) + ".",
        write(language, "summary.duration", duration=duration),
        write(language, "summary.participants", count=summary.participant_count),
    ]
    if summary.names:
        lines.append(write(language, "summary.names", names=_names(summary.names)))
    if transcript_posted is False and summary.transcript is not None:
        lines.append(write(language, "transcript.not_posted") + ".")
    return "\n".join(lines)


def _partner_lines(meeting: RoomMeeting, language: Language) -> list[str]:
    return [
        write(language, "partner_link", label=link.label, url=link.url)
        for link in meeting.partner_links
    ]


def link_text(meeting: RoomMeeting, language: Language) -> str:
    first = write(language, "link", title=meeting.title, url=meeting.url)
    return "\n".join([first, *_partner_lines(meeting, language)])


def paris_time(when: dt.datetime) -> str:
    return when.astimezone(PARIS).strftime("%Y-%m-%d %H:%M")


def scheduled_text(when: dt.datetime, title: str | None, language: Language) -> str:
    if title:
        return write(language, "scheduled_titled", title=title, when=paris_time(when))
    return write(language, "scheduled", when=paris_time(when))


def reminder_text(meeting: RoomMeeting, language: Language) -> str:
    return write(language, "reminder", title=meeting.title, url=meeting.url)


def chat_line(name: str, text: str, language: Language) -> str:
    """A message of the meeting's chat, as the bot repeats it in the room."""
    return write(language, "chat_line", name=name, text=text)


# -- answers to commands ---------------------------------------------------------------------


def moderators_only(language: Language) -> str:
    return write(language, "moderators_only")


def internal_error(reference: str, language: Language) -> str:
    return write(language, "internal_error", reference=reference)


def make_me_moderator(language: Language) -> str:
    return write(language, "make_me_moderator")


def already_on(meeting: RoomMeeting, language: Language) -> str:
    return write(language, "already_on", url=meeting.url)


def invited(user_id: str, meeting: RoomMeeting, language: Language) -> str:
    return write(language, "invited", user=user_id, url=meeting.url)


def not_in_room(target: str, language: Language) -> str:
    return write(language, "not_in_room", target=target)


def link_sent(target: str, language: Language) -> str:
    return write(language, "link_sent", target=target)


def locked(is_locked: bool, language: Language) -> str:
    return write(language, "locked" if is_locked else "unlocked")


def admitted(names: list[str], language: Language) -> str:
    if not names:
        return write(language, "admitted.nobody")
    listed = _names(tuple(names))
    return write(language, "admitted.one" if len(names) == 1 else "admitted.many", names=listed)


def refused(name: str, reason: str | None, language: Language) -> str:
    if reason:
        return write(language, "refused_because", name=name, reason=reason)
    return write(language, "refused", name=name)


def muted(name: str, language: Language) -> str:
    return write(language, "muted", name=name)


def language_set(language: Language) -> str:
    return write(language, "language_set")
