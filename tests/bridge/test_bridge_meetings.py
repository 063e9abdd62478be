"""Meetings driven from Matrix rooms, end to end: the hub runs its bot in process (configured
by [matrix] like an operator would), against real federating Synapses.

Covered: `!visio start` in an encrypted room answers with the link (encrypted) and embeds the
widget; a member of the room from the other homeserver joins as their Matrix identity and
passes the lobby; the live status is one message, edited; chat crosses both ways; power levels
decide who may mute and end; the end posts a summary and removes the widget; the lobby can be
worked from the room."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.web.keys import ROOM_LINKS, ROOM_ROSTERS
from tests.bridge.people import EncryptedPerson, Person, moderated_room
from tests.conftest import make_config
from tests.support.hub_client import another_browser, api_client
from tests.support.peer import Participant
from tests.support.synapse import MatrixUser, Synapse

ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


@dataclass
class Bridged:
    client: Any  # aiohttp test client of the hub
    bot_id: str
    home: Synapse
    other: Synapse
    browsers: list[aiohttp.ClientSession]

    async def matrix_participant(self, server: Synapse, user: MatrixUser) -> Any:
        """A browser that proved `user`'s identity by OpenID, then a socket to the meeting."""
        http, csrf = await another_browser(self.client)
        self.browsers.append(http)
        issued = await asyncio.to_thread(server.openid_token, user)
        login = await http.post(
            self.client.make_url("/auth/matrix"),
            json={k: issued[k] for k in ("access_token", "matrix_server_name")},
            headers=csrf,
        )
        assert login.status == 200, await login.text()
        return http

    async def socket(self, http: aiohttp.ClientSession, meeting_id: str, name: str) -> Participant:
        ws = await http.ws_connect(self.client.make_url(f"/api/v1/meetings/{meeting_id}/ws"))
        return Participant(ws, name)

    async def meeting_of(self, room_id: str) -> Any:
        link = await self.client.app[ROOM_LINKS].live_for(room_id)
        assert link is not None, "no meeting linked to the room"
        return link


@pytest.fixture
async def bridged(aiohttp_client, tmp_path: Path, synapse_pair: tuple[Synapse, Synapse]):
    home, other = synapse_pair
    bot = home.register(f"visio{secrets.token_hex(3)}")
    config = make_config(
        tmp_path,
        sfu={"candidate_addresses": ["127.0.0.1"]},
        matrix={
            "allowed_homeservers": [home.server_name, other.server_name],
            "homeserver_overrides": {s.server_name: s.url for s in synapse_pair},
            "bot_user_id": bot.user_id,
            "bot_homeserver_url": home.url,
            "bot_password": bot.password,
        },
    )
    client, _csrf = await api_client(aiohttp_client, config)
    setup = Bridged(client, bot.user_id, home, other, [])
    yield setup
    for http in setup.browsers:
        await http.close()


async def bot_messages(person: Person, room_id: str, bot_id: str) -> list[dict[str, Any]]:
    return [
        event
        for event in await person.events(room_id)
        if event["type"] == "m.room.message" and event["sender"] == bot_id
    ]


def edits_of(messages: list[dict[str, Any]], event_id: str) -> list[str]:
    """The new texts of the edits of `event_id`, oldest first."""
    return [
        m["content"]["m.new_content"]["body"]
        for m in reversed(messages)
        if m["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"
        and m["content"]["m.relates_to"].get("event_id") == event_id
    ]


async def test_start_in_an_encrypted_room_answers_with_the_link_and_embeds_the_call(
    bridged: Bridged, tmp_path: Path
):
    account = bridged.home.register(f"alice{secrets.token_hex(3)}")
    plain = Person(bridged.home, account)
    room = await plain.create_room(
        [bridged.bot_id],
        initial_state=[ENCRYPTION],
        **moderated_room(bridged.bot_id),
    )
    await plain.wait_membership(room, bridged.bot_id, "join")
    alice = EncryptedPerson(bridged.home, account, tmp_path / "alice-store")
    try:
        asked = await alice.say(room, "!visio start Point hebdo")
        reply = await alice.wait_reply(room, bridged.bot_id, asked)
    finally:
        await alice.close()

    link = await bridged.meeting_of(room)
    assert reply.body.startswith("Réunion « Point hebdo » en cours\nLien : ")
    assert f"/m/{link.meeting_id}" in reply.body
    # What the room's history holds is ciphertext, not the link.
    raw = [e for e in await plain.events(room) if e["event_id"] == reply.event_id]
    assert raw and raw[0]["type"] == "m.room.encrypted"
    widget = await plain.state(room, "im.vector.modular.widgets", link.widget_id)
    assert widget["type"] == "m.custom" and widget["id"] == link.widget_id
    assert f"/m/{link.meeting_id}?widget=1" in widget["url"]
    layout = await plain.state(room, "io.element.widgets.layout")
    assert layout["widgets"][link.widget_id]["container"] == "top"

    async def remembered() -> bool:  # kept right after the message is sent, so a moment later
        return (await bridged.meeting_of(room)).status_event_id == reply.event_id

    await plain.wait_until(remembered, "the status message id kept by the hub", timeout=5)

    async def pinned() -> bool:  # a room with no pins yet: the status message is the first
        try:
            pins = await plain.state(room, "m.room.pinned_events")
        except OSError:  # 404 until something is pinned
            return False
        return bool(pins["pinned"] == [reply.event_id])

    await plain.wait_until(pinned, "the status message pinned", timeout=5)


async def test_a_meeting_run_from_the_room(bridged: Bridged):
    home, other = bridged.home, bridged.other
    alice_account = home.register(f"alice{secrets.token_hex(3)}")
    bob_account = home.register(f"bob{secrets.token_hex(3)}")
    olga_account = other.register(f"olga{secrets.token_hex(3)}")
    alice, bob = Person(home, alice_account), Person(home, bob_account)
    olga = Person(other, olga_account)
    room = await alice.create_room(
        [bridged.bot_id, bob_account.user_id, olga_account.user_id],
        **moderated_room(bridged.bot_id),
    )
    await bob.join(room)
    await olga.join(room)
    await alice.wait_membership(room, bridged.bot_id, "join")
    await alice.wait_membership(room, olga_account.user_id, "join")

    started = await alice.say(room, "!visio start Revue de projet")
    status = await alice.wait_reply(room, bridged.bot_id, started)
    link = await bridged.meeting_of(room)
    assert f"/m/{link.meeting_id}" in status and "(0)" in status

    # Olga, of the other ministry's homeserver, is a member of the room: she joins the
    # restricted meeting as herself without waiting in the lobby.
    http = await bridged.matrix_participant(other, olga_account)

    async def olga_in_roster() -> bool:  # the bot tells the hub after its next sync
        return (
            await bridged.client.app[ROOM_ROSTERS].power([room], olga_account.user_id) is not None
        )

    await alice.wait_until(olga_in_roster, "the hub knows Olga is in the room")
    olga_call = await bridged.socket(http, link.meeting_id, "Olga")
    try:
        welcome = await olga_call.knock(audio=False, video=False)
        assert welcome["type"] == "welcome", welcome
        assert welcome["role"] == "participant"

        # The status message is edited, not repeated.
        async def olga_listed() -> list[str]:
            edits = edits_of(await bot_messages(alice, room, bridged.bot_id), link.status_event_id)
            return [text for text in edits if "Olga" in text and "(1)" in text]

        await alice.wait_until(olga_listed, "status edited with Olga")
        statuses = [
            m
            for m in await bot_messages(alice, room, bridged.bot_id)
            if "Présents (" in m["content"]["body"] and "m.new_content" not in m["content"]
        ]
        assert len(statuses) == 1

        # Chat: from the meeting to the room, and from the room to the meeting.
        await olga_call.send({"type": "chat", "text": "Bonjour depuis la visio"})

        async def relayed() -> list[dict[str, Any]]:
            return [
                m
                for m in await bot_messages(alice, room, bridged.bot_id)
                if m["content"].get("msgtype") == "m.text"
                and m["content"]["body"] == "Olga : Bonjour depuis la visio"
            ]

        await alice.wait_until(relayed, "meeting chat relayed to the room")
        seen = len(olga_call.messages)
        await bob.say(room, "Bonjour depuis le salon")
        chat = await olga_call.wait_for("chat", timeout=20, after=seen)
        assert chat["text"] == "Bonjour depuis le salon"
        assert chat["name"].endswith("(Matrix)")

        # Power levels: Bob (0) may not mute or end; Alice (100) may.
        refused = await bob.wait_reply(
            room, bridged.bot_id, await bob.say(room, "!visio mute Olga")
        )
        assert refused == "Cette commande est réservée aux modérateurs du salon."
        refused = await bob.wait_reply(room, bridged.bot_id, await bob.say(room, "!visio end"))
        assert refused == "Cette commande est réservée aux modérateurs du salon."
        assert not any(m["type"] == "muted" for m in olga_call.messages)
        muted = await alice.wait_reply(
            room, bridged.bot_id, await alice.say(room, "!visio mute olga")
        )
        assert muted == "Micro de Olga coupé."
        assert (await olga_call.wait_for("muted"))["by"] == alice_account.user_id
        nobody = await alice.wait_reply(
            room, bridged.bot_id, await alice.say(room, "!visio admit 7")
        )
        assert nobody == "Personne n'attend sous le numéro 7 : voyez le message d'état."

        await alice.say(room, "!visio end")
        ended = await olga_call.wait_for("ended", timeout=20)
        assert ended["reason"] == "ended"

        async def summary() -> list[str]:
            return [
                m["content"]["body"]
                for m in await bot_messages(alice, room, bridged.bot_id)
                if m["content"]["body"].startswith("Réunion « Revue de projet » terminée.\n")
            ]

        (text,) = await alice.wait_until(summary, "summary posted")
        assert "Participants : 1" in text and "Olga" in text
        widget = await alice.state(room, "im.vector.modular.widgets", link.widget_id)
        assert widget == {}
        assert await bridged.client.app[ROOM_LINKS].live_for(room) is None
    finally:
        await olga_call.close()


async def test_the_lobby_and_the_lock_worked_from_the_room(bridged: Bridged):
    home = bridged.home
    alice_account = home.register(f"alice{secrets.token_hex(3)}")
    alice = Person(home, alice_account)
    room = await alice.create_room([bridged.bot_id], **moderated_room(bridged.bot_id))
    await alice.wait_membership(room, bridged.bot_id, "join")
    await alice.wait_reply(room, bridged.bot_id, await alice.say(room, "!visio start"))
    link = await bridged.meeting_of(room)

    # A guest with only the link waits in the lobby of the room's (restricted) meeting.
    http, _ = await another_browser(bridged.client)
    bridged.browsers.append(http)
    guest = await bridged.socket(http, link.meeting_id, "Jeanne Invitée")
    try:
        assert (await guest.knock(audio=False, video=False))["type"] == "waiting"
        asked = await alice.say(room, "!visio status")
        status = await alice.wait_reply(room, bridged.bot_id, asked)
        assert "En attente (1)" in status and "\n  1. Jeanne Invitée (invité)" in status
        admitted = await alice.wait_reply(
            room, bridged.bot_id, await alice.say(room, "!visio admit 1")
        )
        assert admitted == "Jeanne Invitée est entré(e)."
        welcome = await guest.admitted()
        assert welcome["type"] == "welcome"

        locked = await alice.wait_reply(room, bridged.bot_id, await alice.say(room, "!visio lock"))
        assert locked.startswith("Réunion verrouillée")
        assert (await guest.wait_for("meeting_state"))["locked"] is True
    finally:
        await guest.close()


async def test_a_bot_that_cannot_log_in_leaves_the_hub_serving(
    aiohttp_client, tmp_path: Path, synapse: Synapse, caplog: pytest.LogCaptureFixture
):
    bot = synapse.register(f"visio{secrets.token_hex(3)}")
    config = make_config(
        tmp_path,
        matrix={
            "allowed_homeservers": [synapse.server_name],
            "bot_user_id": bot.user_id,
            "bot_homeserver_url": synapse.url,
            "bot_password": "not-the-password",
        },
    )
    client, csrf = await api_client(aiohttp_client, config)
    for _ in range(100):
        if "matrix bot stopped" in caplog.text:
            break
        await asyncio.sleep(0.1)
    assert f"login of {bot.user_id} failed" in caplog.text
    assert "not-the-password" not in caplog.text
    created = await client.post("/api/v1/meetings", json={"title": "Sans bot"}, headers=csrf)
    assert created.status == 201
    assert (await client.get("/health/ready")).status == 200
