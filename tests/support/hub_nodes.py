"""Several `hub serve` nodes of one hub: separate processes on one Redis and one PostgreSQL,
one secret key (a session cookie is good on every node) and one public URL (as behind a load
balancer: join tokens and rejoin tickets name it). Used by the node tests, in aiortc and in
Chromium, and by bench/nodes.py."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from redis import Redis

from hub.ids import MeetingId
from hub.nodes.homes import lease_name, read_token
from tests.support.hub_server import HubServer

NODE_LINE = re.compile(r"hub node ([0-9a-f]{12}): meetings shared")


def hub_nodes(
    root: Path, count: int, *, redis_url: str, postgres_url: str, secret: str,
    public_url: str | None = None, env: dict[str, str] | None = None,
) -> list[HubServer]:  # fmt: skip
    """`count` nodes in root/node1, root/node2 …, not started; the public URL is the first
    node's own unless given."""
    nodes = [HubServer(root / f"node{i}") for i in range(1, count + 1)]
    shared = {
        "HUB_REDIS__URL": redis_url,
        "HUB_DATABASE__URL": postgres_url,
        "HUB_SECURITY__SECRET_KEY": secret,
        "HUB_SERVER__PUBLIC_URL": public_url or nodes[0].base_url,
        **(env or {}),
    }
    for number, node in enumerate(nodes, 1):
        node.env.update({"HUB_SERVER__NODE_NAME": f"node-{number}", **shared})
        node.workdir.mkdir(parents=True)
    return nodes


def start_nodes(nodes: list[HubServer]) -> None:
    """The first alone (it brings the empty database's schema to head), then the others
    together; blocking. A node that fails to start raises; the caller stops them all."""
    nodes[0].start()
    with ThreadPoolExecutor(max(1, len(nodes) - 1)) as pool:
        list(pool.map(HubServer.start, nodes[1:]))


def node_id(node: HubServer) -> str:
    """The node's id (random at each start), from its log line `hub node …: meetings shared`."""
    found = NODE_LINE.search(node.log_path.read_text())
    assert found, node.log()
    return found.group(1)


def home_of(redis_url: str, meeting: str) -> str | None:
    """The id of the node holding the meeting's home lease (its token starts with it)."""
    with Redis.from_url(redis_url, decode_responses=True) as redis:
        token = redis.get(f"lease:{lease_name(MeetingId(meeting))}")
    return None if token is None else read_token(str(token)).node
