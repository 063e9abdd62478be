"""The Matrix bot's reach across hub nodes: two `hub serve` nodes on one Redis and one
PostgreSQL against a real Synapse; the bot runs on node 1 (it holds the lease `bot`), the
room's meeting is at home on node 2 (its first person arrived there).

The home's events reach the bot through the Redis stream (the status message is edited on a
knock, an admission, a leave; the meeting's chat reaches the room); the bot's reads and orders
reach the home over the bus (`!visio status` lists who is in and who waits, `admit`, `mute`,
`record`, a `transcribe` the home refuses, the room's chat); the room's roster the bot
writes in Redis lets a room member into the restricted meeting at home on node 2 without the
lobby. Then node 1 is SIGKILLed: what the home publishes while no bot runs is carried by
node 2's bot once it takes the lease over, each line once.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import signal
import time
from typing import Any

import aiohttp
from redis.asyncio import Redis
from yarl import URL

from hub.auth.session import SessionCodec
from hub.nodes.homes import read_token
from tests.bridge.conftest import SECRET, bot_holder, node_id
from tests.bridge.people import Person, moderated_room
from tests.support.hub_client import codec_csrf_header
from tests.support.hub_server import HubServer
from tests.support.peer import Participant
from tests.support.processes import stop
from tests.support.redis import RedisServer
from tests.support.synapse import Synapse

MEETING_URL = re.compile(r"/m/([a-z0-9-]+)")


def _count(node: HubServer, text: str) -> int:
    return node.log_path.read_text(errors="replace").count(text)


async def home_of(redis: RedisServer, meeting: str) -> str | None:
    async with Redis.from_url(redis.url, decode_responses=True) as client:
        token = await client.get(f"lease:meeting:{meeting}:home")
    return None if token is None else read_token(str(token)).node


async def bot_texts(person: Person, room: str, bot_id: str) -> list[dict[str, Any]]:
    """The bot's messages in the room (edits included), oldest first."""
    events = await person.events(room, limit=200)
    return [
        event["content"]
        for event in reversed(events)
        if event["type"] == "m.room.message" and event["sender"] == bot_id
    ]


async def status_edited(person: Person, room: str, bot_id: str, what: str, check: Any) -> str:
    async def found() -> str | None:
        for content in await bot_texts(person, room, bot_id):
            text = content.get("m.new_content", {}).get("body")
            if text is not None and check(text):
                return str(text)
        return None

    text: str = await person.wait_until(found, what, timeout=20)
    return text


async def test_a_meeting_at_home_on_another_node_is_seen_and_moderated_from_the_room(
    nodes: tuple[list[HubServer], str], synapse: Synapse, redis_server: RedisServer
) -> None:
    (node1, node2), bot_id = nodes
    alice = Person(synapse, synapse.register(f"alice{secrets.token_hex(3)}"))
    bob_account = synapse.register(f"bob{secrets.token_hex(3)}")
    bob = Person(synapse, bob_account)
    room = await alice.create_room([bot_id, bob_account.user_id], **moderated_room(bot_id))
    await bob.join(room)
    await alice.wait_membership(room, bot_id, "join")

    async def ask(body: str) -> str:
        return await alice.wait_reply(room, bot_id, await alice.say(room, body))

    started = await ask("!visio start Point inter-nœuds")
    found = MEETING_URL.search(started)
    assert found, started
    meeting = found.group(1)

    # Jeanne's browser reaches node 2 only: the meeting is at home there, not on the bot's node.
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    jeanne: Participant | None = None
    try:
        await http.get(node2.base_url + "/", headers={"Accept": "text/html"})
        ws = await http.ws_connect(f"{node2.base_url}/api/v1/meetings/{meeting}/ws")
        jeanne = Participant(ws, "Jeanne Invitée")
        waiting = await jeanne.knock(audio=True, video=False, message="Experte budget")
        assert waiting["type"] == "waiting"
        assert await home_of(redis_server, meeting) == node_id(node2)
        assert await bot_holder(redis_server) == node_id(node1)

        # The knock, at home on node 2, edits the status message the bot (node 1) posted.
        await status_edited(
            alice, room, bot_id, "Jeanne shown waiting",
            lambda text: "1. Jeanne Invitée (invité) — « Experte budget »" in text,
        )  # fmt: skip
        status = await ask("!visio status")
        assert "Présents (0)" in status and "1. Jeanne Invitée (invité)" in status, status

        # The admission, decided in the room, is the home's lobby decision.
        assert await ask("!visio admit 1") == "Jeanne Invitée est entré(e)."
        await jeanne.admitted()
        await status_edited(
            alice, room, bot_id, "Jeanne shown in the call",
            lambda text: "Présents (1) : Jeanne Invitée" in text,
        )  # fmt: skip
        assert "Présents (1) : Jeanne Invitée" in await ask("!visio status")
        assert await ask("!visio mute jeanne invitée") == "Micro de Jeanne Invitée coupé."
        assert (await jeanne.wait_for("muted"))["by"] == alice.user.user_id
        # A switch the home refuses (no speech engine there): its refusal comes back.
        assert await ask("!visio transcribe on") == "Les sous-titres sont désactivés sur ce hub."
        # One the home carries out: Jeanne, in the call there, is told.
        seen = len(jeanne.messages)
        assert await ask("!visio record on") == (
            "Enregistrement démarré : tous les participants le voient."
        )
        assert (await jeanne.wait_for("recording_state", after=seen))["recording"] is True
        assert await ask("!visio record off") == (
            "Enregistrement arrêté ; les modérateurs le téléchargent depuis le hub."
        )
        nobody = await ask("!visio admit 7")
        assert nobody == "Personne n'attend sous le numéro 7 : voyez le message d'état."

        # Bob is a member of the room (the bot on node 1 wrote its roster into Redis): as
        # himself, through node 2, he enters the restricted meeting without waiting.
        async with Redis.from_url(redis_server.url, decode_responses=True) as client:
            assert await client.hget(f"room:{room}:members", bob_account.user_id) == "0"
        bob_http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        try:
            await bob_http.get(node2.base_url + "/", headers={"Accept": "text/html"})
            codec = SessionCodec(SECRET, secure=False)
            csrf = codec_csrf_header(codec, bob_http.cookie_jar, URL(node2.base_url))
            issued = await asyncio.to_thread(synapse.openid_token, bob_account)
            login = await bob_http.post(
                node2.base_url + "/auth/matrix", headers=csrf,
                json={k: issued[k] for k in ("access_token", "matrix_server_name")},
            )  # fmt: skip
            assert login.status == 200, await login.text()
            ws = await bob_http.ws_connect(f"{node2.base_url}/api/v1/meetings/{meeting}/ws")
            bob_call = Participant(ws, "Bob")
            try:
                assert (await bob_call.knock(audio=False, video=False))["type"] == "welcome"
            finally:
                await bob_call.close()
        finally:
            await bob_http.close()

        # Chat both ways between the room and the meeting at home on node 2.
        seen = len(jeanne.messages)
        await alice.say(room, "Bonjour depuis le salon")
        chat = await jeanne.wait_for("chat", timeout=20, after=seen)
        assert chat["text"] == "Bonjour depuis le salon"
        await jeanne.send({"type": "chat", "text": "Bonjour depuis le nœud 2"})

        async def chat_lines(text: str) -> list[str]:
            line = f"Jeanne Invitée : {text}"
            return [
                content["body"]
                for content in await bot_texts(alice, room, bot_id)
                if content.get("msgtype") == "m.text" and content["body"] == line
            ]

        await alice.wait_until(lambda: chat_lines("Bonjour depuis le nœud 2"), "chat in the room")

        # Hostile messages on the home's order channel: one log line each, nothing else.
        async with Redis.from_url(redis_server.url, decode_responses=True) as client:
            channel = f"node:{node_id(node2)}:bot"
            for hostile in ("not json", '{"type": "ask"}', "[" * 50_000):
                assert await client.publish(channel, hostile) == 1

        async def refusals() -> bool:
            return _count(node2, "bot order refused") == 3

        await alice.wait_until(refusals, "three refusals logged", 10)
        assert _count(node2, "Traceback") == 0

        # The bot's node dies; what the home publishes meanwhile waits in the stream.
        assert node1.process is not None
        stop(node1.process, signal.SIGKILL)
        killed = time.monotonic()
        await jeanne.send({"type": "chat", "text": "Pendant la relève"})
        await jeanne.close()  # she leaves: the status must say so once a bot runs again
        jeanne = None
        await alice.wait_until(lambda: chat_lines("Pendant la relève"), "chat after the kill", 30)
        took = time.monotonic() - killed
        print(f"node 2's bot carried the pending chat line {took:.1f} s after node 1's SIGKILL")
        assert await bot_holder(redis_server) == node_id(node2)
        await status_edited(
            alice, room, bot_id, "Jeanne gone",
            lambda text: "Présents (0)" in text and "Jeanne" not in text,
        )  # fmt: skip
        # None lost, none twice: each chat line is in the room once.
        await asyncio.sleep(2)
        for text in ("Bonjour depuis le nœud 2", "Pendant la relève"):
            assert len(await chat_lines(text)) == 1, text
    finally:
        if jeanne is not None:
            await jeanne.close()
        await http.close()
