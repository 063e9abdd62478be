"""What a page's socket is sent for each notice of its meeting: the notice in the page's
protocol (hub/web/page_messages.py). Written once per notice, whatever the number of
sockets."""

from __future__ import annotations

import weakref

from hub.ids import ParticipantId
from hub.meetings.notices import (
    ChatSaid,
    Ended,
    LinkState,
    LobbyNow,
    LockChanged,
    Notice,
    PersonJoined,
    PersonLeft,
    PersonUpdated,
    Reacted,
    RecordingNow,
    Speaking,
    SubtitleSaid,
    SubtitlesNow,
)
from hub.meetings.presence import Presence, WaitingPerson
from hub.web import page_messages as out


def participant_info(
    presence: Presence, *, self_id: ParticipantId | None = None
) -> out.ParticipantInfo:
    return out.ParticipantInfo(
        id=presence.participant_id,
        name=presence.name,
        audio=presence.audio,
        video=presence.video,
        screen=presence.screen,
        hand=presence.hand,
        hand_order=presence.hand_order or None,
        role=presence.role.value,
        is_self=presence.participant_id == self_id,
        reconnecting=presence.reconnecting,
    )


def lobby_message(entries: tuple[WaitingPerson, ...]) -> out.Lobby:
    return out.Lobby(
        entries=[
            out.LobbyEntryInfo(
                id=entry.entry_id,
                name=entry.name,
                kind=entry.kind.value,
                since=entry.since.isoformat(timespec="seconds"),
                message=entry.message,
            )
            for entry in entries
        ]
    )


def signal_of(notice: Notice) -> out.ServerMessage:
    match notice:
        case PersonJoined(presence=presence):
            return out.ParticipantJoined(participant=participant_info(presence))
        case PersonUpdated(presence=presence):
            return out.ParticipantUpdated(participant=participant_info(presence))
        case PersonLeft(participant_id=pid):
            return out.ParticipantLeft(participant_id=pid)
        case ChatSaid(participant_id=pid, name=name, text=text, at=at):
            return out.ChatMessage(participant_id=pid, name=name, text=text, at=at)
        case Reacted(participant_id=pid, emoji=emoji):
            return out.Reaction(participant_id=pid, emoji=emoji)
        case LockChanged(locked=locked):
            return out.MeetingStateChanged(locked=locked)
        case Speaking(participant_id=pid):
            return out.ActiveSpeaker(participant_id=pid)
        case LinkState(state=state, instance=instance):
            return out.CascadeState(state=state, instance=instance)
        case Ended(reason=reason, instance=instance):
            return out.MeetingEnded(reason=reason, instance=instance)
        case LobbyNow(entries=entries):
            return lobby_message(entries)
        case SubtitlesNow(state=state, by=by):
            return out.SubtitlesState(state=state, by=by)
        case SubtitleSaid(participant_id=pid, name=name, text=text, final=final):
            return out.Subtitle(participant_id=pid, name=name, text=text, final=final)
        case RecordingNow(on=on, by=by, failed=failed):
            return out.RecordingState(recording=on, by=by, failed=failed or None)


class Frames:
    """The page frame of each notice, kept while the notice lives (one per app)."""

    def __init__(self) -> None:
        self._written: weakref.WeakKeyDictionary[Notice, str] = weakref.WeakKeyDictionary()

    def frame(self, notice: Notice) -> str:
        written = self._written.get(notice)
        if written is None:
            written = self._written[notice] = out.to_json(signal_of(notice))
        return written
