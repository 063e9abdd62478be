"""A Matrix upload the homeserver refuses: a real Synapse whose `max_upload_size` is smaller
than any transcript. The room is told, in its own language, that the file could not be
posted; the status message says so; the transcript stays kept and downloadable from the
hub; one log line, no traceback; the bot goes on answering."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from hub.web.keys import TRANSCRIPTS
from tests.bridge.people import Person, moderated_room
from tests.bridge.test_transcript_posting import bridged_hub, meeting_with_transcript
from tests.conftest import _require_synapse
from tests.support.hub_client import another_browser
from tests.support.synapse import Synapse

NOT_POSTED = "le salon n'a pas pu recevoir le fichier"


@pytest.fixture(scope="module")
def tight_synapse() -> Iterator[Synapse]:
    """A homeserver that refuses any upload over 64 bytes (413 M_TOO_LARGE)."""
    _require_synapse()
    server = Synapse(overrides={"max_upload_size": "64"}).start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_refused_upload_tells_the_room_and_keeps_the_transcript(
    aiohttp_client, tmp_path, tight_synapse: Synapse, caplog
):
    caplog.set_level(logging.INFO)
    hub = await bridged_hub(aiohttp_client, tmp_path, tight_synapse)
    account = tight_synapse.register(f"alice{secrets.token_hex(3)}")
    alice = Person(tight_synapse, account)
    room = await alice.create_room([hub.bot_id], **moderated_room(hub.bot_id))
    await alice.wait_membership(room, hub.bot_id, "join")
    meeting, expected = await meeting_with_transcript(hub, alice, room)
    assert len(expected.encode()) > 64  # so the homeserver must refuse it

    async def told() -> list[dict[str, Any]]:
        return [
            event
            for event in await alice.events(room)
            if event["sender"] == hub.bot_id
            and event["content"].get("msgtype") == "m.notice"
            and "m.new_content" not in event["content"]
            and NOT_POSTED in event["content"].get("body", "")
        ]

    async def status_edited() -> bool:
        return any(
            NOT_POSTED in event["content"].get("m.new_content", {}).get("body", "")
            for event in await alice.events(room)
            if event["sender"] == hub.bot_id
        )

    (notice,) = await alice.wait_until(told, "a notice saying the file was refused")
    await alice.wait_until(status_edited, "the status message saying the file was refused")
    body = notice["content"]["body"]
    assert "could not" not in body and "Réunion" in body  # the room's language only
    events = await alice.events(room)
    assert not [e for e in events if e["content"].get("msgtype") == "m.file"]

    # One log line for the refusal, no traceback anywhere.
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("bridge", "hub"))]
    refusals = [m for m in ours if "upload" in m and "refused" in m]
    assert len(refusals) == 1 and "M_TOO_LARGE" in refusals[0], ours
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]

    # The transcript is still kept, and its moderator downloads it from the hub.
    assert await hub.app[TRANSCRIPTS].of(meeting) is not None
    http, csrf = await another_browser(hub)
    try:
        issued = await asyncio.to_thread(tight_synapse.openid_token, account)
        login = await http.post(
            hub.make_url("/auth/matrix"),
            json={k: issued[k] for k in ("access_token", "matrix_server_name")},
            headers=csrf,
        )
        assert login.status == 200, await login.text()
        got = await http.get(hub.make_url(f"/api/v1/meetings/{meeting}/transcript.md"))
        assert got.status == 200, await got.text()
        assert await got.text() == expected
    finally:
        await http.close()

    # The bot keeps working: a later command is answered.
    asked = await alice.say(room, "!visio help")
    assert await alice.wait_reply(room, hub.bot_id, asked)
