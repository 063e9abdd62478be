"""The bot's orders to a meeting's home node and the replies (hub/nodes/bot_orders.py): each
one's round trip, and a precise refusal for anything else, hostile input included."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.hub_port import Waiting
from hub.nodes import bot_orders as orders
from hub.nodes.wire import WireError

REQUEST = "AbCdEfGhIjKlMnOp"
NODE = "0123456789ab"
MEETING = "abc-defg-hij"
BY = "@alice:localhost"

ORDERS: list[orders.Order] = [
    orders.Look(),
    orders.Lock(True, BY),
    orders.Subtitles(False, BY),
    orders.Recording(True, BY),
    orders.Admit(None, BY),
    orders.Admit((3, 1), BY),
    orders.Refuse(2, "Complet, désolé", BY),
    orders.Refuse(2, None, BY),
    orders.Mute("Jeanne Invitée", BY),
    orders.Chat(BY, "Alice", "Bonjour ✓"),
]
REPLIES = [
    orders.Reply(REQUEST, orders.LiveView(("Anne",), (Waiting(1, "Jeanne", "guest", "hé"),), True)),
    orders.Reply(REQUEST, ("Anne", "Bruno")),
    orders.Reply(REQUEST, "Anne"),
    orders.Reply(REQUEST, True),
    orders.Reply(REQUEST, None),
    orders.Reply(REQUEST, refusal={"key": "bot.refusal.lobby_empty", "values": {}}),
    orders.Reply(REQUEST, failed=True),
]


@pytest.mark.parametrize("order", ORDERS, ids=lambda order: order.kind)
def test_each_order_survives_the_round_trip(order: orders.Order) -> None:
    ask = orders.Ask(REQUEST, NODE, MEETING, order)
    assert orders.parse(orders.to_json(ask)) == ask


@pytest.mark.parametrize("reply", REPLIES, ids=range(len(REPLIES)))
def test_each_reply_survives_the_round_trip(reply: orders.Reply) -> None:
    assert orders.parse(orders.to_json(reply)) == reply


def ask_with(**changes: object) -> str:
    ask = json.loads(orders.to_json(orders.Ask(REQUEST, NODE, MEETING, orders.Mute("Anne", BY))))
    return json.dumps({**ask, **changes})


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"type": "shout"}', "bot order: body: Input tag 'shout' found using 'type'"),
        (ask_with(node="ZZ"), "bot order: ask.node: String should match pattern"),
        (ask_with(request="short"), "bot order: ask.request: String should match pattern"),
        (ask_with(order={"kind": "explode"}), "bot order: ask.order: Input tag 'explode'"),
        (ask_with(order={"kind": "mute", "name": "", "by": BY}),
         "bot order: ask.order.mute.name: String should have at least 1 character"),
        (ask_with(order={"kind": "mute", "name": "Anne", "by": "alice"}),
         "bot order: ask.order.mute.by: String should match pattern"),
        (ask_with(order={"kind": "admit", "numbers": [0], "by": BY}),
         "bot order: ask.order.admit.numbers.0: Input should be greater than or equal to 1"),
        (ask_with(order={"kind": "lock", "locked": "yes", "by": BY}),
         "bot order: ask.order.lock.locked: Input should be a valid boolean"),
        ("[" * 100_000, "not JSON"),
        ("x" * (2 * 1024 * 1024), "message of 2097152 characters, more than 1048576"),
    ],
)  # fmt: skip
def test_anything_else_is_refused_precisely(text: str, error: str) -> None:
    with pytest.raises(WireError) as refused:
        orders.parse(text)
    assert str(refused.value).startswith(error), str(refused.value)


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"type": "x\n2026-12-01 12:00:00 INFO forged line" + "y" * 10_000}),
        ask_with(order={"kind": "x\rforged" + "y" * 10_000}),
    ],
)
def test_a_hostile_tag_is_quoted_and_cut_in_the_error(text: str) -> None:
    with pytest.raises(WireError) as refused:
        orders.parse(text)
    said = str(refused.value)
    assert said.isprintable() and "forged" in said, said  # the break shown as an escape
    assert len(said) < 250, len(said)


@given(st.text(max_size=300))
def test_no_text_gets_past_the_parser_other_than_as_wire_error(text: str) -> None:
    with contextlib.suppress(WireError):
        orders.parse(text)
