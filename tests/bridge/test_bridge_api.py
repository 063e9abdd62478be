"""The bot run alone: `HttpHub` (bridge/http_port.py) against a real hub's bridge API.

Every call goes over real HTTP to a hub app with its database; events come over the real
events WebSocket, published by the meeting service as a participant joins and leaves.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from bridge import wire
from bridge.http_port import HttpHub
from bridge.hub_port import (
    BridgeEvent,
    ChatFromMeeting,
    HubFailure,
    HubRefusal,
    MeetingClosed,
    PresenceChanged,
    RoomMeeting,
    Waiting,
)
from hub.config import HubConfig
from hub.db.models import MatrixRoomLink, Role
from hub.i18n import Text
from hub.ids import Identity, ParticipantId
from hub.meetings.presence import Presence
from hub.web.app import create_app
from hub.web.keys import CONFIG, DATABASE, INVITATIONS, LIVE, MEETINGS, ROOM_LINKS, ROOM_ROSTERS
from tests.bridge.people import Person, moderated_room
from tests.conftest import make_config, toml_value
from tests.support.nowhere import Nowhere
from tests.support.processes import free_port
from tests.support.synapse import Synapse
from tests.test_config import run_hub

TOKEN = secrets.token_urlsafe(40)
ROOM = "!salon:agent.interieur.tchap.gouv.fr"
ALICE = "@alice:agent.interieur.tchap.gouv.fr"


@dataclass
class Bridge:
    server: TestServer
    hub: HttpHub
    events: asyncio.Queue[BridgeEvent]

    @property
    def app(self) -> Any:
        return self.server.app

    async def next_event(self) -> BridgeEvent:
        return await asyncio.wait_for(self.events.get(), 5)

    async def links(self) -> int:
        async with self.app[DATABASE].sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(MatrixRoomLink)))


def bridge_config(tmp_path: Path, token: str = TOKEN) -> HubConfig:
    return make_config(tmp_path, matrix={"bridge_token": token})


async def started(config: HubConfig, port: int | None = None) -> TestServer:
    server = TestServer(create_app(config), port=port)
    await server.start_server()
    return server


async def following(hub: HttpHub) -> asyncio.Queue[BridgeEvent]:
    """A queue of the events `hub` receives, once its event socket is open."""
    events: asyncio.Queue[BridgeEvent] = asyncio.Queue()
    hub.listen(events.put)
    await asyncio.wait_for(hub.connected.wait(), 5)
    return events


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    server = await started(bridge_config(tmp_path))
    hub = HttpHub(str(server.make_url("/")), TOKEN)
    try:
        yield Bridge(server, hub, await following(hub))
    finally:
        await hub.close()
        await server.close()


async def test_start_creates_and_links_one_meeting_per_room(bridge: Bridge):
    assert await bridge.hub.room_meeting(ROOM) is None
    first = await bridge.hub.start_meeting(ROOM, by=ALICE, title="Point hebdo")
    assert isinstance(first, RoomMeeting)
    assert (first.room_id, first.title, first.locked) == (ROOM, "Point hebdo", False)
    assert first.url == f"{bridge.app[CONFIG].public_url}/m/{first.meeting_id}"
    assert first.widget_id.startswith("visio_")
    assert (first.participants, first.waiting, first.started_at) == ((), (), None)
    again = await bridge.hub.start_meeting(ROOM, by="@bob:agent.tchap.gouv.fr", title="Autre")
    assert again == first
    assert await bridge.hub.room_meeting(ROOM) == first
    assert await bridge.links() == 1
    meeting = await bridge.app[MEETINGS].get(first.meeting_id)
    assert meeting.owner_identity == f"matrix:{ALICE}"


async def test_presence_and_summary_arrive_over_the_event_socket(bridge: Bridge):
    meeting = await bridge.hub.start_meeting(ROOM, by=ALICE, title=None)
    service = bridge.app[MEETINGS]
    participant = await service.record_join(
        meeting.meeting_id,
        identity=Identity("guest:b0b"),
        display_name="Bob",
        role=Role.PARTICIPANT,
    )
    joined = await bridge.next_event()
    assert isinstance(joined, PresenceChanged)
    assert joined.meeting.participants == ()  # not connected: the roster is who is connected
    presence = Presence(participant, Identity("guest:b0b"), "Bob", audio=False, video=False)
    bridge.app[LIVE].open(meeting.meeting_id, locked=False).enter(presence, Nowhere())
    await service.record_join(  # the same row again (as a cascade link's return does)
        meeting.meeting_id,
        identity=Identity("guest:b0b"),
        display_name="Bob",
        role=Role.PARTICIPANT,
        participant_id=participant,
    )
    joined = await bridge.next_event()
    assert isinstance(joined, PresenceChanged)
    assert joined.meeting.participants == ("Bob",)
    assert isinstance(joined.meeting.started_at, datetime)
    assert joined.meeting.started_at.tzinfo is not None
    live = bridge.app[LIVE].get(meeting.meeting_id)
    assert live is not None
    await live.leave(participant)
    await service.record_leave(meeting.meeting_id, participant)
    left = await bridge.next_event()
    assert isinstance(left, PresenceChanged)
    assert left.meeting.participants == ()

    await bridge.hub.end_meeting(ROOM, by=ALICE)
    closed = await bridge.next_event()
    assert isinstance(closed, MeetingClosed)
    summary = closed.summary
    assert (summary.room_id, summary.meeting_id) == (ROOM, meeting.meeting_id)
    assert (summary.participant_count, summary.names) == (1, ("Bob",))
    assert summary.started_at == joined.meeting.started_at
    assert summary.ended_at >= summary.started_at
    assert await bridge.hub.room_meeting(ROOM) is None


async def test_refusals_reach_the_bot_in_both_languages(bridge: Bridge):
    with pytest.raises(HubRefusal) as no_meeting:
        await bridge.hub.end_meeting(ROOM, by=ALICE)
    assert no_meeting.value.notice("fr").startswith("Aucune réunion n'est en cours dans ce salon.")
    assert (
        no_meeting.value.notice("en") == "No meeting is on in this room. “!visio start” starts one."
    )
    await bridge.hub.start_meeting(ROOM, by=ALICE, title=None)
    with pytest.raises(HubRefusal) as nobody:
        await bridge.hub.admit(ROOM, (3,), by=ALICE)
    assert nobody.value.notice("fr") == (
        "Personne n'attend sous le numéro 3 : voyez le message d'état."
    )
    assert nobody.value.notice("en") == "Nobody waits as number 3: see the status message."
    with pytest.raises(HubRefusal) as empty:
        await bridge.hub.admit(ROOM, None, by=ALICE)
    assert empty.value.notice("en") == "Nobody is waiting in the lobby."
    with pytest.raises(HubRefusal) as refused:
        await bridge.hub.refuse(ROOM, 1, by=ALICE)
    assert refused.value.notice("en") == "Nobody waits as number 1: see the status message."
    with pytest.raises(HubRefusal) as silent:
        await bridge.hub.set_subtitles(ROOM, True, by=ALICE)
    assert silent.value.notice("fr") == "Personne n'est dans la réunion pour l'instant."
    with pytest.raises(HubRefusal) as unrecorded:  # !visio record start, over HTTP
        await bridge.hub.set_recording(ROOM, True, by=ALICE)
    assert unrecorded.value.notice("en") == silent.value.notice("en")


async def test_the_conferences_switch_rules_reach_the_bot_as_refusals(bridge: Bridge):
    """Subtitles off on this hub, recording not on: the conference says no, the bot says why."""
    meeting = await bridge.hub.start_meeting(ROOM, by=ALICE, title=None)
    presence = Presence(
        ParticipantId("p-bob"), Identity("guest:b0b"), "Bob", audio=False, video=False
    )
    bridge.app[LIVE].open(meeting.meeting_id, locked=False).enter(presence, Nowhere())
    with pytest.raises(HubRefusal) as disabled:
        await bridge.hub.set_subtitles(ROOM, True, by=ALICE)
    assert disabled.value.notice("en") == "Subtitles are disabled on this hub."
    with pytest.raises(HubRefusal) as not_on:
        await bridge.hub.set_recording(ROOM, False, by=ALICE)
    assert not_on.value.notice("fr") == "Aucun enregistrement en cours."
    assert not bridge.app[LIVE].get(meeting.meeting_id).recording


async def test_a_knock_message_and_a_refusal_reason_cross_over_http(bridge: Bridge) -> None:
    meeting = await bridge.hub.start_meeting(ROOM, by=ALICE, title=None)
    live = bridge.app[LIVE].open(meeting.meeting_id, locked=False)
    entry = live.knock(
        Identity("guest:z0e"), "Zoé", Role.PARTICIPANT, since=datetime.now().astimezone(),
        message="Experte budget",
    )  # fmt: skip
    await live.announce_lobby()
    now = await bridge.hub.room_meeting(ROOM)
    assert now is not None and now.waiting == (Waiting(1, "Zoé", "guest", "Experte budget"),)

    for reason, english in (
        ("x" * 201, "Reason too long: 200 characters at most. Nobody was turned away."),
        ("non\x07", "The reason contains control characters. Nobody was turned away."),
        ("<b>non</b>", "The reason contains HTML (<…>): write plain text. Nobody was turned away."),
    ):
        with pytest.raises(HubRefusal) as refused:
            await bridge.hub.refuse(ROOM, 1, by=ALICE, reason=reason)
        assert refused.value.notice("en") == english
        assert entry.entry_id in live.lobby and not entry.decision.done()
    assert await bridge.hub.refuse(ROOM, 1, by=ALICE, reason=" pas  prévu ") == "Zoé"
    assert (await entry.decision, entry.refusal) == ("denied", "pas prévu")


async def test_a_room_language_is_kept(bridge: Bridge):
    assert await bridge.hub.room_language(ROOM) == "fr"
    await bridge.hub.set_room_language(ROOM, "en", by=ALICE)
    assert await bridge.hub.room_language(ROOM) == "en"
    assert await bridge.hub.room_language("!other:server.example") == "fr"
    untitled = await bridge.hub.start_meeting(ROOM, by=ALICE, title=None)
    assert untitled.title == "Room meeting"  # a meeting started without a title: the room's
    other = await bridge.hub.start_meeting("!other:server.example", by=ALICE, title=None)
    assert other.title == "Réunion du salon"
    await bridge.hub.set_room_language(ROOM, "fr", by=ALICE)
    assert await bridge.hub.room_language(ROOM) == "fr"


async def test_lock_invite_status_members_and_chat(bridge: Bridge):
    meeting = await bridge.hub.start_meeting(ROOM, by=ALICE, title=None)
    locked = await bridge.hub.set_locked(ROOM, True, by=ALICE)
    assert locked.locked
    assert (await bridge.app[MEETINGS].get(meeting.meeting_id)).locked

    guest = "@carol:culture.gouv.fr"
    assert (await bridge.hub.invite(ROOM, guest, by=ALICE)).meeting_id == meeting.meeting_id
    await bridge.hub.invite(ROOM, guest, by=ALICE)  # twice: the same outcome
    invitations = await bridge.app[INVITATIONS].list_for(meeting.meeting_id)
    assert [view.invitee for view in invitations] == [f"matrix:{guest}"]

    await bridge.hub.remember_status(ROOM, meeting.meeting_id, "$status-event")
    status = await bridge.hub.room_meeting(ROOM)
    assert status is not None
    assert status.status_event_id == "$status-event"

    await bridge.hub.update_room(ROOM, {ALICE: 2**53, guest: 0})  # a v12 room's creator
    assert await bridge.app[ROOM_ROSTERS].power([ROOM], ALICE) == 2**53
    assert await bridge.app[ROOM_ROSTERS].power([ROOM], guest) == 0
    # Nobody is in the call: the message has nowhere to go.
    assert not await bridge.hub.post_chat(ROOM, sender=ALICE, name="Alice", text="x" * 5000)


async def test_room_ids_travel_percent_encoded(bridge: Bridge):
    odd = "!a/b%c?d#e:server.example"
    started_meeting = await bridge.hub.start_meeting(odd, by=ALICE, title=None)
    assert started_meeting.room_id == odd
    assert await bridge.hub.room_meeting(odd) == started_meeting  # the GET path decodes too
    assert await bridge.hub.room_meeting(ROOM) is None


async def test_the_largest_room_is_accepted_beyond_the_default_body_size(bridge: Bridge):
    members = {f"@{i:06d}{'x' * 228}:agent.tchap.gouv.fr": 0 for i in range(wire.MAX_MEMBERS)}
    assert len(next(iter(members))) == wire.MAX_MATRIX_ID
    await bridge.hub.update_room(ROOM, members)
    assert await bridge.app[ROOM_ROSTERS].power([ROOM], next(iter(members))) == 0


def _room_path(action: str, room: str = ROOM) -> str:
    return f"{wire.PREFIX}/rooms/{quote(room, safe='')}/{action}"


MALFORMED: list[tuple[str, str, str, Any, str]] = [
    ("POST", ROOM, "start", {"by": "alice"}, "by: String should match pattern"),
    ("POST", ROOM, "start", {"by": "@" + "a" * 250 + ":b.fr"},
     "by: String should have at most 255"),
    ("POST", ROOM, "start", {"by": ALICE, "title": 3}, "title: Input should be a valid string"),
    ("POST", ROOM, "start", {"by": ALICE, "owner": ALICE}, "owner: Extra inputs are not permitted"),
    ("POST", ROOM, "start", "{not json", "the body is not valid JSON"),
    ("POST", "salon", "start", {"by": ALICE}, "room id: must look like !opaque:server"),
    ("POST", "!" + "r" * 255, "start", {"by": ALICE}, "room id: longer than 255 characters"),
    ("POST", ROOM, "lock", {"locked": "yes", "by": ALICE}, "locked: Input should be a valid bool"),
    ("POST", ROOM, "admit", {"numbers": [0], "by": ALICE},
     "numbers.0: Input should be greater than or equal to 1"),
    ("POST", ROOM, "admit", {"numbers": ["1"], "by": ALICE}, "numbers.0: Input should be a valid"),
    ("POST", ROOM, "refuse", {"by": ALICE}, "number: Field required"),
    ("PUT", ROOM, "language", {"language": "de", "by": ALICE}, "language: Input should be"),
    ("POST", ROOM, "chat", {"sender": ALICE, "name": "A", "text": "t" * 2001},
     "text: String should have at most 2000"),
    ("POST", ROOM, "status", {"meeting_id": "abc", "event_id": "status"},
     "event_id: String should match pattern"),
    ("PUT", ROOM, "members", {"members": {ALICE: "100"}}, "members.@alice"),
    ("PUT", ROOM, "members", {"members": {ALICE: 2**53 + 1}}, "less than or equal to 9007199"),
    ("PUT", ROOM, "members", {"members": {f"@u{i}:s.fr": 0 for i in range(10_001)}},
     "members: Dictionary should have at most 10000 items"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "room", "action", "body", "message"), MALFORMED)
async def test_malformed_requests_get_a_precise_400_and_store_nothing(
    bridge: Bridge, method: str, room: str, action: str, body: Any, message: str
):
    raw = {"data": body, "headers": {"Content-Type": "application/json"}}
    content = raw if isinstance(body, str) else {"json": body}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        url = bridge.server.make_url(_room_path(action, room))
        async with http.request(method, url, **content) as answer:
            problem = await answer.json()
    assert answer.status == 400, problem
    assert problem["code"] == "bad_request"
    assert message in problem["detail"]
    assert await bridge.links() == 0
    assert await bridge.app[ROOM_ROSTERS].power([ROOM], ALICE) is None


@pytest.mark.parametrize(("method", "action"), [("POST", "start"), ("PUT", "members")])
async def test_json_nested_too_deep_is_refused_before_parsing(
    bridge: Bridge, method: str, action: str
):
    # The members route reads up to 4 MB: a bomb filling all of it is refused all the same.
    bomb = "[" * (4 * 1024 * 1024 - 1 if action == "members" else 100_000)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as http:
        url = bridge.server.make_url(_room_path(action))
        async with http.request(method, url, data=bomb) as answer:
            problem = await answer.json()
    assert (answer.status, problem["code"]) == (400, "json_too_deep"), problem
    assert await bridge.links() == 0
    assert await bridge.app[ROOM_ROSTERS].power([ROOM], ALICE) is None


async def test_the_bridge_token_is_required(bridge: Bridge, caplog: pytest.LogCaptureFixture):
    url = bridge.server.make_url(_room_path("start"))
    caplog.set_level(logging.WARNING, logger="hub.web.bridge_api")
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"by": ALICE}) as answer:
            assert answer.status == 401
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        for header in (f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", "Bearer"):
            async with http.post(url, json={"by": ALICE}, headers={"Authorization": header}) as a:
                assert a.status == (401 if header != f"Bearer {TOKEN[:-1]}" else 403), header
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(bridge.server.make_url(f"{wire.PREFIX}/events"))
        assert refused.value.status == 401
    wrong = HttpHub(str(bridge.server.make_url("/")), "not-" + TOKEN)
    try:
        with pytest.raises(HubFailure, match=r"^hub answered 403 to POST .*/start: "):
            await wrong.start_meeting(ROOM, by=ALICE, title=None)
    finally:
        await wrong.close()
    assert await bridge.links() == 0
    refusals = [r for r in caplog.records if r.name == "hub.web.bridge_api"]
    assert len(refusals) == 6  # one line per refused request
    assert all(TOKEN[:-1] not in r.getMessage() for r in refusals)


async def test_the_bridge_api_is_off_without_a_token(tmp_path: Path):
    server = await started(bridge_config(tmp_path, token=""))
    hub = HttpHub(str(server.make_url("/")), "")
    try:
        with pytest.raises(HubFailure, match=r"^hub answered 404 to POST .*/start: "):
            await hub.start_meeting(ROOM, by=ALICE, title=None)
        with pytest.raises(HubFailure, match="404"):
            await hub.room_meeting(ROOM)
    finally:
        await hub.close()
        await server.close()


async def test_the_event_socket_comes_back_after_the_hub_restarts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="bridge.http_port")
    config, port = bridge_config(tmp_path), free_port()
    server = await started(config, port)
    hub = HttpHub(f"http://127.0.0.1:{port}", TOKEN)
    try:
        events = await following(hub)
        meeting = await hub.start_meeting(ROOM, by=ALICE, title=None)
        await server.close()  # the hub says goodbye on its event sockets
        await asyncio.wait_for(_cleared(hub.connected), 5)
        with pytest.raises(HubFailure, match=r"^hub unreachable at http://127\.0\.0\.1:"):
            await hub.room_meeting(ROOM)
        await asyncio.sleep(1.2)  # a failed attempt or two: still one outage, logged once
        server = await started(config, port)  # same database, same port
        await asyncio.wait_for(hub.connected.wait(), 10)
        dan = Presence(ParticipantId("d4n"), Identity("guest:d4n"), "Dan", audio=False, video=False)
        server.app[LIVE].open(meeting.meeting_id, locked=False).enter(dan, Nowhere())
        await server.app[MEETINGS].record_join(
            meeting.meeting_id, identity=Identity("guest:d4n"), display_name="Dan",
            role=Role.PARTICIPANT,
        )  # fmt: skip
        joined = await asyncio.wait_for(events.get(), 5)
        assert isinstance(joined, PresenceChanged)
        assert joined.meeting.participants == ("Dan",)
    finally:
        await hub.close()
        await server.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "bridge.http_port"]
    assert sum("lost" in m for m in messages) == 1, messages
    assert sum("is back" in m for m in messages) == 1, messages


async def _cleared(event: asyncio.Event) -> None:
    while event.is_set():
        await asyncio.sleep(0.02)


def test_events_have_one_json_shape_each():
    meeting = RoomMeeting(
        room_id=ROOM, meeting_id="abc-defg-hij", title="t", url="u", widget_url="w",
        widget_id="visio_1", locked=False, participants=("A",), status_event_id=None,
        waiting=(Waiting(1, "Zoé", "guest", "Experte"), Waiting(4, "Olga", "partner")),
        started_at=datetime.fromisoformat("2026-01-02T03:04:05+00:00"),
    )  # fmt: skip
    for event in (PresenceChanged(meeting), ChatFromMeeting(ROOM, "A", "bonjour")):
        data = wire.event_to_json(event)
        assert wire.event_from_json(data) == event
    assert wire.event_to_json(PresenceChanged(meeting))["meeting"]["started_at"] == (
        "2026-01-02T03:04:05Z"
    )
    with pytest.raises(ValueError, match=r"^bridge event: unknown type 'joined'$"):
        wire.event_from_json({"type": "joined"})
    with pytest.raises(ValueError, match=r"^bridge event chat_from_meeting: text: Field required"):
        wire.event_from_json({"type": "chat_from_meeting", "room_id": ROOM, "name": "A"})


def test_event_frames_carry_a_number_the_bridge_answers():
    """Hub nodes number the events of the bot's stream; the bridge answers each number once
    its bot carried the event. Anything else is refused with a precise error."""
    event = ChatFromMeeting(ROOM, "A", "bonjour")
    assert wire.event_frame_from_json(wire.event_frame(event, 7)) == (event, 7)
    assert wire.event_frame_from_json(wire.event_frame(event)) == (event, None)
    assert wire.ack_from_json(json.loads(json.dumps(wire.ack_to_json(2**53 - 1)))) == 2**53 - 1
    for bad in (-1, 2**53, 1.0, True, "3", None):
        with pytest.raises(ValueError, match=r"^ack: not a number from 0 to 9007199254740991$"):
            wire.ack_from_json({"ack": bad})
        if bad is not None:
            with pytest.raises(ValueError, match=r"^ack: not a number"):
                wire.event_frame_from_json({**wire.event_to_json(event), "ack": bad})
    for bad_answer in ([], {"ack": 1, "more": 2}, {}, "ack"):
        with pytest.raises(ValueError, match=r'^bridge answer: not \{"ack": number\}$'):
            wire.ack_from_json(bad_answer)
    with pytest.raises(ValueError, match=r"^bridge event: not a JSON object$"):
        wire.event_frame_from_json([1])


async def test_hub_bridge_runs_the_bot_against_the_hub_over_http(synapse: Synapse, tmp_path: Path):
    """`hub bridge` as an operator starts it: commands reach the hub over HTTP, the summary
    comes back over the event socket, SIGTERM stops it."""
    server = await started(bridge_config(tmp_path))
    bot = synapse.register(f"visio{secrets.token_hex(3)}")
    config = tmp_path / "bot.toml"
    config.write_text(
        "[server]\ndev = true\n"
        f"data_dir = {toml_value(str(tmp_path / 'bot'))}\n"
        '[logging]\nformat = "text"\n[matrix]\n'
        f"bot_user_id = {toml_value(bot.user_id)}\n"
        f"bot_homeserver_url = {toml_value(synapse.url)}\n"
        f"bot_password = {toml_value(bot.password)}\n"
        f"allowed_homeservers = {toml_value([synapse.server_name])}\n"
        f"bridge_token = {toml_value(TOKEN)}\n"
        f"hub_url = {toml_value(str(server.make_url('/')))}\n",
        encoding="utf-8",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", "bridge", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        alice = Person(synapse, synapse.register(f"alice{secrets.token_hex(3)}"))
        room = await alice.create_room(invite=[bot.user_id], **moderated_room(bot.user_id))
        await alice.wait_membership(room, bot.user_id, "join")
        started_status = await alice.wait_reply(
            room, bot.user_id, await alice.say(room, "!visio start Point hebdo")
        )
        assert started_status.startswith("Réunion « Point hebdo » en cours")
        link = await server.app[ROOM_LINKS].live_for(room)
        assert link is not None
        await alice.say(room, "!visio end")

        async def summary() -> bool:
            notices = await alice.notices_from(room, bot.user_id)
            ended = "Réunion « Point hebdo » terminée."
            return any(n["content"]["body"].startswith(ended) for n in notices)

        await alice.wait_until(summary, "the summary posted from the MeetingClosed event")
        assert await server.app[ROOM_LINKS].live_for(room) is None
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        output = (await asyncio.wait_for(process.communicate(), 20))[0].decode()
        await server.close()
    assert process.returncode == 0, output
    assert f"bridge running as {bot.user_id}" in output
    assert "Traceback" not in output
    assert TOKEN not in output and bot.password not in output


def test_hub_bridge_command_says_what_it_needs(tmp_path: Path):
    helped = run_hub("bridge", "--help")
    assert helped.returncode == 0
    assert "matrix.bridge_token" in helped.stdout
    config = tmp_path / "bridge.toml"
    config.write_text(f'[server]\ndev = true\n[matrix]\nbridge_token = "{TOKEN}"\n')
    missing = run_hub("bridge", "--config", str(config))
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"hub: configuration error: {config}: matrix.bot_user_id: is empty; set it to the bot's "
        "Matrix user id, @name:server"
    )


def test_a_refusal_crosses_as_its_catalog_key_and_nothing_else():
    refusal = HubRefusal(Text("bot.refusal.no_such_number", {"number": "3"}))
    data = wire.refusal_to_json(refusal)
    assert data["detail"] == (
        "Personne n'attend sous le numéro 3 : voyez le message d'état. / "
        "Nobody waits as number 3: see the status message."
    )
    back = wire.refusal_from_json(json.loads(json.dumps(data)))
    assert back is not None and back.text == refusal.text
    for key, values in (
        ("bot.internal_error", {"reference": "x"}),  # a sentence, but not a refusal
        ("bot.refusal.from_a_newer_hub", {}),
        ("bot.refusal.no_such_number", {}),  # its placeholder left empty
        ("bot.refusal.no_such_number", {"number": 3}),
    ):
        assert wire.refusal_from_json({**data, "key": key, "values": values}) is None, key
    assert wire.refusal_from_json({**data, "code": "conflict"}) is None
