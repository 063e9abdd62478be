"""Every route of the app, called without credentials and with someone else's: 401 or 403.

The table below must name every route the app registers (the first test compares them), so a
new route cannot be added without deciding who may call it. The admission rules themselves
are checked exhaustively against their description in docs/signaling.md.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import pytest

from hub.db.models import AccessLevel, MeetingState, Role
from hub.ids import Identity, MeetingId
from hub.meetings.access import Visitor, decide
from hub.meetings.service import MeetingView
from hub.web.app import create_app
from tests.conftest import make_config
from tests.support.hub_client import another_browser, api_client

# Routes anyone may call, and why that is safe.
PUBLIC = {
    ("GET", "/"): "home page; shows only the caller's own meetings",
    ("GET", "/join"): "turns a pasted code into a link; reveals no more than the link",
    ("GET", "/m/{meeting_id}"): "page for anyone with the link; entry is decided on the socket",
    ("POST", "/meetings"): "form, but refused without a session's CSRF token (checked below)",
    ("GET", "/health/live"): "liveness for the orchestrator",
    ("GET", "/health/ready"): "readiness for the orchestrator",
    ("GET", "/metrics"): "restricted by client network (metrics.allow_from)",
    ("GET", "/api/v1/openapi.json"): "the API's description",
    ("GET", "/auth/login/{provider}"): "starts a login",
    ("GET", "/auth/callback/{provider}"): "the provider's redirect; checked by state",
    ("POST", "/auth/logout"): "ends the caller's own session only",
    ("GET", "/auth/logged-out"): "a static message",
    ("GET", "/static/{filename}"): "scripts, styles, images",
    ("GET", "/api/v1/meetings/{meeting_id}/ws"): (
        "the join message must bring a session or a join token (a widget in a Matrix client has "
        "no cookie); who enters is decided then (checked below)"
    ),
    ("GET", "/f/{server_name}/{meeting_id}"): (
        "our link to a partner's meeting: only for allow-listed partners whose meetings our "
        "people may join, 404 with federation off (tests/browser/test_federation_e2e.py)"
    ),
    ("POST", "/auth/matrix/widget"): (
        "a Matrix OpenID token, checked with its homeserver, for an identity-only join token "
        "in the answer; no session, no cookie (tests/bridge/test_matrix_widget.py)"
    ),
}  # fmt: skip

# Routes that need a session (401 without) and that only the meeting's owner may use (403).
OWNER_ONLY = {
    ("GET", "/api/v1/meetings/{meeting_id}"),
    ("POST", "/api/v1/meetings/{meeting_id}/end"),
    ("POST", "/api/v1/meetings/{meeting_id}/invitations"),
    ("GET", "/api/v1/meetings/{meeting_id}/invitations"),
    ("DELETE", "/api/v1/meetings/{meeting_id}/invitations/{invitation_id}"),
    ("POST", "/api/v1/meetings/{meeting_id}/tokens"),
    # ... and to the meeting's moderators too (tests/test_transcripts.py, test_subtitles.py):
    ("GET", "/api/v1/meetings/{meeting_id}/transcript.md"),
    ("GET", "/api/v1/meetings/{meeting_id}/transcript.vtt"),
    ("GET", "/api/v1/meetings/{meeting_id}/summary.md"),
    ("POST", "/api/v1/meetings/{meeting_id}/subtitles"),
    ("POST", "/api/v1/meetings/{meeting_id}/recording"),
    ("GET", "/api/v1/meetings/{meeting_id}/recordings"),
    ("GET", "/api/v1/meetings/{meeting_id}/recordings/{recording_id}/{file}"),
    # The page listing all of those (a browser asking for HTML is made a guest first, so it
    # gets 403 rather than 401: tests/test_kept_page.py).
    ("GET", "/m/{meeting_id}/kept"),
}
# Routes that need a session and act only on the caller's own things (checked one by one).
OWN_ONLY = {
    ("POST", "/api/v1/meetings"),
    ("GET", "/api/v1/meetings"),
    ("POST", "/auth/matrix"),  # turns the caller's own session into a Matrix user's
}
# The bridge API (`HubPort` over HTTP for `hub bridge`): 404 while matrix.bridge_token is empty,
# then 401 without `Authorization: Bearer`, 403 with a wrong token (checked below).
# Partner hubs only: every request signed by an allow-listed instance, else 401/403
# (hub/federation/server.py; tests/federation/test_requests.py tries each refusal).
SIGNED_BY_PARTNER = {
    ("GET", "/_hub/federation/v1/meetings/{meeting_id}"),
    ("POST", "/_hub/federation/v1/meetings/{meeting_id}/admissions"),
    ("GET", "/_hub/federation/v1/meetings/{meeting_id}/link"),
}

BRIDGE_TOKEN_ONLY = {
    ("POST", "/api/v1/bridge/rooms/{room_id}/start"),
    ("POST", "/api/v1/bridge/rooms/{room_id}/subtitles"),
    ("POST", "/api/v1/bridge/rooms/{room_id}/recording"),
    ("GET", "/api/v1/bridge/rooms/{room_id}/meeting"),
    ("POST", "/api/v1/bridge/rooms/{room_id}/end"),
    ("POST", "/api/v1/bridge/rooms/{room_id}/lock"),
    ("POST", "/api/v1/bridge/rooms/{room_id}/admit"),
    ("POST", "/api/v1/bridge/rooms/{room_id}/refuse"),
    ("GET", "/api/v1/bridge/rooms/{room_id}/language"),
    ("PUT", "/api/v1/bridge/rooms/{room_id}/language"),
    ("POST", "/api/v1/bridge/rooms/{room_id}/mute"),
    ("POST", "/api/v1/bridge/rooms/{room_id}/invite"),
    ("POST", "/api/v1/bridge/rooms/{room_id}/chat"),
    ("POST", "/api/v1/bridge/rooms/{room_id}/status"),
    ("PUT", "/api/v1/bridge/rooms/{room_id}/members"),
    ("GET", "/api/v1/bridge/events"),
}


def app_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue  # aiohttp adds HEAD beside every GET
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path") or f"{info.get('prefix')}/{{filename}}"
        routes.add((route.method, path))
    return routes


@dataclass
class World:
    client: object
    owner_csrf: dict[str, str]
    meeting_id: MeetingId
    invitation_id: int


@pytest.fixture
async def world(aiohttp_client, tmp_path) -> World:
    config = make_config(tmp_path)
    client, csrf = await api_client(aiohttp_client, config)
    created = await client.post(
        "/api/v1/meetings", json={"title": "Privée", "access_level": "restricted"}, headers=csrf
    )
    meeting_id = (await created.json())["id"]
    invited = await client.post(
        f"/api/v1/meetings/{meeting_id}/invitations",
        json={"invitee": "a@b.gouv.fr"},
        headers=csrf,
    )
    return World(client, csrf, meeting_id, (await invited.json())["id"])


def concrete(path: str, world: World) -> str:
    return (
        path.replace("{meeting_id}", world.meeting_id)
        .replace("{invitation_id}", str(world.invitation_id))
        .replace("{room_id}", "%21salon%3Aagent.tchap.gouv.fr")
        .replace("{recording_id}", "20261201-abc")
        .replace("{file}", "manifest.json")
    )


async def test_every_route_is_classified(world: World):
    routes = app_routes(world.client.app)
    classified = set(PUBLIC) | OWNER_ONLY | OWN_ONLY | BRIDGE_TOKEN_ONLY | SIGNED_BY_PARTNER
    unclassified = routes - classified
    assert not unclassified, f"decide who may call these routes: {sorted(unclassified)}"
    assert classified - routes == set(), "table names a gone route"


async def test_bridge_routes_need_the_bridge_token_and_are_off_without_one(
    world: World, aiohttp_client, tmp_path
):
    token = secrets.token_urlsafe(40)
    (tmp_path / "bridge").mkdir()
    bridged = await aiohttp_client(
        create_app(make_config(tmp_path / "bridge", matrix={"bridge_token": token}))
    )
    for method, path in sorted(BRIDGE_TOKEN_ONLY):
        url = concrete(path, world)
        off = await world.client.request(method, url, headers={"Authorization": f"Bearer {token}"})
        assert off.status == 404, (method, path, off.status)
        anonymous = await bridged.request(method, url, json={})
        assert anonymous.status == 401, (method, path, anonymous.status)
        wrong = await bridged.request(
            method, url, json={}, headers={"Authorization": f"Bearer {token[::-1]}"}
        )
        assert wrong.status == 403, (method, path, wrong.status)


async def other_person(world: World) -> tuple[aiohttp.ClientSession, dict[str, str]]:
    """Another browser: its own guest session and that session's valid CSRF token."""
    return await another_browser(world.client)


async def test_owner_only_routes_refuse_anonymous_and_other_callers(world: World):
    anonymous = aiohttp.ClientSession()
    other, other_csrf = await other_person(world)
    try:
        for method, path in sorted(OWNER_ONLY):
            url = world.client.make_url(concrete(path, world))
            body = {"json": {}} if method == "POST" else {}
            async with anonymous.request(method, url, **body) as answer:
                assert answer.status == 401, (method, path, answer.status)
            async with other.request(method, url, headers=other_csrf, **body) as answer:
                assert answer.status == 403, (method, path, answer.status)
            # A cookie without the CSRF header is refused before anything happens.
            if method != "GET":
                async with other.request(method, url, **body) as answer:
                    assert answer.status == 403, (method, path, answer.status)
    finally:
        await anonymous.close()
        await other.close()
    # Nothing was changed by all those attempts.
    meeting = await (await world.client.get(f"/api/v1/meetings/{world.meeting_id}")).json()
    assert meeting["state"] == "created"
    listed = await world.client.get(f"/api/v1/meetings/{world.meeting_id}/invitations")
    assert len((await listed.json())["invitations"]) == 1


async def test_own_only_routes_need_a_session_and_show_only_the_callers_things(world: World):
    anonymous = aiohttp.ClientSession()
    other, _ = await other_person(world)
    try:
        for method, path in sorted(OWN_ONLY):
            url = world.client.make_url(concrete(path, world))
            async with anonymous.request(method, url, json={} if method == "POST" else None) as a:
                assert a.status == 401, (method, path, a.status)
        # Another person's list does not contain the owner's meeting.
        async with other.get(world.client.make_url("/api/v1/meetings")) as answer:
            assert answer.status == 200
            assert (await answer.json())["meetings"] == []
        # Another person's socket to a restricted meeting only ever says "wait".
        ws = await other.ws_connect(
            world.client.make_url(f"/api/v1/meetings/{world.meeting_id}/ws")
        )
        await ws.send_json({"type": "join", "name": "Curieux"})
        assert (await ws.receive_json(timeout=5)) == {"type": "waiting"}
        await ws.send_json({"type": "chat", "text": "?"})
        assert (await ws.receive_json(timeout=5))["code"] == "not_admitted"
        await ws.close()
        # A socket without a session must bring a join token: nothing else is answered.
        ws = await anonymous.ws_connect(
            world.client.make_url(f"/api/v1/meetings/{world.meeting_id}/ws")
        )
        await ws.send_json({"type": "join", "name": "Anonyme"})
        first = await ws.receive_json(timeout=5)
        assert (first["type"], first["code"]) == ("error", "unauthorized"), first
        await ws.send_json({"type": "join", "name": "Anonyme", "token": "not-a-token"})
        assert (await ws.receive_json(timeout=5))["code"] == "unauthorized"
        await ws.close()
        # A socket from another site is refused before the upgrade.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await other.ws_connect(
                world.client.make_url(f"/api/v1/meetings/{world.meeting_id}/ws"),
                headers={"Origin": "https://evil.example"},
            )
        assert refused.value.status == 403
    finally:
        await anonymous.close()
        await other.close()


async def test_forms_refuse_posts_without_the_sessions_csrf_token(world: World):
    other, _ = await other_person(world)
    try:
        url = world.client.make_url("/meetings")
        async with other.post(url, data={"title": "x", "access_level": "public"}) as answer:
            assert answer.status == 403
        async with (
            aiohttp.ClientSession() as anonymous,
            anonymous.post(url, data={"title": "x", "access_level": "public"}) as answer,
        ):
            assert answer.status == 403
    finally:
        await other.close()


async def test_guests_cannot_create_meetings_when_refused_by_config(aiohttp_client, tmp_path):
    config = make_config(tmp_path, auth={"guest_meetings": "refused"})
    client, csrf = await api_client(aiohttp_client, config)
    answer = await client.post("/api/v1/meetings", json={"title": "x"}, headers=csrf)
    assert answer.status == 403
    assert (await client.get("/api/v1/meetings")).status == 200  # still a valid session


async def test_meeting_creation_is_rate_limited(aiohttp_client, tmp_path):
    config = make_config(tmp_path, limits={"meetings_per_hour": 2})
    client, csrf = await api_client(aiohttp_client, config)
    statuses = []
    for _ in range(3):
        answer = await client.post("/api/v1/meetings", json={"title": "x"}, headers=csrf)
        statuses.append(answer.status)
    assert statuses == [201, 201, 429]
    assert 3500 <= int(answer.headers["Retry-After"]) <= 3600
    listed = await (await client.get("/api/v1/meetings")).json()
    assert len(listed["meetings"]) == 2


# --- the admission rules, every combination -----------------------------------------------

OWNER = Identity("local:pc:owner")


def expected(level: AccessLevel, locked: bool, visitor: Visitor) -> tuple[bool, Role]:
    """The rules as docs/signaling.md states them, written independently of decide()."""
    if visitor.identity == OWNER:
        return True, Role.OWNER
    room_moderator = visitor.room_power is not None and visitor.room_power >= 50
    moderator = Role.MODERATOR in (visitor.token_role, visitor.invited_role) or room_moderator
    role = Role.MODERATOR if moderator else Role.PARTICIPANT
    if moderator:
        return True, role
    if visitor.removed or locked:
        return False, role
    listed = visitor.token_role is not None or visitor.invited_role is not None
    if listed or visitor.room_power is not None or level is AccessLevel.PUBLIC:
        return True, role
    return level is AccessLevel.TRUSTED and visitor.authenticated, role


def test_admission_rules_for_every_combination():
    identities = [OWNER, Identity("local:pc:someone"), Identity("guest:abc")]
    grants = [None, Role.PARTICIPANT, Role.MODERATOR]
    flags = [False, True]
    powers = [None, 0, 49, 50, 100]  # not in the linked room, member, moderator
    checked = 0
    for (
        level,
        locked,
        identity,
        token,
        invited,
        power,
        removed,
        authenticated,
    ) in itertools.product(AccessLevel, flags, identities, grants, grants, powers, flags, flags):
        meeting = MeetingView(
            id=MeetingId("abc-defg-hij"), title="t", access_level=level,
            state=MeetingState.ACTIVE, owner_identity=OWNER, locked=locked,
            created_at=datetime.now(UTC), started_at=None, ended_at=None,
        )  # fmt: skip
        visitor = Visitor(identity, authenticated, token, invited, power, removed)
        admission = decide(meeting, visitor, locked=locked)
        assert (admission.enter, admission.role) == expected(level, locked, visitor), visitor
        checked += 1
    assert checked == 3 * 2 * 3 * 3 * 3 * 5 * 2 * 2
