"""The meetings API: lifecycle through HTTP, sessions and CSRF, and an honest OpenAPI document."""

from __future__ import annotations

import re

from hub.web.api import API_PREFIX
from hub.web.app import create_app
from tests.support.hub_client import api_client


async def test_create_get_list_and_end_a_meeting(aiohttp_client, config):
    client, csrf = await api_client(aiohttp_client, config)
    created = await client.post(
        f"{API_PREFIX}/meetings",
        json={"title": "Point hebdo", "access_level": "public"},
        headers=csrf,
    )
    assert created.status == 201, await created.text()
    meeting = await created.json()
    assert re.fullmatch(r"[a-z]{3}-[a-z]{4}-[a-z]{3}", meeting["id"])
    assert meeting["state"] == "created"
    assert meeting["is_owner"] is True
    assert meeting["url"].endswith(f"/m/{meeting['id']}")

    fetched = await (await client.get(f"{API_PREFIX}/meetings/{meeting['id']}")).json()
    assert fetched["title"] == "Point hebdo"
    listed = await (await client.get(f"{API_PREFIX}/meetings")).json()
    assert [m["id"] for m in listed["meetings"]] == [meeting["id"]]

    ended = await client.post(f"{API_PREFIX}/meetings/{meeting['id']}/end", headers=csrf)
    assert (await ended.json())["state"] == "ended"
    listed = await (await client.get(f"{API_PREFIX}/meetings")).json()
    assert listed["meetings"] == []


async def test_private_by_default(aiohttp_client, config):
    client, csrf = await api_client(aiohttp_client, config)
    created = await client.post(f"{API_PREFIX}/meetings", json={"title": "x"}, headers=csrf)
    assert (await created.json())["access_level"] == "restricted"


async def test_state_changes_need_the_csrf_token(aiohttp_client, config):
    client, _csrf = await api_client(aiohttp_client, config)
    refused = await client.post(f"{API_PREFIX}/meetings", json={"title": "x"})
    assert refused.status == 403
    forged = await client.post(
        f"{API_PREFIX}/meetings", json={"title": "x"}, headers={"X-CSRF-Token": "forged"}
    )
    assert forged.status == 403
    listed = await (await client.get(f"{API_PREFIX}/meetings")).json()
    assert listed["meetings"] == []


async def test_no_session_is_401(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    for method, path in (
        ("GET", "/meetings"),
        ("POST", "/meetings"),
        ("GET", "/meetings/abc-defg-hij"),
    ):
        answer = await client.request(method, API_PREFIX + path, json={})
        assert answer.status == 401, path


async def test_only_the_owner_ends_a_meeting(aiohttp_client, config):
    owner, owner_csrf = await api_client(aiohttp_client, config)
    created = await owner.post(f"{API_PREFIX}/meetings", json={"title": "x"}, headers=owner_csrf)
    meeting_id = (await created.json())["id"]
    other, other_csrf = await api_client(aiohttp_client, config)
    refused = await other.post(f"{API_PREFIX}/meetings/{meeting_id}/end", headers=other_csrf)
    assert refused.status == 403
    state = await (await owner.get(f"{API_PREFIX}/meetings/{meeting_id}")).json()
    assert state["state"] == "created"


async def test_bad_input_is_a_precise_400_and_stores_nothing(aiohttp_client, config):
    client, csrf = await api_client(aiohttp_client, config)
    cases = [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "access_level": "open-bar"}, "access_level"),
        ({"title": "ok", "owner": "someone"}, "owner"),
        ({"title": "a\u0000b"}, "control characters"),
        ([1, 2], "body"),
    ]
    for body, expected in cases:
        answer = await client.post(f"{API_PREFIX}/meetings", json=body, headers=csrf)
        assert answer.status == 400, body
        assert expected in (await answer.json())["detail"], body
    not_json = await client.post(
        f"{API_PREFIX}/meetings",
        data=b"{not json",
        headers={**csrf, "Content-Type": "application/json"},
    )
    assert (await not_json.json())["detail"] == "the body is not valid JSON"
    listed = await (await client.get(f"{API_PREFIX}/meetings")).json()
    assert listed["meetings"] == []


async def test_unknown_or_malformed_meeting_ids_are_404(aiohttp_client, config):
    client, _ = await api_client(aiohttp_client, config)
    for meeting_id in ("zzz-zzzz-zzz", "not-an-id", "%00"):
        answer = await client.get(f"{API_PREFIX}/meetings/{meeting_id}")
        assert answer.status == 404


async def test_openapi_document_matches_the_real_routes(aiohttp_client, config):
    app = create_app(config)
    client = await aiohttp_client(app)
    document = await (await client.get(f"{API_PREFIX}/openapi.json")).json()
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    real = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith(API_PREFIX)
        and route.method != "HEAD"
        and route.resource.canonical != f"{API_PREFIX}/openapi.json"
        # The bridge API serves only `hub bridge` (bridge/wire.py), not the public.
        and not route.resource.canonical.startswith(f"{API_PREFIX}/bridge/")
    }
    assert documented == real
    schemas = document["components"]["schemas"]
    for path in document["paths"].values():
        for operation in path.values():
            for response in operation["responses"].values():
                for media_type, content in response.get("content", {}).items():
                    if "$ref" not in content["schema"]:  # a file (text/vtt, text/markdown)
                        assert content["schema"] == {"type": "string"}, (media_type, content)
                        assert not media_type.endswith("json"), media_type
                        continue
                    name = content["schema"]["$ref"].rsplit("/", 1)[1]
                    assert name in schemas
