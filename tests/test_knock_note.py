"""A knock's message written or rewritten while waiting (the widget's only place for it), and
the hub's answers on the socket in the page's language — through the real WebSocket."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import make_config
from tests.support.hub_client import api_client
from tests.test_lobby import Hub, lobby_entries


@pytest.fixture
async def hub(aiohttp_client, tmp_path) -> AsyncIterator[Hub]:
    config = make_config(tmp_path, sfu={"candidate_addresses": ["127.0.0.1"]})
    client, csrf = await api_client(aiohttp_client, config)
    state = Hub(client, csrf, [], [])
    yield state
    for person in state.people:
        await person.close()
    for http in state.sessions:
        await http.close()


async def test_a_waiting_person_writes_then_rewrites_the_message_under_the_same_rule(hub: Hub):
    meeting = await hub.meeting("restricted")
    olga = await hub.owner(meeting)
    await olga.join()
    nadia = await hub.visitor(meeting, "Nadia")
    assert (await nadia.knock(lang="en"))["type"] == "waiting"  # as the widget: no message
    [entry] = await lobby_entries(olga, 1)
    assert "message" not in entry

    seen = len(olga.messages)
    await nadia.send({"type": "knock", "message": "  Nadia, DGFiP :\n le point   budget "})
    [entry] = (await olga.wait_for("lobby", after=seen))["entries"]  # at once, as one line
    assert entry["message"] == "Nadia, DGFiP : le point budget"

    # The pre-join's rule (hub/meetings/notes.py): refused with why, the message unchanged.
    seen = len(nadia.messages)
    await nadia.send({"type": "knock", "message": "<b>urgent</b>"})
    error = await nadia.wait_for("error", after=seen)
    assert (error["code"], error["request"]) == ("invalid_field", "knock")
    assert error["message"].startswith("knock: message: contains HTML markup")

    seen = len(olga.messages)
    await nadia.send({"type": "knock", "message": ""})  # taken back
    [entry] = (await olga.wait_for("lobby", after=seen))["entries"]
    assert "message" not in entry and entry["name"] == "Nadia"

    # Anything else while waiting is refused in the page's language, its code unchanged.
    seen = len(nadia.messages)
    await nadia.send({"type": "chat", "text": "bonjour"})
    refused = await nadia.wait_for("error", after=seen)
    assert (refused["code"], refused["message"]) == (
        "not_admitted", "Wait until a moderator lets you in")  # fmt: skip

    await olga.send({"type": "admit", "entry_id": entry["id"]})
    await nadia.wait_for("welcome")
    seen = len(nadia.messages)
    await nadia.send({"type": "knock", "message": "trop tard"})  # let in meanwhile: ignored
    await nadia.send({"type": "ping"})
    await nadia.wait_for("pong", after=seen)
    assert [m["type"] for m in nadia.messages[seen:] if m["type"] == "error"] == []


async def test_without_a_language_the_socket_answers_in_french(hub: Hub):
    meeting = await hub.meeting("restricted")
    marc = await hub.visitor(meeting, "Marc")
    assert (await marc.knock(lang="de"))["type"] == "waiting"  # not one of ours: French
    await marc.send({"type": "chat", "text": "bonjour"})
    refused = await marc.wait_for("error")
    assert refused["message"] == "Attendez qu'un modérateur vous fasse entrer"
