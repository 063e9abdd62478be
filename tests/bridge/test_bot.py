"""The bot against a real Synapse: joins when invited, answers help and usage errors with
notices, checks moderator power, keeps its device across restarts and never answers twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from bridge.bot import MatrixBot, running
from bridge.commands import command_text
from bridge.session import BotConfig, BotError, Session
from hub.ids import MeetingId, ParticipantId
from hub.meetings.events import ChatPosted
from hub.web.bridge import LocalHub
from hub.web.bridge import local_hub as in_process_hub
from hub.web.keys import EVENTS, ROOM_ROSTERS
from tests.bridge.people import Person
from tests.conftest import make_config
from tests.support.hub_client import api_client
from tests.support.synapse import MatrixUser, Synapse


def bot_config(server: Synapse, tmp_path: Path, **changes: Any) -> BotConfig:
    account = server.register(f"visio{secrets.token_hex(3)}")
    settings: dict[str, Any] = {"allowed_homeservers": (server.server_name,), **changes}
    return BotConfig(
        homeserver_url=server.url,
        user_id=account.user_id,
        password=account.password,
        data_dir=tmp_path / "data",
        **settings,
    )


async def test_bot_answers_help_and_usage_errors_once_across_restarts(
    synapse: Synapse, tmp_path: Path, local_hub: LocalHub
):
    config = bot_config(synapse, tmp_path)
    bot_id = config.user_id
    alice = Person(synapse, synapse.register(f"alice{secrets.token_hex(3)}"))
    bob = Person(synapse, synapse.register(f"bob{secrets.token_hex(3)}"))
    room = await alice.create_room(invite=[bot_id, bob.user.user_id])
    await bob.join(room)
    before_bot = await alice.say(room, "!visio help")  # said before the bot ever ran

    async with running(config, local_hub) as bot:
        await alice.wait_membership(room, bot_id, "join")
        asked_help = await alice.say(room, "!visio help")
        began = time.monotonic()
        help_text = await alice.wait_reply(room, bot_id, asked_help)
        help_latency = time.monotonic() - began
        wrong = await alice.say(room, "!visio frobnicate")
        usage = await alice.wait_reply(room, bot_id, wrong)
        started = await alice.say(room, "!visio start Point hebdo")
        status = await alice.wait_reply(room, bot_id, started)
        bob_starts = await bob.say(room, "!visio start")
        refused = await bob.wait_reply(room, bot_id, bob_starts)
        first_device = bot.session.device_id if bot.session else None

    assert help_text.startswith("Commandes de la visio (préfixe !visio) :")
    assert "Meeting commands" not in help_text  # one language per message: the room's
    assert help_latency < 5
    assert usage.startswith("Commande inconnue « frobnicate ».")
    assert status.startswith("Réunion « Point hebdo » en cours\nLien : ")
    meeting = await local_hub.room_meeting(room)
    assert meeting is not None and meeting.url in status
    assert refused == "Cette commande est réservée aux modérateurs du salon."

    session_path = config.store_path / "session.json"
    assert stat.S_IMODE(session_path.stat().st_mode) == 0o600
    assert config.password not in session_path.read_text()

    async with running(config, local_hub) as bot:
        assert bot.session is not None and bot.session.device_id == first_device
        # Power levels are known again after a restart: the room's creator is still obeyed.
        asked_lock = await alice.say(room, "!visio lock")
        locked = await alice.wait_reply(room, bot_id, asked_lock)
    assert locked == "Réunion verrouillée : les nouveaux arrivants attendent dans le hall."
    meeting = await local_hub.room_meeting(room)
    assert meeting is not None and meeting.locked

    for event_id in (asked_help, wrong, started, bob_starts, asked_lock):
        assert len(await alice.replies(room, bot_id, event_id)) == 1
    assert await alice.replies(room, bot_id, before_bot) == []
    devices = await Person(synapse, MatrixUser(bot_id, "", bot.session.access_token, "")).call(
        "GET", "/_matrix/client/v3/devices"
    )
    assert sum(d["display_name"] == "Visio" for d in devices["devices"]) == 1


async def test_a_room_the_bot_is_removed_from_is_forgotten_by_the_hub(
    synapse: Synapse, tmp_path: Path, aiohttp_client: Any
):
    """The room's roster (in the shared state) goes when the bot is kicked: its members no
    longer count for the hub's admissions, and nothing is kept for a room the bot left."""
    (tmp_path / "hub").mkdir()
    client, _csrf = await api_client(aiohttp_client, make_config(tmp_path / "hub"))
    hub = in_process_hub(client.app)
    rosters = client.app[ROOM_ROSTERS]
    config = bot_config(synapse, tmp_path)
    alice = Person(synapse, synapse.register(f"alice{secrets.token_hex(3)}"))
    room = await alice.create_room(invite=[config.user_id])
    try:
        async with running(config, hub):
            await alice.wait_membership(room, config.user_id, "join")

            async def known() -> bool:
                return await rosters.power([room], alice.user.user_id) is not None

            await alice.wait_until(known, "the room's roster in the hub")
            await alice.call(
                "POST", f"/_matrix/client/v3/rooms/{room}/kick", {"user_id": config.user_id}
            )

            async def forgotten() -> bool:
                return await rosters.power([room], alice.user.user_id) is None

            await alice.wait_until(forgotten, "the room's roster forgotten", timeout=10)
    finally:
        await hub.close()


async def test_an_event_before_the_bots_first_sync_reaches_its_room(
    synapse: Synapse, tmp_path: Path, aiohttp_client: Any
):
    """A meeting's chat line said while the bot is started again but has not synced yet (its
    first sync can take seconds) is carried to the room once the sync is done, not dropped."""
    (tmp_path / "hub").mkdir()
    client, _csrf = await api_client(aiohttp_client, make_config(tmp_path / "hub"))
    hub = in_process_hub(client.app)
    config = bot_config(synapse, tmp_path)
    alice = Person(synapse, synapse.register(f"alice{secrets.token_hex(3)}"))
    room = await alice.create_room(invite=[config.user_id])
    meeting = await hub.start_meeting(room, by=alice.user.user_id, title="Point")
    async with running(config, hub):  # the bot joins the room, then stops
        await alice.wait_membership(room, config.user_id, "join")
    bot = MatrixBot(config, hub)  # started again (as on another node)
    tasks: list[asyncio.Task[None]] = []
    try:
        await bot.open()
        tasks.append(asyncio.create_task(bot.serve_hub()))
        await asyncio.sleep(0.1)  # serving, not synced
        line = ChatPosted(MeetingId(meeting.meeting_id), ParticipantId("p1"), "Anne",
                          "dit avant la synchro", dt.datetime.now(dt.UTC))  # fmt: skip
        await client.app[EVENTS].publish(line)
        tasks.append(asyncio.create_task(bot.run()))

        async def carried() -> bool:
            return any(
                "dit avant la synchro" in str(event.get("content", {}).get("body", ""))
                for event in await alice.events(room)
            )

        await alice.wait_until(carried, "the chat line in the room")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bot.close()
        await hub.close()


async def test_bot_declines_invites_from_homeservers_it_was_not_told_to_trust(
    synapse: Synapse, tmp_path: Path, local_hub: LocalHub
):
    """The bot obeys its allow-list: here its own homeserver is left out of it, so that the
    refusal is judged on one server. (Across two federating servers Synapse sometimes takes
    over a minute to carry a rejection back to the inviting server, on a cold CI machine.)"""
    config = bot_config(synapse, tmp_path, allowed_homeservers=("agent.tchap.gouv.fr",))
    stranger = Person(synapse, synapse.register(f"mallory{secrets.token_hex(3)}"))
    async with running(config, local_hub) as bot:
        assert bot.session is not None
        room = await stranger.create_room(invite=[config.user_id])
        await stranger.wait_membership(room, config.user_id, "leave")
        me = Person(synapse, MatrixUser(config.user_id, "", bot.session.access_token, ""))
        joined = await me.call("GET", "/_matrix/client/v3/joined_rooms")
        assert room not in joined["joined_rooms"]


async def test_bot_joins_when_invited_from_an_allowed_homeserver_across_federation(
    synapse_pair: tuple[Synapse, Synapse], tmp_path: Path, local_hub: LocalHub
):
    home, other = synapse_pair
    config = bot_config(home, tmp_path, allowed_homeservers=(home.server_name, other.server_name))
    remote = Person(other, other.register(f"olga{secrets.token_hex(3)}"))
    async with running(config, local_hub):
        room = await remote.create_room(invite=[config.user_id])
        await remote.wait_membership(room, config.user_id, "join")


async def test_session_of_another_account_is_refused(
    synapse: Synapse, tmp_path: Path, local_hub: LocalHub
):
    config = bot_config(synapse, tmp_path)
    Session(config.homeserver_url, "@someone:else", "DEVICE", "token").save(
        config.store_path / "session.json"
    )
    bot = MatrixBot(config, local_hub)
    try:
        with pytest.raises(BotError, match="session of another account"):
            await bot.open()
    finally:
        await bot.close()


async def test_wrong_password_fails_with_a_clear_error(
    synapse: Synapse, tmp_path: Path, local_hub: LocalHub
):
    config = bot_config(synapse, tmp_path)
    bot = MatrixBot(BotConfig(**{**config.__dict__, "password": "wrong"}), local_hub)
    try:
        with pytest.raises(BotError, match=f"login of {config.user_id} failed"):
            await bot.open()
    finally:
        await bot.close()
    assert not (config.store_path / "session.json").exists()


def test_reply_fallback_is_not_part_of_the_command():
    quoted_reply = "> <@alice:example.org> earlier words\n> more\n\n!visio help"
    assert command_text(quoted_reply) == "!visio help"
    assert command_text("!visio help\n> not a fallback") == "!visio help\n> not a fallback"
    assert command_text("> only quote") == ""
