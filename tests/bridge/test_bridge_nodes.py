"""The bot run alone (`hub bridge`) with two hub nodes: a real Synapse, Redis and PostgreSQL,
two `hub serve` nodes with a bridge token, the bridge pointed at node 1 only, the room's
meeting at home on node 2 (its first person arrived there).

Node 1's bridge API reaches the meeting at its home: the knock and the admission at home edit
the status message (the events come through the bot's stream, read by node 1's event socket),
`!visio status` lists who waits and who is in, `!visio admit` lets Jeanne in at home. Then
the bridge stops; what happens meanwhile waits in the stream and is carried, once, by the
bridge started again against node 2 (node 1 let the lease `bot` go with its socket).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.bridge.conftest import SECRET, bot_holder, node_id
from tests.bridge.people import Person, moderated_room
from tests.bridge.test_bot_nodes import bot_texts, home_of, status_edited
from tests.conftest import toml_value
from tests.support.hub_server import HubServer
from tests.support.peer import Participant
from tests.support.redis import RedisServer
from tests.support.synapse import Synapse

MEETING_URL = re.compile(r"/m/([a-z0-9-]+)")
TOKEN = secrets.token_urlsafe(40)


async def run_bridge(tmp_path: Path, synapse: Synapse, bot: Any, hub_url: str) -> Any:
    """`hub bridge` as an operator starts it, against `hub_url`."""
    config = tmp_path / "bot.toml"
    config.write_text(
        "[server]\ndev = true\n"
        f"data_dir = {toml_value(str(tmp_path / 'bot'))}\n"
        '[logging]\nformat = "text"\n[matrix]\n'
        f"bot_user_id = {toml_value(bot.user_id)}\n"
        f"bot_homeserver_url = {toml_value(synapse.url)}\n"
        f"bot_password = {toml_value(bot.password)}\n"
        f"allowed_homeservers = {toml_value([synapse.server_name])}\n"
        f"bridge_token = {toml_value(TOKEN)}\n"
        f"hub_url = {toml_value(hub_url)}\n",
        encoding="utf-8",
    )
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", "bridge", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def stopped(process: Any) -> str:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    output: str = (await asyncio.wait_for(process.communicate(), 20))[0].decode()
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    assert TOKEN not in output
    return output


async def test_the_bot_run_alone_reaches_a_meeting_at_home_on_another_node(
    tmp_path: Path, synapse: Synapse, redis_server: RedisServer, postgres_url: str
) -> None:
    nodes = [HubServer(tmp_path / f"node{i}") for i in (1, 2)]
    for node in nodes:
        node.env.update({
            "HUB_REDIS__URL": redis_server.url,
            "HUB_DATABASE__URL": postgres_url,
            "HUB_SECURITY__SECRET_KEY": SECRET,
            "HUB_SERVER__PUBLIC_URL": nodes[0].base_url,
            "HUB_MATRIX__BRIDGE_TOKEN": TOKEN,
        })  # fmt: skip
        node.workdir.mkdir()
    bot = synapse.register(f"visio{secrets.token_hex(3)}")
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    bridge = None
    jeanne: Participant | None = None
    node1, node2 = nodes
    try:
        await asyncio.to_thread(node1.start)  # it migrates the empty database
        await asyncio.to_thread(node2.start)
        bridge = await run_bridge(tmp_path, synapse, bot, node1.base_url)
        alice = Person(synapse, synapse.register(f"alice{secrets.token_hex(3)}"))
        room = await alice.create_room([bot.user_id], **moderated_room(bot.user_id))
        await alice.wait_membership(room, bot.user_id, "join")

        async def ask(body: str) -> str:
            return await alice.wait_reply(room, bot.user_id, await alice.say(room, body))

        found = MEETING_URL.search(await ask("!visio start Point inter-nœuds"))
        assert found
        meeting = found.group(1)

        # Jeanne's browser reaches node 2 only: the meeting is at home there.
        await http.get(node2.base_url + "/", headers={"Accept": "text/html"})
        ws = await http.ws_connect(f"{node2.base_url}/api/v1/meetings/{meeting}/ws")
        jeanne = Participant(ws, "Jeanne Invitée")
        assert (await jeanne.knock(audio=True, video=False, message="Budget"))["type"] == "waiting"
        assert await home_of(redis_server, meeting) == node_id(node2)
        assert await bot_holder(redis_server) == node_id(node1)  # the bridge's event socket

        await status_edited(
            alice, room, bot.user_id, "Jeanne shown waiting",
            lambda text: "1. Jeanne Invitée (invité) — « Budget »" in text,
        )  # fmt: skip
        status = await ask("!visio status")
        assert "Présents (0)" in status and "1. Jeanne Invitée (invité)" in status, status
        assert await ask("!visio admit 1") == "Jeanne Invitée est entré(e)."
        await jeanne.admitted()
        await status_edited(
            alice, room, bot.user_id, "Jeanne shown in the call",
            lambda text: "Présents (1) : Jeanne Invitée" in text,
        )  # fmt: skip
        assert "Présents (1) : Jeanne Invitée" in await ask("!visio status")

        async def chat_lines(text: str) -> list[str]:
            line = f"Jeanne Invitée : {text}"
            return [
                content["body"]
                for content in await bot_texts(alice, room, bot.user_id)
                if content.get("msgtype") == "m.text" and content["body"] == line
            ]

        await jeanne.send({"type": "chat", "text": "Avant la pause"})
        await alice.wait_until(lambda: chat_lines("Avant la pause"), "chat in the room")

        # The bridge stops; Jeanne writes and leaves meanwhile: the stream keeps both.
        await stopped(bridge)
        bridge = None
        await jeanne.send({"type": "chat", "text": "Pendant la pause"})
        await jeanne.close()
        jeanne = None
        # Started again against node 2: node 1 let the lease go with its socket.
        bridge = await run_bridge(tmp_path, synapse, bot, node2.base_url)
        await alice.wait_until(lambda: chat_lines("Pendant la pause"), "chat kept meanwhile", 30)
        assert await bot_holder(redis_server) == node_id(node2)
        await status_edited(
            alice, room, bot.user_id, "Jeanne gone",
            lambda text: "Présents (0)" in text and "Jeanne" not in text,
        )  # fmt: skip
        await asyncio.sleep(2)  # nothing carried twice (each entry acknowledged once carried)
        for text in ("Avant la pause", "Pendant la pause"):
            assert len(await chat_lines(text)) == 1, text
        for node in nodes:
            assert "Traceback" not in node.log_path.read_text(errors="replace"), node.log()
        reads = "this node reads the bot's stream for the bridge"
        assert node1.log_path.read_text().count(reads) == 1, node1.log()
        assert node2.log_path.read_text().count(reads) == 1, node2.log()
    finally:
        if jeanne is not None:
            await jeanne.close()
        await http.close()
        if bridge is not None:
            print(await stopped(bridge))
        for node in nodes:
            node.stop()
