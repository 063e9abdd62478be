"""Consent for live subtitles, through the real WebSocket, API and SFU: only a moderator who is
in the meeting starts or stops them, everyone (and everyone who comes later) is told, and an
operator can turn them off. The speech service here is an address where nothing listens: no
audio is sent in these tests, so nothing ever tries it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hub.i18n import say
from hub.meetings.subtitles import ALREADY_OFF, ALREADY_ON, DISABLED, NOT_PRESENT
from hub.web.keys import LIVE, SFU, SUBTITLES
from tests.conftest import make_config
from tests.support.hub_client import another_browser, api_client
from tests.support.processes import free_port
from tests.test_lobby import Hub


def speech(enabled: bool = True) -> dict[str, object]:
    closed = f"http://127.0.0.1:{free_port('127.0.0.1')}/v1"
    return {"backend": "openai", "openai_url": closed, "subtitles": enabled}


async def _hub(aiohttp_client, tmp_path, enabled: bool) -> Hub:
    config = make_config(
        tmp_path, sfu={"candidate_addresses": ["127.0.0.1"]}, speech=speech(enabled)
    )
    client, csrf = await api_client(aiohttp_client, config)
    return Hub(client, csrf, [], [])


@pytest.fixture
async def hub(aiohttp_client, tmp_path) -> AsyncIterator[Hub]:
    state = await _hub(aiohttp_client, tmp_path, True)
    yield state
    for person in state.people:
        await person.close()
    for http in state.sessions:
        await http.close()


def subtitle_states(person) -> list[dict]:
    return [m for m in person.messages if m["type"] == "subtitles_state"]


async def test_a_participant_cannot_start_subtitles_and_nothing_changes(hub: Hub):
    meeting, olga, (bruno,) = await hub.gathering("public", "Bruno")
    welcome = await bruno.wait_for("welcome")
    assert (welcome["subtitles"], welcome["subtitles_allowed"]) == ("off", True)
    index = len(bruno.messages)
    await bruno.send({"type": "subtitles", "on": True})
    error = await bruno.wait_for("error", after=index)
    assert error == {
        "type": "error",
        "code": "forbidden",
        "message": "Réservé aux organisateurs et modérateurs",  # the page's language: French
        "request": "subtitles",
    }
    live = hub.app[LIVE].get(meeting)
    assert live is not None and live.subtitles == "off"
    assert hub.app[SFU].rooms[meeting].audio_tap is None  # no audio is being copied
    assert not subtitle_states(olga) and not subtitle_states(bruno)


async def test_a_moderator_starts_and_stops_and_everyone_is_told(hub: Hub):
    meeting, olga, (bruno,) = await hub.gathering("public", "Bruno")
    await olga.send({"type": "subtitles", "on": True})
    for person in (olga, bruno):
        said = await person.wait_for("subtitles_state")
        assert said == {"type": "subtitles_state", "state": "on", "by": "Olga"}
    room = hub.app[SFU].rooms[meeting]
    assert room.audio_tap is not None
    # Someone who comes later sees it in their welcome.
    chloe = await hub.visitor(meeting, "Chloé")
    await chloe.join()
    assert (await chloe.wait_for("welcome"))["subtitles"] == "on"
    # Starting twice is a precise refusal; stopping tells everyone who did it.
    index = len(olga.messages)
    await olga.send({"type": "subtitles", "on": True})
    assert (await olga.wait_for("error", after=index))["message"] == say("fr", ALREADY_ON)
    index = len(chloe.messages)
    await olga.send({"type": "subtitles", "on": False})
    said = await chloe.wait_for("subtitles_state", after=index)
    assert said == {"type": "subtitles_state", "state": "off", "by": "Olga"}
    assert room.audio_tap is None
    index = len(olga.messages)
    await olga.send({"type": "subtitles", "on": False})
    assert (await olga.wait_for("error", after=index))["message"] == say("fr", ALREADY_OFF)


async def test_the_api_lets_a_present_moderator_only(hub: Hub):
    meeting, _olga, (bruno,) = await hub.gathering("public", "Bruno")
    url = f"/api/v1/meetings/{meeting}/subtitles"
    # Someone not in the meeting (their own session), then the owner who is in it.
    http, csrf = await another_browser(hub.client)
    hub.sessions.append(http)
    refused = await http.post(hub.client.make_url(url), json={"on": True}, headers=csrf)
    assert refused.status == 403
    assert (await refused.json())["detail"] == say("fr", NOT_PRESENT)
    assert not subtitle_states(bruno)
    answer = await hub.client.post(url, json={"on": True}, headers=hub.owner_csrf)
    assert answer.status == 200, await answer.text()
    assert await answer.json() == {"state": "on"}
    assert (await bruno.wait_for("subtitles_state"))["by"] == "Olga"
    bad = await hub.client.post(url, json={"on": "yes"}, headers=hub.owner_csrf)
    assert bad.status == 400
    assert SUBTITLES in hub.app


async def test_an_operator_can_disable_subtitles(aiohttp_client, tmp_path):
    hub = await _hub(aiohttp_client, tmp_path, False)
    try:
        _meeting, olga, _ = await hub.gathering("public")
        assert (await olga.wait_for("welcome"))["subtitles_allowed"] is False
        await olga.send({"type": "subtitles", "on": True})
        error = await olga.wait_for("error")
        assert (error["code"], error["message"]) == ("forbidden", say("fr", DISABLED))
        assert SUBTITLES not in hub.app
    finally:
        for person in hub.people:
            await person.close()
