"""Every cascade link of this hub, and our side of links to meetings partners host.

The hosting side keeps, per meeting and partner, the open link and who the partner may bring
in (its admissions). The partner side keeps one `OutboundLink` per mirrored meeting: opened
when our first person asks to join, reopened with backoff after a failure (our people are
told the link was lost, then restored), closed when none of our people is left or waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Literal

from aiohttp import web

from hub.db.models import Role
from hub.errors import Forbidden, HubError, NotFound, ServiceUnavailable
from hub.i18n import Text
from hub.ids import Identity, MeetingId, ServerName
from hub.meetings.events import MeetingEnded, MeetingEvent
from hub.meetings.notices import Ended, LinkState
from hub.meetings.presence import Verdict
from hub.meetings.service import MeetingView
from hub.tasks import Tasks
from hub.web.keys import ADMISSIONS, EVENTS, FEDERATION, LIVE, MEDIA, MEETINGS, NODES

from . import messages as m
from .client import MeetingGone, PartnerRefusedUs, PartnerUnknown
from .link import LinkServices, LinkSocket, MeetingLink
from .policy import Partner

log = logging.getLogger(__name__)

RECONNECT_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
CONNECT_WAIT = 10.0
PARTNER_CHECK = 5.0  # seconds between checks that each linked partner is still one
# A handed-over meeting's partner presences still open this long after the new home took
# it (or after the partner's link came back without a roster) are closed: those people left.
SETTLE_WAIT = 30.0


class CascadeLinks:
    """Every cascade link of this hub: the ones partners opened to meetings we host, and the
    ones we keep open to meetings partners host (one per meeting and instance pair)."""

    def __init__(self, services: LinkServices) -> None:
        self.services = services
        self.hosted: dict[tuple[MeetingId, ServerName], MeetingLink] = {}
        # Who each partner may bring into each of our meetings (kept across link restarts).
        self.admitted: dict[tuple[MeetingId, ServerName], dict[Identity, Role]] = {}
        self.outbound: dict[MeetingId, OutboundLink] = {}
        # Who was let back only because their presence row was still open (not admitted here).
        self._carried: dict[tuple[MeetingId, ServerName], set[Identity]] = {}
        self._tasks = Tasks()

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a task that lives as long as this hub."""
        self._tasks.spawn(coroutine)

    def admit(
        self, meeting_id: MeetingId, partner: ServerName, identity: Identity, role: Role
    ) -> None:
        self.admitted.setdefault((meeting_id, partner), {})[identity] = role
        self._carried.get((meeting_id, partner), set()).discard(identity)

    async def serve_inbound(
        self, meeting: MeetingView, partner: ServerName, label: str, ws: LinkSocket
    ) -> None:
        """Serve a link a partner opened to a meeting we host, until it closes."""
        key = (meeting.id, partner)
        admitted = self.admitted.setdefault(key, {})
        # Those of the partner's people whose presence is still open (the meeting's last home
        # node died under them) were admitted there: they come back with the link.
        for identity, role in (await self.services.meetings.open_via(meeting.id, partner)).items():
            if identity not in admitted:
                admitted[identity] = role
                self._carried.setdefault(key, set()).add(identity)
        link = MeetingLink(
            self.services, meeting, partner, label, ws, hosting=True, admitted=admitted
        )
        previous, self.hosted[key] = self.hosted.get(key), link
        if previous is not None:  # the partner reconnected before we noticed the old one die
            await previous.give_way()
        settling = asyncio.ensure_future(self._settle(link))
        try:
            await link.run()
        finally:
            settling.cancel()
            if self.hosted.get(key) is link:
                del self.hosted[key]

    async def _settle(self, link: MeetingLink) -> None:
        """Once the partner's link said whom it brings (or SETTLE_WAIT passed), its people
        whose presence rows an earlier home left open and who are not among them left
        meanwhile: their rows are closed, and they are not let back without an admission."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(link.rostered.wait(), SETTLE_WAIT)
        await self.close_left_behind(link.meeting_id, link.partner)

    def settle_later(self, meeting_id: MeetingId, still_home: Callable[[], bool]) -> None:
        """This node took the meeting over: partners whose links do not come back within
        SETTLE_WAIT have no one in it any more (unless the meeting moved on meanwhile: its
        new home decides)."""

        async def later() -> None:
            await asyncio.sleep(SETTLE_WAIT)
            if still_home():
                await self.close_left_behind(meeting_id)

        self._tasks.spawn(later())

    async def close_left_behind(
        self, meeting_id: MeetingId, partner: ServerName | None = None
    ) -> int:
        """Close the open presences of a partner's people (every partner's without `partner`)
        that no link here carries; how many."""
        carried = {
            pid for (at, _), link in self.hosted.items() if at == meeting_id
            for pid in link.remote_ids
        }  # fmt: skip
        try:
            rows = await self.services.meetings.open_presences_via(meeting_id, partner)
            gone = {pid: row for pid, row in rows.items() if pid not in carried}
            for pid in gone:
                await self.services.meetings.record_leave(meeting_id, pid)
        except Exception:  # the database is away: the rows wait for the meeting's end
            log.exception("cannot close the presences partners left behind",
                          extra={"meeting_id": meeting_id})  # fmt: skip
            return 0
        for via, identity in gone.values():
            if identity in self._carried.get((meeting_id, via), set()):
                self._carried[(meeting_id, via)].discard(identity)
                self.admitted.get((meeting_id, via), {}).pop(identity, None)
        if gone:
            log.info("%d presence(s) of partners' people who left during a hand-over closed",
                     len(gone), extra={"meeting_id": meeting_id})  # fmt: skip
        return len(gone)

    def outbound_for(self, meeting: MeetingView, label: str) -> OutboundLink:
        link = self.outbound.get(meeting.id)
        if link is None or link.finished:
            link = self.outbound[meeting.id] = OutboundLink(self, meeting, label)
        return link

    async def release(self, meeting_id: MeetingId) -> None:
        """One of our people left a partner's meeting or stopped waiting: its link closes
        when nobody needs it any more."""
        outbound = self.outbound.get(meeting_id)
        if outbound is not None:
            await outbound.release_if_unused()

    async def watch_partners(self, partners: Callable[[], Awaitable[list[Partner]]]) -> None:
        """Close the links of partners taken off the allow-list (`hub federation remove`)
        while their people were in, and ours to partners whose meetings our people may no
        longer join: no meeting keeps a partner we no longer trust."""
        while True:
            await asyncio.sleep(PARTNER_CHECK)
            if not self.hosted and not self.outbound:
                continue
            try:
                await self._check_partners({p.server_name: p for p in await partners()})
            except Exception:  # the database is away: keep the links, ask again later
                log.exception("cannot check the partners of the cascade links")

    async def _check_partners(self, partners: dict[ServerName, Partner]) -> None:
        for (meeting_id, partner), link in list(self.hosted.items()):
            if partner not in partners:
                log.warning(
                    "partner %s was removed: closing its cascade link", partner,
                    extra={"meeting_id": meeting_id},
                )  # fmt: skip
                self.admitted.pop((meeting_id, partner), None)
                await link.close()
        for meeting_id, outbound in list(self.outbound.items()):
            host = partners.get(outbound.host)
            if host is None or not host.outbound_allowed:
                log.warning(
                    "partner %s may no longer host our people: leaving its meeting",
                    outbound.host, extra={"meeting_id": meeting_id},
                )  # fmt: skip
                await outbound.stop()

    async def on_event(self, event: MeetingEvent) -> None:
        """A meeting we host ended: tell every partner, then let their links go."""
        if not isinstance(event, MeetingEnded):
            return
        for (meeting_id, _), link in list(self.hosted.items()):
            if meeting_id == event.meeting_id:
                await link.send(m.Ended(type="ended"))
                await link.close()
        for key in [key for key in self.admitted if key[0] == event.meeting_id]:
            del self.admitted[key]
            self._carried.pop(key, None)
        outbound = self.outbound.pop(event.meeting_id, None)
        if outbound is not None:
            # Often called from the link's own task (the host said "ended"): stop it apart.
            self.spawn(outbound.stop())

    async def farewell(self, within: float, *, meeting: MeetingId | None = None) -> None:
        """This hub is stopping (or, with `meeting`, no longer that meeting's home node):
        each partner whose people are in one of our meetings is told (its people see "<our
        hub> restarts" instead of a lost link), then let go; all at once, and never longer
        than `within` seconds (a partner cut off is not waited for). The meeting is handed
        over, to this hub restarted or to another of its nodes: the partner's people keep
        their presences, and the next home lets them back when their link returns."""

        async def goodbye(link: MeetingLink) -> None:
            link.hand_over()
            with contextlib.suppress(Exception):
                await link.send(m.Restarting(type="restarting"))
            await link.close()

        links = [link for (at, _), link in self.hosted.items() if meeting in (None, at)]
        if not links:
            return
        _, late = await asyncio.wait(
            [asyncio.ensure_future(goodbye(link)) for link in links], timeout=within
        )
        for task in late:
            task.cancel()

    async def close(self) -> None:
        self._tasks.cancel()
        for outbound in list(self.outbound.values()):
            await outbound.stop()
        for link in list(self.hosted.values()):
            await link.close()


Connect = Callable[[MeetingView], Awaitable[LinkSocket]]


class OutboundLink:
    """Our side of the link to a meeting a partner hosts: opened when our first person asks
    to join, reopened with backoff after a failure (our people are told), closed when none of
    our people is left or waiting."""

    def __init__(self, links: CascadeLinks, meeting: MeetingView, label: str) -> None:
        self.links = links
        self.conferences = links.services.conferences
        self.meeting = meeting
        self.label = label
        self.current: MeetingLink | None = None
        self.finished = False
        self._asking = 0  # people between asking the host and its answer (or entering)
        # Lobby tickets of our people, shared by the successive links to the host.
        self.tickets: dict[str, asyncio.Future[Verdict]] = {}
        self._up = asyncio.Event()
        self._refused = asyncio.Event()  # the host answered 401/403/404 to our last attempt
        self._refusal: HubError | None = None
        self._task: asyncio.Task[None] | None = None
        self._failures = 0

    @property
    def host(self) -> ServerName:
        assert self.meeting.host_instance is not None
        return self.meeting.host_instance

    async def ready(self, connect: Connect) -> MeetingLink:
        """The open link, waiting (up to CONNECT_WAIT) for it to open."""
        if self.finished:
            raise ServiceUnavailable(text=Text("error.federation.link_closing"))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._serve(connect), name=f"cascade {self.meeting.id}"
            )
        waits = [asyncio.ensure_future(event.wait()) for event in (self._up, self._refused)]
        try:
            await asyncio.wait(waits, timeout=CONNECT_WAIT, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        if self._up.is_set() and self.current is not None:
            return self.current
        if self._refused.is_set() and isinstance(self._refusal, MeetingGone):
            raise NotFound(text=Text("error.federation.host_ended"))
        if self._refused.is_set():
            raise Forbidden(text=Text("error.federation.host_refuses_us"))
        raise ServiceUnavailable(text=Text("error.federation.host_silent"))

    def wanted(self) -> bool:
        live = self.conferences.get(self.meeting.id)
        ours = 0
        if live is not None:
            ours = live.own_people()
        waiting = any(not verdict.done() for verdict in self.tickets.values())
        return ours > 0 or self._asking > 0 or waiting

    async def _serve(self, connect: Connect) -> None:
        try:
            while True:
                try:
                    ws = await connect(self.meeting)
                except Exception as exc:
                    if isinstance(exc, PartnerRefusedUs | PartnerUnknown | MeetingGone):
                        self._refusal = exc
                        self._refused.set()
                    if isinstance(exc, PartnerRefusedUs) and exc.removed_us:
                        await self._partner_removed_us(exc)
                        return
                    self._failures += 1
                    if self._failures == 1:
                        log.warning(
                            "cannot open the cascade link to %s: %s", self.host, exc,
                            extra={"meeting_id": self.meeting.id},
                        )  # fmt: skip
                else:
                    restored = self._failures > 0 or self.current is not None
                    self._failures = 0
                    self._refused.clear()
                    link = self.current = MeetingLink(
                        self.links.services, self.meeting, self.host, self.label, ws,
                        hosting=False,
                        tickets=self.tickets,
                    )  # fmt: skip
                    self._up.set()
                    if restored:
                        await self._tell("restored")
                    try:
                        await link.run()
                    finally:
                        self._up.clear()
                    if not self.wanted():
                        return
                    await self._tell("restarting" if link.partner_restarting else "lost")
                    self._failures = 1
                if not self.wanted() and self._failures > len(RECONNECT_DELAYS):
                    return
                delay = RECONNECT_DELAYS[min(self._failures, len(RECONNECT_DELAYS)) - 1]
                await asyncio.sleep(delay)
        finally:
            self.finished = True
            self._up.clear()
            if self.links.outbound.get(self.meeting.id) is self:
                del self.links.outbound[self.meeting.id]

    async def _partner_removed_us(self, refusal: PartnerRefusedUs) -> None:
        """The host took us off its allow-list: retrying cannot help, so our people in its
        meeting are told it is closed to them, naming the host, and disconnected for good
        (the page does not come back on that close code). The mirror stays: if the host
        lists us again, its link works again."""
        log.warning(
            "partner %s no longer accepts this hub: closing its meeting for our people (%s)",
            self.host, refusal.detail, extra={"meeting_id": self.meeting.id},
        )  # fmt: skip
        await self.conferences.end_all(self.meeting.id, Ended("partner_removed", self.label))

    async def _tell(self, state: Literal["lost", "restarting", "restored"]) -> None:
        live = self.conferences.get(self.meeting.id)
        if live is not None:
            await live.link_state(LinkState(state, self.label))

    @contextlib.asynccontextmanager
    async def asking(self) -> AsyncIterator[None]:
        """While one of our people asks the host to let them in: the link stays wanted."""
        self._asking += 1
        try:
            yield
        finally:
            self._asking -= 1

    async def release_if_unused(self) -> None:
        """After one of our people left or stopped waiting: close when nobody needs it."""
        if not self.wanted():
            await self.stop()

    async def stop(self) -> None:
        self.finished = True  # from now on a join gets a new OutboundLink, never this one
        task, self._task = self._task, None
        if self.current is not None:
            await self.current.close()
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


CASCADE = web.AppKey("cascade", CascadeLinks)


async def cascade_context(app: web.Application) -> AsyncIterator[None]:
    """The links of this hub: made at start, told when meetings end, all closed at shutdown."""
    services = LinkServices(app[LIVE], app[MEDIA], app[MEETINGS], app[ADMISSIONS])
    links = app[CASCADE] = CascadeLinks(services)
    unsubscribe = app[EVENTS].subscribe(links.on_event)
    federation = app.get(FEDERATION)
    if federation is not None:
        links.spawn(links.watch_partners(federation.policy.all))
    relay = app.get(NODES)

    def took_over(meeting: MeetingId) -> None:
        assert relay is not None
        links.settle_later(meeting, lambda: relay.homes.holds(meeting))

    if relay is not None:
        relay.took_over_hooks.append(took_over)
    try:
        yield
    finally:
        unsubscribe()
        if relay is not None:
            relay.took_over_hooks.remove(took_over)
        await links.close()
