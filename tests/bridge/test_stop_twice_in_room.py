"""A moderator stopping twice from the Matrix room, through a real Synapse and the hub's bot:
`!visio record stop` and `!visio transcribe stop` when nothing runs are answered with a
precise notice in the room's language (French, then English once the room is switched),
nothing changes in the meeting (no notice to the person in the call) and the hub logs one
line for each."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from hub.web.keys import LIVE, RECORDINGS, ROOM_LINKS
from tests.bridge.people import Person, moderated_room
from tests.bridge.test_transcript_posting import bridged_hub
from tests.support.hub_client import another_browser
from tests.support.peer import Participant
from tests.support.synapse import Synapse
from tests.test_subtitles import speech


async def test_stopping_twice_in_the_room_is_refused_in_its_language(
    aiohttp_client, tmp_path, synapse: Synapse, caplog
):
    hub = await bridged_hub(aiohttp_client, tmp_path, synapse, speech=speech(True))
    account = synapse.register(f"alice{secrets.token_hex(3)}")
    alice = Person(synapse, account)
    room = await alice.create_room([hub.bot_id], **moderated_room(hub.bot_id))
    await alice.wait_membership(room, hub.bot_id, "join")

    async def ask(command: str) -> str:
        return await alice.wait_reply(room, hub.bot_id, await alice.say(room, command))

    await ask("!visio start Point budget")
    link = await hub.app[ROOM_LINKS].live_for(room)
    assert link is not None
    meeting = link.meeting_id
    # Alice, as herself (Matrix OpenID), is in the call: the switches apply to a live meeting.
    http, csrf = await another_browser(hub)
    call: Participant | None = None
    try:
        issued = await asyncio.to_thread(synapse.openid_token, account)
        login = await http.post(
            hub.make_url("/auth/matrix"),
            json={k: issued[k] for k in ("access_token", "matrix_server_name")},
            headers=csrf,
        )
        assert login.status == 200, await login.text()
        ws = await http.ws_connect(hub.make_url(f"/api/v1/meetings/{meeting}/ws"))
        call = Participant(ws, "Alice")
        await call.join(audio=False, video=False)
        await call.wait_for("welcome")

        assert await ask("!visio record start") == (
            "Enregistrement démarré : tous les participants le voient."
        )
        assert await ask("!visio record stop") == (
            "Enregistrement arrêté ; les modérateurs le téléchargent depuis le hub."
        )
        await hub.app[RECORDINGS].settle()
        assert await ask("!visio transcribe start") != ""
        assert await ask("!visio transcribe stop") != ""
        states = ("recording_state", "subtitles_state")
        seen = len(call.messages)
        caplog.clear()
        caplog.set_level(logging.INFO)

        assert await ask("!visio record stop") == "Aucun enregistrement en cours."
        assert await ask("!visio transcribe stop") == "Les sous-titres ne sont pas en cours."
        assert await ask("!visio language en") == "I will write in English in this room."
        assert await ask("!visio enregistrer arrêter") == "Recording is not on."
        assert await ask("!visio transcribe stop") == "Subtitles are not on."

        live = hub.app[LIVE].get(meeting)
        assert live is not None and live.recording is False and live.subtitles == "off"
        assert [m for m in call.messages[seen:] if m["type"] in states] == []
        ours: list[Any] = [r for r in caplog.records if r.name.startswith(("hub", "bridge"))]
        refused = [r.getMessage() for r in ours if "refused" in r.getMessage()]
        assert (
            refused
            == [
                "recording refused: Recording is not on",
                "subtitles refused: Subtitles are not on",
            ]
            * 2
        ), [r.getMessage() for r in ours]
        assert not [r for r in caplog.records if r.exc_info]

        # The bot goes on: a start after all that works.
        assert await ask("!visio record start") == (
            "Recording started: everyone in the call sees it."
        )
        assert (await call.wait_for("recording_state", after=seen))["recording"] is True
        await ask("!visio record stop")
        await hub.app[RECORDINGS].settle()
    finally:
        if call is not None:
            await call.close()
        await http.close()
