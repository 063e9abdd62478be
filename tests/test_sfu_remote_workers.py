"""`sfu.remote_workers`: a `hub sfu-worker --listen` on "another machine", dialled by the hub.

The worker is its own process in a network namespace of its own (tests/support/netns.py): its
only link to the hub and the participants is a veth pair, so it has an address of its own
and cannot reach the hub's loopback, as a worker on another host. TLS with a test CA; the
shared secret from a file. Participants are real aiortc peers, counted by the frames they
decode; the hub runs in process (aiohttp's test server).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.ids import MeetingId
from hub.sfu import handshake
from hub.sfu.tcp import client_context, dial, read_opening
from hub.web.keys import WORKERS
from tests.conftest import REPO, make_config
from tests.support.hub_client import api_client
from tests.support.netns import NetNamespace, network_namespace
from tests.support.peer import Participant, wait_until
from tests.support.processes import start, stop, wait_for_port
from tests.support.tls import certificate_authority
from tests.test_sfu_workers import all_decoding, counts

PORT = 7710


@dataclass
class RemoteWorker:
    """A worker process listening in its own namespace: where, with which CA and secret;
    `start()` starts it (again, as systemd would)."""

    namespace: NetNamespace
    command: list[str]
    env: dict[str, str]
    ca: Path
    secret: str
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.namespace.ns_address}:{PORT}"

    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        self.process = start(self.command, log_path=self.log, cwd=REPO, env=self.env)
        wait_for_port(self.namespace.ns_address, PORT, 30, self.process)


@pytest.fixture
def remote_worker(tmp_path: Path) -> Iterator[RemoteWorker]:
    with network_namespace() as namespace:
        folder = tmp_path / "worker"
        folder.mkdir()
        ca, certificate, key = certificate_authority(folder, namespace.ns_address)
        secret = secrets.token_urlsafe(40)
        secret_file = folder / "secret"
        secret_file.write_text(secret + "\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env["PYTHONPATH"] = str(REPO)
        command = [
            "ip", "netns", "exec", namespace.name, sys.executable, "-m", "hub", "sfu-worker",
            "--listen", f"{namespace.ns_address}:{PORT}", "--tls-certificate", str(certificate),
            "--tls-key", str(key), "--secret-file", str(secret_file), "--log-format", "text",
        ]  # fmt: skip
        worker = RemoteWorker(namespace, command, env, ca, secret, folder / "worker.log")
        try:
            worker.start()
            yield worker
        finally:
            if worker.process is not None:
                stop(worker.process)


def remote_config(worker: RemoteWorker, **extra: object) -> dict[str, object]:
    entry = {"address": worker.address, "candidate_addresses": [worker.namespace.ns_address]}
    return {
        "remote_workers": [entry],
        "worker_secret": worker.secret,
        "worker_ca_file": str(worker.ca),
        **extra,
    }


@pytest.fixture
async def hub_with(aiohttp_client, tmp_path):
    """Makes a hub from [sfu] settings and the addresses its participants gather on; gives
    (client, new meeting, join)."""
    participants: list[Participant] = []

    async def make(sfu: dict[str, object], addresses: list[str]):
        config = make_config(tmp_path, sfu=sfu)
        client, csrf = await api_client(aiohttp_client, config)

        async def meeting() -> str:
            created = await client.post(
                "/api/v1/meetings", json={"title": "Essai", "access_level": "public"}, headers=csrf
            )
            return str((await created.json())["id"])

        async def join(meeting_id: str, name: str) -> Participant:
            ws = await client.ws_connect(f"/api/v1/meetings/{meeting_id}/ws")
            participant = Participant(ws, name, addresses=addresses)
            participant.follow_health = True
            await participant.join()
            await participant.publish()
            participants.append(participant)
            return participant

        return client, meeting, join

    yield make
    for participant in participants:
        await participant.close()


async def test_a_meeting_on_a_worker_of_another_host_and_what_its_port_refuses(
    remote_worker, hub_with
):
    client, meeting, join = await hub_with(
        remote_config(remote_worker), [remote_worker.namespace.host_address]
    )
    pool = client.app[WORKERS]
    slot = pool.slots[0]
    assert slot.remote is not None and slot.up
    meeting_id = await meeting()
    anne, bruno = await join(meeting_id, "Anne"), await join(meeting_id, "Bruno")
    assert pool.worker_of(MeetingId(meeting_id)) == 0
    await wait_until(lambda: all_decoding([anne, bruno], {}), 20, "no media through the worker")
    # Its load comes back over the TLS connection, with the process's own pid.
    await wait_until(
        lambda: slot.load is not None and slot.load.meetings == 1 and slot.load.legs > 0,
        5,
        f"load: {slot.load}",
    )
    assert slot.load is not None and slot.load.pid == remote_worker.pid()
    body = await (await client.get("/health/ready")).json()
    assert body["checks"]["sfu_workers"] == "1/1 up"
    assert body["workers"][0]["address"] == remote_worker.address

    host = remote_worker.namespace.ns_address
    tls = client_context(remote_worker.ca)
    # A wrong secret: told so in one frame, then closed; logged in one line.
    reader, writer = await asyncio.open_connection(host, PORT, ssl=tls, server_hostname=host)
    writer.write(handshake.hello("not-the-secret", "intruder"))
    async with asyncio.timeout(5):
        with pytest.raises(handshake.HandshakeRefused, match="wrong secret"):
            handshake.check_answer(await read_opening(reader))
        assert await reader.read() == b""
    writer.close()
    # No TLS: a well-formed hello in clear text is closed at once by the TLS handshake.
    reader, writer = await asyncio.open_connection(host, PORT)
    writer.write(handshake.hello(remote_worker.secret, "cleartext"))
    async with asyncio.timeout(6):
        assert await reader.read() == b""
    writer.close()
    # Garbage, and a TLS client that sends garbage instead of a hello.
    reader, writer = await asyncio.open_connection(host, PORT)
    writer.write(b"\x00\xff" * 512)
    async with asyncio.timeout(6):
        assert await reader.read() == b""
    writer.close()
    reader, writer = await asyncio.open_connection(host, PORT, ssl=tls, server_hostname=host)
    writer.write(b"\x00\x00\xff\xff" + b"x" * 100)  # a 65,535-byte "hello"
    async with asyncio.timeout(6):
        with pytest.raises(handshake.HandshakeRefused, match="over the 4096-byte limit"):
            handshake.check_answer(await read_opening(reader))
    writer.close()
    # A client without the CA does not trust the worker (nor would the worker take it).
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.open_connection(
            host, PORT, ssl=ssl.create_default_context(), server_hostname=host
        )
    # The hub's meeting went on through all of it, on the same connection.
    before = counts([anne, bruno])
    await wait_until(lambda: all_decoding([anne, bruno], before), 10, "media stopped")
    assert slot.up and slot.restarts == 0
    text = remote_worker.log.read_text(encoding="utf-8")
    refusals = [line for line in text.splitlines() if "refused:" in line]
    assert any("wrong secret" in line for line in refusals), text[-2000:]
    assert any("over the 4096-byte limit" in line for line in refusals), text[-2000:]
    assert remote_worker.secret not in text and "Traceback" not in text


async def test_a_hub_with_a_wrong_secret_or_ca_says_so_in_one_line_and_keeps_serving(
    remote_worker, hub_with, tmp_path, caplog
):
    caplog.set_level(logging.ERROR, logger="hub.sfu.workers")
    other_ca, _, _ = certificate_authority(tmp_path, "127.0.0.1")
    worker = remote_worker
    sfu = remote_config(worker, worker_secret=secrets.token_urlsafe(40))
    sfu["remote_workers"] = [
        {"address": worker.address, "candidate_addresses": [worker.namespace.ns_address]},
        {"address": f"{worker.namespace.ns_address}:{PORT + 1}"},  # nothing listens there
    ]
    client, _meeting, _join = await hub_with(sfu, [])
    pool = client.app[WORKERS]
    assert not any(slot.up for slot in pool.slots)
    lines = [r.getMessage() for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert any("refused by the worker: wrong secret" in line for line in lines), lines
    assert any(f":{PORT + 1})" in line for line in lines), lines
    assert all("\n" not in line for line in lines)
    health = await client.get("/health/ready")
    assert health.status == 503
    assert (await health.json())["checks"]["sfu_workers"] == "0/2 up"
    # Signed by another CA: refused by the hub, whose meeting pages still answer.
    pool.config = pool.config.model_copy(update={"worker_ca_file": other_ca})
    pool._tls = client_context(other_ca)
    caplog.clear()
    await wait_until(
        lambda: any("certificate is refused" in r.getMessage() for r in caplog.records),
        10,
        "no line about the certificate",
    )
    assert (await client.get("/")).status == 200


async def test_a_candidate_address_not_of_the_worker_s_machine_is_refused_in_one_line(
    remote_worker, hub_with, caplog
):
    caplog.set_level(logging.ERROR, logger="hub.sfu.workers")
    sfu = remote_config(remote_worker)
    sfu["remote_workers"] = [
        {"address": remote_worker.address, "candidate_addresses": ["192.0.2.1"]}
    ]
    client, _meeting, _join = await hub_with(sfu, [])
    assert not client.app[WORKERS].slots[0].up
    lines = [r.getMessage() for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert lines and all("\n" not in line for line in lines), lines
    assert (
        "our configuration is refused: SFU worker: configure: 192.0.2.1 is not an address of "
        in lines[0]
    )
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_a_meeting_spread_over_a_local_and_a_remote_worker_then_the_remote_killed(
    remote_worker, hub_with
):
    worker = remote_worker
    host_side = worker.namespace.host_address  # where the namespace reaches this machine
    sfu = remote_config(
        worker,
        workers=1,
        candidate_addresses=["127.0.0.1"],
        relay_addresses=[host_side],
        people_per_worker=1,
    )
    client, meeting, join = await hub_with(sfu, ["127.0.0.1", host_side])
    pool = client.app[WORKERS]
    meeting_id = MeetingId(await meeting())
    anne = await join(meeting_id, "Anne")
    bruno = await join(meeting_id, "Bruno")
    assert pool.workers_of(meeting_id) == [0, 1]  # Anne here, Bruno on the other host
    people = [anne, bruno]
    await wait_until(lambda: all_decoding(people, {}), 25, "no media across the relay")
    remote = pool.slots[1]
    await wait_until(
        lambda: remote.load is not None and remote.load.relay_streams == 2,
        5,
        f"the remote worker's relay: {remote.load}",
    )
    killed = time.monotonic()
    os.kill(worker.pid(), signal.SIGKILL)
    await asyncio.sleep(0.5)
    before = counts(people)
    await wait_until(
        lambda: all_decoding(people, before), 4.5, "media not back within 5 s of the kill"
    )
    print(f"media back {time.monotonic() - killed:.2f} s after the remote worker was killed")
    assert pool.workers_of(meeting_id) == [0, 0]
    assert not remote.up


async def test_a_remote_worker_restarted_is_dialled_again_and_a_hub_replaces_its_connection(
    remote_worker, hub_with
):
    worker = remote_worker
    client, meeting, join = await hub_with(remote_config(worker), [worker.namespace.host_address])
    pool = client.app[WORKERS]
    slot = pool.slots[0]
    first = worker.pid()
    assert worker.process is not None
    stop(worker.process)  # SIGTERM, as `systemctl restart` does
    await wait_until(lambda: not slot.up, 5, "the stopped worker still counts as up")
    stopped = time.monotonic()
    worker.start()
    await wait_until(
        lambda: slot.up and slot.load is not None and slot.load.pid != first,
        10,
        "the restarted worker was not dialled again",
    )
    print(f"remote worker dialled again {time.monotonic() - stopped:.2f} s after it stopped")
    meeting_id = await meeting()
    people = [await join(meeting_id, "Anne"), await join(meeting_id, "Bruno")]
    await wait_until(lambda: all_decoding(people, {}), 20, "no media on the restarted worker")
    # A hub that connects again with the same instance id replaces its earlier connection.
    host, tls = worker.namespace.ns_address, client_context(worker.ca)
    opened = [
        await dial(host, PORT, tls=tls, server_name=host, secret=worker.secret, hub="again")
        for _ in range(2)
    ]
    async with asyncio.timeout(5):
        await opened[0][0].read()  # its load reports, if any, then the end
    assert opened[0][0].at_eof()  # the first one, closed by the worker
    assert not opened[1][0].at_eof()
    for _reader, writer, _pid in opened:
        writer.close()
    before = counts(people)
    await wait_until(lambda: all_decoding(people, before), 10, "the pool's meeting stopped")
