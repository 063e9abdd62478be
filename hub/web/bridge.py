"""The hub's side of the bridge interface (bridge/hub_port.py), in process.

`LocalHub` turns the bot's requests, keyed by Matrix room, into calls on the meeting service
and, for a live meeting, into orders its home carries out (hub/web/bot_desk.py; on another
node through hub/web/bot_reach.py). The meeting events it carries to the linked rooms are
turned into bridge events by hub/web/room_events.py. The HTTP API for a bot run alone
(hub/web/bridge_api.py) calls this same class.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web

from bridge.hub_port import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    Language,
    Listener,
    PartnerLink,
    RoomMeeting,
    no_meeting,
)
from bridge.session import BotConfig
from hub.config import HubConfig
from hub.db.models import AccessLevel, Role
from hub.errors import Conflict
from hub.federation.policy import Partner
from hub.federation.service import Federation
from hub.i18n import Text, say
from hub.ids import Identity, MeetingId
from hub.meetings.conference import Conferences
from hub.meetings.events import (
    EventBus,
)
from hub.meetings.invitations import Invitations
from hub.meetings.notes import MAX_NOTE
from hub.meetings.rooms import RoomLinks, RoomLinkView, RoomRosters, RoomSettings
from hub.meetings.service import MAX_TITLE, MeetingService, MeetingView
from hub.meetings.transcript_release import TranscriptRelease
from hub.meetings.transcripts import Transcript
from hub.nodes import bot_orders as orders
from hub.web import signaling as sig
from hub.web.bot_desk import LiveDesk
from hub.web.bot_events import EventOutlet, LocalOutlet
from hub.web.bot_reach import LocalReach, Reach
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
    TRANSCRIPT_RELEASE,
)
from hub.web.room_events import RoomEvents

log = logging.getLogger(__name__)
# At a stop, how long the events already queued (the last leaves) may take to reach the bot.
DRAIN_WAIT = 2.0
# Meeting events waiting to be turned into bridge events; past that (the worker stuck on a
# store that does not answer) the newest are dropped, counted and said in one line.
MAX_BACKLOG = 10_000

Claim = asyncio.Task[Transcript | None]  # a meeting's transcript claimed at its end


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
    transcript_release: TranscriptRelease  # hands a complete transcript out once
    federation: Federation | None  # None unless [federation] names this hub


def local_hub(
    app: web.Application, outlet: EventOutlet | None = None,
    reach: Reach | None = None,
) -> LocalHub:  # fmt: skip
    """The bot's way into this hub, once the app has started (its stores are open); with
    `outlet` and `reach`, into hub nodes (hub/web/bot_host.py)."""
    return LocalHub(
        HubServices(
            config=app[CONFIG], events=app[EVENTS], meetings=app[MEETINGS],
            conferences=app[LIVE], invitations=app[INVITATIONS], room_links=app[ROOM_LINKS],
            room_settings=app[ROOM_SETTINGS], rosters=app[ROOM_ROSTERS],
            transcript_release=app[TRANSCRIPT_RELEASE], federation=app.get(FEDERATION),
        ),
        outlet,
        reach,
    )  # fmt: skip


class LocalHub:
    """`HubPort` for a bot running inside the hub process. Owns the task turning meeting
    events into bridge events (started with the first listener, or the first event the outlet
    wants); `outlet` is where they go and `reach` how orders reach a live meeting (default:
    this process, a hub alone). `close()` stops it."""

    def __init__(
        self, services: HubServices, outlet: EventOutlet | None = None,
        reach: Reach | None = None,
    ) -> None:  # fmt: skip
        self._hub = services
        self._outlet: EventOutlet = outlet or LocalOutlet()
        self._reach = reach or LocalReach(LiveDesk(services.conferences))
        self._events = RoomEvents(
            events=services.events, meetings=services.meetings, room_links=services.room_links,
            transcript_release=services.transcript_release, outlet=self._outlet,
            views=self._views, summary_names=services.config.matrix.summary_names,
        )  # fmt: skip

    async def close(self) -> None:
        """Stop carrying meeting events to the rooms (what is queued first), then the outlet."""
        await self._events.close()
        await self._outlet.close()

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
        live = await self._reach.carry(meeting_id, orders.Look())
        if not isinstance(live, orders.LiveView):  # not live: nobody in, nobody waiting
            live = None
        present, waiting = (live.present, live.waiting) if live is not None else ((), ())
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
                partner_links=await self._partner_links(link, partners),
            )
            for link in links
        ]

    async def _partner_links(
        self, link: RoomLinkView, partners: Sequence[Partner]
    ) -> tuple[PartnerLink, ...]:
        """For members whose homeserver a partner instance serves: that instance's link to
        this meeting (they join through their own ministry's hub, as themselves)."""
        federation = self._hub.federation
        if federation is None or not any(partner.matrix_homeservers for partner in partners):
            return ()  # no partner serves Matrix users: the room's members are not read
        homeservers = await self._hub.rosters.homeservers(link.room_id)
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

    async def set_locked(self, room_id: str, locked: bool, *, by: str) -> RoomMeeting:
        link = await self._link(room_id)
        if not await self._reach.carry(link.meeting_id, orders.Lock(locked, by)):
            await self._hub.meetings.set_locked(link.meeting_id, locked)  # not live: stored
        return await self._view(link)

    async def set_subtitles(self, room_id: str, on: bool, *, by: str) -> None:
        link = await self._link(room_id)
        await self._reach.carry(link.meeting_id, orders.Subtitles(on, by))

    async def set_recording(self, room_id: str, on: bool, *, by: str) -> None:
        link = await self._link(room_id)
        await self._reach.carry(link.meeting_id, orders.Recording(on, by))

    async def admit(self, room_id: str, numbers: tuple[int, ...] | None, *, by: str) -> list[str]:
        link = await self._link(room_id)
        answer = await self._reach.carry(link.meeting_id, orders.Admit(numbers, by))
        assert isinstance(answer, tuple)
        return list(answer)

    async def refuse(self, room_id: str, number: int, *, by: str, reason: str | None = None) -> str:
        link = await self._link(room_id)
        # Cut to what an order carries: longer is refused as too long by the note's own check.
        why = None if reason is None else reason[: MAX_NOTE + 1]
        answer = await self._reach.carry(link.meeting_id, orders.Refuse(number, why, by))
        assert isinstance(answer, str)
        return answer

    async def room_language(self, room_id: str) -> Language:
        stored = await self._hub.room_settings.language(room_id)
        return next((language for language in LANGUAGES if language == stored), DEFAULT_LANGUAGE)

    async def set_room_language(self, room_id: str, language: Language, *, by: str) -> None:
        await self._hub.room_settings.set_language(room_id, language, by=by)
        log.info("Matrix room language set to %s", language)

    async def mute(self, room_id: str, name: str, *, by: str) -> str:
        link = await self._link(room_id)
        answer = await self._reach.carry(link.meeting_id, orders.Mute(name[: sig.MAX_NAME], by))
        assert isinstance(answer, str)
        return answer

    async def invite(self, room_id: str, user_id: str, *, by: str) -> RoomMeeting:
        link = await self._link(room_id)
        with contextlib.suppress(Conflict):  # already invited: the same outcome
            await self._hub.invitations.invite(
                link.meeting_id, user_id, role=Role.PARTICIPANT, by=Identity.matrix(by)
            )
        return await self._view(link)

    async def post_chat(self, room_id: str, *, sender: str, name: str, text: str) -> bool:
        link = await self._hub.room_links.live_for(room_id)
        if link is None:
            return False
        chat = orders.Chat(sender, name[: sig.MAX_NAME], text[: sig.MAX_CHAT])
        return await self._reach.carry(link.meeting_id, chat) is True

    async def remember_status(self, room_id: str, meeting_id: str, event_id: str) -> None:
        await self._hub.room_links.set_status_event(room_id, MeetingId(meeting_id), event_id)

    async def update_room(self, room_id: str, members: Mapping[str, int]) -> None:
        await self._hub.rosters.update(room_id, members)

    # -- events ----------------------------------------------------------------------------

    def listen(self, listener: Listener) -> Callable[[], None]:
        return self._events.listen(listener)


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
