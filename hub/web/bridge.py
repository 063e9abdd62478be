"""The hub's side of the bridge interface (bridge/hub_port.py), in process.

`LocalHub` turns the bot's requests, keyed by Matrix room, into calls on the meeting service,
the live meetings and the moderation rules the page uses (the bot acts as a moderator named
after the person who asked; the bot has checked their power in the room). It also turns
meeting events into bridge events for the rooms linked to the meeting. The HTTP API for a bot
run alone (hub/web/bridge_api.py) calls this same class.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web

from bridge.hub_port import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    BridgeEvent,
    ChatFromMeeting,
    HubRefusal,
    Language,
    Listener,
    MeetingClosed,
    MeetingSummary,
    PartnerLink,
    PresenceChanged,
    RoomMeeting,
    TranscriptFile,
    Waiting,
    WaitingKind,
    no_meeting,
)
from bridge.session import BotConfig
from hub.config import HubConfig
from hub.db.models import AccessLevel, Role
from hub.errors import Conflict, Forbidden, NotFound
from hub.federation.policy import Partner
from hub.federation.service import Federation
from hub.i18n import Text, say
from hub.ids import Identity, IdentityKind, MeetingId, ParticipantId
from hub.meetings.conference import Conference, Conferences
from hub.meetings.events import (
    ChatPosted,
    EventBus,
    LobbyChanged,
    MeetingEnded,
    MeetingEvent,
    ParticipantJoined,
    ParticipantLeft,
)
from hub.meetings.invitations import Invitations
from hub.meetings.notes import MAX_NOTE, NoteFlaw, NoteRefused, clean_note
from hub.meetings.presence import LobbyEntry, Presence
from hub.meetings.rooms import RoomLinks, RoomLinkView, RoomRosters, RoomSettings
from hub.meetings.service import MAX_TITLE, MeetingService, MeetingView
from hub.meetings.transcript_formats import file_name, markdown
from hub.meetings.transcripts import Transcripts
from hub.web import signaling as sig
from hub.web.keys import (
    CONFIG,
    EVENTS,
    FEDERATION,
    INVITATIONS,
    LIVE,
    MEETINGS,
    ROOM_LINKS,
    ROOM_ROSTERS,
    ROOM_SETTINGS,
    TRANSCRIPTS,
)
from hub.web.transcripts import MARKDOWN_TYPE

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class HubServices:
    """What the bot's requests reach in this hub (made from the app by `local_hub`)."""

    config: HubConfig
    events: EventBus
    meetings: MeetingService
    conferences: Conferences
    invitations: Invitations
    room_links: RoomLinks
    room_settings: RoomSettings
    rosters: RoomRosters
    transcripts: Transcripts
    federation: Federation | None  # None unless [federation] names this hub


def local_hub(app: web.Application) -> LocalHub:
    """The bot's way into this hub, once the app has started (its stores are open)."""
    return LocalHub(
        HubServices(
            config=app[CONFIG], events=app[EVENTS], meetings=app[MEETINGS],
            conferences=app[LIVE], invitations=app[INVITATIONS], room_links=app[ROOM_LINKS],
            room_settings=app[ROOM_SETTINGS], rosters=app[ROOM_ROSTERS],
            transcripts=app[TRANSCRIPTS], federation=app.get(FEDERATION),
        )
    )  # fmt: skip


class LocalHub:
    """`HubPort` for a bot running inside the hub process."""

    def __init__(self, services: HubServices) -> None:
        self._hub = services
        self._listeners: list[Listener] = []
        # Meeting events wait here for the worker: the publisher (a join, a leave, a chat
        # line) never waits for the database reads that turn them into bridge events.
        self._pending: asyncio.Queue[MeetingEvent] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._unsubscribe = services.events.subscribe(self._on_event)

    async def close(self) -> None:
        self._unsubscribe()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    # -- views -----------------------------------------------------------------------------

    def meeting_url(self, meeting_id: str) -> str:
        return f"{self._hub.config.public_url}/m/{meeting_id}"

    async def _link(self, room_id: str) -> RoomLinkView:
        link = await self._hub.room_links.live_for(room_id)
        if link is None:
            raise no_meeting(self._hub.config.matrix.command_prefix)
        return link

    async def _view(self, link: RoomLinkView, meeting: MeetingView | None = None) -> RoomMeeting:
        return (await self._views([link], meeting))[0]

    async def _views(
        self, links: list[RoomLinkView], meeting: MeetingView | None = None
    ) -> list[RoomMeeting]:
        """How each room linked to one meeting sees it: what the meeting-wide reads give
        (the meeting, who is in, the partners) is read once for all the rooms."""
        meeting_id = links[0].meeting_id
        meeting = meeting or await self._hub.meetings.get(meeting_id)
        live = self._hub.conferences.get(meeting_id)
        present, waiting = roster(live)
        federation = self._hub.federation
        partners = await federation.policy.all() if federation is not None else []
        url = self.meeting_url(meeting_id)
        return [
            RoomMeeting(
                room_id=link.room_id,
                meeting_id=meeting_id,
                title=meeting.title,
                url=url,
                widget_url=(
                    f"{url}?widget=1&lang=$org.matrix.msc2873.client_language"
                    "&displayName=$matrix_display_name"
                ),
                widget_id=link.widget_id,
                locked=live.locked if live is not None else meeting.locked,
                started_at=meeting.started_at,
                participants=present,
                waiting=waiting,
                status_event_id=link.status_event_id,
                partner_links=self._partner_links(link, partners),
            )
            for link in links
        ]

    def _partner_links(
        self, link: RoomLinkView, partners: Sequence[Partner]
    ) -> tuple[PartnerLink, ...]:
        """For members whose homeserver a partner instance serves: that instance's link to
        this meeting (they join through their own ministry's hub, as themselves)."""
        federation = self._hub.federation
        if federation is None:
            return ()
        homeservers = self._hub.rosters.homeservers(link.room_id)
        return tuple(
            PartnerLink(partner.label, partner.meeting_url(federation.server_name, link.meeting_id))
            for partner in partners
            if homeservers & set(partner.matrix_homeservers)
        )

    async def room_meeting(self, room_id: str) -> RoomMeeting | None:
        link = await self._hub.room_links.live_for(room_id)
        return await self._view(link) if link is not None else None

    # -- requests --------------------------------------------------------------------------

    async def start_meeting(self, room_id: str, *, by: str, title: str | None) -> RoomMeeting:
        link = await self._hub.room_links.live_for(room_id)
        if link is not None:
            return await self._view(link)
        meeting = await self._hub.meetings.create(
            owner=Identity.matrix(by),
            title=(title or await self._default_title(room_id))[:MAX_TITLE],
            access_level=AccessLevel.RESTRICTED,  # the room's members pass the lobby
        )
        link = await self._hub.room_links.link(room_id, meeting.id, created_by=by)
        log.info("meeting started from a Matrix room", extra={"meeting_id": meeting.id})
        return await self._view(link, meeting)

    async def _default_title(self, room_id: str) -> str:
        """The title of a meeting started without one, in the room's language."""
        return say(await self.room_language(room_id), Text("bot.default_title"))

    async def end_meeting(self, room_id: str, *, by: str) -> None:
        link = await self._link(room_id)
        await self._hub.meetings.end(link.meeting_id, by=Identity.matrix(by), moderator=True)

    def _actor(self, by: str) -> Presence:
        """The person who asked, as a moderator outside the call (the page's rules apply)."""
        return Presence(
            participant_id=BRIDGE_ACTOR,
            identity=Identity.matrix(by),
            name=by,
            audio=False,
            video=False,
            role=Role.MODERATOR,
        )

    async def set_locked(self, room_id: str, locked: bool, *, by: str) -> RoomMeeting:
        link = await self._link(room_id)
        live = self._hub.conferences.get(link.meeting_id)
        if live is None:
            await self._hub.meetings.set_locked(link.meeting_id, locked)
        else:
            await live.lock(self._actor(by), locked)
        return await self._view(link)

    async def set_subtitles(self, room_id: str, on: bool, *, by: str) -> None:
        live = await self._in_call(room_id)
        try:  # the conference's rules, said in the bot's words
            await live.set_subtitles(self._actor(by), on)
        except Forbidden:
            raise HubRefusal(Text("bot.refusal.subtitles_disabled")) from None
        except Conflict:
            raise HubRefusal(Text(f"bot.refusal.subtitles_already_{_on_off(on)}")) from None

    async def set_recording(self, room_id: str, on: bool, *, by: str) -> None:
        live = await self._in_call(room_id)
        try:
            await live.set_recording(self._actor(by), on)
        except Forbidden:
            raise HubRefusal(Text("bot.refusal.recording_disabled")) from None
        except Conflict:
            raise HubRefusal(Text(f"bot.refusal.recording_already_{_on_off(on)}")) from None

    async def _in_call(self, room_id: str) -> Conference:
        """The room's live meeting, with somebody in the call (nothing to switch otherwise)."""
        link = await self._link(room_id)
        live = self._hub.conferences.get(link.meeting_id)
        if live is None or not live.presences:
            raise HubRefusal(Text("bot.refusal.nobody_in_call"))
        return live

    async def admit(self, room_id: str, numbers: tuple[int, ...] | None, *, by: str) -> list[str]:
        link = await self._link(room_id)
        live = self._hub.conferences.get(link.meeting_id)
        entries = _lobby_entries(live, numbers)
        assert live is not None
        admitted = []
        for entry in entries:  # the page's own decision: the same checks, one log line each
            with contextlib.suppress(NotFound):  # gone meanwhile (they left, another admitted)
                await live.decide(self._actor(by), entry.entry_id, "admitted")
                admitted.append(entry.name)
        return admitted

    async def refuse(self, room_id: str, number: int, *, by: str, reason: str | None = None) -> str:
        link = await self._link(room_id)
        live = self._hub.conferences.get(link.meeting_id)
        (entry,) = _lobby_entries(live, (number,))
        assert live is not None
        try:
            why = clean_note(reason) if reason is not None else None
        except NoteRefused as refused:
            raise HubRefusal(_REASON_REFUSALS[refused.flaw]) from None
        try:
            await live.decide(self._actor(by), entry.entry_id, "denied", why)
        except NotFound:
            raise HubRefusal(Text("bot.refusal.no_longer_waiting", {"name": entry.name})) from None
        return entry.name

    async def room_language(self, room_id: str) -> Language:
        stored = await self._hub.room_settings.language(room_id)
        return next((language for language in LANGUAGES if language == stored), DEFAULT_LANGUAGE)

    async def set_room_language(self, room_id: str, language: Language, *, by: str) -> None:
        await self._hub.room_settings.set_language(room_id, language, by=by)
        log.info("Matrix room language set to %s", language)

    async def mute(self, room_id: str, name: str, *, by: str) -> str:
        link = await self._link(room_id)
        live = self._hub.conferences.get(link.meeting_id)
        present = [(p.participant_id, p.name) for p in live.presences.values()] if live else []
        participant_id = _one_named(name, present)
        assert live is not None
        muted = live.presences[ParticipantId(participant_id)].name
        await live.mute(self._actor(by), participant_id, "audio")
        return muted

    async def invite(self, room_id: str, user_id: str, *, by: str) -> RoomMeeting:
        link = await self._link(room_id)
        with contextlib.suppress(Conflict):  # already invited: the same outcome
            await self._hub.invitations.invite(
                link.meeting_id, user_id, role=Role.PARTICIPANT, by=Identity.matrix(by)
            )
        return await self._view(link)

    async def post_chat(self, room_id: str, *, sender: str, name: str, text: str) -> bool:
        link = await self._hub.room_links.live_for(room_id)
        live = self._hub.conferences.get(link.meeting_id) if link is not None else None
        if live is None or not live.presences:
            return False
        await live.chat_from_room(
            Identity.matrix(sender), f"{name} (Matrix)"[: sig.MAX_NAME], text[: sig.MAX_CHAT]
        )
        return True

    async def remember_status(self, room_id: str, meeting_id: str, event_id: str) -> None:
        await self._hub.room_links.set_status_event(room_id, MeetingId(meeting_id), event_id)

    async def update_room(self, room_id: str, members: Mapping[str, int]) -> None:
        self._hub.rosters.update(room_id, members)

    # -- events ----------------------------------------------------------------------------

    def listen(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        if self._worker is None:
            self._worker = asyncio.create_task(self._carry(), name="bridge-events")
        return lambda: self._listeners.remove(listener)

    async def _on_event(self, event: MeetingEvent) -> None:
        if self._listeners:
            self._pending.put_nowait(event)

    async def _carry(self) -> None:
        """Turn queued meeting events into bridge events for the linked rooms, in order."""
        while True:
            event = await self._pending.get()
            try:
                bridge_events = await self._bridge_events(event)
            except Exception:
                log.exception("bridge: %s not carried to its rooms", type(event).__name__)
                continue
            results = await asyncio.gather(
                *(listener(item) for listener in list(self._listeners) for item in bridge_events),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, Exception):
                    log.error("bridge: a listener failed", exc_info=result)

    async def _bridge_events(self, event: MeetingEvent) -> list[BridgeEvent]:
        links = await self._hub.room_links.rooms_of(event.meeting_id)
        if not links:
            return []
        match event:
            case ParticipantJoined() | ParticipantLeft() | LobbyChanged():
                return [PresenceChanged(view) for view in await self._views(links)]
            case MeetingEnded():
                meeting = await self._hub.meetings.get(event.meeting_id)
                names = event.participant_names if self._hub.config.matrix.summary_names else ()
                transcript = await self._transcript_file(event.meeting_id)
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
        return []

    async def _transcript_file(self, meeting_id: MeetingId) -> TranscriptFile | None:
        transcript = await self._hub.transcripts.of(meeting_id)
        if transcript is None:
            return None
        return TranscriptFile(file_name(transcript, "md"), MARKDOWN_TYPE, markdown(transcript))


def bot_config_of(config: HubConfig) -> BotConfig:
    """The bot's settings from the hub's [matrix] section (its store in matrix.bot_store_dir,
    else under server.data_dir)."""
    matrix = config.matrix
    return BotConfig(
        homeserver_url=matrix.bot_homeserver_url,
        user_id=matrix.bot_user_id,
        password=matrix.bot_password.get_secret_value(),
        data_dir=config.server.data_dir,
        prefix=matrix.command_prefix,
        allowed_homeservers=matrix.allowed_homeservers,
        store_dir=matrix.bot_store_dir,
    )
