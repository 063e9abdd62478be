"""A Matrix user joins a meeting as themselves: the page posts the OpenID token its Matrix
client gave it, the hub asks the real homeserver, and the session becomes the Matrix user's.

The second homeserver of the pair stands for another ministry's Tchap server."""

from __future__ import annotations

import asyncio
import secrets

import aiohttp
import pytest
from sqlalchemy import select

from hub.db.models import AuthSession
from hub.db.models import Participant as ParticipantRow
from hub.web.keys import DATABASE, SESSION_CODEC
from tests.conftest import make_config
from tests.support.hub_client import another_browser, api_client
from tests.support.peer import Participant
from tests.support.synapse import Synapse


@pytest.fixture
async def hub(aiohttp_client, tmp_path, synapse_pair: tuple[Synapse, Synapse]):
    """A hub that trusts the first homeserver only, with its owner's client and CSRF header."""
    trusted, _other = synapse_pair
    config = make_config(
        tmp_path,
        sfu={"candidate_addresses": ["127.0.0.1"]},
        matrix={
            "allowed_homeservers": [trusted.server_name],
            "homeserver_overrides": {s.server_name: s.url for s in synapse_pair},
        },
    )
    client, csrf = await api_client(aiohttp_client, config)
    sessions: list[aiohttp.ClientSession] = []

    async def browser() -> tuple[aiohttp.ClientSession, dict[str, str]]:
        """Another browser with the guest session and CSRF token a meeting page gives."""
        http, csrf_of_page = await another_browser(client)
        sessions.append(http)
        return http, csrf_of_page

    yield client, csrf, browser
    for http in sessions:
        await http.close()


async def test_a_matrix_user_joins_a_trusted_meeting_as_themselves(hub, synapse_pair):
    client, csrf, browser = hub
    trusted, _ = synapse_pair
    user = trusted.register(f"agent{secrets.token_hex(3)}")
    created = await client.post(
        "/api/v1/meetings", json={"title": "Interministériel", "access_level": "trusted"},
        headers=csrf,
    )  # fmt: skip
    meeting = (await created.json())["id"]

    http, page_csrf = await browser()
    issued = await asyncio.to_thread(trusted.openid_token, user)
    answer = await http.post(
        client.make_url("/auth/matrix"),
        json={
            "access_token": issued["access_token"],
            "matrix_server_name": issued["matrix_server_name"],
            "display_name": "Agent Dupont",
        },
        headers=page_csrf,
    )
    assert answer.status == 200, await answer.text()
    body = await answer.json()
    assert body["identity"] == f"matrix:{user.user_id}"
    async with client.app[DATABASE].sessions() as db:
        rows = (await db.scalars(select(AuthSession))).all()
    assert [(row.identity, row.provider) for row in rows] == [(body["identity"], "matrix")]

    ws = await http.ws_connect(client.make_url(f"/api/v1/meetings/{meeting}/ws"))
    person = Participant(ws, "Agent Dupont")
    try:
        welcome = await person.knock()
        assert welcome["type"] == "welcome", welcome  # trusted: an authenticated user enters
        async with client.app[DATABASE].sessions() as db:
            row = await db.get(ParticipantRow, person.participant_id)
        assert row is not None and row.identity == f"matrix:{user.user_id}"
        assert row.identity_kind.value == "matrix"
    finally:
        await person.close()


async def test_an_invited_matrix_user_enters_a_restricted_meeting(hub, synapse_pair):
    client, csrf, browser = hub
    trusted, _ = synapse_pair
    user = trusted.register(f"invitee{secrets.token_hex(3)}")
    created = await client.post("/api/v1/meetings", json={"title": "Restreinte"}, headers=csrf)
    meeting = (await created.json())["id"]
    invited = await client.post(
        f"/api/v1/meetings/{meeting}/invitations", json={"invitee": user.user_id},
        headers=csrf,
    )  # fmt: skip
    assert invited.status == 201, await invited.text()

    http, page_csrf = await browser()
    issued = await asyncio.to_thread(trusted.openid_token, user)
    login = await http.post(
        client.make_url("/auth/matrix"),
        json={k: issued[k] for k in ("access_token", "matrix_server_name")},
        headers=page_csrf,
    )
    assert login.status == 200
    person = Participant(
        await http.ws_connect(client.make_url(f"/api/v1/meetings/{meeting}/ws")), "x"
    )
    try:
        assert (await person.knock())["type"] == "welcome"
    finally:
        await person.close()


async def test_forged_foreign_and_unlisted_tokens_open_no_session(hub, synapse_pair):
    client, _csrf, browser = hub
    trusted, other = synapse_pair
    http, page_csrf = await browser()
    codec = client.app[SESSION_CODEC]
    before = http.cookie_jar.filter_cookies(client.make_url("/"))[codec.cookie_name].value
    stranger = other.register(f"stranger{secrets.token_hex(3)}")
    foreign = await asyncio.to_thread(other.openid_token, stranger)
    local = trusted.register(f"local{secrets.token_hex(3)}")
    real = await asyncio.to_thread(trusted.openid_token, local)
    attempts = [
        # A token nobody issued.
        ({"access_token": secrets.token_urlsafe(18),
          "matrix_server_name": trusted.server_name}, 401),
        # The other ministry's real token, presented as the trusted server's: unknown there.
        ({"access_token": foreign["access_token"],
          "matrix_server_name": trusted.server_name}, 401),
        # The other ministry's server is not in matrix.allowed_homeservers.
        ({"access_token": foreign["access_token"],
          "matrix_server_name": other.server_name}, 403),
        # A server name that is not one (no request is made for it).
        ({"access_token": real["access_token"], "matrix_server_name": "evil.example/x"}, 400),
        # Malformed bodies.
        ({"access_token": real["access_token"]}, 400),
        ({"access_token": "", "matrix_server_name": trusted.server_name}, 400),
    ]  # fmt: skip
    for body, status in attempts:
        answer = await http.post(client.make_url("/auth/matrix"), json=body, headers=page_csrf)
        assert answer.status == status, (body, await answer.text())
    # Without the page's CSRF token even a real token is refused (no login CSRF).
    answer = await http.post(
        client.make_url("/auth/matrix"),
        json={k: real[k] for k in ("access_token", "matrix_server_name")},
    )
    assert answer.status == 403
    after = http.cookie_jar.filter_cookies(client.make_url("/"))[codec.cookie_name].value
    assert after == before  # still the same guest
    async with client.app[DATABASE].sessions() as db:
        assert (await db.scalars(select(AuthSession))).all() == []
