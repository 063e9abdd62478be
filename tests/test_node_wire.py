"""The messages between hub nodes (hub/nodes/wire.py): each type's round trip, and a precise
refusal for anything else, hostile input included."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.ids import MeetingId
from hub.nodes import wire

SESSION = "AbCdEfGhIjKlMnOp"
NODE = "0123456789ab"

MESSAGES: list[wire.NodeMessage] = [
    wire.Open(SESSION, NODE, MeetingId("abc-defg-hij"), "192.0.2.7", "cookie.value"),
    wire.Open(SESSION, NODE, MeetingId("abc-defg-hij"), "-", None),
    wire.FromPage(SESSION, '{"type":"chat","text":"é"}'),
    wire.PageGone(SESSION),
    wire.ToPage(SESSION, '{"type":"pong"}'),
    wire.ClosePage(SESSION, 4001, "ended"),
    wire.Ping(NODE),
    wire.MeetingOver(MeetingId("abc-defg-hij")),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_each_message_survives_the_round_trip(message: wire.NodeMessage) -> None:
    assert wire.parse(wire.to_json(message)) == message


def with_(message: wire.NodeMessage, **changes: object) -> str:
    return json.dumps({**json.loads(wire.to_json(message)), **changes})


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("nope", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"type": "take_over"}', "unknown type 'take_over'"),
        ('{"type": "ping"}', "ping: fields [], expected ['node']"),
        (with_(MESSAGES[6], extra=1), "ping: fields ['extra', 'node'], expected ['node']"),
        (with_(MESSAGES[6], node="../../etc"), "node: malformed"),
        (with_(MESSAGES[3], session="short"), "session: malformed"),
        (with_(MESSAGES[3], session=7), "session: not a string"),
        (with_(MESSAGES[0], meeting="not-a-meeting"), "meeting: not a meeting id"),
        (with_(MESSAGES[0], remote="x" * 101), "remote: longer than 100 characters"),
        (with_(MESSAGES[5], code=999), "code: not a WebSocket close code"),
        (with_(MESSAGES[5], code=True), "code: not a WebSocket close code"),
        (with_(MESSAGES[2], text=None), "text: not a string"),
        ("[" * 100_000, "not JSON"),
        (" " * (wire.MAX_MESSAGE + 1), "more than"),
    ],
)
def test_anything_else_is_refused_with_a_precise_error(text: str, error: str) -> None:
    with pytest.raises(wire.WireError) as refused:
        wire.parse(text)
    assert error in str(refused.value)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
KNOWN = st.sampled_from(
    ["open", "from_page", "page_gone", "to_page", "close_page", "ping", "meeting_over"]
)
FIELDS = st.sampled_from(["session", "node", "meeting", "remote", "cookie", "text", "code"])


@given(st.text(max_size=300) | st.builds(
    lambda kind, fields: json.dumps({"type": kind, **fields}),
    KNOWN, st.dictionaries(FIELDS, JSON, max_size=6),
))  # fmt: skip
def test_arbitrary_input_is_a_message_or_a_wire_error_never_another_exception(text: str) -> None:
    with contextlib.suppress(wire.WireError):
        assert wire.parse(wire.to_json(wire.parse(text))) == wire.parse(text)
