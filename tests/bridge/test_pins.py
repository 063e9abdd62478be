"""The bot's pins against a real Synapse: pinning its status message never loses a pin a
person made at the same moment (Matrix state has no compare-and-set)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bridge.connection import PINNED_EVENT, MatrixConnection, RoomMessage
from tests.bridge.people import Person, moderated_room, quoted
from tests.bridge.test_bot import bot_config
from tests.support.synapse import Synapse


class Nobody:
    """The connection's listener: these tests never sync."""

    async def room_message(self, message: RoomMessage) -> None: ...

    async def room_synced(self, room_id: str) -> None: ...

    async def room_left(self, room_id: str) -> None: ...


@pytest.fixture
async def bot(synapse: Synapse, tmp_path: Path) -> AsyncIterator[MatrixConnection]:
    matrix = MatrixConnection(bot_config(synapse, tmp_path), Nobody())
    await matrix.open()
    try:
        yield matrix
    finally:
        await matrix.close()


async def room_with(person: Person, bot: MatrixConnection) -> str:
    """A room where the bot may change the state (pins), as `!visio start` needs."""
    room = await person.create_room([bot.user_id], **moderated_room(bot.user_id))
    await bot.client.join(room)
    return room


def pin_in_between(bot: MatrixConnection, person: Person, room: str, pins: list[str]) -> None:
    """The race, made certain: `person` sets the room's pins after the bot read them and just
    before its own write reaches the homeserver (once)."""
    write = bot.client.room_put_state

    async def person_first(*args: Any, **kwargs: Any) -> Any:
        bot.client.room_put_state = write  # type: ignore[method-assign]
        path = f"/_matrix/client/v3/rooms/{quoted(room)}/state/{PINNED_EVENT}/"
        await person.call("PUT", path, {"pinned": pins})
        return await write(*args, **kwargs)

    bot.client.room_put_state = person_first  # type: ignore[method-assign]


async def test_a_pin_a_person_makes_while_the_bot_pins_is_kept(
    synapse: Synapse, bot: MatrixConnection
):
    alice = Person(synapse, synapse.register(f"alice{secrets.token_hex(3)}"))
    room = await room_with(alice, bot)
    agenda = await alice.say(room, "Ordre du jour")
    status = await alice.say(room, "Réunion en cours")  # stands for the bot's status message

    pin_in_between(bot, alice, room, [agenda])
    await bot.pin(room, status, True)
    assert (await alice.state(room, PINNED_EVENT))["pinned"] == [agenda, status]

    minutes = await alice.say(room, "Compte rendu")
    pin_in_between(bot, alice, room, [agenda, status, minutes])
    await bot.pin(room, status, False)  # the meeting ended: only the bot's pin goes
    assert (await alice.state(room, PINNED_EVENT))["pinned"] == [agenda, minutes]


async def test_without_a_race_one_write_and_nothing_else_changes(
    synapse: Synapse, bot: MatrixConnection
):
    alice = Person(synapse, synapse.register(f"alice{secrets.token_hex(3)}"))
    room = await room_with(alice, bot)
    agenda, status = await alice.say(room, "Ordre du jour"), await alice.say(room, "En cours")
    await bot.pin(room, agenda, True)
    await bot.pin(room, status, True)
    await bot.pin(room, status, True)  # already pinned: not written again
    assert (await alice.state(room, PINNED_EVENT))["pinned"] == [agenda, status]
    writes = [e for e in await alice.events(room) if e["type"] == PINNED_EVENT]
    assert len(writes) == 2
