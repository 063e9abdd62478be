"""Two `hub serve` nodes, each its own process, on one Redis started for the test: a signed
request accepted by one node is a replay on the other, a rate limit counts requests to both,
and a Redis that goes away gives a clear 503 while the nodes live on. Then leases and meeting
messages between processes (tests/support/shared_node.py), and a node refusing to start
without its Redis."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from hub.federation.keys import InstanceKeys
from hub.web.keys import FEDERATION
from tests.federation.conftest import PING, hub_config, serving, signed
from tests.support.hub_server import HubServer
from tests.support.processes import free_port, start, stop
from tests.support.redis import RedisServer

LOGIN = "/auth/login/nobody"  # an unknown provider: 404, but counted by the login limit
JSON = {"Accept": "application/json"}


@dataclass
class Nodes:
    b1: HubServer
    b2: HubServer
    a_keys: InstanceKeys
    http: aiohttp.ClientSession

    async def get(self, node: HubServer, path: str, **kwargs: object) -> tuple[int, dict]:
        async with self.http.get(node.base_url + path, allow_redirects=False, **kwargs) as answer:
            body = await answer.json() if answer.content_type.endswith("json") else {}
            return answer.status, {**body, "retry-after": answer.headers.get("Retry-After")}

    def ping_headers(self) -> dict[str, str]:
        return {**signed(self.a_keys, destination="hub-b.test"), **JSON}


@pytest.fixture
async def nodes(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Nodes]:
    """Partner hub A in this process; two nodes of hub B on one Redis, login limit 3/min."""
    a_port = free_port()
    partners = f'[{{server_name = "hub-a.test", base_url = "http://127.0.0.1:{a_port}"}}]'
    env = {
        "HUB_REDIS__URL": redis_server.url,
        "HUB_FEDERATION__SERVER_NAME": "hub-b.test",
        "HUB_FEDERATION__ALLOW_PRIVATE_NETWORKS": "true",
        "HUB_FEDERATION__PARTNERS": partners,
        "HUB_LIMITS__LOGIN_PER_MINUTE": "3",
    }
    b1, b2 = (HubServer(tmp_path / name, env=env) for name in ("b1", "b2"))
    for node in (b1, b2):
        node.workdir.mkdir()
    async with serving(hub_config(tmp_path, "hub-a.test", a_port)) as a:
        try:
            await asyncio.gather(asyncio.to_thread(b1.start), asyncio.to_thread(b2.start))
            async with aiohttp.ClientSession() as http:
                yield Nodes(b1, b2, a[FEDERATION].keys, http)
        finally:
            b1.stop()
            b2.stop()


async def test_nonces_and_rate_limits_are_shared_between_nodes(nodes: Nodes):
    headers = nodes.ping_headers()
    assert (await nodes.get(nodes.b1, PING, headers=headers))[0] == 200
    status, body = await nodes.get(nodes.b2, PING, headers=headers)
    assert (status, body["code"]) == (401, "replayed"), body
    assert (await nodes.get(nodes.b2, PING, headers=nodes.ping_headers()))[0] == 200

    for node in (nodes.b1, nodes.b2, nodes.b1):
        assert (await nodes.get(node, LOGIN, headers=JSON))[0] == 404
    status, body = await nodes.get(nodes.b2, LOGIN, headers=JSON)
    assert (status, body["code"]) == (429, "rate_limited"), body
    assert 55 <= int(body["retry-after"]) <= 60


async def test_redis_killed_gives_503_and_the_nodes_live_on(
    nodes: Nodes, redis_server: RedisServer
):
    redis_server.kill()
    for _ in range(3):
        status, body = await nodes.get(nodes.b1, LOGIN, headers=JSON)
        assert (status, body["code"]) == (503, "shared_state_unavailable"), body
        assert "son état partagé ne répond pas" in body["detail"]
    status, body = await nodes.get(nodes.b2, PING, headers=nodes.ping_headers())
    assert (status, body["code"]) == (503, "shared_state_unavailable"), body
    async with nodes.http.get(nodes.b1.base_url + LOGIN, headers={"Accept": "text/html"}) as page:
        assert page.status == 503
        assert "son état partagé ne répond pas" in await page.text()
    assert (await nodes.get(nodes.b1, "/health/live"))[0] == 200
    assert nodes.b1.process.poll() is None and nodes.b2.process.poll() is None

    redis_server.start()  # same port: the nodes reconnect by themselves
    assert (await nodes.get(nodes.b1, LOGIN, headers=JSON))[0] == 404
    log = nodes.b1.log_path.read_text()
    assert log.count("does not answer") == 1, log  # once per outage, not per request
    assert "answers again" in log and "Traceback" not in log


def test_a_node_without_its_redis_refuses_to_start_in_one_line(tmp_path: Path):
    port = free_port()
    node = HubServer(tmp_path, env={"HUB_REDIS__URL": f"redis://:Pw-9xq@127.0.0.1:{port}/0"})
    with pytest.raises(RuntimeError, match="the hub exited with 1"):
        node.start()
    log = node.log_path.read_text()
    assert f"hub: cannot start: redis.url: cannot reach redis://***@127.0.0.1:{port}/0: " in log
    assert "Pw-9xq" not in log and "Traceback" not in log


# --- leases and meeting messages between processes --------------------------------------------


def shared_node(tmp_path: Path, name: str, url: str, *args: str) -> subprocess.Popen[bytes]:
    return start(
        [sys.executable, "-m", "tests.support.shared_node", url, *args],
        log_path=tmp_path / f"{name}.log",
        cwd=Path(__file__).resolve().parent.parent,
    )


def wait_line(path: Path, line: str, timeout: float) -> float:
    """Seconds until `line` appears in the log at `path`; AssertionError after `timeout`."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if path.exists() and line in path.read_text().splitlines():
            return time.monotonic() - began
        time.sleep(0.05)
    raise AssertionError(f"{line!r} not in {path.name} within {timeout} s: {path.read_text()!r}")


def test_a_lease_is_taken_over_within_its_ttl_after_its_holder_is_killed(
    tmp_path: Path, redis_server: RedisServer
):
    ttl = 2.0
    holder = shared_node(tmp_path, "holder", redis_server.url, "lease", "bot", str(ttl))
    other = None
    try:
        wait_line(tmp_path / "holder.log", "held", 10)
        other = shared_node(tmp_path, "other", redis_server.url, "lease", "bot", str(ttl))
        time.sleep(ttl * 1.5)  # longer than the ttl: the holder keeps it by renewing
        assert "held" not in (tmp_path / "other.log").read_text()
        stop(holder, signal.SIGKILL)
        took = wait_line(tmp_path / "other.log", "held", ttl + 2)
        assert took <= ttl + 0.5, took  # the key expires at most ttl after the last renewal
    finally:
        stop(holder)
        if other is not None:
            stop(other)


def test_meeting_messages_cross_processes(tmp_path: Path, redis_server: RedisServer):
    listeners = [
        shared_node(tmp_path, f"listener{i}", redis_server.url, "listen", "abc-defg-hij")
        for i in range(2)
    ]
    try:
        for i in range(2):
            wait_line(tmp_path / f"listener{i}.log", "subscribed", 10)
        for text in ("bonjour", "au revoir"):
            publisher = shared_node(
                tmp_path, "publisher", redis_server.url, "publish", "abc-defg-hij", text
            )
            assert publisher.wait(10) == 0
        other = shared_node(tmp_path, "other", redis_server.url, "publish", "xyz-wxyz-xyz", "no")
        assert other.wait(10) == 0
        for i in range(2):
            wait_line(tmp_path / f"listener{i}.log", "message au revoir", 5)
            lines = (tmp_path / f"listener{i}.log").read_text().splitlines()
            assert lines == ["subscribed", "message bonjour", "message au revoir"]
    finally:
        for listener in listeners:
            stop(listener)
