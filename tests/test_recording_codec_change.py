"""A recorded track whose codec changes mid-way: Olga's publisher (aiortc, real VP8) starts
stamping its camera's packets with a payload type the hub never negotiated (as a publisher
switching to another codec would), then goes back. The hub answers VP8 and Opus only, so those
packets are dropped before forwarding and recording, logged once; Olga's camera stays one
playable VP8 file (a pause, then it goes on from the next keyframe), her microphone and Bruno's
tracks run the whole span, and so does another meeting recorded at the same time.

And a publisher's new connection mid-recording (new SSRCs, new RTP clocks): a new segment,
timed right, one tile in the composed file."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
from typing import Any

import av

from hub.recording.manifest import Manifest
from hub.web.keys import RECORDINGS
from tests.support.peer import Participant, wait_until
from tests.test_lobby import Hub
from tests.test_recordings import decode, ffprobe_durations, hub  # noqa: F401 (a fixture)

FOREIGN_PT = 45  # no codec of the offer uses it
SECONDS = 2.0  # before, during and after the change


class ForeignCodec:
    """Rewrites the payload type of `person`'s camera packets while `on`: a misbehaving
    publisher, made at its transport's last step (what leaves the socket, encrypted after)."""

    def __init__(self, person: Participant) -> None:
        answer = person.publish_pc.remoteDescription.sdp
        found = re.search(r"^m=video \d+ \S+ (\d+)", answer, re.MULTILINE)
        assert found, answer
        self.video_pt = int(found.group(1))  # VP8, as the hub answered
        camera = next(t for t in person.publish_pc.getTransceivers() if t.kind == "video")
        transport: Any = camera.sender.transport
        self._send = transport._send_rtp
        transport._send_rtp = self._rewrite
        self.on = False
        self.rewritten = 0

    async def _rewrite(self, data: bytes) -> None:
        if self.on and data[1] & 0x7F == self.video_pt:
            data = bytes([data[0], (data[1] & 0x80) | FOREIGN_PT]) + data[2:]
            self.rewritten += 1
        await self._send(data)


async def test_a_codec_change_mid_recording_leaves_every_file_playable(
    hub: Hub,  # noqa: F811 (the fixture imported above)
    tmp_path,
    caplog,
):
    caplog.set_level(logging.INFO)
    meeting, olga, (bruno,) = await hub.gathering("public", "Bruno")
    for person in (olga, bruno):
        await person.publish()
    await wait_until(
        lambda: bruno.received.count(olga.participant_id, "video") > 5, 20, "no video for Bruno"
    )
    # Another meeting, recorded at the same time by its own owner.
    other, owner, _ = await hub.gathering("public")
    await owner.publish()
    foreign = ForeignCodec(olga)
    for moderator in (olga, owner):
        await moderator.send({"type": "recording", "on": True})
        await moderator.wait_for("recording_state")
    await asyncio.sleep(SECONDS)
    foreign.on = True
    await asyncio.sleep(SECONDS)
    foreign.on = False
    assert foreign.rewritten > 10
    await asyncio.sleep(SECONDS)
    for moderator in (olga, owner):
        index = len(moderator.messages)
        await moderator.send({"type": "recording", "on": False})
        await moderator.wait_for("recording_state", after=index)
    await hub.app[RECORDINGS].settle()

    # One log line for the whole episode, naming the payload types.
    dropped = [r.getMessage() for r in caplog.records if "payload type" in r.getMessage()]
    assert len(dropped) == 1, dropped
    assert f"payload type {FOREIGN_PT}, not the negotiated {foreign.video_pt}" in dropped[0]
    assert not [r for r in caplog.records if r.exc_info]

    listing = await hub.client.get(f"/api/v1/meetings/{meeting}/recordings")
    (manifest,) = [Manifest.model_validate(m) for m in (await listing.json())["recordings"]]
    span = (manifest.ended_at - manifest.started_at).total_seconds()
    assert len(manifest.tracks) == 4, manifest.tracks  # one file per track: no extra segment
    folder = tmp_path / "data" / "recordings" / meeting / manifest.recording_id
    pictures = {}
    for track in manifest.tracks:
        assert track.error is None, track
        codec, frames, *_ = decode(folder / track.file)
        assert codec == track.codec and frames > 0
        _total, (stream,) = await asyncio.to_thread(ffprobe_durations, folder / track.file)
        assert abs(stream - span) < 0.5, (track.name, track.kind, stream, span)
        if track.kind == "video":
            pictures[track.name] = frames
    # The pause is missing pictures, not time: Olga's camera lacks about 2 s of Bruno's.
    assert pictures["Olga"] < pictures["Bruno"] - SECONDS * 5, pictures

    # The other meeting's recording: both tracks whole, the whole span.
    listing = await hub.client.get(f"/api/v1/meetings/{other}/recordings")
    (elsewhere,) = [Manifest.model_validate(m) for m in (await listing.json())["recordings"]]
    span = (elsewhere.ended_at - elsewhere.started_at).total_seconds()
    assert len(elsewhere.tracks) == 2, elsewhere.tracks
    folder = tmp_path / "data" / "recordings" / other / elsewhere.recording_id
    for track in elsewhere.tracks:
        assert track.error is None, track
        _total, (stream,) = await asyncio.to_thread(ffprobe_durations, folder / track.file)
        assert abs(stream - span) < 0.5, (track.kind, stream, span)


async def test_a_publishers_new_connection_mid_recording_keeps_its_tracks_in_time(
    hub: Hub,  # noqa: F811 (the fixture imported above)
    tmp_path,
):
    """New ICE credentials (a network change): new SSRCs and RTP clocks for the same tracks."""
    meeting, olga, (bruno,) = await hub.gathering("public", "Bruno")
    for person in (olga, bruno):
        await person.publish()
    await wait_until(
        lambda: bruno.received.count(olga.participant_id, "video") > 5, 20, "no video for Bruno"
    )
    await olga.send({"type": "recording", "on": True})
    await olga.wait_for("recording_state")
    await asyncio.sleep(SECONDS)
    await olga.republish()
    await asyncio.sleep(SECONDS)
    index = len(olga.messages)
    await olga.send({"type": "recording", "on": False})
    await olga.wait_for("recording_state", after=index)
    await hub.app[RECORDINGS].settle()
    listing = await hub.client.get(f"/api/v1/meetings/{meeting}/recordings")
    (manifest,) = [Manifest.model_validate(m) for m in (await listing.json())["recordings"]]
    span = (manifest.ended_at - manifest.started_at).total_seconds()
    folder = tmp_path / "data" / "recordings" / meeting / manifest.recording_id
    # Olga's camera and microphone: two segments each, one file each, end to end in time.
    assert len(manifest.tracks) == 6, manifest.tracks
    for name in ("Olga", "Bruno"):
        for kind in ("audio", "video"):
            segments = sorted(
                (t for t in manifest.tracks if (t.name, t.kind) == (name, kind)),
                key=lambda t: t.start,
            )
            assert len(segments) == (2 if name == "Olga" else 1), segments
            for track in segments:
                _total, (stream,) = await asyncio.to_thread(ffprobe_durations, folder / track.file)
                assert abs(track.duration - stream) < 0.1, (track, stream)
            first, last = segments[0], segments[-1]
            assert first.start < 0.5 and abs(last.start + last.duration - span) < 0.5, segments
            if len(segments) == 2:  # the second starts where the first ended
                assert -0.1 < last.start - (first.start + first.duration) < 0.5, segments

    # The composed file shows each camera as one tile (two, not three), over the whole span.
    out = tmp_path / "composite.webm"
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hub", "recordings", "compose", manifest.recording_id,
         "--config", str(tmp_path / "config.toml"), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    total, _streams = await asyncio.to_thread(ffprobe_durations, out)
    assert abs(total - span) < 0.5, (total, span)
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.width, video.height) == (2 * 320, 240), (video.width, video.height)
