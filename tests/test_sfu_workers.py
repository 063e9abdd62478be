"""`sfu.workers = 2`: meetings forwarded by two `hub sfu-worker` processes.

The hub runs in process (aiohttp's test server) and starts its two workers as real child
processes; participants are real aiortc peers, counted by the frames they decode.
"""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import time

import pytest

from hub.ids import MeetingId
from hub.sfu import control
from hub.web.keys import WORKERS
from tests.conftest import make_config
from tests.support.hub_client import api_client
from tests.support.peer import Participant, wait_until


@pytest.fixture
async def hub(request, aiohttp_client, tmp_path):
    """A hub with two SFU workers (or `param`), a meeting factory and a participant factory."""
    workers = getattr(request, "param", 2)
    config = make_config(tmp_path, sfu={"candidate_addresses": ["127.0.0.1"], "workers": workers})
    client, csrf = await api_client(aiohttp_client, config)
    participants: list[Participant] = []

    async def meeting() -> str:
        created = await client.post(
            "/api/v1/meetings", json={"title": "Essai", "access_level": "public"}, headers=csrf
        )
        return str((await created.json())["id"])

    async def join(meeting_id: str, name: str) -> Participant:
        ws = await client.ws_connect(f"/api/v1/meetings/{meeting_id}/ws")
        participant = Participant(ws, name)
        participant.follow_health = True
        await participant.join()
        await participant.publish()
        participants.append(participant)
        return participant

    yield client, meeting, join
    for participant in participants:
        await participant.close()


def frames(receiver: Participant, sender: Participant, kind: str) -> int:
    return receiver.received.count(sender.participant_id, kind)


def all_decoding(people: list[Participant], since: dict[tuple[str, str, str], int]) -> bool:
    """Everyone decoded at least 10 more audio and video frames of everyone else."""
    return all(
        frames(r, s, kind) >= since.get((r.name, s.name, kind), 0) + 10
        for r in people
        for s in people
        if r is not s
        for kind in ("audio", "video")
    )


def counts(people: list[Participant]) -> dict[tuple[str, str, str], int]:
    return {
        (r.name, s.name, kind): frames(r, s, kind)
        for r in people
        for s in people
        if r is not s
        for kind in ("audio", "video")
    }


async def test_two_meetings_go_to_two_workers_and_their_people_decode_each_other(hub):
    client, meeting, join = hub
    pool = client.app[WORKERS]
    first, second = await meeting(), await meeting()
    anne, bruno = await join(first, "Anne"), await join(first, "Bruno")
    chloe, david = await join(second, "Chloé"), await join(second, "David")
    placed = {pool.worker_of(MeetingId(first)), pool.worker_of(MeetingId(second))}
    assert placed == {0, 1}
    await wait_until(lambda: all_decoding([anne, bruno], {}), 20, "first meeting: no media")
    await wait_until(lambda: all_decoding([chloe, david], {}), 20, "second meeting: no media")
    # Nobody receives anything of the other meeting.
    assert frames(anne, chloe, "video") == frames(chloe, anne, "video") == 0
    # Each worker reports its own meeting and the packets it forwards.
    await wait_until(
        lambda: all(
            s.load is not None and s.load.meetings == 1 and s.load.forwarded_per_second > 50
            for s in pool.slots
        ),
        5,
        f"load reports: {[s.load for s in pool.slots]}",
    )
    metrics = await (await client.get("/metrics")).text()
    for index in ("0", "1"):
        assert f'hub_sfu_worker_up{{worker="{index}"}} 1.0' in metrics
        assert f'hub_sfu_worker_meetings{{worker="{index}"}} 1.0' in metrics
    assert "hub_sfu_worker_forwarded_packets_per_second" in metrics
    health = await client.get("/health/ready")
    body = await health.json()
    assert health.status == 200, body
    assert body["checks"]["sfu_workers"] == "2/2 up"
    assert [w["meetings"] for w in body["workers"]] == [1, 1]
    # Hostile frames on a worker's control socket: refused, and its meeting goes on.
    reader, writer = await asyncio.open_unix_connection(str(pool.slots[0].path))
    writer.write(struct.pack(">I", 7) + b"garbage" + struct.pack(">I", 1 << 30))
    async with asyncio.timeout(5):
        await reader.read()  # refused, then closed (nothing after an oversize frame is read)
    writer.close()
    people = [anne, bruno] if pool.worker_of(MeetingId(first)) == 0 else [chloe, david]
    before = counts(people)
    await wait_until(lambda: all_decoding(people, before), 10, "media stopped")
    assert pool.slots[0].up and pool.slots[0].restarts == 0


async def test_people_of_a_killed_worker_get_media_again_within_five_seconds(hub):
    client, meeting, join = hub
    pool = client.app[WORKERS]
    meeting_id = await meeting()
    people = [await join(meeting_id, "Anne"), await join(meeting_id, "Bruno")]
    await wait_until(lambda: all_decoding(people, {}), 20, "no media before the kill")
    slot = pool.slots[pool.worker_of(MeetingId(meeting_id)) or 0]
    assert slot.process is not None
    killed = time.monotonic()
    os.kill(slot.process.pid, signal.SIGKILL)  # the worker this hub started for the meeting
    await asyncio.sleep(0.5)  # what the receivers' jitter buffers held is decoded by now
    before = counts(people)
    await wait_until(
        lambda: all_decoding(people, before), 4.5, "media not back within 5 s of the kill"
    )
    recovered = time.monotonic() - killed
    print(f"media back {recovered:.2f} s after the worker was killed")
    assert pool.worker_of(MeetingId(meeting_id)) not in (None, slot.index)
    await wait_until(lambda: slot.up, 20, "the killed worker was not restarted")
    assert slot.restarts == 1
    await asyncio.sleep(0)


@pytest.mark.parametrize("hub", [1], indirect=True)
async def test_with_one_worker_its_people_come_back_on_its_replacement(hub):
    client, meeting, join = hub
    pool = client.app[WORKERS]
    meeting_id = await meeting()
    people = [await join(meeting_id, "Anne"), await join(meeting_id, "Bruno")]
    await wait_until(lambda: all_decoding(people, {}), 20, "no media before the kill")
    slot = pool.slots[0]
    assert slot.process is not None
    first_pid = slot.process.pid
    killed = time.monotonic()
    os.kill(first_pid, signal.SIGKILL)
    await asyncio.sleep(0.5)
    before = counts(people)
    # The meeting waits for the replacement (started at once), then everyone reconnects.
    await wait_until(lambda: all_decoding(people, before), 9.5, "media not back in 10 s")
    print(f"media back {time.monotonic() - killed:.2f} s after the only worker was killed")
    assert slot.process.pid != first_pid and pool.worker_of(MeetingId(meeting_id)) == 0


@pytest.mark.parametrize("hub", [1], indirect=True)
async def test_hostile_tap_switches_are_refused_in_one_line_and_the_meeting_goes_on(hub):
    client, meeting, join = hub
    pool = client.app[WORKERS]
    meeting_id = await meeting()
    people = [await join(meeting_id, "Anne"), await join(meeting_id, "Bruno")]
    await wait_until(lambda: all_decoding(people, {}), 20, "no media")
    # Another process of this user on the worker's socket: malformed switches, and one for a
    # meeting the hub's connection holds (nobody else may start taps on it).
    reader, writer = await asyncio.open_unix_connection(str(pool.slots[0].path))
    hostile = [
        ({"meeting": meeting_id, "audio": "yes", "recording": False},
         "set_taps: 'audio' is missing or not of type bool"),
        ({"meeting": meeting_id, "audio": True},
         "set_taps: 'recording' is missing or not of type bool"),
        ({"meeting": meeting_id, "audio": True, "recording": True, "packets": []},
         "set_taps: unknown fields ['packets']"),
        ({"meeting": meeting_id, "audio": True, "recording": True},
         "set_taps: meeting held by another control connection"),
    ]  # fmt: skip
    for number, (fields, error) in enumerate(hostile, 1):
        writer.write(control.encode("set_taps", number, **fields))
        async with asyncio.timeout(5):
            while True:  # (load reports come unasked)
                body = await control.read_frame(reader)
                assert body is not None
                reply = control.parse(body, control.EVENTS, need_id=False)
                if reply.type == "reply":
                    break
        assert (reply.id, reply.flag("ok"), reply.maybe_text("error")) == (number, False, error)
    writer.close()
    assert not client.app[WORKERS].rooms[MeetingId(meeting_id)].parts[0].audio_tap
    before = counts(people)
    await wait_until(lambda: all_decoding(people, before), 10, "media stopped")
