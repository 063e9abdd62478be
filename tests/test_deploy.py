"""The shipped deployment, for real: deploy/nginx/hub.conf (its node addresses, port and
certificate replaced by the test's) in front of two `hub serve` nodes on one PostgreSQL and
one Redis.

Requests and meeting WebSockets reach both nodes through nginx; `hub drain` on the node that
holds a connected aiortc participant sends them back through nginx to the other node, in
their meeting again; the stopped node is skipped without an error reaching anyone. The
systemd units are checked by `systemd-analyze verify` where it exists.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from hub.auth.session import SessionCodec
from tests.conftest import skip_or_fail
from tests.support.hub_client import codec_csrf_header
from tests.support.hub_server import HubServer
from tests.support.nginx import nginx_binary
from tests.support.peer import Participant, wait_until
from tests.support.processes import free_port, start, stop, wait_for_port
from tests.support.redis import RedisServer
from tests.support.tls import self_signed_certificate

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SECRET = secrets.token_urlsafe(40)

# What the operator writes around deploy/nginx/hub.conf: nginx's own main file. Here in a
# prefix folder, one process, stopped by its pid.
MAIN = """\
daemon off;
master_process off;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log {root}/access.log;
  client_body_temp_path {root}/temp/body;
  proxy_temp_path {root}/temp/proxy;
  fastcgi_temp_path {root}/temp/fastcgi;
  uwsgi_temp_path {root}/temp/uwsgi;
  scgi_temp_path {root}/temp/scgi;
  include {root}/hub.conf;
}}
"""


def shipped_nginx_config(port: int, nodes: list[int], certificate: Path, key: Path) -> str:
    """deploy/nginx/hub.conf with the test's port, node ports and certificate."""
    text = (DEPLOY / "nginx" / "hub.conf").read_text()
    replacements = [
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;"),
        (r"\n\s*listen \[::\]:443 ssl;", ""),
        (r"server 10\.0\.0\.11:8080", f"server 127.0.0.1:{nodes[0]}"),
        (r"server 10\.0\.0\.12:8080", f"server 127.0.0.1:{nodes[1]}"),
        (r"/etc/ssl/visio/fullchain\.pem", str(certificate)),
        (r"/etc/ssl/visio/privkey\.pem", str(key)),
    ]
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text)
        expected = 2 if pattern.startswith("server ") else 1  # nodes are in both upstreams
        assert count == expected, f"deploy/nginx/hub.conf: {pattern!r} {count} times"
    return text


@dataclass
class Deployment:
    nodes: list[HubServer]
    url: str
    tls: ssl.SSLContext

    def node_named(self, name: str) -> HubServer:
        return next(node for node in self.nodes if node.env["HUB_SERVER__NODE_NAME"] == name)


@pytest.fixture
async def deployment(
    tmp_path: Path, postgres_url: str, redis_server: RedisServer
) -> AsyncIterator[Deployment]:
    binary = nginx_binary()
    if binary is None:
        skip_or_fail("nginx not found (apt package nginx)")
    assert binary is not None
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    nodes = []
    for name in ("node-1", "node-2"):
        folder = tmp_path / name
        folder.mkdir()
        env = {
            "HUB_DATABASE__URL": postgres_url,
            "HUB_REDIS__URL": redis_server.url,  # a meeting at home on one node, relayed
            "HUB_SECURITY__SECRET_KEY": SECRET,  # one key: a session cookie is good on both
            "HUB_SERVER__NODE_NAME": name,
            "HUB_SERVER__PUBLIC_URL": url,
            "HUB_SERVER__TRUSTED_PROXIES": json.dumps(["127.0.0.1/32"]),
            "HUB_SERVER__SHUTDOWN_TIMEOUT": "5",
            "HUB_LOGGING__FORMAT": "text",
        }
        nodes.append(HubServer(folder, env=env))
    root = tmp_path / "nginx"
    (root / "temp").mkdir(parents=True)
    certificate, key = self_signed_certificate(root)
    (root / "hub.conf").write_text(
        shipped_nginx_config(port, [node.port for node in nodes], certificate, key)
    )
    (root / "nginx.conf").write_text(MAIN.format(root=root))
    args = [str(binary), "-p", str(root), "-c", str(root / "nginx.conf"), "-e", str(root / "e")]
    checked = subprocess.run([*args, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    nginx = None
    try:
        for node in nodes:  # one after the other: the first brings the schema to head
            await asyncio.to_thread(node.start)
        nginx = start(args, log_path=root / "nginx.out")
        wait_for_port("127.0.0.1", port, 15, nginx)
        yield Deployment(nodes, url, ssl.create_default_context(cafile=certificate))
    finally:
        if nginx is not None:
            stop(nginx)
        for node in nodes:
            node.stop()


def _node_sockets(node: HubServer) -> float:
    return node.metrics().get("hub_meeting_sockets", -1)


async def test_nginx_spreads_two_nodes_and_sends_a_drained_nodes_people_to_the_other(
    deployment: Deployment,
):
    jar = aiohttp.CookieJar(unsafe=True)
    connector = aiohttp.TCPConnector(ssl=deployment.tls)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as http:

        async def ready_node() -> str:
            async with http.get(f"{deployment.url}/health/ready") as answer:
                assert answer.status == 200, await answer.text()
                return str((await answer.json())["node"])

        assert {await ready_node() for _ in range(6)} == {"node-1", "node-2"}

        await http.get(f"{deployment.url}/", headers={"Accept": "text/html"})
        codec = SessionCodec(SECRET, secure=False)  # the nodes run in dev mode
        created = await http.post(
            f"{deployment.url}/api/v1/meetings",
            json={"title": "Deux nœuds", "access_level": "public"},
            headers=codec_csrf_header(codec, jar, URL(deployment.url)),
        )
        assert created.status == 201, await created.text()
        meeting = (await created.json())["id"]
        socket_url = f"{deployment.url}/api/v1/meetings/{meeting}/ws"

        anne = Participant(await http.ws_connect(socket_url), "Anne")
        bruno = Participant(await http.ws_connect(socket_url), "Bruno")
        back: list[Participant] = []
        try:
            await anne.join()
            await anne.publish()
            await wait_until(lambda: anne.publish_pc.connectionState == "connected", 15, "media")
            await bruno.join(audio=False, video=False)
            # nginx put the meeting's two sockets on one node.
            holder = next(n for n in deployment.nodes if _node_sockets(n) == 2)
            other = next(n for n in deployment.nodes if n is not holder)
            assert _node_sockets(other) == 0

            drain = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hub", "drain", "--dev", "--timeout", "20",
                cwd=holder.workdir, env={**os.environ, **holder.env},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(drain.communicate(), 60)
            assert drain.returncode == 0, (out, err, holder.log())
            for person in (anne, bruno):
                await wait_until(lambda p=person: p.ws.closed, 5, f"{person.name} still there")
                assert "restarting" in [m["type"] for m in person.messages]
                # 1012 from the node; aiohttp's client reports 1006 instead when its reply to
                # the close frame finds nginx already gone (a browser reports the 1012 it
                # received; tests/test_drain.py, without nginx, insists on 1012).
                assert person.ws.close_code in (1012, 1006)

            # The pages come back through nginx, as static/js/call.js does: the drained node
            # has stopped, so nginx gives both sockets to the other one, and both are back in.
            came_back = time.monotonic()
            for person in (anne, bruno):
                rejoin = next(m for m in person.messages if m["type"] == "welcome")["rejoin"]
                again = Participant(await http.ws_connect(socket_url), person.name)
                back.append(again)
                welcome = await again.knock(rejoin=rejoin, audio=False, video=False)
                assert welcome["type"] == "welcome", welcome
            await back[0].publish()
            await wait_until(lambda: back[0].publish_pc.connectionState == "connected", 15, "")
            print(f"\nboth back in the meeting on the other node "
                  f"{time.monotonic() - came_back:.2f} s after reconnecting (media included); "
                  f"`hub drain`: {out.decode()!r}")  # fmt: skip
            assert [p["name"] for p in welcome["participants"]] == ["Anne", "Bruno"]
            assert _node_sockets(other) == 2
            assert holder.process.poll() == 0
            assert "Traceback" not in holder.log(400), holder.log(400)
            # nginx skips the stopped node without an error reaching anyone.
            names = {await ready_node() for _ in range(6)}
            assert names == {other.env["HUB_SERVER__NODE_NAME"]}
        finally:
            for person in (anne, bruno, *back):
                await person.close()


def test_the_systemd_units_are_valid(tmp_path: Path):
    analyze = shutil.which("systemd-analyze")
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert [unit.name for unit in units] == [
        "hub-bridge.service",
        "hub-sfu-worker.service",
        "hub.service",
    ]
    for unit in units:
        text = unit.read_text()
        for hardening in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"):
            assert hardening in text, f"{unit.name} lacks {hardening}"
    if analyze is None:
        pytest.skip("systemd-analyze not found: the units' syntax was not checked")
    result = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, units)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    # verify also complains that /usr/bin/hub is not installed here; nothing else may fail.
    problems = [
        line for line in result.stderr.splitlines()
        if line.strip() and "/usr/bin/hub" not in line and "not executable" not in line
    ]  # fmt: skip
    assert not problems, result.stderr
