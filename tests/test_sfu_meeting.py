"""A meeting through the real SFU with aiortc participants: media forwarded, never decoded.

Each participant is a real WebRTC peer (ICE, DTLS, SRTP) speaking the browser's protocol over
the hub's WebSocket; counts are frames the participants decoded, not hub internals.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from hub.web.keys import SFU
from tests.conftest import make_config
from tests.support.peer import Participant, wait_until
from tests.test_api import api_client


@pytest.fixture
async def meeting(aiohttp_client, tmp_path):
    """A running hub (in-process), a meeting, and a factory of joined participants."""
    config = make_config(tmp_path, sfu={"candidate_addresses": ["127.0.0.1"]})
    client, csrf = await api_client(aiohttp_client, config)
    app = client.app
    created = await client.post(
        "/api/v1/meetings", json={"title": "Essai", "access_level": "public"}, headers=csrf
    )
    meeting_id = (await created.json())["id"]
    participants: list[Participant] = []

    async def join(name: str, *, publish: bool = True) -> Participant:
        ws = await client.ws_connect(f"/api/v1/meetings/{meeting_id}/ws")
        participant = Participant(ws, name)
        await participant.join()
        if publish:
            await participant.publish()
        participants.append(participant)
        return participant

    yield app, join
    for participant in participants:
        await participant.close()


def decoded_from(receiver: Participant, sender: Participant, kind: str) -> int:
    return receiver.received.count(sender.participant_id, kind)


async def test_three_participants_decode_each_other_without_the_sfu_decoding(meeting):
    app, join = meeting
    anne, bruno, chloe = [await join(name) for name in ("Anne", "Bruno", "Chloé")]
    everyone = (anne, bruno, chloe)

    def all_flowing() -> bool:
        return all(
            decoded_from(r, s, kind) >= 10
            for r in everyone
            for s in everyone
            if r is not s
            for kind in ("video", "audio")
        )

    await wait_until(all_flowing, 20, "media did not flow between all three participants")
    # The SFU forwarded packets and started no decoder of its own: the only decoder threads
    # are the participants' (each decodes 2 remote videos and 2 remote audios).
    assert app[SFU].counters.packets_forwarded > 100
    decoders = [t.name for t in threading.enumerate() if "decoder" in t.name]
    assert len(decoders) <= 3 * 4, decoders


async def test_late_joiner_sees_video_within_two_seconds(meeting):
    app, join = meeting
    anne = await join("Anne")
    bruno = await join("Bruno")
    await wait_until(lambda: decoded_from(bruno, anne, "video") > 5, 20, "no video for Bruno")
    await asyncio.sleep(1.0)  # let the publisher's keyframe age: the late joiner needs a PLI
    start = time.monotonic()
    late = await join("Late", publish=False)
    await wait_until(lambda: decoded_from(late, anne, "video") > 0, 10, "late joiner: no video")
    first = late.received.first[(anne.participant_id, "video")]
    assert first - start < 2.0, f"first frame after {first - start:.2f} s"


async def test_muted_participant_audio_stops_at_the_sfu(meeting):
    app, join = meeting
    anne = await join("Anne")
    bruno = await join("Bruno")
    await wait_until(lambda: decoded_from(bruno, anne, "audio") > 20, 20, "no audio for Bruno")
    await anne.send({"type": "media", "audio": False, "video": True})
    await asyncio.sleep(0.5)
    muted_before = app[SFU].counters.muted_drops
    heard = decoded_from(bruno, anne, "audio")
    seen = decoded_from(bruno, anne, "video")
    await asyncio.sleep(1.5)
    assert app[SFU].counters.muted_drops > muted_before + 30  # ~50 packets/s stopped here
    assert decoded_from(bruno, anne, "audio") <= heard + 5  # nothing new beyond the jitter buffer
    assert decoded_from(bruno, anne, "video") > seen + 5  # the camera still flows
    update = await bruno.wait_for("participant_updated")
    assert update["participant"]["audio"] is False
    await anne.send({"type": "media", "audio": True, "video": True})
    resumed = decoded_from(bruno, anne, "audio")
    await wait_until(
        lambda: decoded_from(bruno, anne, "audio") > resumed + 20,
        10,
        "audio did not resume after unmute",
    )


async def test_leaving_participant_disappears_and_its_legs_stop(meeting):
    app, join = meeting
    anne = await join("Anne")
    bruno = await join("Bruno")
    await wait_until(lambda: decoded_from(bruno, anne, "video") > 5, 20, "no video for Bruno")
    index = len(bruno.messages)
    await anne.send({"type": "leave"})
    left = await bruno.wait_for("participant_left", after=index)
    assert left["participant_id"] == anne.participant_id
    room = app[SFU].rooms[next(iter(app[SFU].rooms))]
    await wait_until(lambda: anne.participant_id not in room.participants, 5, "anne still in room")
    legs = room.snapshot()[bruno.participant_id]["legs"]
    assert all(leg["from"] is None for leg in legs)
