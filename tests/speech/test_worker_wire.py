"""The hub ↔ speech worker messages: every kind round-trips, and a bad frame gets a precise
WireError (the hub kills a worker that sends one; a worker stops on one)."""

from __future__ import annotations

import msgpack
import pytest

from hub.pipes import frames
from hub.speech.worker_wire import (
    MAX_FRAME,
    Hush,
    Packets,
    Said,
    Setup,
    Started,
    Trouble,
    WireError,
    decode,
    encode,
)


def frame_length(head: bytes) -> int:
    return frames.frame_length(head, MAX_FRAME)


MESSAGES = [
    Setup({"backend": "embedded", "language": "en", "openai_api_key": "s3cret"}),
    Packets((("m/p1", 4_294_967_000, b"\xf8\xff\xfe"), ("m/p2", 0, b""))),
    Hush("m/p1"),
    Started(True),
    Started(False, "speech.embedded_model_dir: /x holds no model.bin"),
    Said("m/p1", "good morning everyone", True, 0.25, 1.5),
    Trouble("m/p2", "unavailable", "cannot connect"),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_each_message_round_trips(message) -> None:
    frame = encode(message)
    assert frame_length(frame[:4]) == len(frame) - 4
    assert decode(frame[4:]) == message


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\xc1", "not msgpack"),
        (msgpack.packb([1, 2]), "a message is a msgpack map"),
        (msgpack.packb({"t": "shout"}), "unknown message kind 'shout'"),
        (msgpack.packb({"t": "hush"}), "hush: field 'k' is missing or not str"),
        (
            msgpack.packb({"t": "packets", "p": [["k", "1", b""]]}),
            "packets: each packet is [key, timestamp",
        ),
        (
            msgpack.packb({"t": "said", "k": "a", "text": "x", "final": 1, "s": 0, "e": 1}),
            "said: field 'final' is missing",
        ),
        (
            msgpack.packb({"t": "said", "k": "a", "text": "x", "final": True, "s": True, "e": 1}),
            "said: field 's' is missing or not int or float",
        ),
    ],
)
def test_a_bad_frame_is_a_precise_error(body: bytes, error: str) -> None:
    with pytest.raises(WireError) as caught:
        decode(body)
    assert str(caught.value).startswith(error)


def test_an_oversized_frame_is_refused_from_its_head() -> None:
    with pytest.raises(WireError, match=f"over the {MAX_FRAME}-byte limit"):
        frame_length((MAX_FRAME + 1).to_bytes(4, "big"))
    with pytest.raises(WireError, match="frame head is 3 bytes"):
        frame_length(b"\x00\x00\x01")
