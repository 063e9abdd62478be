"""The taps' batches on the control socket (hub/sfu/tap_wire.py, hub/sfu/worker_taps.py): the
round trip through real frames, the exact refusal of each hostile field, and what the hub's
side of a worker's room keeps (nothing of a refused batch)."""

from __future__ import annotations

import base64
import itertools
import logging

import pytest

from hub.config_sfu import SfuConfig
from hub.ids import MeetingId, ParticipantId
from hub.pipes import frames
from hub.sfu import control, tap_wire
from hub.sfu.audio_tap import NO_LEVEL, AudioTap
from hub.sfu.control import EVENTS, MAX_FRAME, ControlError, parse
from hub.sfu.recording_tap import RecordingTap, TrackInfo
from hub.sfu.remote import RemoteRoom
from hub.sfu.service import Sfu
from hub.sfu.worker_taps import COUNTS_EVERY, WorkerTaps

MEETING = MeetingId("abc-defg-hij")
OPUS = bytes(range(120))
TRACK = TrackInfo("p1/0", ParticipantId("p1"), "audio", "microphone", "audio/opus", 48000)


def frame(type_: str, **fields: object) -> control.Message:
    """Through the real codec: encoded as a worker does, checked as the hub does."""
    return parse(control.encode(type_, **fields)[frames.HEAD.size :], EVENTS, need_id=False)


def audio(packets: object, **counts: object) -> control.Message:
    fields = {"taken": 2, "dropped": 0, "silent": 1, **counts}
    return frame("audio_packets", meeting=MEETING, packets=packets, **fields)


def recording(packets: object, tracks: object = ()) -> control.Message:
    return frame(
        "recording_packets", meeting=MEETING, tracks=list(tracks), packets=packets,
        taken=1, dropped=0,
    )  # fmt: skip


def test_a_batch_crosses_whole_and_its_arrivals_are_ages_on_the_receivers_clock() -> None:
    packets = [("p1", 1000, OPUS), ("p2", 0xFFFFFFFF, b"")]
    assert tap_wire.audio_packets_of(audio(tap_wire.audio_fields(packets))) == packets
    tapped = [("p1/0", 65535, 90000, True, OPUS, 99.75)]
    message = recording(
        tap_wire.recording_fields(tapped, now=100.0), tap_wire.track_fields([TRACK])
    )
    assert tap_wire.tracks_of(message) == [TRACK]
    assert tap_wire.recording_packets_of(message, now=500.0) == [
        ("p1/0", 65535, 90000, True, OPUS, 499.75)
    ]


B64 = base64.b64encode(OPUS).decode()
BAD_AUDIO = "audio_packets: a packet is not [participant, timestamp, payload]"
BAD_RECORDING = "recording_packets: a packet is not [track, seq, timestamp, marker, payload, age]"


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (lambda: audio([["p1", 1, "!!!"]]), "audio_packets: a payload is not base64"),
        (lambda: audio([["p1", 1, "A" * 6000]]), "audio_packets: a payload is over 4096 bytes"),
        (lambda: audio([["p1", -1, B64]]), BAD_AUDIO),
        (lambda: audio([["p1", 1 << 32, B64]]), BAD_AUDIO),
        (lambda: audio([["", 1, B64]]), BAD_AUDIO),
        (lambda: audio([["x" * 201, 1, B64]]), BAD_AUDIO),
        (lambda: audio([["p1", 1]]), BAD_AUDIO),
        (lambda: audio([{"p1": 1}]), BAD_AUDIO),
        (lambda: recording([["p1/0", 70000, 1, True, B64, 0.1]]), BAD_RECORDING),
        (lambda: recording([["p1/0", 1, 1, 1, B64, 0.1]]), BAD_RECORDING),
        (lambda: recording([["p1/0", 1, 1, True, B64, 3600]]), BAD_RECORDING),
        (lambda: recording([["p1/0", 1, 1, True, B64, "0"]]), BAD_RECORDING),
    ],
)
def test_each_hostile_packet_is_refused_with_what_is_wrong(message, error) -> None:
    with pytest.raises(ControlError) as refused:
        decoded = message()
        if decoded.type == "audio_packets":
            tap_wire.audio_packets_of(decoded)
        else:
            tap_wire.recording_packets_of(decoded, now=1.0)
    assert str(refused.value) == error


def test_hostile_counts_and_tracks_are_refused_too() -> None:
    with pytest.raises(ControlError) as refused:
        audio([], taken="2")
    assert str(refused.value) == "audio_packets: 'taken' is missing or not of type int"
    with pytest.raises(ControlError) as refused:
        tap_wire.counts_of(audio([], dropped=-1), ("taken", "dropped", "silent"))
    assert str(refused.value) == "audio_packets: 'dropped' is negative"
    for track in (
        ["k", "p1", "data", "microphone", "audio/opus", 48000],
        ["k", "p1", "audio", "microphone", "audio/g711", 48000],
        ["k", "p1", "audio", "microphone", "audio/opus", 0],
        ["k", "p1", "audio", "microphone"],
    ):
        with pytest.raises(ControlError) as refused:
            tap_wire.tracks_of(recording([], [track]))
        assert str(refused.value).startswith("recording_packets: a track is not [key, part")


def test_the_hub_keeps_nothing_of_a_refused_batch_and_says_why_in_one_line(caplog) -> None:
    room = RemoteRoom(MEETING)
    room.audio_tap = AudioTap()
    good = tap_wire.audio_fields([("p1", 1, OPUS)])
    with caplog.at_level(logging.WARNING, logger="hub.sfu.remote"):
        room.hear(audio([*good, ["p1", 1, "!!!"]]))  # one good packet, then a bad one
    assert room.audio_tap.take() == [] and room.audio_tap.taken == 0
    (record,) = caplog.records
    assert record.getMessage() == (
        "SFU worker event audio_packets refused: audio_packets: a payload is not base64"
    )
    room.hear(audio(good, taken=1, dropped=3, silent=4))
    assert room.audio_tap.take() == [("p1", 1, OPUS)]
    assert (room.audio_tap.taken, room.audio_tap.dropped, room.audio_tap.silent) == (1, 3, 4)
    # A recording batch: tracks first, packets of a track never announced left out (dropped).
    room.recording_tap = RecordingTap()
    tapped = [("p1/0", 1, 1, False, OPUS, 0.0), ("p9/0", 1, 1, False, OPUS, 0.0)]
    room.hear(recording(tap_wire.recording_fields(tapped, 0.0), tap_wire.track_fields([TRACK])))
    assert room.recording_tap.take_tracks() == [TRACK]
    assert [p[0] for p in room.recording_tap.take()] == ["p1/0"]
    assert (room.recording_tap.taken, room.recording_tap.dropped) == (0, 1)


def test_the_hubs_tap_is_bounded_as_the_workers_is() -> None:
    tap = AudioTap(capacity=3)
    tap.absorb([("p1", n, OPUS) for n in range(5)], taken=5, dropped=2, silent=0)
    assert len(tap.take()) == 3 and (tap.taken, tap.dropped) == (3, 4)


def test_a_big_batch_is_split_into_frames_under_the_limit() -> None:
    packets = [("p1/0", n, n, False, bytes(1200), 0.0) for n in range(2000)]
    runs = list(tap_wire.split([len(p[4]) for p in packets]))
    assert runs[0][0] == 0 and runs[-1][1] == 2000 and len(runs) > 4
    assert all(a[1] == b[0] for a, b in itertools.pairwise(runs))
    for start, end in runs:  # encode refuses a frame over MAX_FRAME
        body = control.encode(
            "recording_packets", meeting=MEETING, tracks=[], taken=0, dropped=0,
            packets=tap_wire.recording_fields(packets[start:end], 0.0),
        )  # fmt: skip
        assert len(body) < MAX_FRAME


async def test_a_batch_the_hub_is_too_slow_for_is_counted_as_dropped_then_reported() -> None:
    sent: list[tuple[str, dict[str, object]]] = []
    accepting = False

    def emit(type_: str, *, force: bool = False, **fields: object) -> bool:
        if accepting or force:
            sent.append((type_, fields))
        return accepting or force

    sfu = Sfu(SfuConfig())
    taps = WorkerTaps(sfu, emit)
    taps.set(MEETING, audio=True, recording=False)
    tap = sfu.room(MEETING).audio_tap
    assert tap is not None
    for n in range(3):
        tap.offer(ParticipantId("p1"), n, OPUS, NO_LEVEL)
    taps.pump()  # the hub is behind: lost, counted
    assert sent == [] and (tap.taken, tap.dropped) == (0, 3)
    accepting = True
    tap.offer(ParticipantId("p1"), 3, OPUS, NO_LEVEL)
    taps.pump()
    ((kind, fields),) = sent
    assert kind == "audio_packets" and len(fields["packets"]) == 1  # type: ignore[arg-type]
    assert (fields["taken"], fields["dropped"], fields["silent"]) == (1, 3, 0)
    for _ in range(COUNTS_EVERY):  # nothing new: no frame, not even a count report
        taps.pump()
    assert len(sent) == 1
    taps.set(MEETING, audio=False, recording=False)
    assert sfu.room(MEETING).audio_tap is None
    await sfu.close()
