"""The subtitle tap on the packet path: voiced packets are taken with a short hangover after,
silent ones are left out, and a full queue drops and counts instead of growing."""

from __future__ import annotations

from hub.ids import ParticipantId
from hub.sfu.audio_tap import HANGOVER, LEVEL_GATE, NO_LEVEL, AudioTap

ANNE, BRUNO = ParticipantId("anne"), ParticipantId("bruno")
VOICE = 0x80 | 20  # -20 dBov, V bit set
LOUD = 20  # the same without the V bit
SILENT = 0x80 | 127  # what Chromium sends in silence: the V bit set all the same


def test_voice_is_taken_then_a_hangover_then_nothing() -> None:
    tap = AudioTap()
    tap.offer(ANNE, 0, b"a", SILENT)  # nothing heard yet: left out
    tap.offer(ANNE, 960, b"b", VOICE)
    tap.offer(ANNE, 1920, b"c", LOUD)
    for number in range(HANGOVER + 3):
        tap.offer(ANNE, 2880 + number * 960, b"s", SILENT)
    taken = tap.take()
    assert [payload for _, _, payload in taken] == [b"b", b"c"] + [b"s"] * HANGOVER
    assert (tap.taken, tap.silent, tap.dropped) == (2 + HANGOVER, 4, 0)
    assert tap.take() == []


def test_each_speaker_has_their_own_hangover_and_no_level_means_take() -> None:
    tap = AudioTap()
    tap.offer(ANNE, 0, b"a", LEVEL_GATE)  # at the gate: speech
    tap.offer(BRUNO, 0, b"b", LEVEL_GATE + 1)  # just under it, never spoke: left out
    tap.offer(BRUNO, 960, b"c", NO_LEVEL)  # a stream without the extension: taken
    assert [(who, payload) for who, _, payload in tap.take()] == [(ANNE, b"a"), (BRUNO, b"c")]


def test_a_full_queue_drops_and_counts() -> None:
    tap = AudioTap(capacity=3)
    for number in range(5):
        tap.offer(ANNE, number * 960, bytes([number]), VOICE)
    assert [payload for _, _, payload in tap.take()] == [b"\x00", b"\x01", b"\x02"]
    assert (tap.taken, tap.dropped) == (3, 2)
    tap.offer(ANNE, 5 * 960, b"x", VOICE)  # room again once the pump took them
    assert len(tap.take()) == 1
