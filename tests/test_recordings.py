"""Recordings through the real WebSocket, SFU, recorder process and store: aiortc people
publish VP8 and Opus (aiortc's own encoders), a moderator records a few seconds, and what the
store holds is decoded with PyAV; `hub recordings compose` makes one file of it. Consent:
only a moderator in the meeting starts or stops it, everyone (and latecomers) is told."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest

from hub.i18n import say
from hub.meetings.recording import ALREADY_OFF, ALREADY_ON, DISABLED
from hub.recording.manifest import Manifest
from hub.web.keys import LIVE, RECORDINGS, SFU
from hub.web.recording_routes import NOT_THEIRS
from tests.conftest import make_config
from tests.support.hub_client import another_browser, api_client
from tests.support.peer import HEIGHT, WIDTH, wait_until
from tests.test_lobby import Hub

RECORD_SECONDS = 3.0
SPAN_SECONDS = 9.0


async def _hub(aiohttp_client, tmp_path, **recording: object) -> Hub:
    config = make_config(
        tmp_path, sfu={"candidate_addresses": ["127.0.0.1"]}, recording=recording or {}
    )
    client, csrf = await api_client(aiohttp_client, config)
    return Hub(client, csrf, [], [])


@pytest.fixture
async def hub(aiohttp_client, tmp_path) -> AsyncIterator[Hub]:
    state = await _hub(aiohttp_client, tmp_path)
    yield state
    for person in state.people:
        await person.close()
    for http in state.sessions:
        await http.close()


def states(person) -> list[dict]:
    return [m for m in person.messages if m["type"] == "recording_state"]


def decode(path: Path) -> tuple[str, int, int, int, float]:
    """(codec, frames decoded, width, height, seconds) of a file's first stream."""
    with av.open(str(path)) as container:
        stream = container.streams[0]
        frames = list(container.decode(stream))
        width = getattr(frames[0], "width", 0) if frames else 0
        height = getattr(frames[0], "height", 0) if frames else 0
        last = frames[-1]
        seconds = float(last.pts * last.time_base) if frames else 0.0
        return stream.codec_context.name, len(frames), width, height, seconds


async def test_a_recording_keeps_every_track_playable_and_composes(hub: Hub, tmp_path):
    meeting, olga, (bruno,) = await hub.gathering("public", "Bruno")
    welcome = await bruno.wait_for("welcome")
    assert (welcome["recording"], welcome["recording_allowed"]) == (False, True)
    for person in (olga, bruno):
        await person.publish()
    await wait_until(
        lambda: bruno.received.count(olga.participant_id, "video") > 5, 20, "no video for Bruno"
    )
    await olga.send({"type": "recording", "on": True})
    for person in (olga, bruno):
        said = await person.wait_for("recording_state")
        assert said == {"type": "recording_state", "recording": True, "by": "Olga"}
    # Someone who comes later sees it in their welcome.
    chloe = await hub.visitor(meeting, "Chloé")
    await chloe.join()
    assert (await chloe.wait_for("welcome"))["recording"] is True
    await chloe.publish()  # and her tracks are recorded from when they come
    await asyncio.sleep(RECORD_SECONDS)
    index = len(olga.messages)
    await olga.send({"type": "recording", "on": True})
    assert (await olga.wait_for("error", after=index))["message"] == say("fr", ALREADY_ON)
    index = len(chloe.messages)
    await olga.send({"type": "recording", "on": False})
    said = await chloe.wait_for("recording_state", after=index)
    assert said == {"type": "recording_state", "recording": False, "by": "Olga"}
    relay = hub.app[RECORDINGS]
    await wait_until(lambda: not hub.app[SFU].rooms[meeting].recording_tap, 5, "tap still on")
    await relay.settle()
    index = len(olga.messages)
    await olga.send({"type": "recording", "on": False})
    assert (await olga.wait_for("error", after=index))["message"] == say("fr", ALREADY_OFF)
    counts = relay.packet_counts()
    assert counts["taken"] > 300 and counts["dropped"] == 0
    metrics = await (await hub.client.get("/metrics")).text()
    assert f'hub_recording_packets_total{{outcome="taken"}} {counts["taken"]}.0' in metrics

    # The store: a manifest, a WebM per camera and an Ogg per microphone, all decodable.
    listing = await hub.client.get(f"/api/v1/meetings/{meeting}/recordings")
    assert listing.status == 200, await listing.text()
    (manifest,) = [Manifest.model_validate(m) for m in (await listing.json())["recordings"]]
    assert manifest.started_by == "Olga" and manifest.stopped_by == "Olga"
    assert {(t.name, t.kind, t.codec) for t in manifest.tracks} == {
        ("Olga", "video", "vp8"), ("Olga", "audio", "opus"),
        ("Bruno", "video", "vp8"), ("Bruno", "audio", "opus"),
        ("Chloé", "video", "vp8"), ("Chloé", "audio", "opus"),
    }  # fmt: skip
    folder = tmp_path / "data" / "recordings" / meeting / manifest.recording_id
    assert oct((folder / "manifest.json").stat().st_mode & 0o777) == "0o600"
    for track in manifest.tracks:
        path = folder / track.file
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        codec, frames, width, height, seconds = decode(path)
        assert frames > 0 and codec == track.codec
        if track.kind == "video":
            assert (width, height) == (WIDTH, HEIGHT) == (track.width, track.height)
        if track.name != "Chloé":  # there from the start (she came later)
            assert RECORD_SECONDS - 1 < seconds < RECORD_SECONDS + 1.5, (track.file, seconds)
            assert 0 <= track.start < 1.5
        else:  # from when her packets came: never before the others' (the recorder may
            # have started while she was already publishing, on a slow machine)
            first = min(t.start for t in manifest.tracks if t.name != "Chloé")
            assert seconds > 0 and first <= track.start < RECORD_SECONDS, (track, first)
    # A download through the hub, with the moderator's session: the same bytes.
    track = manifest.tracks[0]
    url = f"/api/v1/meetings/{meeting}/recordings/{manifest.recording_id}/{track.file}"
    got = await hub.client.get(url)
    assert got.status == 200 and got.headers["Cache-Control"] == "no-store"
    assert await got.read() == (folder / track.file).read_bytes()
    # Someone who was not a moderator: refused, precisely; a file the manifest does not list.
    http, _csrf = await another_browser(hub.client)
    hub.sessions.append(http)
    for path in (url, f"/api/v1/meetings/{meeting}/recordings"):
        refused = await http.get(hub.client.make_url(path))
        assert refused.status == 403 and (await refused.json())["detail"] == say("fr", NOT_THEIRS)
    stray = await hub.client.get(url.rsplit("/", 1)[0] + "/hub.sqlite3")
    assert stray.status == 404

    # One playable file, offline, from the command line.
    out = tmp_path / "composite.webm"
    config = tmp_path / "config.toml"
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hub", "recordings", "compose", manifest.recording_id,
         "--config", str(config), "--out", str(out), "--keep"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with av.open(str(out)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
        video = sum(1 for _ in container.decode(container.streams.video[0]))
    with av.open(str(out)) as container:
        audio = sum(1 for _ in container.decode(container.streams.audio[0]))
    assert video > 10 and audio > 10
    # --keep: stored beside the tracks, named in the manifest, downloaded through the hub and
    # linked from the page of what the meeting kept.
    listed = await hub.client.get(f"/api/v1/meetings/{meeting}/recordings")
    composed = Manifest.model_validate((await listed.json())["recordings"][0]).composed
    assert composed is not None and composed.file == "composed-grid.webm"
    assert composed.layout == "grid" and composed.duration > 1
    composed_url = url.rsplit("/", 1)[0] + "/composed-grid.webm"
    got = await hub.client.get(composed_url)
    assert got.status == 200 and got.content_type == "video/webm"
    assert await got.read() == out.read_bytes()
    page = await hub.client.get(f"/m/{meeting}/kept", headers={"Accept": "text/html"})
    assert f'href="{composed_url}"' in await page.text()
    # Composed again in the other layout: the manifest names the new file and the first is
    # deleted (retention deletes only what the manifest names: it would stay forever).
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hub", "recordings", "compose", manifest.recording_id,
         "--config", str(config), "--out", str(out), "--keep", "--layout", "speaker"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = await hub.client.get(f"/api/v1/meetings/{meeting}/recordings")
    composed = Manifest.model_validate((await listed.json())["recordings"][0]).composed
    assert composed is not None and composed.file == "composed-speaker.webm"
    assert (await hub.client.get(composed_url)).status == 404
    folder = next(tmp_path.rglob(f"{manifest.recording_id}"))
    assert sorted(p.name for p in folder.glob("composed-*")) == ["composed-speaker.webm"]


async def test_a_participant_cannot_record_and_nothing_changes(hub: Hub):
    meeting, olga, (bruno,) = await hub.gathering("public", "Bruno")
    index = len(bruno.messages)
    await bruno.send({"type": "recording", "on": True})
    error = await bruno.wait_for("error", after=index)
    assert error == {
        "type": "error",
        "code": "forbidden",
        "message": "Réservé aux organisateurs et modérateurs",  # the page's language: French
        "request": "recording",
    }
    live = hub.app[LIVE].get(meeting)
    assert live is not None and live.recording is False
    assert hub.app[SFU].rooms[meeting].recording_tap is None
    assert not states(olga) and not states(bruno)
    # The API: someone not in the meeting is refused; the owner in it may.
    url = f"/api/v1/meetings/{meeting}/recording"
    http, csrf = await another_browser(hub.client)
    hub.sessions.append(http)
    refused = await http.post(hub.client.make_url(url), json={"on": True}, headers=csrf)
    assert refused.status == 403
    assert live.recording is False and not states(bruno)
    answer = await hub.client.post(url, json={"on": True}, headers=hub.owner_csrf)
    assert answer.status == 200, await answer.text()
    assert await answer.json() == {"recording": True}
    assert (await bruno.wait_for("recording_state"))["by"] == "Olga"
    answer = await hub.client.post(url, json={"on": False}, headers=hub.owner_csrf)
    assert await answer.json() == {"recording": False}
    await hub.app[RECORDINGS].settle()


async def test_an_operator_can_disable_recording(aiohttp_client, tmp_path):
    hub = await _hub(aiohttp_client, tmp_path, enabled=False)
    try:
        _meeting, olga, _ = await hub.gathering("public")
        assert (await olga.wait_for("welcome"))["recording_allowed"] is False
        await olga.send({"type": "recording", "on": True})
        error = await olga.wait_for("error")
        assert (error["code"], error["message"]) == ("forbidden", say("fr", DISABLED))
        assert RECORDINGS not in hub.app
    finally:
        for person in hub.people:
            await person.close()


def ffprobe_durations(path: Path) -> tuple[float, list[float]]:
    """(the container's duration, each stream's) as ffprobe reads them from the file."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         str(path)],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    probed = json.loads(done.stdout)
    streams = []
    for stream in probed["streams"]:
        # Ogg gives each stream's duration; Matroska/WebM writes it as a DURATION tag.
        value = stream.get("duration") or stream.get("tags", {}).get("DURATION")
        streams.append(_seconds(value))
    return float(probed["format"]["duration"]), streams


def _seconds(value: str) -> float:
    if ":" not in value:
        return float(value)
    hours, minutes, seconds = value.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


async def test_each_track_of_a_three_person_recording_lasts_as_long_as_the_recording(
    hub: Hub, tmp_path
):
    """Issue 16: ffprobe reads each stored track, and the composed file, as long as the
    recording within 0.5 s. The span compared is the manifest's: from the moderator's switch
    on to off, as the hub saw them, which is what the recording says it covers (the test's
    own clock around the two messages agrees within a few ms). Every track here is there
    from the start, so it must cover all of it but the first keyframe's wait."""
    meeting, olga, others = await hub.gathering("public", "Bruno", "Chloé")
    people = [olga, *others]
    for person in people:
        await person.publish()
    for person in people:
        for other in people:
            if other is not person:
                await wait_until(
                    lambda p=person, o=other: p.received.count(o.participant_id, "video") > 5,
                    20, f"no video from {other.name} for {person.name}",
                )  # fmt: skip
    await olga.send({"type": "recording", "on": True})
    await olga.wait_for("recording_state")
    started = time.monotonic()
    await asyncio.sleep(SPAN_SECONDS)
    index = len(olga.messages)
    await olga.send({"type": "recording", "on": False})
    await olga.wait_for("recording_state", after=index)
    measured = time.monotonic() - started
    await hub.app[RECORDINGS].settle()
    listing = await hub.client.get(f"/api/v1/meetings/{meeting}/recordings")
    (manifest,) = [Manifest.model_validate(m) for m in (await listing.json())["recordings"]]
    span = (manifest.ended_at - manifest.started_at).total_seconds()
    assert abs(span - measured) < 0.5, (span, measured)
    assert len(manifest.tracks) == 6
    folder = tmp_path / "data" / "recordings" / meeting / manifest.recording_id
    for track in manifest.tracks:
        total, (stream,) = await asyncio.to_thread(ffprobe_durations, folder / track.file)
        assert abs(stream - span) < 0.5 and abs(total - span) < 0.5, (track, stream, span)
        assert abs(track.duration - stream) < 0.1, (track, stream)  # the manifest agrees
        # and the track ends where the recording did: its clock kept time with the hub's
        assert abs(track.start + track.duration - span) < 0.3, (track, span)

    out = tmp_path / "composite.webm"
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hub", "recordings", "compose", manifest.recording_id,
         "--config", str(tmp_path / "config.toml"), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    total, streams = await asyncio.to_thread(ffprobe_durations, out)
    assert len(streams) == 2 and abs(total - span) < 0.5, (total, span)
    assert all(abs(stream - span) < 0.5 for stream in streams), (streams, span)
