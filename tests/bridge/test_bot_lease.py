"""The Matrix bot on several hub nodes. In process: a node that loses the lease `bot` stops
its bot at once and starts it again when the lease is back. Then two hub nodes (separate
`hub serve` processes on one Redis, one PostgreSQL and one bot store folder, all started for
the test), against a real Synapse.

Both nodes have the bot configured; only the node holding the lease `bot` runs it, so a
command in the room gets one answer, not two. When that node is SIGKILLed, the other node
takes the lease over once its key expires and starts the bot from the shared store: the same
device and end-to-end encryption keys (it reads and answers an encrypted room) and the dead
node's sync token (a command sent while no bot ran is answered; one answered before the kill
is not answered again).
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from pathlib import Path

import pytest
from nio import RoomMessageNotice
from redis.asyncio import Redis

from bridge.session import BotConfig
from hub.shared.redis_state import RedisState
from hub.web.bot_host import BotHost
from hub.web.bridge import LocalHub
from tests.bridge.conftest import bot_holder, node_id
from tests.bridge.people import EncryptedPerson, Person, moderated_room
from tests.support.hub_server import HubServer
from tests.support.processes import stop
from tests.support.redis import RedisServer
from tests.support.synapse import Synapse

ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
STARTED = "matrix bot: starting on this node"


class Answers:
    """Every notice of the bot that replies to an event, as Alice's encrypting client
    decrypts them (event id → bodies), gathered over all her syncs."""

    def __init__(self, person: EncryptedPerson, room_id: str, bot_id: str) -> None:
        self.person, self.room_id, self.bot_id = person, room_id, bot_id
        self.to: dict[str, list[str]] = {}

    async def sync(self) -> None:
        response = await self.person.sync()
        room = response.rooms.join.get(self.room_id)
        for event in room.timeline.events if room else []:
            relation = event.source.get("content", {}).get("m.relates_to", {})
            replied = relation.get("m.in_reply_to", {}).get("event_id")
            if isinstance(event, RoomMessageNotice) and event.sender == self.bot_id and replied:
                assert event.decrypted, "the bot answered in clear in an encrypted room"
                self.to.setdefault(replied, []).append(event.body)

    async def for_a_while(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            await self.sync()

    async def wait(self, event_id: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await self.sync()
            if event_id in self.to:
                return self.to[event_id][0]
        raise AssertionError(f"no decrypted answer to {event_id} within {timeout:.0f} s")


async def test_the_bot_answers_from_one_node_and_another_takes_over_when_it_dies(
    nodes: tuple[list[HubServer], str], synapse: Synapse, redis_server: RedisServer,
    tmp_path: Path,
):  # fmt: skip
    (node1, node2), bot_id = nodes
    account = synapse.register(f"alice{secrets.token_hex(3)}")
    plain = Person(synapse, account)
    # In the clear room a second bot would answer too; in the encrypted one it could not
    # even read (the room keys go to the device once), so the store's move shows there.
    clear_room = await plain.create_room([bot_id], **moderated_room(bot_id))
    room = await plain.create_room([bot_id], initial_state=[ENCRYPTION], **moderated_room(bot_id))
    for joined in (clear_room, room):
        await plain.wait_membership(joined, bot_id, "join")
    alice = EncryptedPerson(synapse, account, tmp_path / "alice-store")
    answers = Answers(alice, room, bot_id)
    try:
        asked = await plain.say(clear_room, "!visio help")
        assert (await plain.wait_reply(clear_room, bot_id, asked)).startswith("Commandes")
        started = await alice.say(room, "!visio start Point hebdo")
        assert (await answers.wait(started, 20)).startswith("Réunion « Point hebdo » en cours")
        await answers.for_a_while(2)  # time for a second bot's answers, if one ran
        assert len(await plain.replies(clear_room, bot_id, asked)) == 1
        assert {event: len(bodies) for event, bodies in answers.to.items()} == {started: 1}
        assert STARTED in node1.log() and STARTED not in node2.log()

        assert node1.process is not None
        stop(node1.process, signal.SIGKILL)  # the bot's node
        killed = time.monotonic()
        # Said while no bot runs: the next holder resumes from the dead one's sync token.
        locked = await alice.say(room, "!visio lock")
        answer = await answers.wait(locked, 25)
        took = time.monotonic() - killed
        print(f"the bot answered from node 2 {took:.1f} s after node 1's SIGKILL")
        assert answer == "Réunion verrouillée : les nouveaux arrivants attendent dans le hall."
        assert took < 15, node2.log()
        assert await bot_holder(redis_server) == node_id(node2)
        assert STARTED in node2.log()
        # A moment more for any second answer: nothing answered before the kill is answered
        # again, and the bot kept its device (no new login).
        await answers.for_a_while(2)
        assert {event: len(bodies) for event, bodies in answers.to.items()} == {
            started: 1, locked: 1
        }, answers.to  # fmt: skip
        assert len(await plain.replies(clear_room, bot_id, asked)) == 1
        assert "logged in as" not in node2.log() and "restored device" in node2.log()
    finally:
        await alice.close()


async def test_a_node_that_loses_the_bot_lease_stops_its_bot_and_resumes_when_it_is_back(
    synapse: Synapse, redis_server: RedisServer, local_hub: LocalHub, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
):  # fmt: skip
    account = synapse.register(f"visio{secrets.token_hex(3)}")
    config = BotConfig(
        homeserver_url=synapse.url, user_id=account.user_id, password=account.password,
        data_dir=tmp_path / "data", allowed_homeservers=(synapse.server_name,),
    )  # fmt: skip
    alice = Person(synapse, synapse.register(f"alice{secrets.token_hex(3)}"))
    state = RedisState(redis_server.url)
    await state.start()
    redis = Redis.from_url(redis_server.url, decode_responses=True)
    host = asyncio.create_task(BotHost(config, local_hub, state, "node-a").run())
    try:
        room = await alice.create_room([account.user_id])
        await alice.wait_membership(room, account.user_id, "join")
        asked = await alice.say(room, "!visio help")
        await alice.wait_reply(room, account.user_id, asked)
        assert str(await redis.get("lease:bot")).startswith("node-a.")

        # Another node holds the key now (as when this one stalled past its TTL): the next
        # renewal (within 3 s) is refused and the bot stops, leaving that node's key alone.
        await redis.set("lease:bot", "node-b.other", px=60_000)
        taken = time.monotonic()

        def stopped() -> bool:
            return any("matrix bot: stopped on this node" in r.message for r in caplog.records)

        while not stopped():
            assert time.monotonic() - taken < 4, "the bot still runs without the lease"
            await asyncio.sleep(0.05)
        meanwhile = await alice.say(room, "!visio help")
        await asyncio.sleep(2)
        assert await alice.replies(room, account.user_id, meanwhile) == []
        assert await redis.get("lease:bot") == "node-b.other"

        await redis.delete("lease:bot")  # the other node is gone and let its lease go
        # This node takes the lease again and its bot resumes from its sync token.
        await alice.wait_reply(room, account.user_id, meanwhile)
        assert len(await alice.replies(room, account.user_id, asked)) == 1
    finally:
        host.cancel()
        await asyncio.gather(host, return_exceptions=True)
        remaining = await redis.get("lease:bot")
        await redis.aclose()
        await state.close()
    assert remaining is None  # let go when the node stops: another takes over at once
