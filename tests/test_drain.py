"""`hub drain`: a node moves its people off before maintenance, then stops.

A real `hub serve` process with a connected aiortc participant is drained by the real `hub
drain` command; an in-process hub shows what a draining node answers (readiness, a new
meeting socket); the admin socket refuses hostile lines precisely and changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from hub.web.admin_socket import AdminSocket, admin_socket_path, parse_request
from hub.web.keys import NODE
from hub.web.node import DRAINING_REASON, Node
from hub.web.sockets import OpenSockets
from tests.conftest import make_config
from tests.support.hub_client import api_client, codec_csrf_header
from tests.support.peer import Participant, wait_until
from tests.support.served_hub import served_hub

NODE_NAME = "node-a"


async def _poll_readiness(url: str, seen: list[tuple[int, dict[str, Any]]]) -> None:
    """Ask /health/ready as often as a load balancer that is in a hurry, until the node is gone."""
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"{url}/health/ready") as answer:
                    seen.append((answer.status, await answer.json()))
            except aiohttp.ClientError:
                return
            await asyncio.sleep(0.005)


async def _run_drain(
    config_path: Path | None, *args: str, cwd: Path | None = None
) -> tuple[int, str, str]:
    config = ["--config", str(config_path)] if config_path is not None else []
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", "drain", *config, *args, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_hub_drain_moves_a_connected_participant_off_and_stops_the_node(tmp_path):
    sections: dict[str, dict[str, object]] = {
        "server": {"shutdown_timeout": 5.0, "node_name": NODE_NAME},
        "sfu": {"candidate_addresses": ["127.0.0.1"]},
    }
    with served_hub(tmp_path, **sections) as hub:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            await http.get(f"{hub.url}/", headers={"Accept": "text/html"})
            created = await http.post(
                f"{hub.url}/api/v1/meetings",
                json={"title": "Avant maintenance", "access_level": "public"},
                headers=codec_csrf_header(hub.codec, jar, URL(hub.url)),
            )
            assert created.status == 201, await created.text()
            meeting_id = (await created.json())["id"]
            ws = await http.ws_connect(f"{hub.url}/api/v1/meetings/{meeting_id}/ws")
            anne = Participant(ws, "Anne")
            try:
                await anne.join()
                await anne.publish()
                await wait_until(
                    lambda: anne.publish_pc.connectionState == "connected", 15, "no media"
                )
                async with http.get(f"{hub.url}/metrics") as answer:
                    metrics = await answer.text()
                assert f'hub_node_info{{node="{NODE_NAME}"' in metrics
                assert "hub_meeting_sockets 1.0" in metrics
                assert "hub_node_draining 0.0" in metrics
                ready = await (await http.get(f"{hub.url}/health/ready")).json()
                assert (ready["status"], ready["node"]) == ("ok", NODE_NAME)

                readiness: list[tuple[int, dict[str, Any]]] = []
                poller = asyncio.create_task(_poll_readiness(hub.url, readiness))
                asked = time.monotonic()
                code, out, err = await _run_drain(tmp_path / "config.toml", "--timeout", "20")
                took = time.monotonic() - asked
                await asyncio.wait_for(poller, 10)
            finally:
                await anne.close()
        print(f"\n`hub drain` took {took:.2f} s (its Python start included): {out!r}")
        assert (code, err) == (0, ""), (out, err, hub.log_lines()[-20:])
        assert f"draining node {NODE_NAME} (pid {hub.process.pid}): 1 meeting sockets open" in out
        assert "none left; stopping" in out and f"node {NODE_NAME} stopped" in out
        # The participant was told to come back (through the load balancer) and let go.
        assert "restarting" in [message["type"] for message in anne.messages]
        assert ws.close_code == 1012
        # The node said "draining" to the load balancer until it stopped, and stopped cleanly.
        first = next((i for i, (status, _) in enumerate(readiness) if status == 503), None)
        assert first is not None, readiness
        assert all(status == 503 for status, _ in readiness[first:]), readiness  # no flapping
        assert {(body["status"], body["node"]) for _, body in readiness[first:]} == {
            ("draining", NODE_NAME)
        }
        assert hub.process.wait(10) == 0
        assert not admin_socket_path(tmp_path / "data").exists()
        log = "\n".join(hub.log_lines())
        assert f"node {NODE_NAME} drained in" in log and "no meeting socket left" in log
        assert "Traceback" not in log and "ERROR" not in log, log


async def test_a_draining_node_is_not_ready_and_sends_new_sockets_elsewhere(
    aiohttp_client, tmp_path
):
    config = make_config(tmp_path, server={"node_name": NODE_NAME})
    client, csrf = await api_client(aiohttp_client, config)
    created = await client.post(
        "/api/v1/meetings", json={"title": "Essai", "access_level": "public"}, headers=csrf
    )
    meeting_id = (await created.json())["id"]
    path = f"/api/v1/meetings/{meeting_id}/ws"
    bruno = Participant(await client.ws_connect(path), "Bruno")
    await bruno.join(audio=False, video=False)

    report = await client.app[NODE].drain(10)

    assert (report.sockets_before, report.sockets_left) == (1, 0)
    assert report.seconds < 5
    assert "restarting" in [message["type"] for message in bruno.messages]
    assert bruno.ws.close_code == 1012
    ready = await client.get("/health/ready")
    assert ready.status == 503
    assert await ready.json() == {"status": "draining", "node": NODE_NAME, "meeting_sockets": 0}
    live = await client.get("/health/live")  # alive: no orchestrator restarts a draining node
    assert (live.status, await live.json()) == (200, {"status": "ok", "node": NODE_NAME})
    # A page arriving now is told to come back, and where from: the close says why.
    late = await client.ws_connect(path)
    frame = await late.receive(timeout=5)
    assert json.loads(frame.data) == {"type": "restarting"}
    closing = await late.receive(timeout=5)
    assert closing.type == aiohttp.WSMsgType.CLOSE
    assert (late.close_code, closing.extra) == (1012, DRAINING_REASON)
    assert len(DRAINING_REASON.encode()) <= 123  # what a close frame can carry
    metrics = await (await client.get("/metrics")).text()
    assert "hub_node_draining 1.0" in metrics
    assert "hub_meeting_sockets 0.0" in metrics
    # A plain GET of the socket's route (no upgrade) still gets the route's own answer.
    plain = await client.get(path)
    assert plain.status != 101
    await bruno.close()


async def _ask(path: Path, line: bytes) -> list[dict[str, Any]]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        writer.write(line)
        await writer.drain()
        return [json.loads(answer) async for answer in reader]
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"drain\n", "the request is not a JSON line"),
        (b"[1, 2]\n", "the request is not a JSON object"),
        (b'{"command": "stop", "timeout": 5}\n', "unknown command (only 'drain')"),
        (b'{"command": "drain"}\n', "timeout: must be a number of seconds"),
        (b'{"command": "drain", "timeout": true}\n', "timeout: must be a number of seconds"),
        (b'{"command": "drain", "timeout": 0}\n',
         "timeout: must be more than 0 and at most 3600 s"),
        (b'{"command": "drain", "timeout": 5, "then": "rm"}\n', "unknown fields: then"),
        (b"\xff\xfe\n", "the request is not a JSON line"),
        (b'{"command": "drain", ' + b" " * 5000 + b"}\n",
         "the request line is longer than 4096 bytes"),
        (b'{"command": "drain", "timeout": 5}',
         "the connection closed before a whole request line"),
    ],
)  # fmt: skip
async def test_the_admin_socket_refuses_a_hostile_line_precisely_and_changes_nothing(
    tmp_path, caplog, line, reason
):
    node, stop = Node(NODE_NAME, OpenSockets()), asyncio.Event()
    admin = AdminSocket(tmp_path, node, stop)
    assert await admin.open()
    try:
        assert oct(admin.path.stat().st_mode & 0o777) == "0o600"  # ours alone
        with caplog.at_level(logging.WARNING, logger="hub.web.admin_socket"):
            if line.endswith(b"\n"):
                answers = await _ask(admin.path, line)
            else:  # a line cut short: the client sends half of it and stops writing
                reader, writer = await asyncio.open_unix_connection(str(admin.path))
                writer.write(line)
                writer.write_eof()
                answers = [json.loads(answer) async for answer in reader]
                writer.close()
        assert answers == [{"error": reason}]
        refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert refusals == [f"admin socket: refused a request: {reason}"]
        assert not node.draining and not stop.is_set()
    finally:
        await admin.close()
    assert not admin.path.exists()


async def test_the_admin_socket_replaces_a_dead_hubs_file_but_not_a_live_hubs(tmp_path, caplog):
    # A hub killed by SIGKILL leaves its socket file, with nobody listening behind it.
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(admin_socket_path(tmp_path)))
    first = AdminSocket(tmp_path, Node("a", OpenSockets()), asyncio.Event())
    assert await first.open()
    second = AdminSocket(tmp_path, Node("b", OpenSockets()), asyncio.Event())
    with caplog.at_level(logging.WARNING, logger="hub.web.admin_socket"):
        assert not await second.open()  # another hub on this data_dir answers there
    assert "belongs to another running hub" in caplog.text
    answers = await _ask(first.path, b"{}\n")
    assert answers == [{"error": "unknown command (only 'drain')"}]  # still the first's
    await first.close()


def test_a_drain_request_is_parsed_exactly():
    assert parse_request(b'{"command": "drain", "timeout": 2.5}\n').timeout == 2.5
    assert parse_request(b'{"timeout": 3600, "command": "drain"}').timeout == 3600.0
    with pytest.raises(ValueError, match="at most 3600 s"):
        parse_request(b'{"command": "drain", "timeout": 3601}')


async def test_hub_drain_says_so_when_no_hub_runs(tmp_path):
    make_config(tmp_path)
    code, out, err = await _run_drain(tmp_path / "config.toml")
    assert (code, out) == (1, "")
    socket_path = admin_socket_path(tmp_path / "data")
    assert err == (
        f"hub: no running hub answers at {socket_path} (is `hub serve` running with this "
        "configuration?)\n"
    )
    code, _, err = await _run_drain(tmp_path / "config.toml", "--timeout", "0")
    assert code == 2 and "must be more than 0" in err
    # In dev mode, in a folder where no hub ever ran: said so, and nothing created there.
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = await _run_drain(None, "--dev", cwd=empty)
    assert code == 1 and "no running hub answers at data/admin.sock" in err
    assert list(empty.iterdir()) == []
