"""The bot's reads and orders carried out on a live meeting of this node (its home).

`LiveDesk` applies a `bot_orders.Order` to the conference of this node, with the page's own
rules (the bot acts as a moderator named after the person who asked; the bot has checked their
power in the room). `LocalHub` (hub/web/bridge.py) reaches it directly on a hub alone, and
through the meeting's home over the bus on hub nodes (hub/web/bot_reach.py).
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Sequence

from bridge.hub_port import HubRefusal, Waiting, WaitingKind
from hub.db.models import Role
from hub.errors import Conflict, Forbidden, NotFound
from hub.i18n import Text
from hub.ids import Identity, IdentityKind, MeetingId, ParticipantId
from hub.meetings.conference import Conference, Conferences
from hub.meetings.notes import MAX_NOTE, NoteFlaw, NoteRefused, clean_note
from hub.meetings.presence import LobbyEntry, Presence
from hub.nodes import bot_orders as orders
from hub.web import signaling as sig

BRIDGE_ACTOR = ParticipantId("matrix-bridge")


def _on_off(on: bool) -> str:
    return "on" if on else "off"


def _fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", " ".join(name.split()).casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _one_named(name: str, candidates: Sequence[tuple[str, str]]) -> str:
    """The key of the one participant (key, display name) called `name` (case, accents
    ignored)."""
    found = [key for key, display in candidates if _fold(display) == _fold(name)]
    if not found:
        raise HubRefusal(Text("bot.refusal.nobody_called", {"name": name}))
    if len(found) > 1:
        raise HubRefusal(Text("bot.refusal.several_called", {"name": name}))
    return found[0]


_WAITING_KINDS: dict[IdentityKind, WaitingKind] = {
    IdentityKind.LOCAL: "agent",
    IdentityKind.GUEST: "guest",
    IdentityKind.MATRIX: "matrix",
    IdentityKind.PARTNER: "partner",
}


def roster(live: Conference | None) -> tuple[tuple[str, ...], tuple[Waiting, ...]]:
    """Who is in the call and who waits, as this process's connections say: each identity
    once (two tabs are one person), in order of arrival, and nobody waiting who is already in
    (a second tab knocking). Read from the live connections, not the stored attendance, whose
    open rows a restarted hub cannot trust."""
    if live is None:
        return (), ()
    present: dict[Identity, str] = {}
    for presence in live.presences.values():
        present.setdefault(presence.identity, presence.name)
    waiting = tuple(
        Waiting(entry.number, entry.name, _WAITING_KINDS[entry.kind], entry.message)
        for entry in sorted(live.lobby.values(), key=lambda entry: entry.number)
        if entry.identity not in present
    )
    return tuple(present.values()), waiting


_REASON_REFUSALS: dict[NoteFlaw, Text] = {
    NoteFlaw.TOO_LONG: Text("bot.refusal.reason_too_long", {"limit": str(MAX_NOTE)}),
    NoteFlaw.CONTROL: Text("bot.refusal.reason_control"),
    NoteFlaw.MARKUP: Text("bot.refusal.reason_markup"),
}


def _lobby_entries(live: Conference | None, numbers: tuple[int, ...] | None) -> list[LobbyEntry]:
    """The waiting people under these numbers (None: all), or a refusal naming the first
    number nobody waits under; nothing is decided before every number is known."""
    lobby = sorted(live.lobby.values(), key=lambda entry: entry.number) if live else []
    if numbers is None:
        if not lobby:
            raise HubRefusal(Text("bot.refusal.lobby_empty"))
        return lobby
    by_number = {entry.number: entry for entry in lobby}
    for number in numbers:
        if number not in by_number:
            raise HubRefusal(Text("bot.refusal.no_such_number", {"number": str(number)}))
    return [by_number[number] for number in dict.fromkeys(numbers)]


def _actor(by: str) -> Presence:
    """The person who asked, as a moderator outside the call (the page's rules apply)."""
    return Presence(
        participant_id=BRIDGE_ACTOR,
        identity=Identity.matrix(by),
        name=by,
        audio=False,
        video=False,
        role=Role.MODERATOR,
    )


def _in_call(live: Conference | None) -> Conference:
    if live is None or not live.presences:
        raise HubRefusal(Text("bot.refusal.nobody_in_call"))
    return live


class LiveDesk:
    """Carries the bot's orders out on the conferences of this node; holds no state."""

    def __init__(self, conferences: Conferences) -> None:
        self._conferences = conferences

    async def carry(self, meeting_id: MeetingId, order: orders.Order) -> orders.Answer:
        """`order`'s answer for the meeting as it lives on this node; HubRefusal as the room
        reads it."""
        live = self._conferences.get(meeting_id)
        match order:
            case orders.Look():
                if live is None:
                    return None
                present, waiting = roster(live)
                return orders.LiveView(present, waiting, live.locked)
            case orders.Lock(locked=locked, by=by):
                if live is None:
                    return False
                await live.lock(_actor(by), locked)
                return True
            case orders.Subtitles(on=on, by=by):
                await self._subtitles(_in_call(live), on, by)
            case orders.Recording(on=on, by=by):
                await self._recording(_in_call(live), on, by)
            case orders.Admit(numbers=numbers, by=by):
                return await self._admit(live, numbers, by)
            case orders.Refuse(number=number, reason=reason, by=by):
                return await self._refuse(live, number, reason, by)
            case orders.Mute(name=name, by=by):
                return await self._mute(live, name, by)
            case orders.Chat(sender=sender, name=name, text=text):
                if live is None or not live.presences:
                    return False
                await live.chat_from_room(
                    Identity.matrix(sender), f"{name} (Matrix)"[: sig.MAX_NAME],
                    text[: sig.MAX_CHAT],
                )  # fmt: skip
                return True
        return None

    async def _subtitles(self, live: Conference, on: bool, by: str) -> None:
        try:  # the conference's rules, said in the bot's words
            await live.set_subtitles(_actor(by), on)
        except Forbidden:
            raise HubRefusal(Text("bot.refusal.subtitles_disabled")) from None
        except Conflict:
            raise HubRefusal(Text(f"bot.refusal.subtitles_already_{_on_off(on)}")) from None

    async def _recording(self, live: Conference, on: bool, by: str) -> None:
        try:
            await live.set_recording(_actor(by), on)
        except Forbidden:
            raise HubRefusal(Text("bot.refusal.recording_disabled")) from None
        except Conflict:
            raise HubRefusal(Text(f"bot.refusal.recording_already_{_on_off(on)}")) from None

    async def _admit(
        self, live: Conference | None, numbers: tuple[int, ...] | None, by: str
    ) -> tuple[str, ...]:
        entries = _lobby_entries(live, numbers)
        assert live is not None
        admitted = []
        for entry in entries:  # the page's own decision: the same checks, one log line each
            with contextlib.suppress(NotFound):  # gone meanwhile (they left, another admitted)
                await live.decide(_actor(by), entry.entry_id, "admitted")
                admitted.append(entry.name)
        return tuple(admitted)

    async def _refuse(
        self, live: Conference | None, number: int, reason: str | None, by: str
    ) -> str:
        (entry,) = _lobby_entries(live, (number,))
        assert live is not None
        try:
            why = clean_note(reason) if reason is not None else None
        except NoteRefused as refused:
            raise HubRefusal(_REASON_REFUSALS[refused.flaw]) from None
        try:
            await live.decide(_actor(by), entry.entry_id, "denied", why)
        except NotFound:
            raise HubRefusal(Text("bot.refusal.no_longer_waiting", {"name": entry.name})) from None
        return entry.name

    async def _mute(self, live: Conference | None, name: str, by: str) -> str:
        present = [(p.participant_id, p.name) for p in live.presences.values()] if live else []
        participant_id = _one_named(name, present)
        assert live is not None
        muted = live.presences[ParticipantId(participant_id)].name
        await live.mute(_actor(by), participant_id, "audio")
        return muted
