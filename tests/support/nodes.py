"""A meeting's people on several `hub serve` nodes (one Redis, one PostgreSQL), as the node
tests see them: people with their own cookie jar, the cluster's nodes and what Redis says."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from hub.auth.session import SessionCodec
from tests.support.hub_client import codec_csrf_header
from tests.support.hub_nodes import home_of, hub_nodes, node_id, start_nodes
from tests.support.hub_server import HubServer
from tests.support.peer import Participant, wait_until
from tests.support.redis import RedisServer

SECRET = "nodes-test-secret-key-0123456789abcdef0123456789"
KINDS = ("audio", "video")


@dataclass
class Person:
    """Someone with their own browser session (cookie jar), joining through any node."""

    name: str
    http: aiohttp.ClientSession
    participant: Participant | None = None
    rejoin: str | None = None

    async def connect(self, node: HubServer, meeting: str) -> Participant:
        ws = await self.http.ws_connect(f"{node.base_url}/api/v1/meetings/{meeting}/ws")
        self.participant = Participant(ws, self.name)
        return self.participant

    @property
    def p(self) -> Participant:
        assert self.participant is not None
        return self.participant


@dataclass
class Cluster:
    nodes: list[HubServer]
    redis: RedisServer
    codec: SessionCodec = field(default_factory=lambda: SessionCodec(SECRET, secure=False))
    people: list[Person] = field(default_factory=list)

    async def person(self, name: str) -> Person:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        # The session cookie is for 127.0.0.1 whatever the port: valid on every node.
        page = await http.get(self.nodes[0].base_url + "/", headers={"Accept": "text/html"})
        assert page.status == 200
        person = Person(name, http)
        self.people.append(person)
        return person

    async def meeting(self, owner: Person, access_level: str) -> str:
        url = self.nodes[0].base_url
        csrf = codec_csrf_header(self.codec, owner.http.cookie_jar, aiohttp.client.URL(url))
        created = await owner.http.post(
            url + "/api/v1/meetings", json={"title": "Inter-nœuds", "access_level": access_level},
            headers=csrf,
        )  # fmt: skip
        assert created.status == 201, await created.text()
        return str((await created.json())["id"])

    def node_id(self, node: HubServer) -> str:
        return node_id(node)

    async def home(self, meeting: str) -> str | None:
        """The node holding the meeting's home lease."""
        return await asyncio.to_thread(home_of, self.redis.url, meeting)

    async def publish(self, channel: str, *messages: str) -> None:
        async with Redis.from_url(self.redis.url, decode_responses=True) as redis:
            for message in messages:
                await redis.publish(channel, message)


async def logged(node: HubServer, text: str, timeout: float = 15) -> float:
    """When (time.monotonic()) `text` is first seen in the node's log, waiting for it."""
    await wait_until(lambda: text in node.log_path.read_text(errors="replace"), timeout, text)
    return time.monotonic()


async def come_back(person: Person, node: HubServer, meeting: str) -> int:
    """Reconnect as the page does after `restarting` (with its rejoin ticket) until welcomed;
    how many attempts it took."""
    for attempt in range(1, 30):
        await person.p.close()
        answer = await (await person.connect(node, meeting)).knock(
            rejoin=person.rejoin, or_kinds=("restarting",)
        )
        if answer["type"] == "welcome":
            return attempt
        await asyncio.sleep(0.2)
    raise AssertionError(f"{person.name} never came back")


def received_since(receiver: Participant, sender: Participant, before: dict[str, int]) -> bool:
    return all(
        receiver.received.count(sender.participant_id, kind) >= before.get(kind, 0) + 10
        for kind in KINDS
    )


def counts(receiver: Participant, sender: Participant) -> dict[str, int]:
    return {
        kind: receiver.received.count(sender.participant_id, kind) for kind in ("audio", "video")
    }


async def decoding(a: Participant, b: Participant, timeout: float, what: str) -> None:
    ab, ba = counts(a, b), counts(b, a)
    await wait_until(lambda: received_since(a, b, ab) and received_since(b, a, ba), timeout, what)


async def message(
    participant: Participant, kind: str, timeout: float = 10, **fields: object
) -> dict:
    """The first message of `kind` whose fields have these values (waiting for it)."""
    deadline = time.monotonic() + timeout
    while True:
        for found in participant.messages:
            if found["type"] == kind and all(found.get(k) == v for k, v in fields.items()):
                return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{participant.name}: no {kind} {fields} in {timeout} s")
        await asyncio.sleep(0.05)


def sees(participant: Participant, name: str) -> bool:
    """Whether `name` is in the meeting as `participant` was told (welcome, then joins)."""
    for found in participant.messages:
        if found["type"] == "welcome" and name in [p["name"] for p in found["participants"]]:
            return True
        if found["type"] == "participant_joined" and found["participant"]["name"] == name:
            return True
    return False


@asynccontextmanager
async def two_nodes(
    tmp_path: Path, redis_server: RedisServer, postgres_url: str, env: dict[str, str] | None = None
) -> AsyncIterator[Cluster]:
    """Two hub nodes on one Redis and one PostgreSQL, behind one public URL (as behind a
    load balancer: join tokens and rejoin tickets name it); `env` adds to both."""
    nodes = hub_nodes(
        tmp_path, 2, redis_url=redis_server.url, postgres_url=postgres_url, secret=SECRET, env=env
    )
    state = Cluster(nodes, redis_server)
    try:
        await asyncio.to_thread(start_nodes, nodes)
        yield state
    finally:
        for person in state.people:
            if person.participant is not None:
                await person.participant.close()
            await person.http.close()
        for node in nodes:
            node.stop()
