"""The meeting page as a Matrix widget. Inside the Matrix client's iframe the hub's cookie is
neither sent nor stored, so the page trades the OpenID token its client gives it for an identity
token for one meeting, checked with a real homeserver; that token proves who the person is and
lets no one in by itself: the meeting's rules (here, the linked room's members) decide.

Every browser here is cookie-less, as the page is in a third-party iframe."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from yarl import URL

from hub.db.models import AuthSession
from hub.db.models import Participant as ParticipantRow
from hub.web.keys import DATABASE, JOIN_TOKENS, LIVE, ROOM_LINKS, ROOM_ROSTERS
from tests.conftest import make_config
from tests.support.hub_client import api_client
from tests.support.peer import Participant
from tests.support.synapse import Synapse

TCHAP = "https://www.tchap.gouv.fr"
WIDGET_PATH = "/auth/matrix/widget"


@pytest.fixture
async def hub(aiohttp_client, tmp_path, synapse_pair: tuple[Synapse, Synapse]):
    """A hub that trusts the first homeserver only and lets Tchap frame its widget page; its
    owner's client and CSRF header."""
    trusted, _other = synapse_pair
    config = make_config(
        tmp_path,
        sfu={"candidate_addresses": ["127.0.0.1"]},
        matrix={
            "allowed_homeservers": [trusted.server_name],
            "homeserver_overrides": {s.server_name: s.url for s in synapse_pair},
            "widget_parent_origins": [TCHAP],
        },
    )
    return await api_client(aiohttp_client, config)


@pytest.fixture
async def iframe() -> AsyncIterator[aiohttp.ClientSession]:
    """The page inside the Matrix client: no cookie goes in or out."""
    http = aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(), headers={"Accept": "application/json"}
    )
    yield http
    await http.close()


async def create(client: Any, csrf: dict[str, str], access_level: str = "restricted") -> str:
    created = await client.post(
        "/api/v1/meetings", json={"title": "Cellule", "access_level": access_level}, headers=csrf
    )
    assert created.status == 201, await created.text()
    return str((await created.json())["id"])


async def knock(
    client: Any, http: aiohttp.ClientSession, meeting: str, token: str
) -> tuple[Participant, dict[str, Any]]:
    """Join over a cookie-less socket with `token`; the person and the hub's first answer."""
    ws = await http.ws_connect(client.make_url(f"/api/v1/meetings/{meeting}/ws"))
    person = Participant(ws, "typed, not used")
    return person, await person.knock(token=token)


async def test_the_widget_token_proves_who_and_the_room_decides_entry(hub, iframe, synapse_pair):
    client, csrf = hub
    trusted, _ = synapse_pair
    user = trusted.register(f"agent{secrets.token_hex(3)}")
    localpart = user.user_id[1:].split(":")[0]
    meeting = await create(client, csrf)
    issued = await asyncio.to_thread(trusted.openid_token, user)
    answer = await iframe.post(
        client.make_url(WIDGET_PATH),
        json={
            "meeting_id": meeting,
            **{k: issued[k] for k in ("access_token", "matrix_server_name")},
        },
    )
    assert answer.status == 200, await answer.text()
    assert "Set-Cookie" not in answer.headers and answer.headers["Cache-Control"] == "no-store"
    body = await answer.json()
    assert (body["identity"], body["display_name"]) == (f"matrix:{user.user_id}", localpart)
    grant = client.app[JOIN_TOKENS].verify(body["token"], meeting_id=meeting)
    assert (grant.identity, grant.role) == (body["identity"], None)  # who, and no entry
    async with client.app[DATABASE].sessions() as db:
        assert (await db.scalars(select(AuthSession))).all() == []  # no session was opened

    # Restricted meeting, no invitation, no room: the verified user waits like anyone.
    person, answer = await knock(client, iframe, meeting, body["token"])
    try:
        assert answer["type"] == "waiting", answer
        [entry] = client.app[LIVE].get(meeting).lobby.values()
        assert (entry.identity, entry.name, entry.kind.value) == (
            body["identity"], localpart, "matrix"
        )  # fmt: skip
    finally:
        await person.close()

    # A member of the Matrix room linked to the meeting enters, as a participant...
    room = f"!cellule{secrets.token_hex(3)}:{trusted.server_name}"
    await client.app[ROOM_LINKS].link(room, meeting, created_by="@bot:" + trusted.server_name)
    await client.app[ROOM_ROSTERS].update(room, {user.user_id: 0})
    person, welcome = await knock(client, iframe, meeting, body["token"])
    try:
        assert (welcome["type"], welcome["role"]) == ("welcome", "participant"), welcome
        async with client.app[DATABASE].sessions() as db:
            row = await db.get(ParticipantRow, welcome["participant_id"])
        assert row is not None and (row.identity, row.display_name) == (
            body["identity"], localpart
        )  # fmt: skip
    finally:
        await person.close()

    # ...and a room moderator (power 50) moderates the call.
    await client.app[ROOM_ROSTERS].update(room, {user.user_id: 50})
    person, welcome = await knock(client, iframe, meeting, body["token"])
    try:
        assert (welcome["type"], welcome["role"]) == ("welcome", "moderator"), welcome
    finally:
        await person.close()


async def test_forged_foreign_unlisted_and_malformed_requests_are_refused(
    hub, iframe, synapse_pair, caplog
):
    client, csrf = hub
    trusted, other = synapse_pair
    meeting = await create(client, csrf)
    ended = await create(client, csrf)
    assert (await client.post(f"/api/v1/meetings/{ended}/end", headers=csrf)).status == 200
    stranger = other.register(f"stranger{secrets.token_hex(3)}")
    foreign = await asyncio.to_thread(other.openid_token, stranger)
    local = trusted.register(f"local{secrets.token_hex(3)}")
    real = await asyncio.to_thread(trusted.openid_token, local)
    forged = secrets.token_urlsafe(18)
    here = trusted.server_name
    attempts: list[tuple[dict[str, Any], int, str]] = [
        ({"access_token": forged, "matrix_server_name": here}, 401, "refused or expired"),
        # The other ministry's real token, presented as the trusted server's: unknown there.
        ({"access_token": foreign["access_token"], "matrix_server_name": here}, 401, "refused"),
        ({"access_token": foreign["access_token"],
          "matrix_server_name": other.server_name}, 403, "homeserver not allowed"),
        ({"access_token": real["access_token"], "matrix_server_name": "evil.example/x"}, 400,
         "matrix_server_name"),
        ({"access_token": real["access_token"]}, 400, "matrix_server_name: Field required"),
        ({"access_token": "", "matrix_server_name": here}, 400, "access_token"),
        ({**real, "meeting_id": "zzz-zzzz-zzz"}, 404, "No such meeting"),
        ({**real, "meeting_id": ended}, 403, "The meeting has ended"),
        ({**real, "role": "moderator"}, 400, "role: Extra inputs are not permitted"),
    ]  # fmt: skip
    caplog.set_level(logging.DEBUG)
    for body, status, detail in attempts:
        caplog.clear()
        sent = {"meeting_id": meeting, **body}
        sent = {k: v for k, v in sent.items() if k not in ("expires_in", "token_type")}
        english = {"Accept-Language": "en-GB,en;q=0.9"}  # the Matrix client's language
        answer = await iframe.post(client.make_url(WIDGET_PATH), json=sent, headers=english)
        problem = await answer.json()
        assert answer.status == status and detail in problem["detail"], (sent, problem)
        assert " / " not in problem["detail"] and answer.headers["Content-Language"] == "en"
        refusals = [
            r for r in caplog.records if r.levelno >= logging.INFO and "refused" in r.getMessage()
        ]
        assert [r.name for r in refusals] == ["hub.web.matrix_login"], caplog.text
        assert str(status) in refusals[0].getMessage()
        for secret in (forged, foreign["access_token"], real["access_token"]):
            assert secret not in caplog.text
    answer = await iframe.post(
        client.make_url(WIDGET_PATH), data="{not json", headers={"Content-Type": "application/json"}
    )
    assert (answer.status, (await answer.json())["detail"]) == (400, "the body is not valid JSON")


async def test_identity_requests_are_rate_limited(aiohttp_client, tmp_path, iframe):
    client, _csrf = await api_client(
        aiohttp_client, make_config(tmp_path, limits={"login_per_minute": 2})
    )
    statuses = []
    for _ in range(3):
        answer = await iframe.post(client.make_url(WIDGET_PATH), json={})
        statuses.append(answer.status)
    assert statuses == [400, 400, 429]
    assert int(answer.headers["Retry-After"]) > 0


async def test_only_the_widget_page_may_be_framed_and_only_by_listed_clients(
    aiohttp_client, tmp_path
):
    client, csrf = await api_client(
        aiohttp_client, make_config(tmp_path, matrix={"widget_parent_origins": [TCHAP]})
    )
    meeting = await create(client, csrf, "public")
    html = {"Accept": "text/html"}
    query = "widget=1&widgetId=visio_1&parentUrl=https%3A%2F%2Fwww.tchap.gouv.fr%2F%23%2Froom"

    def ancestors(answer: aiohttp.ClientResponse) -> str:
        policy = answer.headers["Content-Security-Policy"]
        assert policy.startswith("default-src 'self'")
        return policy.rsplit("; frame-ancestors ", 1)[1]

    widget = await client.get(f"/m/{meeting}?{query}&lang=en-GB", headers=html)
    assert ancestors(widget) == TCHAP
    page = await widget.text()
    assert '<html lang="en">' in page  # the client's language, region and all
    assert '"parentOrigins": ["https://www.tchap.gouv.fr"]' in page
    assert 'id="name-field" hidden' in page and "Checking your Matrix identity" in page
    assert f'href="/m/{meeting}?{query.replace("&", "&amp;")}&amp;lang=fr"' in page
    # Its error answers too (the iframe shows them), and its canonical redirect keeps Element's
    # parameters.
    assert ancestors(await client.get(f"/m/zzz-zzzz-zzz?{query}", headers=html)) == TCHAP
    moved = await client.get(f"/m/{meeting.upper()}?{query}", allow_redirects=False)
    location = URL(moved.headers["Location"])
    assert (location.path, dict(location.query)) == (f"/m/{meeting}", dict(URL(f"/?{query}").query))
    assert location.query["parentUrl"] == "https://www.tchap.gouv.fr/#/room"
    # Everything else: framed by nobody.
    for path in (f"/m/{meeting}", "/", f"/api/v1/meetings/{meeting}", "/health/live"):
        answer = await client.get(path, headers=html)
        assert ancestors(answer) == "'none'", path
    plain = await (await client.get(f"/m/{meeting}", headers=html)).text()
    assert "parentOrigins" not in plain and 'id="name-field" hidden' not in plain

    # Without listed clients, not even the widget page.
    (tmp_path / "closed").mkdir()
    closed, closed_csrf = await api_client(aiohttp_client, make_config(tmp_path / "closed"))
    meeting = await create(closed, closed_csrf, "public")
    assert ancestors(await closed.get(f"/m/{meeting}?{query}", headers=html)) == "'none'"
