"""The SFU on two kinds of network: this machine's own addresses, and loopback only.

Each case runs the real hub and two aiortc participants as separate processes and asserts on
the frames each participant decoded from the other.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCBundlePolicy, RTCIceTransportPolicy

from tests.conftest import REPO, make_config, skip_or_fail
from tests.support.hub_client import api_client
from tests.support.peer import Participant, wait_until
from tests.support.processes import free_port, start, stop, wait_for_port
from tests.support.turn import TURN_PASSWORD, TURN_USER, TurnServer, find_turnserver


def run_meeting(
    prefix: list[str], port: int, env: dict[str, str], tmp_path: Path, peer_args: list[str]
) -> dict[str, int]:
    hub = start(
        [*prefix, sys.executable, "-m", "hub", "serve", "--dev", "--port", str(port)],
        log_path=tmp_path / "hub.log",
        cwd=tmp_path,
        env=env,
    )
    try:
        if prefix:  # inside a namespace: wait from inside, the port is not visible here
            subprocess.run(
                [
                    *prefix,
                    sys.executable,
                    "-c",
                    "import sys, socket, time\n"
                    f"end = time.time() + 30\n"
                    "while time.time() < end:\n"
                    "    try: socket.create_connection(('127.0.0.1', "
                    f"{port}), 0.5).close(); sys.exit(0)\n"
                    "    except OSError: time.sleep(0.1)\n"
                    "sys.exit(1)",
                ],
                check=True,
                timeout=40,
            )
        else:
            wait_for_port("127.0.0.1", port, 30, hub)
        result = subprocess.run(
            [
                *prefix,
                sys.executable,
                "-m",
                "tests.support.standalone_meeting",
                f"http://127.0.0.1:{port}",
                *peer_args,
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert result.stdout.strip(), result.stderr[-2000:]
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))
    finally:
        stop(hub)


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_SERVER__DATA_DIR"] = str(tmp_path / "data")
    env["PYTHONPATH"] = str(REPO)
    return env


def test_host_candidates_on_this_machine(tmp_path):
    """No candidate addresses configured: hub and peers use the machine's own addresses."""
    counts = run_meeting([], free_port(), base_env(tmp_path), tmp_path, [])
    assert min(counts.values()) >= 10, counts


def test_loopback_only_network_namespace(tmp_path):
    """A namespace with nothing but lo: the hub offers 127.0.0.1 because it is configured to."""
    name = f"hubloop{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        skip_or_fail(f"cannot create a network namespace: {made.stderr.strip()}")
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        env = base_env(tmp_path)
        env["HUB_SFU__CANDIDATE_ADDRESSES"] = '["127.0.0.1"]'
        counts = run_meeting(
            ["ip", "netns", "exec", name], 8080, env, tmp_path, ["--address", "127.0.0.1"]
        )
        assert min(counts.values()) >= 10, counts
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.mark.parametrize("addresses", ['["not-an-ip"]', '["127.0.0.1", "::1", "x"]'])
def test_bad_candidate_addresses_are_a_config_error(tmp_path, addresses):
    env = base_env(tmp_path)
    env["HUB_SFU__CANDIDATE_ADDRESSES"] = addresses
    result = subprocess.run(
        [sys.executable, "-m", "hub", "serve", "--dev", "--port", str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "HUB_SFU__CANDIDATE_ADDRESSES: sfu.candidate_addresses" in result.stderr


async def test_media_flows_through_a_turn_server_the_operator_configured(aiohttp_client, tmp_path):
    """Participants that may only use relayed candidates meet through coturn."""
    binary = find_turnserver()
    if binary is None:
        skip_or_fail("coturn's turnserver not found (apt package coturn)")
    turn = TurnServer(binary).start()
    try:
        ice = {"urls": [turn.url], "username": TURN_USER, "credential": TURN_PASSWORD}
        config = make_config(
            tmp_path, sfu={"candidate_addresses": ["127.0.0.1"], "ice_servers": [ice]}
        )
        client, csrf = await api_client(aiohttp_client, config)
        created = await client.post("/api/v1/meetings", json={"title": "Relais"}, headers=csrf)
        meeting_id = (await created.json())["id"]
        relay_only = RTCConfiguration(
            iceServers=[
                RTCIceServer(urls=[turn.url], username=TURN_USER, credential=TURN_PASSWORD)
            ],
            iceTransportPolicy=RTCIceTransportPolicy.RELAY,
            bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
        )
        people = []
        for name in ("Anne", "Bruno"):
            ws = await client.ws_connect(f"/api/v1/meetings/{meeting_id}/ws")
            person = Participant(ws, name, addresses=[], configuration=relay_only)
            welcome_index = len(person.messages)
            await person.join()
            welcome = await person.wait_for("welcome", after=welcome_index)
            assert welcome["ice_servers"][0]["urls"] == [turn.url]  # told to the browser too
            await person.publish()
            people.append(person)
        anne, bruno = people
        await wait_until(
            lambda: (
                bruno.received.count(anne.participant_id, "video") >= 10
                and anne.received.count(bruno.participant_id, "audio") >= 10
            ),
            30,
            "no media through the TURN relay",
        )
        assert "ALLOCATE" in turn.log().upper()  # coturn saw the allocations
        for person in people:
            await person.close()
    finally:
        turn.stop()
