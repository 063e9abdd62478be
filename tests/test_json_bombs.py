"""JSON nested past the limit, sent to every endpoint that reads a JSON body and to the meeting
socket: a precise 400 (or `error` frame), nothing stored, and the socket goes on."""

from __future__ import annotations

import aiohttp

from hub.bounded_json import MAX_DEPTH
from hub.web.api import API_PREFIX
from hub.web.signaling import MAX_FRAME, MAX_SMALL_FRAME
from tests.support.hub_client import api_client
from tests.support.peer import Participant

TOO_DEEP = f"JSON is nested deeper than {MAX_DEPTH} levels"
BOMBS = [
    "[" * 100_000,  # the measured one: it answered 500 (RecursionError)
    '{"title":' * 50_000,
    "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),  # valid JSON, one level too deep
]
JSON = {"Content-Type": "application/json", "Accept": "application/json"}


async def test_each_json_endpoint_answers_a_bomb_with_a_precise_400(aiohttp_client, config):
    client, csrf = await api_client(aiohttp_client, config)
    created = await client.post(f"{API_PREFIX}/meetings", json={"title": "Cible"}, headers=csrf)
    meeting = (await created.json())["id"]
    paths = [
        f"{API_PREFIX}/meetings",
        f"{API_PREFIX}/meetings/{meeting}/invitations",
        f"{API_PREFIX}/meetings/{meeting}/tokens",
        "/auth/matrix/widget",
    ]
    for path in paths:
        for bomb in BOMBS:
            answer = await client.post(path, data=bomb, headers={**csrf, **JSON})
            assert answer.status == 400, (path, bomb[:20], await answer.text())
            assert answer.content_type == "application/problem+json"
            problem = await answer.json()
            assert problem["code"] == "json_too_deep", problem
            assert problem["detail"] == f"the body is not acceptable: {TOO_DEEP}"
        # At the limit the body is parsed, and then refused for its shape, not its depth.
        at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
        answer = await client.post(path, data=at_limit, headers={**csrf, **JSON})
        assert answer.status == 400
        assert (await answer.json())["code"] == "bad_request"
    listed = await (await client.get(f"{API_PREFIX}/meetings")).json()
    assert [m["id"] for m in listed["meetings"]] == [meeting]
    invitations = await client.get(f"{API_PREFIX}/meetings/{meeting}/invitations")
    assert (await invitations.json())["invitations"] == []


async def test_a_bomb_on_the_socket_is_an_error_frame_and_the_socket_goes_on(
    aiohttp_client, config
):
    client, csrf = await api_client(aiohttp_client, config)
    created = await client.post(
        f"{API_PREFIX}/meetings", json={"title": "Cible", "access_level": "public"}, headers=csrf
    )
    meeting = (await created.json())["id"]
    ws = await client.ws_connect(f"{API_PREFIX}/meetings/{meeting}/ws")
    person = Participant(ws, "Anne")

    async def refused(frame: str, code: str) -> None:
        index = len(person.messages)
        await ws.send_str(frame)
        error = await person.wait_for("error", after=index)
        assert error["code"] == code, error
        await person.send({"type": "ping"})
        await person.wait_for("pong", after=index)
        assert not ws.closed

    # Before joining, the first frames are read by the join loop; no reader runs yet.
    await ws.send_str("[" * (MAX_SMALL_FRAME - 1))
    first = await ws.receive_json(timeout=5)
    assert first == {
        "type": "error",
        "code": "json_too_deep",
        "message": f"message is not acceptable: {TOO_DEEP}",
    }
    await ws.send_str('{"type":"ping"}')
    assert await ws.receive_json(timeout=5) == {"type": "pong"}
    await person.join(audio=False, video=False)
    await refused("[" * (MAX_SMALL_FRAME - 1), "json_too_deep")
    await refused("[" * (MAX_FRAME - 1), "too_large")  # past a small frame, no answer's type
    await refused('{"type":"chat","text":' + "[" * 1000, "json_too_deep")
    await refused("[" * (MAX_FRAME + 1), "too_large")  # the measured frame: past the frame limit
    await person.close()


async def test_the_widget_identity_endpoint_sets_nothing_for_a_bomb(aiohttp_client, config):
    client, _csrf = await api_client(aiohttp_client, config)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as iframe:
        answer = await iframe.post(
            client.make_url("/auth/matrix/widget"), data=BOMBS[0], headers=JSON
        )
        assert answer.status == 400
        assert (await answer.json())["code"] == "json_too_deep"
        assert "Set-Cookie" not in answer.headers
