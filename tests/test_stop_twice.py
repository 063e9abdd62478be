"""A moderator stopping twice, over the API: the recording and the subtitles each answer the
second stop with 409 and a precise message in the reader's language, change nothing (no
notice to anyone, no second recording stored) and log one line. The page's WebSocket is
covered in tests/test_recordings.py and tests/test_subtitles.py, the room's commands in
tests/bridge/test_stop_twice_in_room.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from hub.i18n import say
from hub.meetings import recording, subtitles
from hub.web.keys import LIVE, RECORDINGS
from tests.conftest import make_config
from tests.support.hub_client import api_client
from tests.test_lobby import Hub
from tests.test_subtitles import speech


@pytest.fixture
async def hub(aiohttp_client, tmp_path) -> AsyncIterator[Hub]:
    config = make_config(tmp_path, sfu={"candidate_addresses": ["127.0.0.1"]}, speech=speech(True))
    client, csrf = await api_client(aiohttp_client, config)
    state = Hub(client, csrf, [], [])
    yield state
    for person in state.people:
        await person.close()


@pytest.mark.parametrize(
    ("switch", "already_off", "state_type"),
    [
        ("recording", recording.ALREADY_OFF, "recording_state"),
        ("subtitles", subtitles.ALREADY_OFF, "subtitles_state"),
    ],
)
async def test_stopping_twice_over_the_api_is_a_409_that_changes_nothing(
    hub: Hub, caplog, switch: str, already_off, state_type: str
):
    meeting, _olga, (bruno,) = await hub.gathering("public", "Bruno")
    url = f"/api/v1/meetings/{meeting}/{switch}"
    started = await hub.client.post(url, json={"on": True}, headers=hub.owner_csrf)
    assert started.status == 200, await started.text()
    stopped = await hub.client.post(url, json={"on": False}, headers=hub.owner_csrf)
    assert stopped.status == 200, await stopped.text()
    await bruno.wait_for(state_type)
    if switch == "recording":
        await hub.app[RECORDINGS].settle()
    seen = len(bruno.messages)
    caplog.clear()
    caplog.set_level(logging.INFO)

    again = await hub.client.post(url, json={"on": False}, headers=hub.owner_csrf)
    assert again.status == 409
    assert (await again.json())["detail"] == say("fr", already_off)
    english = {**hub.owner_csrf, "Accept-Language": "en"}
    in_english = await hub.client.post(url, json={"on": False}, headers=english)
    assert in_english.status == 409
    assert (await in_english.json())["detail"] == say("en", already_off)

    live = hub.app[LIVE].get(meeting)
    assert live is not None and live.recording is False and live.subtitles == "off"
    assert [m for m in bruno.messages[seen:] if m["type"] == state_type] == []
    if switch == "recording":
        await hub.app[RECORDINGS].settle()
        listing = await hub.client.get(f"/api/v1/meetings/{meeting}/recordings")
        assert len((await listing.json())["recordings"]) <= 1  # never a second one
    # One line of the hub's own per refused request (beside the access log's).
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("hub")]
    assert ours == [f"{switch} refused: {say('en', already_off)}"] * 2, ours
    assert not [r for r in caplog.records if r.exc_info]


async def test_stopping_twice_from_the_page_logs_one_line(hub: Hub, caplog):
    """The page's refusal itself is tested with the switches; here, that it is logged once."""
    _meeting, olga, (bruno,) = await hub.gathering("public", "Bruno")
    caplog.set_level(logging.INFO)
    for switch, already_off in (("recording", recording.ALREADY_OFF),
                                ("subtitles", subtitles.ALREADY_OFF)):  # fmt: skip
        caplog.clear()
        index = len(olga.messages)
        await olga.send({"type": switch, "on": False})
        error = await olga.wait_for("error", after=index)
        assert (error["code"], error["message"]) == ("conflict", say("fr", already_off))
        ours = [r.getMessage() for r in caplog.records if r.name.startswith("hub")]
        assert ours == [f"{switch} refused: {say('en', already_off)}"], ours
    assert not [m for m in bruno.messages if m["type"] in ("recording_state", "subtitles_state")]
