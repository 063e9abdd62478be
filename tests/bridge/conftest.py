"""Fixtures for the bridge tests. The real Synapse homeservers (one alone, a pair federating
over loopback TLS) are session fixtures of tests/conftest.py, shared with the browser tests."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from hub.nodes.homes import read_token
from hub.web.bridge import LocalHub
from hub.web.bridge import local_hub as in_process_hub
from tests.conftest import make_config, toml_value
from tests.support.hub_client import api_client
from tests.support.hub_server import HubServer
from tests.support.redis import RedisServer
from tests.support.synapse import Synapse

SECRET = "bot-lease-test-secret-key-0123456789abcdef012345"
NODE_LINE = re.compile(r"hub node ([0-9a-f]{12}): meetings shared")


@pytest.fixture
async def local_hub(aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[LocalHub]:
    """A running hub (no bot of its own) and its in-process bridge interface, for a bot the
    test starts and stops itself."""
    (tmp_path / "hub").mkdir()
    client, _csrf = await api_client(aiohttp_client, make_config(tmp_path / "hub"))
    hub = in_process_hub(client.app)
    yield hub
    await hub.close()


async def bot_holder(redis: RedisServer) -> str | None:
    """The node holding the lease `bot` (its token starts with the node's id)."""
    async with Redis.from_url(redis.url, decode_responses=True) as client:
        token = await client.get("lease:bot")
    return None if token is None else read_token(str(token)).node


def node_id(node: HubServer) -> str:
    found = NODE_LINE.search(node.log_path.read_text())
    assert found, node.log()
    return found.group(1)


@pytest.fixture
async def nodes(
    tmp_path: Path, synapse: Synapse, redis_server: RedisServer, postgres_url: str
) -> AsyncIterator[tuple[list[HubServer], str]]:
    """Two hub nodes, both configured with the same bot account and store folder; node 1
    started first, so it holds the lease. Yields them and the bot's user id."""
    bot = synapse.register(f"visio{secrets.token_hex(3)}")
    nodes = [HubServer(tmp_path / f"node{i}") for i in (1, 2)]
    env = {
        "HUB_REDIS__URL": redis_server.url,
        "HUB_DATABASE__URL": postgres_url,
        "HUB_SECURITY__SECRET_KEY": SECRET,
        "HUB_SERVER__PUBLIC_URL": nodes[0].base_url,
        "HUB_MATRIX__ALLOWED_HOMESERVERS": toml_value([synapse.server_name]),
        # The homeserver's client URL checks its users' OpenID tokens (a login as themselves).
        "HUB_MATRIX__HOMESERVER_OVERRIDES": toml_value({synapse.server_name: synapse.url}),
        "HUB_MATRIX__BOT_USER_ID": bot.user_id,
        "HUB_MATRIX__BOT_HOMESERVER_URL": synapse.url,
        "HUB_MATRIX__BOT_PASSWORD": bot.password,
        "HUB_MATRIX__BOT_STORE_DIR": str(tmp_path / "shared-volume" / "matrix-bot"),
    }
    for node in nodes:
        node.env.update(env)
        node.workdir.mkdir()
    try:
        await asyncio.to_thread(nodes[0].start)  # it migrates the empty database
        deadline = time.monotonic() + 10
        while await bot_holder(redis_server) != node_id(nodes[0]):
            assert time.monotonic() < deadline, nodes[0].log()
            await asyncio.sleep(0.1)
        await asyncio.to_thread(nodes[1].start)
        yield nodes, bot.user_id
    finally:
        for node in nodes:
            node.stop()
