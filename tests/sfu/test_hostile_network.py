"""The media plane under a hostile network: datagrams of every kind at every SFU port, from a
stranger and from an honest participant's own (ICE-validated) socket, while two honest aiortc
participants keep decoding each other. What is asserted: frames decoded after the attack,
drops counted in /metrics, no error or traceback in the log, memory flat."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import resource
import time

import pytest

from tests.conftest import make_config
from tests.sfu.hostile import (
    CLASSES,
    capture_sent,
    hostile_stream,
    ice_path,
    media_ports,
    stranger_socket,
)
from tests.support.hub_client import api_client
from tests.support.peer import Participant, wait_until

# Datagrams that stopped a meeting before hub/sfu/guard.py, each as found (hex).
REGRESSIONS = {
    "empty (aiortc's DTLS reader: IndexError)": "",
    "2,000-byte RTP-looking (pylibsrtp: packet is too long)": "8060" + "00" * 1998,
    "2,000-byte RTCP-looking (pylibsrtp: packet is too long)": "80c8" + "00" * 1998,
    "STUN PRIORITY of 1 byte (aioice: struct.error)":
        "000100082112a4420000000000000000000000000024000100000000",
    "STUN ICE-CONTROLLED of 2 bytes (aioice: struct.error)":
        "000100082112a4420000000000000000000000008029000201020000",
}  # fmt: skip
FUZZ_SECONDS = float(os.environ.get("HUB_FUZZ_SECONDS", "60"))
DROPPED = re.compile(r'^hub_sfu_datagrams_dropped_total\{reason="([a-z_]+)"\} (\S+)$', re.M)


@pytest.fixture
async def meeting(aiohttp_client, tmp_path):
    config = make_config(tmp_path, sfu={"candidate_addresses": ["127.0.0.1"]})
    client, csrf = await api_client(aiohttp_client, config)
    created = await client.post(
        "/api/v1/meetings", json={"title": "Essai", "access_level": "public"}, headers=csrf
    )
    meeting_id = (await created.json())["id"]
    people: list[Participant] = []

    async def join(name: str) -> Participant:
        ws = await client.ws_connect(f"/api/v1/meetings/{meeting_id}/ws")
        participant = Participant(ws, name)
        await participant.join()
        await participant.publish()
        people.append(participant)
        return participant

    anne, bruno = await join("Anne"), await join("Bruno")
    await wait_until(lambda: flowing(anne, bruno, 5), 20, "no media between Anne and Bruno")
    yield client, anne, bruno
    for participant in people:
        await participant.close()


def flowing(anne: Participant, bruno: Participant, frames: int) -> bool:
    return all(
        receiver.received.count(sender.participant_id, kind) >= frames
        for receiver, sender in ((anne, bruno), (bruno, anne))
        for kind in ("audio", "video")
    )


async def still_flowing(anne: Participant, bruno: Participant, more: int, within: float) -> None:
    """Both decode `more` further video and audio frames of the other within `within` s."""
    start = {
        (r.name, k): r.received.count(s.participant_id, k)
        for r, s in ((anne, bruno), (bruno, anne))
        for k in ("audio", "video")
    }

    def grown() -> bool:
        return all(
            r.received.count(s.participant_id, k) >= start[(r.name, k)] + more
            for r, s in ((anne, bruno), (bruno, anne))
            for k in ("audio", "video")
        )

    await wait_until(grown, within, "honest media stopped")


async def dropped(client) -> dict[str, float]:
    text = await (await client.get("/metrics")).text()
    return {reason: float(value) for reason, value in DROPPED.findall(text)}


def ports_of(*people: Participant) -> list[tuple[str, int]]:
    ports: set[tuple[str, int]] = set()
    for person in people:
        for pc in (person.publish_pc, person.subscribe_pc):
            if pc is not None and pc.remoteDescription is not None:
                ports.update(media_ports(pc.remoteDescription.sdp))
    assert len(ports) >= 4, ports  # each has a publish and a subscribe connection
    return sorted(ports)


def troubles(records: list[logging.LogRecord]) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()}"
        for r in records
        if r.levelno >= logging.ERROR or r.exc_info is not None
    ]


async def test_one_datagram_of_each_kind_stops_nothing(meeting, caplog):
    """The reported attack: one empty / oversized / garbage datagram per port used to stop
    both participants' media for good."""
    client, anne, bruno = meeting
    ports = ports_of(anne, bruno)
    rng = random.Random(7)
    stranger = stranger_socket()
    sent = 0
    with caplog.at_level(logging.INFO):
        for name in sorted(CLASSES):
            for port in ports:
                stranger.sendto(CLASSES[name](rng), port)
                sent += 1
        # The same from Anne's own socket: an address the SFU's ICE has validated.
        own, sfu_address = ice_path(anne.publish_pc)
        for name in sorted(CLASSES):
            own.sendto(CLASSES[name](rng), sfu_address)
        for datagram in REGRESSIONS.values():
            own.sendto(bytes.fromhex(datagram), sfu_address)
            for port in ports:
                stranger.sendto(bytes.fromhex(datagram), port)
                sent += 1
        await asyncio.sleep(0.5)
        await still_flowing(anne, bruno, 20, 15)
    counted = await dropped(client)
    # Every stranger's datagram that is not well-formed STUN is refused before aiortc.
    # well-formed STUN with garbage attributes may parse and go on to aioice
    stun_like = len(ports)
    assert sum(counted.values()) >= sent - stun_like, counted
    assert counted.get("empty", 0) >= 2 * len(ports) + 2
    assert counted.get("oversized", 0) >= 4 * len(ports) + 4
    # STUN that aioice cannot parse is dropped here, never queued (the queue has no bound)
    assert counted.get("stun_malformed", 0) >= 2 * len(ports) + 2
    assert counted.get("unknown_source", 0) >= 2 * len(ports)
    assert troubles(caplog.records) == []
    lines = [r for r in caplog.records if "media datagram dropped" in r.getMessage()]
    reasons = {(r.args[0], r.args[2]) for r in lines}  # type: ignore[index]
    assert len(lines) == len(reasons), "logged more than once per reason and source"


async def test_a_minute_of_hostile_datagrams(meeting, caplog):
    """Datagrams of every class and mutations of captured real ones at every port, from a
    stranger and from an honest peer's socket, for FUZZ_SECONDS: media never stops."""
    client, anne, bruno = meeting
    ports = ports_of(anne, bruno)
    captured: list[bytes] = []
    capture_sent(anne.publish_pc, captured)
    await wait_until(lambda: len(captured) >= 50, 10, "nothing captured")
    own, sfu_address = ice_path(anne.publish_pc)
    stranger = stranger_socket()
    rng = random.Random(int(os.environ.get("HUB_FUZZ_SEED", "12")))
    stream = hostile_stream(rng, captured)
    before = await dropped(client)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sent = {"stranger": 0, "own": 0}
    deadline = time.monotonic() + FUZZ_SECONDS
    checked = time.monotonic()
    with caplog.at_level(logging.WARNING):
        while time.monotonic() < deadline:
            for _ in range(20):  # ~1,000 datagrams a second, sharing the loop with the hub
                _, datagram = next(stream)
                if rng.random() < 0.5:
                    stranger.sendto(datagram, rng.choice(ports))
                    sent["stranger"] += 1
                else:
                    own.sendto(datagram, sfu_address)
                    sent["own"] += 1
            await asyncio.sleep(0.02)
            if time.monotonic() - checked > 10:
                await still_flowing(anne, bruno, 5, 10)
                checked = time.monotonic()
        await still_flowing(anne, bruno, 20, 15)
    after = await dropped(client)
    counted = sum(after.values()) - sum(before.values())
    rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    print(f"\nfuzz: {sent} datagrams in {FUZZ_SECONDS:.0f} s, {counted:.0f} counted as dropped, "
          f"max RSS +{rss_growth_mb:.1f} MB, by reason {after}")  # fmt: skip
    assert sent["stranger"] > 10 * FUZZ_SECONDS
    # Most of the stranger's datagrams are not valid STUN: all of those must be counted.
    assert counted >= 0.8 * sent["stranger"], (counted, sent)
    assert rss_growth_mb < 64
    assert troubles(caplog.records) == []
    # A loop busy with a flood is not a dead peer: consent held for both all along.
    for person in (anne, bruno):
        states = {m["state"] for m in person.messages if m["type"] == "media_state"}
        assert states <= {"connected"}, (person.name, states)
        reconnecting = [m for m in person.messages if m["type"] == "participant_updated"
                        and m["participant"].get("reconnecting")]  # fmt: skip
        assert reconnecting == [], reconnecting
