"""The test homeservers themselves: healthy, users registered, and the pair really federates."""

from __future__ import annotations

import secrets
import time
import urllib.parse

from tests.support.synapse import Synapse


def quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def test_registered_user_can_use_the_client_api(synapse: Synapse):
    user = synapse.register(f"erin{secrets.token_hex(3)}")
    assert user.user_id == f"@{user.user_id[1:].split(':')[0]}:{synapse.server_name}"
    whoami = synapse.request("GET", "/_matrix/client/v3/account/whoami", None, user.access_token)
    assert whoami["user_id"] == user.user_id
    assert synapse.startup_seconds < 60


def test_pair_federates_invite_join_and_message(synapse_pair: tuple[Synapse, Synapse]):
    first, second = synapse_pair
    assert first.server_name != second.server_name
    alice = first.register(f"alice{secrets.token_hex(3)}")
    bob = second.register(f"bob{secrets.token_hex(3)}")
    room = first.request(
        "POST", "/_matrix/client/v3/createRoom", {"invite": [bob.user_id]}, alice.access_token
    )["room_id"]
    second.request(
        "POST",
        f"/_matrix/client/v3/join/{quoted(room)}?server_name={quoted(first.server_name)}",
        {},
        bob.access_token,
    )
    second.request(
        "PUT",
        f"/_matrix/client/v3/rooms/{quoted(room)}/send/m.room.message/t1",
        {"msgtype": "m.text", "body": "bonjour"},
        bob.access_token,
    )
    deadline = time.monotonic() + 20
    bodies: list[str] = []
    while time.monotonic() < deadline:
        messages = first.request(
            "GET",
            f"/_matrix/client/v3/rooms/{quoted(room)}/messages?dir=b&limit=20",
            None,
            alice.access_token,
        )
        bodies = [
            event["content"].get("body", "")
            for event in messages["chunk"]
            if event["type"] == "m.room.message" and event["sender"] == bob.user_id
        ]
        if bodies:
            break
        time.sleep(0.1)
    assert bodies == ["bonjour"]
