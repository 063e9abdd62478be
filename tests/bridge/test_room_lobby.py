"""The meeting, its lobby, the language and the roster as a Tchap room sees them, against a
real Synapse and the hub running its bot in process (configured by [matrix] as an operator would).

Covered: while the meeting runs its status message is pinned (the banner under the room's
header) and the widget embedded, the room's other pins kept, and both go when it ends; a knock
and a verdict edit the status message within 2 s, with each waiting person's number and kind;
moderators admit and refuse by number from the room (one hub decision each, logged once),
others and unknown numbers get one line and change nothing; a room chooses its language and
every answer, the help and the status are in it only; after a hub restart with people in the
call the status message and `!visio status` list who reconnected, once each."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from sqlalchemy import update

from hub.config import HubConfig
from hub.db.database import Database
from hub.db.models import Participant as ParticipantRow
from hub.db.models import Role
from hub.ids import Identity, MeetingId, ParticipantId
from hub.meetings.conference import Conference
from hub.meetings.presence import Presence
from hub.meetings.service import MeetingService
from hub.web.app import create_app
from hub.web.bot_desk import roster
from hub.web.keys import ROOM_LINKS, ROOM_SETTINGS
from tests.bridge.people import Person, moderated_room, quoted
from tests.conftest import make_config
from tests.support.hub_client import another_browser, api_client
from tests.support.nowhere import Nowhere
from tests.support.peer import Participant
from tests.support.synapse import Synapse

STATUS_LATENCY = 2.0  # seconds from a knock or a verdict to the edited status message


@dataclass
class Room:
    """A hub with its bot, a room where Alice (the creator) and Bob (power 0) are, and the
    guests' browsers."""

    client: Any
    config: HubConfig
    bot_id: str
    room_id: str
    alice: Person
    bob: Person
    browsers: list[aiohttp.ClientSession]

    async def ask(self, person: Person, body: str) -> str:
        return await person.wait_reply(
            self.room_id, self.bot_id, await person.say(self.room_id, body)
        )

    async def guest(self, name: str, http: aiohttp.ClientSession | None = None) -> Participant:
        if http is None:
            http, _ = await another_browser(self.client)
            self.browsers.append(http)
        meeting_id = (await self.link()).meeting_id
        ws = await http.ws_connect(self.client.make_url(f"/api/v1/meetings/{meeting_id}/ws"))
        return Participant(ws, name)

    async def link(self) -> Any:
        link = await self.client.app[ROOM_LINKS].live_for(self.room_id)
        assert link is not None, "no meeting linked to the room"
        return link

    async def status_edits(self) -> list[dict[str, Any]]:
        """The edits of the status message, oldest first."""
        status_id = (await self.link()).status_event_id
        return [
            event
            for event in reversed(await self.alice.events(self.room_id))
            if event["type"] == "m.room.message"
            and event["sender"] == self.bot_id
            and event["content"].get("m.relates_to", {}).get("event_id") == status_id
            and event["content"]["m.relates_to"].get("rel_type") == "m.replace"
        ]

    async def status_edited(self, check: Any, what: str, since_ms: int = 0) -> dict[str, Any]:
        """The first edit since `since_ms` (server time) whose text passes `check`."""

        async def found() -> dict[str, Any] | None:
            for event in await self.status_edits():
                text = event["content"]["m.new_content"]["body"]
                if event["origin_server_ts"] >= since_ms and check(text):
                    return event
            return None

        event: dict[str, Any] = await self.alice.wait_until(found, what)
        return event


def text_of(edit: dict[str, Any]) -> str:
    return str(edit["content"]["m.new_content"]["body"])


def bot_config(tmp_path: Path, synapse: Synapse, bot: Any) -> HubConfig:
    return make_config(
        tmp_path,
        sfu={"candidate_addresses": ["127.0.0.1"]},
        matrix={
            "allowed_homeservers": [synapse.server_name],
            "bot_user_id": bot.user_id,
            "bot_homeserver_url": synapse.url,
            "bot_password": bot.password,
        },
    )


@pytest.fixture
async def room(aiohttp_client: Any, tmp_path: Path, synapse: Synapse) -> AsyncIterator[Room]:
    bot = synapse.register(f"visio{secrets.token_hex(3)}")
    config = bot_config(tmp_path, synapse, bot)
    client, _csrf = await api_client(aiohttp_client, config)
    alice = Person(synapse, synapse.register(f"alice{secrets.token_hex(3)}"))
    bob = Person(synapse, synapse.register(f"bob{secrets.token_hex(3)}"))
    room_id = await alice.create_room(
        [bot.user_id, bob.user.user_id], **moderated_room(bot.user_id)
    )
    await bob.join(room_id)
    await alice.wait_membership(room_id, bot.user_id, "join")
    setup = Room(client, config, bot.user_id, room_id, alice, bob, [])
    yield setup
    for http in setup.browsers:
        await http.close()


def now_ms() -> int:
    return int(time.time() * 1000)


PINS = "m.room.pinned_events"
WIDGETS = "im.vector.modular.widgets"
# What would make Element and Tchap announce an Element Call (and start one on "Join").
MATRIXRTC = {"org.matrix.msc3401.call.member", "m.call.member", "m.rtc.member", "m.rtc.slot"}


async def test_the_room_shows_the_call_in_progress_while_the_meeting_runs(room: Room) -> None:
    alice, room_id = room.alice, room.room_id
    agenda = await alice.say(room_id, "Ordre du jour : budget")
    await alice.call(
        "PUT", f"/_matrix/client/v3/rooms/{quoted(room_id)}/state/{PINS}/", {"pinned": [agenda]}
    )
    status = await room.ask(alice, "!visio start Point budget")
    assert status.startswith("Réunion « Point budget » en cours")
    link = await room.link()

    async def pins() -> list[str]:
        return list((await alice.state(room_id, PINS))["pinned"])

    async def status_pinned() -> bool:
        return await pins() == [agenda, link.status_event_id]

    await alice.wait_until(status_pinned, "the status message pinned beside Alice's pin")
    widget = await alice.state(room_id, WIDGETS, link.widget_id)
    assert widget["type"] == "m.custom" and f"/m/{link.meeting_id}?widget=1" in widget["url"]
    state = await alice.call("GET", f"/_matrix/client/v3/rooms/{quoted(room_id)}/state")
    assert not [event["type"] for event in state if event["type"] in MATRIXRTC]

    await alice.say(room_id, "!visio end")

    async def unpinned() -> bool:
        return await pins() == [agenda]

    await alice.wait_until(unpinned, "the status message unpinned, Alice's pin kept")
    assert await alice.state(room_id, WIDGETS, link.widget_id) == {}
    assert await room.client.app[ROOM_LINKS].live_for(room_id) is None


async def test_the_lobby_is_shown_in_the_room_and_worked_by_number(
    room: Room, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="hub.meetings.conference")
    await room.ask(room.alice, "!visio start Point hebdo")
    jeanne, paul = await room.guest("Jeanne Invitée"), await room.guest("Paul")
    try:
        knocked = now_ms()
        message = "Experte budget,\n invitée par Alice"
        assert (await jeanne.knock(audio=False, video=False, message=message))["type"] == "waiting"
        shown = await room.status_edited(
            lambda text: (
                "1. Jeanne Invitée (invité) — « Experte budget, invitée par Alice »\n"
                in text + "\n"
            ),
            "Jeanne shown waiting, with her message",
            knocked,
        )
        knock_latency = (shown["origin_server_ts"] - knocked) / 1000
        assert "En attente (1)" in text_of(shown)
        assert (await paul.knock(audio=False, video=False))["type"] == "waiting"
        await room.status_edited(lambda text: "2. Paul (invité)" in text, "Paul shown waiting")
        # Written on the waiting screen (a widget's only place for it): the room reads it too.
        rewritten = now_ms()
        await paul.send({"type": "knock", "message": "Paul, DINUM : pour le budget"})
        paul_shown = await room.status_edited(
            lambda text: "2. Paul (invité) — « Paul, DINUM : pour le budget »" in text,
            "Paul's message shown",
            rewritten,
        )
        rewrite_latency = (paul_shown["origin_server_ts"] - rewritten) / 1000
        taken_back = now_ms()
        await paul.send({"type": "knock", "message": ""})
        await room.status_edited(
            lambda text: "2. Paul (invité)\n" in text + "\n", "message taken back", taken_back
        )

        # Bob has no power in the room, and nobody waits as 7: one line each, nothing changes.
        assert await room.ask(room.bob, "!visio admit 1") == (
            "Cette commande est réservée aux modérateurs du salon."
        )
        assert await room.ask(room.alice, "!visio admit 7") == (
            "Personne n'attend sous le numéro 7 : voyez le message d'état."
        )
        assert await room.ask(room.alice, "!visio admit Jeanne") == (
            "« Jeanne » n'est pas un numéro du hall : donnez celui du message d'état ou « tous »."
        )
        assert await room.ask(room.alice, "!visio refuse 2 <b>non</b>") == (
            "Le motif contient du HTML (<…>) : écrivez du texte simple. Personne n'a été refusé."
        )
        status = await room.ask(room.alice, "!visio status")
        assert "En attente (2)" in status and "1. Jeanne Invitée" in status
        assert "2. Paul (invité)\n" in status + "\n"  # no message, no dash
        assert not any(m["type"] in ("welcome", "denied") for m in jeanne.messages[1:])
        assert not any(m["type"] in ("welcome", "denied") for m in paul.messages[1:])

        asked = now_ms()
        refused = await room.ask(room.alice, "!visio refuse 2 pas prévu")
        assert refused == "Paul n'est pas admis(e) (pas prévu)."
        assert await paul.wait_for("denied") == {
            "type": "denied", "reason": "denied", "message": "pas prévu"
        }  # fmt: skip
        gone = await room.status_edited(
            lambda text: "Paul" not in text and "1. Jeanne" in text, "Paul gone", asked
        )
        verdict_latency = (gone["origin_server_ts"] - asked) / 1000

        assert await room.ask(room.alice, "!visio admit all") == "Jeanne Invitée est entré(e)."
        assert (await jeanne.admitted())["type"] == "welcome"
        inside = await room.status_edited(
            lambda text: "Présents (1) : Jeanne Invitée" in text, "Jeanne in the call"
        )
        assert "En attente" not in text_of(inside)
        assert await room.ask(room.alice, "!visio admettre tous") == (
            "Personne n'attend dans le hall."
        )
    finally:
        await jeanne.close()
        await paul.close()

    verdicts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("lobby entry")]
    assert verdicts == ["lobby entry denied", "lobby entry admitted"]
    print(f"knock → status edit {knock_latency:.2f} s, verdict → edit {verdict_latency:.2f} s, "
          f"message rewritten → edit {rewrite_latency:.2f} s")  # fmt: skip
    assert max(knock_latency, verdict_latency, rewrite_latency) < STATUS_LATENCY


async def test_a_room_speaks_one_language_of_its_choice(room: Room):
    help_fr = await room.ask(room.bob, "!visio aide")
    assert help_fr.startswith("Commandes de la visio (préfixe !visio) :")
    assert "Meeting" not in help_fr and "• !visio admit <numéro|tous>" in help_fr
    assert await room.ask(room.bob, "!visio langue en") == (
        "Cette commande est réservée aux modérateurs du salon."
    )
    assert await room.ask(room.alice, "!visio langue de") == "Langue inconnue « de » : fr ou en."
    assert await room.ask(room.alice, "!visio langue en") == "I will write in English in this room."
    assert await room.client.app[ROOM_SETTINGS].language(room.room_id) == "en"

    help_en = await room.ask(room.bob, "!visio aide")
    assert help_en.startswith("Meeting commands (prefix !visio):")
    assert "Commandes" not in help_en and "• !visio refuse <number> [reason]" in help_en
    assert await room.ask(room.alice, "!visio language xx") == "Unknown language “xx”: fr or en."
    assert await room.ask(room.bob, "!visio end") == "This command is for the room's moderators."
    assert await room.ask(room.alice, "!visio status") == (
        "No meeting is on in this room. “!visio start” starts one."
    )
    status = await room.ask(room.alice, "!visio start Weekly")
    assert status.startswith("Meeting “Weekly” on\nLink: ") and "In the call (0): —" in status
    assert "Réunion" not in status and "Présents" not in status
    guest = await room.guest("Zoé")
    try:
        await guest.knock(audio=False, video=False)
        await room.status_edited(lambda text: "1. Zoé (guest)" in text, "Zoé shown, in English")
    finally:
        await guest.close()
    assert await room.ask(room.alice, "!visio language fr") == (
        "Je parlerai français dans ce salon."
    )


async def test_the_roster_after_a_hub_restart_is_who_came_back(room: Room, aiohttp_client: Any):
    await room.ask(room.alice, "!visio start Point hebdo")
    link = await room.link()
    people = {name: await room.guest(name) for name in ("Jeanne", "Paul", "Marc")}
    browsers = dict(zip(people, room.browsers, strict=True))
    for guest in people.values():
        assert (await guest.knock(audio=False, video=False))["type"] == "waiting"
    await room.status_edited(lambda text: "En attente (3)" in text, "three waiting")
    assert await room.ask(room.alice, "!visio admit 1") == "Jeanne est entré(e)."
    assert await room.ask(room.alice, "!visio admit 2") == "Paul est entré(e)."
    tickets = {name: (await people[name].admitted())["rejoin"] for name in ("Jeanne", "Paul")}
    await room.status_edited(
        lambda text: "Présents (2) : Jeanne, Paul" in text and "1. Marc" not in text
        and "3. Marc (invité)" in text,
        "two in, Marc waiting",
    )  # fmt: skip

    # The hub goes away with people in the call. A hub killed (not stopped) never closes their
    # attendance rows: they are reopened here, as such a crash leaves them.
    await room.client.close()
    for guest in people.values():
        await guest.close()
    database = Database(room.config)
    await database.open()
    try:
        async with database.sessions.begin() as session:
            await session.execute(
                update(ParticipantRow)
                .where(ParticipantRow.meeting_id == link.meeting_id)
                .values(left_at=None)
            )
    finally:
        await database.close()
    room.client = await aiohttp_client(create_app(room.config))
    restarted = now_ms()

    # Nobody has reconnected yet.
    status = await room.ask(room.alice, "!visio status")
    assert "Présents (0) : —" in status and "En attente" not in status

    back = {name: await room.guest(name, browsers[name]) for name in people}
    try:
        for name in ("Jeanne", "Paul"):  # their rejoin tickets spare them a second admission
            welcome = await back[name].knock(audio=False, video=False, rejoin=tickets[name])
            assert welcome["type"] == "welcome", welcome
        assert (await back["Marc"].knock(audio=False, video=False))["type"] == "waiting"
        settled = await room.status_edited(
            lambda text: "Présents (2) : Jeanne, Paul" in text and "En attente (1)" in text,
            "the roster rebuilt from who reconnected",
            restarted,
        )
        status = await room.ask(room.alice, "!visio status")
        for text in (text_of(settled), status):
            assert text.count("Jeanne") == 1 and text.count("Paul") == 1, text
            assert "1. Marc (invité)" in text, text
        # No edit after the restart ever showed more people than came back.
        for edit in await room.status_edits():
            if edit["origin_server_ts"] >= restarted:
                assert text_of(edit).count("Jeanne") <= 1, text_of(edit)
                assert "Présents (3)" not in text_of(edit) and "(4)" not in text_of(edit)
    finally:
        for guest in back.values():
            await guest.close()


def test_the_roster_counts_each_person_once_and_nobody_both_in_and_waiting():
    async def check() -> None:
        records = cast(MeetingService, None)  # nothing here is stored
        live = Conference(MeetingId("abc-defg-hij"), locked=False, records=records)
        jeanne, paul = Identity("guest:jeanne"), Identity("guest:paul")
        for pid, identity, name in (("p1", jeanne, "Jeanne"), ("p2", jeanne, "Jeanne"),
                                    ("p3", paul, "Paul")):  # fmt: skip
            live.enter(
                Presence(ParticipantId(pid), identity, name, audio=False, video=False), Nowhere()
            )
        now = datetime.now(UTC)
        live.knock(jeanne, "Jeanne", Role.PARTICIPANT, since=now)
        live.knock(Identity("local:oidc:42"), "Marc", Role.PARTICIPANT, since=now)
        present, waiting = roster(live)
        assert present == ("Jeanne", "Paul")
        assert [(w.number, w.name, w.kind) for w in waiting] == [(2, "Marc", "agent")]

    asyncio.run(check())
