"""How the bot's reads and orders reach a live meeting: on this node's conference (a hub
alone, or a meeting at home here or nowhere), or at the meeting's home node over the bus.

Hub nodes (`[redis] url`): the asking node finds the home (`MeetingHomes.where`) and publishes
an `Ask` on the home's `node:{id}:bot` channel; the home carries the order out on its
conference with `LiveDesk`, exactly as for a bot of its own, and publishes the `Reply` (the
answer, or the refusal the room reads) on the asker's channel. A home that no longer listens
(Redis counts the receivers) and whose lease is gone is dead: the meeting is live nowhere
until someone comes back, which is what this node's empty conferences say; one whose lease
still stands lives but does not hear, and the room is told of an internal error. No reply
within `ORDER_TIMEOUT`: the room is told of an internal error (`HubFailure`), the order may
or may not have been carried out, as when a page's order crosses a failing node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Protocol

from bridge.hub_port import HubFailure, HubRefusal
from bridge.wire import refusal_from_json, refusal_to_json
from hub.errors import SharedStateUnavailable
from hub.ids import MeetingId
from hub.meetings.ids import parse_meeting_id
from hub.nodes import bot_orders as orders
from hub.nodes.homes import MeetingHomes
from hub.nodes.wire import WireError
from hub.shared.channel import ChannelReader
from hub.shared.port import SharedState, node_channel
from hub.tasks import Tasks
from hub.web.bot_desk import LiveDesk

log = logging.getLogger(__name__)

ORDER_TIMEOUT = 5.0


def bot_channel(node: str) -> str:
    return f"{node_channel(node)}:bot"


class Reach(Protocol):
    """How `LocalHub` reaches a live meeting."""

    async def carry(self, meeting: MeetingId, order: orders.Order) -> orders.Answer: ...


class LocalReach:
    """Every live meeting is on this node: the desk is asked directly."""

    def __init__(self, desk: LiveDesk) -> None:
        self._desk = desk

    async def carry(self, meeting: MeetingId, order: orders.Order) -> orders.Answer:
        return await self._desk.carry(meeting, order)

    async def close(self) -> None:
        return None


class NodeReach:
    """Owns this node's `node:{id}:bot` subscription, the orders it waits replies for, and the
    tasks answering other nodes' orders. `start()` subscribes; `close()` stops it all."""

    def __init__(self, state: SharedState, node: str, homes: MeetingHomes, desk: LiveDesk) -> None:
        self._state = state
        self._node = node
        self._homes = homes
        self._desk = desk
        self._waiting: dict[str, asyncio.Future[orders.Reply]] = {}
        self._tasks = Tasks()
        # A loss of messages: the orders waiting for a reply time out; go on.
        self._channel = ChannelReader(state, bot_channel(node), self._handle)

    async def start(self) -> None:
        await self._channel.start()

    async def close(self) -> None:
        await self._channel.close()
        self._tasks.cancel()

    async def carry(self, meeting: MeetingId, order: orders.Order) -> orders.Answer:
        """`order`'s answer from wherever the meeting lives; HubRefusal, or HubFailure when
        its home could not be asked."""
        if self._homes.holds(meeting):  # at home here (the usual case): no Redis read
            return await self._desk.carry(meeting, order)
        try:
            home = await self._homes.where(meeting)
            if home is None or home == self._node:
                return await self._desk.carry(meeting, order)
            return await self._ask(home, meeting, order)
        except SharedStateUnavailable:
            raise HubFailure("the shared state does not answer") from None

    async def _ask(
        self, home: str, meeting: MeetingId, order: orders.Order, *, again: bool = True
    ) -> orders.Answer:
        request = secrets.token_urlsafe(12)
        reply: asyncio.Future[orders.Reply] = asyncio.get_running_loop().create_future()
        self._waiting[request] = reply
        try:
            ask = orders.Ask(request, self._node, meeting, order)
            if not await self._state.publish_on(bot_channel(home), orders.to_json(ask)):
                return await self._unheard(home, meeting, order, again=again)
            async with asyncio.timeout(ORDER_TIMEOUT):
                answer = await reply
        except TimeoutError:
            raise HubFailure(f"the meeting's home node {home} did not answer") from None
        finally:
            del self._waiting[request]
        if answer.failed:
            raise HubFailure(f"the meeting's home node {home} failed to carry the order out")
        if answer.refusal is not None:
            refusal = refusal_from_json(answer.refusal)
            if refusal is None:
                raise HubFailure(f"the meeting's home node {home} sent an unknown refusal")
            raise refusal
        return answer.answer

    async def _unheard(
        self, home: str, meeting: MeetingId, order: orders.Order, *, again: bool
    ) -> orders.Answer:
        """Nobody listened on the home's channel. Its lease gone or ours: the meeting is
        live nowhere else, this node's desk answers. Still that node's: it lives but does
        not hear (HubFailure; carrying the order here would act on no meeting and say it
        did). Another node's by now: asked once."""
        now = await self._homes.where(meeting)
        if now is None or now == self._node:
            return await self._desk.carry(meeting, order)
        if now == home or not again:
            raise HubFailure(f"the meeting's home node {now} does not hear orders")
        return await self._ask(now, meeting, order, again=False)

    def _handle(self, text: str) -> None:
        try:
            message = orders.parse(text)
        except WireError as exc:
            log.warning("bot order refused: %s", exc)
            return
        match message:
            case orders.Ask():
                self._tasks.spawn(self._answer(message), name="bot order")
            case orders.Reply(request=request):
                waiting = self._waiting.get(request)
                if waiting is not None and not waiting.done():
                    waiting.set_result(message)

    async def _answer(self, ask: orders.Ask) -> None:
        meeting = parse_meeting_id(ask.meeting)
        if meeting is None:
            log.warning("bot order refused: meeting: not a meeting id")
            return
        try:
            reply = orders.Reply(ask.request, await self._desk.carry(meeting, ask.order))
        except HubRefusal as refusal:
            reply = orders.Reply(ask.request, refusal=refusal_to_json(refusal))
        except Exception:
            log.exception("bot order %s failed", ask.order.kind, extra={"meeting_id": meeting})
            reply = orders.Reply(ask.request, failed=True)
        with contextlib.suppress(SharedStateUnavailable):  # logged by the state
            await self._state.publish_on(bot_channel(ask.node), orders.to_json(reply))
