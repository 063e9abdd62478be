"""Kyutai's msgpack messages, checked against the bytes the protocol's sources give
(docs/speech-and-recording-findings.md, point 5)."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from hub.speech import kyutai_wire as wire

# From the findings: rmp_serde's struct map, "type" first, f64 as `cb`.
WORD = bytes.fromhex("83a474797065a4576f7264a474657874a568656c6c6f") + (
    b"\xaastart_time\xcb\x3f\xde\xb8\x51\xeb\x85\x1e\xb8"
)
READY = bytes.fromhex("81a474797065a55265616479")


def test_word_and_ready_bytes_from_the_protocol_parse() -> None:
    assert wire.parse_server_message(WORD) == wire.WordStart(text="hello", start_time=0.48)
    assert wire.parse_server_message(READY) == wire.Ready()


def test_step_with_float32_pause_probabilities_parses() -> None:
    step = msgpack.packb(
        {"type": "Step", "step_idx": 3, "prs": [0.5, 0.25, 1.0, 0.0], "buffered_pcm": 0},
        use_single_float=True,
    )
    assert b"\xca" in step
    assert wire.parse_server_message(step) == wire.Step(3, (0.5, 0.25, 1.0, 0.0), 0)


@pytest.mark.parametrize("count", [0, 3, 1920, 70_000])
def test_audio_is_what_kyutai_clients_send_with_msgpack_single_floats(count: int) -> None:
    pcm = np.linspace(-1, 1, count, dtype=np.float32)
    expected = msgpack.packb({"type": "Audio", "pcm": pcm.tolist()}, use_single_float=True)
    assert bytes(wire.Audio(pcm)) == expected


def test_marker_round_trip() -> None:
    data = bytes(wire.Marker(7))
    assert data == bytes.fromhex("82a474797065a64d61726b6572a2696407")
    assert wire.parse_server_message(data) == wire.Marker(7)


def test_unknown_message_type_is_skipped_not_an_error() -> None:
    assert wire.parse_server_message(msgpack.packb({"type": "Telemetry", "x": 1})) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xc1", "not msgpack (FormatError)"),
        (msgpack.packb([1, 2]), "not a msgpack map but list"),
        (msgpack.packb({"text": "hi"}), 'map has no "type" string'),
        (msgpack.packb({"type": "Word", "text": 3, "start_time": 0.1}), "Word.text is not a str"),
        (msgpack.packb({"type": "EndWord", "stop_time": "1"}), "EndWord.stop_time is not a number"),
        (msgpack.packb({"type": "Marker", "id": True}), "Marker.id is not an integer"),
    ],
)
def test_bad_messages_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(ValueError) as error:
        wire.parse_server_message(data)
    assert str(error.value) == message
