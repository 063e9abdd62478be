"""What the bot writes in rooms, in the room's one language (French unless the room chose
English). Pure functions: every sentence the bot sends is here, both languages side by side.

Every user-supplied value (titles, names) arrives here already limited in length by the hub;
these functions only lay the sentences out.
"""

from __future__ import annotations

import datetime as dt

from bridge.commands import PARIS
from bridge.hub_port import Language, MeetingSummary, RoomMeeting, Waiting, WaitingKind

MAX_LISTED = 20  # names listed in a status or summary before "(+N)"

_KINDS: dict[WaitingKind, tuple[str, str]] = {
    "agent": ("agent", "agent"),
    "guest": ("invité", "guest"),
    "matrix": ("Matrix", "Matrix"),
    "partner": ("partenaire", "partner"),
}


def say(language: Language, french: str, english: str) -> str:
    """The sentence of the room's language."""
    return french if language == "fr" else english


def _names(names: tuple[str, ...]) -> str:
    if not names:
        return "—"
    shown = ", ".join(names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return f"{shown} (+{more})" if more > 0 else shown


def _colon(language: Language) -> str:
    return " :" if language == "fr" else ":"


def _waiting_line(person: Waiting, language: Language) -> str:
    french, english = _KINDS[person.kind]
    line = f"  {person.number}. {person.name} ({say(language, french, english)})"
    if person.message:
        line += say(language, f" — « {person.message} »", f" — “{person.message}”")
    return line


def status_text(meeting: RoomMeeting, language: Language, prefix: str) -> str:
    """The live status message: the link, who is in, who waits under which number. Edited
    on every change."""
    c = _colon(language)
    lock = say(language, " — verrouillée", " — locked") if meeting.locked else ""
    lines = [
        say(language, f"Réunion « {meeting.title} » en cours", f"Meeting “{meeting.title}” on")
        + lock,
        f"{say(language, 'Lien', 'Link')}{c} {meeting.url}",
        *_partner_lines(meeting, language),
        f"{say(language, 'Présents', 'In the call')} ({len(meeting.participants)}){c} "
        + _names(meeting.participants),
    ]
    if meeting.waiting:
        lines.append(
            say(
                language,
                f"En attente ({len(meeting.waiting)}) — « {prefix} admit N », "
                f"« {prefix} refuse N » :",
                f"Waiting ({len(meeting.waiting)}) — “{prefix} admit N”, “{prefix} refuse N”:",
            )
        )
        lines += [_waiting_line(person, language) for person in meeting.waiting[:MAX_LISTED]]
        if len(meeting.waiting) > MAX_LISTED:
            lines.append(f"  (+{len(meeting.waiting) - MAX_LISTED})")
    return "\n".join(lines)


def ended_status_text(summary: MeetingSummary, language: Language) -> str:
    return say(
        language, f"Réunion « {summary.title} » terminée", f"Meeting “{summary.title}” ended"
    )


def duration_text(started: dt.datetime | None, ended: dt.datetime, language: Language) -> str:
    """`1 h 05 min`, `12 min`, `moins d'une minute`."""
    if started is None:
        return say(language, "personne n'est venu", "nobody came")
    minutes = int((ended - started).total_seconds() // 60)
    if minutes < 1:
        return say(language, "moins d'une minute", "under a minute")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def summary_text(summary: MeetingSummary, language: Language) -> str:
    c = _colon(language)
    lines = [
        ended_status_text(summary, language) + ".",
        f"{say(language, 'Durée', 'Duration')}{c} "
        + duration_text(summary.started_at, summary.ended_at, language),
        f"Participants{c} {summary.participant_count}",
    ]
    if summary.names:
        lines.append(f"{say(language, 'Noms', 'Names')}{c} {_names(summary.names)}")
    return "\n".join(lines)


def _partner_lines(meeting: RoomMeeting, language: Language) -> list[str]:
    return [
        say(language, f"Agents {link.label} : ", f"{link.label} staff: ") + link.url
        for link in meeting.partner_links
    ]


def link_text(meeting: RoomMeeting, language: Language) -> str:
    first = say(language, f"Réunion « {meeting.title} » : ", f"Meeting “{meeting.title}”: ")
    return "\n".join([first + meeting.url, *_partner_lines(meeting, language)])


def paris_time(when: dt.datetime) -> str:
    return when.astimezone(PARIS).strftime("%Y-%m-%d %H:%M")


def scheduled_text(when: dt.datetime, title: str | None, language: Language) -> str:
    if language == "fr":
        name = f" « {title} »" if title else ""
        return (
            f"Réunion{name} planifiée le {paris_time(when)} (heure de Paris) : le lien sera "
            "publié ici à l'heure."
        )
    name = f" “{title}”" if title else ""
    return (
        f"Meeting{name} scheduled for {paris_time(when)} (Paris time): the link will be posted "
        "here when it starts."
    )


def reminder_text(meeting: RoomMeeting, language: Language) -> str:
    return say(
        language,
        f"C'est l'heure de la réunion « {meeting.title} » : {meeting.url}",
        f"The meeting “{meeting.title}” starts now: {meeting.url}",
    )


def chat_line(name: str, text: str) -> str:
    """A message of the meeting's chat, as the bot repeats it in the room."""
    return f"{name} : {text}"


# -- answers to commands ---------------------------------------------------------------------


def moderators_only(language: Language) -> str:
    return say(
        language,
        "Cette commande est réservée aux modérateurs du salon.",
        "This command is for the room's moderators.",
    )


def internal_error(reference: str, language: Language) -> str:
    return say(
        language,
        f"Erreur interne, référence {reference}.",
        f"Internal error, reference {reference}.",
    )


def make_me_moderator(language: Language) -> str:
    return say(
        language,
        "Pour afficher la réunion dans le salon, donnez-moi le rôle de modérateur.",
        "To show the meeting in the room, make me a moderator.",
    )


def already_on(meeting: RoomMeeting, language: Language) -> str:
    return say(
        language,
        f"Une réunion est déjà en cours dans ce salon : {meeting.url}",
        f"A meeting is already on in this room: {meeting.url}",
    )


def invited(user_id: str, meeting: RoomMeeting, language: Language) -> str:
    return say(
        language,
        f"{user_id} peut entrer sans attendre : {meeting.url}",
        f"{user_id} may join without waiting: {meeting.url}",
    )


def not_in_room(target: str, language: Language) -> str:
    return say(
        language,
        f"Je ne suis pas dans le salon {target} : invitez-moi d'abord.",
        f"I am not in the room {target}: invite me there first.",
    )


def link_sent(target: str, language: Language) -> str:
    return say(language, f"Lien envoyé dans {target}.", f"Link sent to {target}.")


def locked(is_locked: bool, language: Language) -> str:
    if is_locked:
        return say(
            language,
            "Réunion verrouillée : les nouveaux arrivants attendent dans le hall.",
            "Meeting locked: newcomers wait in the lobby.",
        )
    return say(language, "Réunion déverrouillée.", "Meeting unlocked.")


def admitted(names: list[str], language: Language) -> str:
    if not names:
        return say(language, "Personne n'attendait plus.", "Nobody was waiting any more.")
    listed = _names(tuple(names))
    if len(names) == 1:
        return say(language, f"{listed} est entré(e).", f"{listed} was let in.")
    return say(language, f"Entrés : {listed}.", f"Let in: {listed}.")


def refused(name: str, reason: str | None, language: Language) -> str:
    why = f" ({reason})" if reason else ""
    return say(language, f"{name} n'est pas admis(e){why}.", f"{name} was turned away{why}.")


def muted(name: str, language: Language) -> str:
    return say(language, f"Micro de {name} coupé.", f"{name}'s microphone is muted.")


def language_set(language: Language) -> str:
    return say(
        language,
        "Je parlerai français dans ce salon.",
        "I will write in English in this room.",
    )
