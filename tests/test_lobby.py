"""Who enters, who waits, and what moderators can do — through the real WebSocket and SFU.

Every person here has their own session (cookie jar) and is a real aiortc peer, so "receives
nothing" is checked on what reaches the socket and the peer connection, and "muted" on the
SFU's own packet counters.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from hub.auth.session import Session
from hub.auth.tokens import JoinTokens
from hub.db.models import AuthSession, Role
from hub.db.models import Participant as ParticipantRow
from hub.ids import Identity, MeetingId
from hub.web.keys import DATABASE, JOIN_TOKENS, LIVE, SESSION_CODEC, SFU
from tests.conftest import make_config
from tests.support.hub_client import api_client
from tests.support.peer import Participant, wait_until

# The roster, chat, media and lobby messages a waiting or denied person must never get.
MEETING_CONTENT = {
    "welcome",
    "participant_joined",
    "participant_updated",
    "participant_left",
    "chat",
    "subscribe_offer",
    "active_speaker",
    "lobby",
}


@dataclass
class Hub:
    client: TestClient
    owner_csrf: dict[str, str]
    people: list[Participant]
    sessions: list[aiohttp.ClientSession]

    @property
    def app(self):
        return self.client.app

    async def meeting(self, access_level: str) -> MeetingId:
        created = await self.client.post(
            "/api/v1/meetings",
            json={"title": "Comité", "access_level": access_level},
            headers=self.owner_csrf,
        )
        assert created.status == 201, await created.text()
        return MeetingId((await created.json())["id"])

    async def owner(self, meeting_id: MeetingId, name: str = "Olga") -> Participant:
        ws = await self.client.ws_connect(f"/api/v1/meetings/{meeting_id}/ws")
        return self._track(Participant(ws, name))

    async def visitor(
        self, meeting_id: MeetingId, name: str, session: Session | None = None
    ) -> Participant:
        """Someone else: a fresh guest session (as the meeting page gives), or `session`."""
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.sessions.append(http)
        codec = self.app[SESSION_CODEC]
        if session is None:
            await http.get(self.client.make_url("/"), headers={"Accept": "text/html"})
        else:
            http.cookie_jar.update_cookies(
                {codec.cookie_name: codec.encode(session)}, self.client.make_url("/")
            )
        ws = await http.ws_connect(self.client.make_url(f"/api/v1/meetings/{meeting_id}/ws"))
        return self._track(Participant(ws, name))

    async def gathering(
        self, access_level: str, *names: str
    ) -> tuple[MeetingId, Participant, list[Participant]]:
        """A meeting with its owner Olga and each of `names` joined (each their own session)."""
        meeting = await self.meeting(access_level)
        olga = await self.owner(meeting)
        await olga.join()
        others = [await self.visitor(meeting, name) for name in names]
        for person in others:
            await person.join()
        return meeting, olga, others

    def _track(self, participant: Participant) -> Participant:
        self.people.append(participant)
        return participant


@pytest.fixture
async def hub(aiohttp_client, tmp_path) -> AsyncIterator[Hub]:
    config = make_config(
        tmp_path, sfu={"candidate_addresses": ["127.0.0.1"]}, limits={"lobby_per_minute": 4}
    )
    client, csrf = await api_client(aiohttp_client, config)
    state = Hub(client, csrf, [], [])
    yield state
    for person in state.people:
        await person.close()
    for http in state.sessions:
        await http.close()


async def lobby_entries(moderator: Participant, count: int) -> list[dict]:
    """The moderator's latest lobby list once it has `count` entries."""

    def latest() -> list[dict] | None:
        lists = [m["entries"] for m in moderator.messages if m["type"] == "lobby"]
        return lists[-1] if lists else None

    await wait_until(lambda: (latest() or []).__len__() == count, 10, f"lobby never had {count}")
    entries = latest()
    assert entries is not None
    return entries


def types(person: Participant) -> list[str]:
    return [message["type"] for message in person.messages]


async def test_guest_waits_in_a_trusted_meeting_and_is_admitted(hub: Hub):
    meeting = await hub.meeting("trusted")
    olga = await hub.owner(meeting)
    await olga.join()
    await olga.publish()
    assert (await olga.wait_for("welcome"))["role"] == "owner"

    gaston = await hub.visitor(meeting, "Gaston")
    assert (await gaston.knock())["type"] == "waiting"
    [entry] = await lobby_entries(olga, 1)
    assert entry["name"] == "Gaston" and entry["kind"] == "guest"
    await asyncio.sleep(0.5)  # media and chat flow meanwhile; none of it may reach Gaston
    await olga.send({"type": "chat", "text": "ordre du jour"})
    await asyncio.sleep(0.3)
    assert types(gaston) == ["waiting"]
    assert gaston.subscribe_pc is None

    await olga.send({"type": "admit", "entry_id": entry["id"]})
    welcome = await gaston.admitted()
    assert welcome["role"] == "participant"
    assert types(gaston)[:3] == ["waiting", "admitted", "welcome"]
    assert [p["name"] for p in welcome["participants"]] == ["Olga", "Gaston"]
    await wait_until(lambda: gaston.received.count(olga.participant_id, "video") > 3, 15,
                     "the admitted guest never decoded the owner's video")  # fmt: skip
    assert await lobby_entries(olga, 0) == []


async def test_denied_guest_receives_nothing_of_the_meeting(hub: Hub):
    meeting = await hub.meeting("restricted")
    olga = await hub.owner(meeting)
    await olga.join()
    await olga.publish()
    intruder = await hub.visitor(meeting, "Intrus")
    assert (await intruder.knock())["type"] == "waiting"
    # While waiting, anything but ping/leave is refused and changes nothing.
    await intruder.send({"type": "chat", "text": "bonjour ?"})
    refused = await intruder.wait_for("error")
    assert refused["code"] == "not_admitted"
    [entry] = await lobby_entries(olga, 1)
    await olga.send({"type": "deny", "entry_id": entry["id"]})
    denied = await intruder.wait_for("denied")
    assert denied["reason"] == "denied"
    await wait_until(lambda: intruder.ws.closed, 5, "the denied socket stayed open")
    assert intruder.ws.close_code == 4003
    assert not MEETING_CONTENT & set(types(intruder)), types(intruder)
    assert intruder.subscribe_pc is None  # no offer ever came: no media could
    assert not any(m["type"] == "chat" for m in olga.messages)  # the chat attempt went nowhere
    async with hub.app[DATABASE].sessions() as session:
        rows = (await session.scalars(ParticipantRow.__table__.select())).all()
    assert len(rows) == 1  # only the owner ever became a participant


async def test_a_knock_carries_a_message_and_a_refusal_its_reason(hub: Hub):
    meeting = await hub.meeting("restricted")
    olga = await hub.owner(meeting)
    await olga.join()
    nadia = await hub.visitor(meeting, "Nadia")

    # Too long, control characters, HTML: refused with where and why; nobody knocked.
    for bad, why in (
        ("x" * 201, "join: message: longer than 200 characters"),
        ("bonjour\u202equi suis-je", "join: message: contains control characters"),
        ("<img src=x onerror=alert(1)>", "join: message: contains HTML markup"),
    ):
        error = await nadia.knock(message=bad)
        assert (error["type"], error["code"]) == ("error", "invalid_field"), error
        assert error["message"].startswith(why), error
    assert hub.app[LIVE].get(meeting) is None or not hub.app[LIVE].get(meeting).lobby
    assert not [m for m in olga.messages if m["type"] == "lobby" and m["entries"]]

    # A message with line breaks and runs of spaces reaches the moderators as one line.
    answer = await nadia.knock(message="  Nadia, DGFiP :\n le point   budget 👩‍💻 ")
    assert answer["type"] == "waiting"
    [entry] = await lobby_entries(olga, 1)
    assert entry["message"] == "Nadia, DGFiP : le point budget 👩‍💻"

    # A moderator's bad reason changes nothing; a good one is what the refused person reads.
    seen = len(olga.messages)
    await olga.send({"type": "deny", "entry_id": entry["id"], "message": "<b>non</b>"})
    error = await olga.wait_for("error", after=seen)
    assert error["code"] == "invalid_field" and "deny: message: contains HTML" in error["message"]
    assert [e["id"] for e in await lobby_entries(olga, 1)] == [entry["id"]]
    assert types(nadia)[-1] == "waiting"
    await olga.send(
        {"type": "deny", "entry_id": entry["id"], "message": " Réunion interne,\nvoyez Paul. "}
    )
    denied = await nadia.wait_for("denied")
    assert denied == {
        "type": "denied", "reason": "denied", "message": "Réunion interne, voyez Paul."
    }  # fmt: skip

    # Without a message or a reason, neither field is sent.
    marc = await hub.visitor(meeting, "Marc")
    assert (await marc.knock(message="   "))["type"] == "waiting"
    [entry] = await lobby_entries(olga, 1)
    assert "message" not in entry
    await olga.send({"type": "deny", "entry_id": entry["id"]})
    assert await marc.wait_for("denied") == {"type": "denied", "reason": "denied"}


async def test_moderator_mute_stops_packets_at_the_sfu(hub: Hub):
    _meeting, olga, (bruno,) = await hub.gathering("public", "Bruno")
    await bruno.publish()
    await wait_until(lambda: olga.received.count(bruno.participant_id, "audio") > 20, 20,
                     "no audio from Bruno")  # fmt: skip
    await olga.send({"type": "mute", "participant_id": bruno.participant_id, "kind": "audio"})
    muted = await bruno.wait_for("muted")
    assert muted == {"type": "muted", "kind": "audio", "by": "Olga"}
    await asyncio.sleep(0.5)  # packets in flight and the jitter buffer drain
    drops = hub.app[SFU].counters.muted_drops
    heard = olga.received.count(bruno.participant_id, "audio")
    seen = olga.received.count(bruno.participant_id, "video")
    await asyncio.sleep(1.5)
    # Bruno's page still sends (it was not asked): the hub drops ~50 audio packets a second.
    assert hub.app[SFU].counters.muted_drops > drops + 30
    assert olga.received.count(bruno.participant_id, "audio") <= heard + 5
    assert olga.received.count(bruno.participant_id, "video") > seen + 5  # camera untouched
    # Bruno may speak again by turning his microphone back on.
    await bruno.send({"type": "media", "audio": True, "video": True})
    await wait_until(lambda: olga.received.count(bruno.participant_id, "audio") > heard + 20,
                     10, "audio did not resume after Bruno unmuted")  # fmt: skip


async def test_removed_participant_is_cut_off_and_comes_back_through_the_lobby(hub: Hub):
    meeting, olga, (bruno,) = await hub.gathering("public", "Bruno")
    await olga.send({"type": "remove", "participant_id": bruno.participant_id})
    assert (await bruno.wait_for("denied"))["reason"] == "removed"
    await wait_until(lambda: bruno.ws.closed, 5, "the removed socket stayed open")
    assert bruno.ws.close_code == 4003
    left = await olga.wait_for("participant_left")
    assert left["participant_id"] == bruno.participant_id
    # Same person (same session), new socket: a public meeting, yet he must be let in again.
    again = Participant(
        await hub.sessions[0].ws_connect(hub.client.make_url(f"/api/v1/meetings/{meeting}/ws")),
        "Bruno",
    )
    hub.people.append(again)
    assert (await again.knock())["type"] == "waiting"


async def test_locked_meeting_sends_newcomers_to_the_lobby(hub: Hub):
    meeting, olga, (early,) = await hub.gathering("public", "Early")
    await olga.send({"type": "lock", "locked": True})
    assert (await early.wait_for("meeting_state"))["locked"] is True
    late = await hub.visitor(meeting, "Late")
    assert (await late.knock())["type"] == "waiting"
    # The lock is stored: everyone goes, the owner comes back, newcomers still wait.
    for person in (late, early, olga):
        await person.close()
    await wait_until(lambda: hub.app[LIVE].get(meeting) is None, 5, "meeting still live")
    olga = await hub.owner(meeting)
    assert (await olga.knock())["locked"] is True
    early = await hub.visitor(meeting, "Early")
    assert (await early.knock())["type"] == "waiting"
    await olga.send({"type": "admit", "entry_id": (await lobby_entries(olga, 1))[0]["id"]})
    await early.admitted()
    await olga.send({"type": "lock", "locked": False})
    await wait_until(
        lambda: {"type": "meeting_state", "locked": False} in early.messages,
        5, "unlock not announced",
    )  # fmt: skip
    latest = await hub.visitor(meeting, "Latest")
    assert (await latest.knock())["type"] == "welcome"


async def test_participants_cannot_moderate_and_moderators_cannot_touch_the_owner(hub: Hub):
    _meeting, olga, (bruno, chloe) = await hub.gathering("public", "Bruno", "Chloé")
    for attempt in (
        {"type": "mute", "participant_id": chloe.participant_id},
        {"type": "remove", "participant_id": chloe.participant_id},
        {"type": "lock", "locked": True},
        {"type": "set_role", "participant_id": bruno.participant_id, "role": "moderator"},
        {"type": "end_meeting"},
        {"type": "admit", "entry_id": "whatever"},
        {"type": "lower_hands"},
    ):
        index = len(bruno.messages)
        await bruno.send(attempt)
        error = await bruno.wait_for("error", after=index)
        assert error["code"] == "forbidden", (attempt, error)
    assert not chloe.ws.closed

    await olga.send({"type": "set_role", "participant_id": bruno.participant_id,
                     "role": "moderator"})  # fmt: skip
    update = await chloe.wait_for("participant_updated")
    assert update["participant"] == {**update["participant"], "id": bruno.participant_id,
                                     "role": "moderator"}  # fmt: skip
    await bruno.wait_for("lobby")  # a new moderator is shown the lobby at once
    index = len(bruno.messages)
    await bruno.send({"type": "remove", "participant_id": olga.participant_id})
    assert (await bruno.wait_for("error", after=index))["code"] == "forbidden"
    # A moderator may remove a participant, and the role is stored.
    await bruno.send({"type": "remove", "participant_id": chloe.participant_id})
    await wait_until(lambda: chloe.ws.closed, 5, "Chloé was not removed")
    async with hub.app[DATABASE].sessions() as session:
        row = await session.get(ParticipantRow, bruno.participant_id)
    assert row is not None and row.role is Role.MODERATOR
    # Unknown targets are precise errors, not crashes.
    index = len(bruno.messages)
    await bruno.send({"type": "mute", "participant_id": "nobody"})
    assert (await bruno.wait_for("error", after=index))["code"] == "not_found"


async def test_a_moderator_ends_the_meeting_for_everyone(hub: Hub):
    meeting, olga, (bruno,) = await hub.gathering("public", "Bruno")
    await olga.send({"type": "set_role", "participant_id": bruno.participant_id,
                     "role": "moderator"})  # fmt: skip
    await bruno.wait_for("lobby")
    await olga.send({"type": "lock", "locked": True})
    # Locked before anyone knocks: on a loaded machine the knock could overtake the lock.
    await bruno.wait_for("meeting_state")
    waiting = await hub.visitor(meeting, "Patient")
    assert (await waiting.knock())["type"] == "waiting"
    await bruno.send({"type": "end_meeting"})
    for person in (olga, bruno, waiting):
        assert (await person.wait_for("ended"))["reason"] == "ended"
        await wait_until(lambda p=person: p.ws.closed, 5, f"{person.name} still connected")
        assert person.ws.close_code == 4001


async def test_join_tokens_open_only_their_meeting(hub: Hub):
    meeting_a = await hub.meeting("restricted")
    meeting_b = await hub.meeting("restricted")
    olga = await hub.owner(meeting_a)
    await olga.join()
    issued = await hub.client.post(
        f"/api/v1/meetings/{meeting_a}/tokens",
        json={"name": "Expert externe", "role": "moderator", "lifetime": 600},
        headers=hub.owner_csrf,
    )
    assert issued.status == 201, await issued.text()
    body = await issued.json()
    assert body["url"].endswith(f"/m/{meeting_a}#token={body['token']}")

    # A token for A is refused in B (and the socket stays usable: it may knock without).
    in_b = await hub.visitor(meeting_b, "Expert")
    refused = await in_b.knock(token=body["token"])
    assert refused["type"] == "error" and refused["code"] == "unauthorized"
    assert "another meeting" in refused["message"]
    assert (await in_b.knock())["type"] == "waiting"

    # Forged ones: alg none, HS256 with another key, expired.
    forged = JoinTokens(
        "another-secret-key-of-enough-length-000000",
        hub.client.make_url("").human_repr().rstrip("/"),
    )
    tokens = hub.app[JOIN_TOKENS]
    identity = Identity("guest:forger")
    bad = [
        forged.issue(meeting_id=meeting_a, identity=identity, display_name="F", role=Role.OWNER),
        tokens.issue(meeting_id=meeting_a, identity=identity, display_name="F",
                     role=Role.PARTICIPANT, lifetime=60, now=1_000_000),  # long expired
        _unsigned(tokens.audience(meeting_a), tokens.issuer),
    ]  # fmt: skip
    for token in bad:
        person = await hub.visitor(meeting_a, "Faussaire")
        answer = await person.knock(token=token)
        assert answer["type"] == "error" and answer["code"] == "unauthorized", answer

    # The real one enters the restricted meeting A directly, with its role and name.
    holder = await hub.visitor(meeting_a, "ignored")
    welcome = await holder.knock(token=body["token"])
    assert welcome["type"] == "welcome", welcome
    assert welcome["role"] == "moderator"
    me = next(p for p in welcome["participants"] if p["is_self"])
    assert me["name"] == "Expert externe"


def _unsigned(audience: str, issuer: str) -> str:
    """A token with alg "none": header and claims, no signature."""
    import base64
    import json
    import time

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": issuer, "aud": audience, "sub": "guest:x", "name": "X", "role": "moderator",
              "iat": now, "nbf": now, "exp": now + 600, "jti": "x"}  # fmt: skip
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


async def test_invited_people_enter_a_restricted_meeting(hub: Hub):
    meeting = await hub.meeting("restricted")
    invite = await hub.client.post(
        f"/api/v1/meetings/{meeting}/invitations",
        json={"invitee": "Alice.Martin@Interieur.Gouv.fr", "role": "moderator"},
        headers=hub.owner_csrf,
    )
    assert invite.status == 201, await invite.text()
    assert (await invite.json())["invitee"] == "email:alice.martin@interieur.gouv.fr"
    duplicate = await hub.client.post(
        f"/api/v1/meetings/{meeting}/invitations",
        json={"invitee": "alice.martin@interieur.gouv.fr"},
        headers=hub.owner_csrf,
    )
    assert duplicate.status == 409
    for bad in ("not an address", "@bad", "email:", "a@b"):
        answer = await hub.client.post(
            f"/api/v1/meetings/{meeting}/invitations", json={"invitee": bad},
            headers=hub.owner_csrf,
        )  # fmt: skip
        assert answer.status == 400, bad

    alice = await _logged_in(hub, "sub-alice", "alice.martin@interieur.gouv.fr")
    olga = await hub.owner(meeting)
    await olga.join()
    person = await hub.visitor(meeting, "Alice", session=alice)
    welcome = await person.knock()
    assert welcome["type"] == "welcome" and welcome["role"] == "moderator"
    # Someone logged in but not invited waits.
    other = await _logged_in(hub, "sub-bob", "bob@culture.gouv.fr")
    bob = await hub.visitor(meeting, "Bob", session=other)
    assert (await bob.knock())["type"] == "waiting"
    # Withdrawn invitations stop working.
    listed = await (await hub.client.get(f"/api/v1/meetings/{meeting}/invitations")).json()
    [invitation] = listed["invitations"]
    removed = await hub.client.delete(
        f"/api/v1/meetings/{meeting}/invitations/{invitation['id']}", headers=hub.owner_csrf
    )
    assert removed.status == 204
    again = await hub.visitor(meeting, "Alice", session=alice)
    assert (await again.knock())["type"] == "waiting"


async def _logged_in(hub: Hub, subject: str, email: str) -> Session:
    """A session as an identity-provider login leaves it: the cookie and its stored row."""
    import secrets
    import time
    from datetime import UTC, datetime, timedelta

    session = Session(
        identity=Identity(f"local:test:{subject}"),
        display_name=subject,
        session_id=secrets.token_urlsafe(16),
        expires_at=int(time.time()) + 3600,
        provider="test",
        email=email,
    )
    async with hub.app[DATABASE].sessions.begin() as db:
        db.add(
            AuthSession(
                id=session.session_id,
                identity=session.identity,
                provider="test",
                email=email,
                id_token="unused",
                created_at=datetime.now(UTC),
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
    return session


async def test_trusted_meeting_lets_logged_in_people_in(hub: Hub):
    meeting = await hub.meeting("trusted")
    agent = await _logged_in(hub, "sub-agent", "agent@finances.gouv.fr")
    person = await hub.visitor(meeting, "Agent", session=agent)
    assert (await person.knock())["type"] == "welcome"


async def test_lobby_knocks_are_rate_limited_with_retry_after(hub: Hub):
    meeting = await hub.meeting("restricted")
    # Five sockets open before anyone knocks (the limit is 4 a minute in this hub's config).
    people = [await hub.visitor(meeting, f"Visiteur {index}") for index in range(5)]
    answers = [await person.knock() for person in people]
    assert [a["type"] for a in answers] == ["waiting"] * 4 + ["error"]
    assert answers[-1]["code"] == "rate_limited" and 50 <= answers[-1]["retry_after"] <= 60
    # From now on the upgrade itself is refused with HTTP 429 and Retry-After.
    http = hub.sessions[-1]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(hub.client.make_url(f"/api/v1/meetings/{meeting}/ws"))
    assert refused.value.status == 429
    assert 50 <= int(refused.value.headers["Retry-After"]) <= 60


async def test_an_admitted_guest_comes_back_with_the_rejoin_ticket_without_the_lobby(hub: Hub):
    """A reload or a lost connection: the page shows its welcome's rejoin ticket with the next
    join. It works for that session only, never as a join token, and not after a removal."""
    meeting = await hub.meeting("restricted")
    olga = await hub.owner(meeting)
    await olga.join()
    gaston = await hub.visitor(meeting, "Gaston")
    assert (await gaston.knock())["type"] == "waiting"
    await olga.send({"type": "admit", "entry_id": (await lobby_entries(olga, 1))[0]["id"]})
    ticket = (await gaston.admitted())["rejoin"]
    assert isinstance(ticket, str) and ticket
    await olga.send({"type": "lock", "locked": True})
    await olga.wait_for("meeting_state")
    await gaston.close()
    await olga.wait_for("participant_left")

    def socket_of(http: aiohttp.ClientSession, name: str) -> Any:
        async def connect() -> Participant:
            ws = await http.ws_connect(hub.client.make_url(f"/api/v1/meetings/{meeting}/ws"))
            return hub._track(Participant(ws, name))

        return connect()

    # The same browser (session), locked meeting: straight back in, nobody asked again.
    back = await socket_of(hub.sessions[0], "Gaston")
    welcome = await back.knock(rejoin=ticket)
    assert welcome["type"] == "welcome" and welcome["role"] == "participant"
    assert await lobby_entries(olga, 0) == []
    # Another browser with the same ticket: it proves nothing about that session.
    thief = await hub.visitor(meeting, "Voleur")
    assert (await thief.knock(rejoin=ticket))["type"] == "waiting"
    # Never a join token.
    other = await hub.visitor(meeting, "Autre")
    refused = await other.knock(token=ticket, lang="en-GB")  # said in the page's language
    assert refused["type"] == "error" and refused["code"] == "unauthorized"
    assert refused["message"] == "Join token refused: a rejoin ticket, not a join token"
    # Removed: the ticket no longer opens anything.
    await olga.send({"type": "remove", "participant_id": back.participant_id})
    assert (await back.wait_for("denied"))["reason"] == "removed"
    again = await socket_of(hub.sessions[0], "Gaston")
    assert (await again.knock(rejoin=ticket))["type"] == "waiting"


async def test_raised_hands_are_taken_in_turn_and_a_moderator_lowers_them(hub: Hub):
    _meeting, olga, (bruno, chloe, dan) = await hub.gathering("public", "Bruno", "Chloé", "Dan")

    async def hands() -> dict[str, int | None]:
        """Olga's view once every update reached her: who has a hand up, with its order."""
        await asyncio.sleep(0.3)
        seen: dict[str, dict] = {}
        for message in olga.messages:
            if message["type"] == "participant_updated":
                seen[message["participant"]["id"]] = message["participant"]
        names = {bruno.participant_id: "Bruno", chloe.participant_id: "Chloé",
                 dan.participant_id: "Dan"}  # fmt: skip
        return {names[pid]: p.get("hand_order") for pid, p in seen.items() if p["hand"]}

    for person in (chloe, bruno, dan):
        await person.send({"type": "hand", "raised": True})
        await asyncio.sleep(0.05)
    up = await hands()
    assert sorted(up, key=lambda name: up[name] or 0) == ["Chloé", "Bruno", "Dan"], up
    # Chloé lowers and raises again: she goes to the end of the queue.
    await chloe.send({"type": "hand", "raised": False})
    await chloe.send({"type": "hand", "raised": True})
    up = await hands()
    assert sorted(up, key=lambda name: up[name] or 0) == ["Bruno", "Dan", "Chloé"], up
    # A moderator lowers one hand, then all of them.
    await olga.send({"type": "lower_hands", "participant_id": bruno.participant_id})
    assert set(await hands()) == {"Dan", "Chloé"}
    await olga.send({"type": "lower_hands"})
    assert await hands() == {}
    index = len(olga.messages)
    await olga.send({"type": "lower_hands", "participant_id": "nobody"})
    assert (await olga.wait_for("error", after=index))["code"] == "not_found"


async def test_reactions_reach_everyone_from_a_fixed_set_and_at_a_human_pace(hub: Hub):
    _meeting, olga, (bruno,) = await hub.gathering("public", "Bruno")
    await bruno.send({"type": "reaction", "emoji": "👏"})
    got = await olga.wait_for("reaction")
    assert got == {"type": "reaction", "participant_id": bruno.participant_id, "emoji": "👏"}
    index = len(bruno.messages)
    await bruno.send({"type": "reaction", "emoji": "👏"})  # again at once: too fast
    assert (await bruno.wait_for("error", after=index))["code"] == "rate_limited"
    index = len(bruno.messages)
    await bruno.send({"type": "reaction", "emoji": "<img src=x>"})
    refused = await bruno.wait_for("error", after=index)
    assert refused["code"] == "invalid_field" and "emoji" in refused["message"]
    await asyncio.sleep(0.6)
    assert [m for m in olga.messages if m["type"] == "reaction"] == [got]
