"""Two real hubs on loopback ports: A signs requests to B, B answers; then every way B refuses
a request, each with its status and code, logged once, never with the signature."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web

from hub.errors import HubError
from hub.federation.client import FederationClient, OutboundRefused, PartnerUnknown
from hub.federation.keys import InstanceKeys, generate, load, system_clock
from hub.federation.policy import PartnerPolicy
from hub.federation.server import verified
from hub.web.app import create_app
from hub.web.keys import DATABASE, FEDERATION
from tests.federation.conftest import PING, hub_config, partner_entry, serving, signed
from tests.support.processes import free_port

SERVER_LOGGER = "hub.federation.server"
MINUTE_MS = 60_000


@dataclass
class Pair:
    a: web.Application
    b: web.Application
    b_url: str
    http: aiohttp.ClientSession

    @property
    def a_keys(self) -> InstanceKeys:
        return self.a[FEDERATION].keys

    async def to_b(self, method: str, path: str, **kwargs: object) -> tuple[int, dict]:
        async with self.http.request(method, self.b_url + path, **kwargs) as answer:
            return answer.status, await answer.json()


@pytest.fixture
async def pair(tmp_path) -> AsyncIterator[Pair]:
    a_port, b_port = free_port(), free_port()
    a_config = hub_config(
        tmp_path, "hub-a.test", a_port, [partner_entry("hub-b.test", b_port, label="B")]
    )
    b_config = hub_config(
        tmp_path, "hub-b.test", b_port, [partner_entry("hub-a.test", a_port, label="A")]
    )
    async with serving(a_config) as a, serving(b_config) as b, aiohttp.ClientSession() as http:
        yield Pair(a, b, f"http://127.0.0.1:{b_port}", http)


def refusals(caplog) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == SERVER_LOGGER and record.levelno == logging.WARNING
    ]


async def test_a_signs_a_ping_and_b_answers(pair: Pair, caplog):
    status, body = await pair.a[FEDERATION].client.request("hub-b.test", "GET", PING, None)
    assert (status, body) == (200, {"server_name": "hub-b.test", "origin": "hub-a.test"})
    # B fetched A's keys once, from A itself, and both directions work.
    status, body = await pair.b[FEDERATION].client.request("hub-a.test", "GET", PING, None)
    assert (status, body) == (200, {"server_name": "hub-a.test", "origin": "hub-b.test"})
    assert refusals(caplog) == []


async def test_the_keys_document_is_public_signed_and_cacheable(pair: Pair):
    async with pair.http.get(pair.b_url + "/.well-known/hub/keys") as answer:
        assert answer.status == 200
        assert answer.headers["Cache-Control"] == "public, max-age=300"
        document = await answer.json()
    assert document["server_name"] == "hub-b.test"
    assert list(document["verify_keys"]) == [pair.b[FEDERATION].keys.key_id]
    assert list(document["signatures"]["hub-b.test"]) == [pair.b[FEDERATION].keys.key_id]


async def test_a_signed_websocket_upgrade_reaches_a_handler_under_the_prefix(tmp_path):
    """ws_connect signs its GET upgrade; the handler knows who connected."""
    a_port, b_port = free_port(), free_port()
    a_config = hub_config(tmp_path, "hub-a.test", a_port, [partner_entry("hub-b.test", b_port)])
    b_config = hub_config(tmp_path, "hub-b.test", b_port, [partner_entry("hub-a.test", a_port)])

    async def echo(request: web.Request) -> web.WebSocketResponse:
        origin = verified(request).origin
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(f"{origin}: {message.data}")
        return ws

    b_app = create_app(b_config)
    b_app.router.add_get("/_hub/federation/v1/test-echo", echo)
    runner = web.AppRunner(b_app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", b_port).start()
    try:
        async with serving(a_config) as a:
            ws = await a[FEDERATION].client.ws_connect(
                "hub-b.test", "/_hub/federation/v1/test-echo"
            )
            await ws.send_str("hello")
            assert (await ws.receive_str(timeout=5)) == "hub-a.test: hello"
            await ws.close()
            async with aiohttp.ClientSession() as http:  # unsigned: refused before the upgrade
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await http.ws_connect(f"http://127.0.0.1:{b_port}/_hub/federation/v1/test-echo")
            assert refused.value.status == 401
    finally:
        await runner.cleanup()


def _tampered_body(keys: InstanceKeys) -> dict[str, object]:
    return {"headers": signed(keys, body=b'{"amount":1}'), "data": b'{"amount":1000}'}


def _tampered_path(keys: InstanceKeys) -> dict[str, object]:
    return {"headers": signed(keys, path=PING + "?meeting=1"), "path": PING + "?meeting=2"}


def _unknown_key(keys: InstanceKeys, tmp_path) -> dict[str, object]:
    forged = generate(tmp_path / "forged.key", system_clock())
    return {"headers": signed(forged, key_id="ed25519:forged")}


def _stranger(keys: InstanceKeys, tmp_path) -> dict[str, object]:
    stranger = generate(tmp_path / "stranger.key", system_clock())
    return {"headers": signed(stranger, origin="hub-c.test")}


REFUSALS = {
    "unsigned": (lambda keys, tmp: {}, 401, "signature_missing", "header is missing"),
    "other scheme": (
        lambda keys, tmp: {"headers": {"Authorization": "Bearer not-for-us-0123456789"}},
        401,
        "signature_malformed",
        "authorization scheme is not HubSignature",
    ),
    "body tampered": (
        lambda keys, tmp: _tampered_body(keys),
        401,
        "bad_signature",
        "does not verify",
    ),
    "path tampered": (
        lambda keys, tmp: _tampered_path(keys),
        401,
        "bad_signature",
        "does not verify",
    ),
    "wrong destination": (
        lambda keys, tmp: {"headers": signed(keys, destination="hub-c.test")},
        401,
        "wrong_destination",
        "wrong destination: this hub is hub-b.test",
    ),
    "6 minutes old": (
        lambda keys, tmp: {"headers": signed(keys, ts=system_clock() - 6 * MINUTE_MS)},
        401,
        "stale_request",
        "more than 5 minutes away",
    ),
    "6 minutes ahead": (
        lambda keys, tmp: {"headers": signed(keys, ts=system_clock() + 6 * MINUTE_MS)},
        401,
        "stale_request",
        "more than 5 minutes away",
    ),
    "unknown key id": (
        _unknown_key,
        401,
        "unknown_key",
        "unknown key ed25519:forged of hub-a.test",
    ),
    "not a partner": (_stranger, 403, "not_a_partner", "hub-c.test is not a partner of this hub"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_refusals(pair: Pair, caplog, tmp_path, case):
    make, status, code, reason = REFUSALS[case]
    request = make(pair.a_keys, tmp_path)
    path = request.pop("path", PING)
    caplog.clear()
    answer_status, body = await pair.to_b("GET", path, **request)
    assert (answer_status, body["code"]) == (status, code), body
    assert reason in body["detail"]
    logged = refusals(caplog)
    assert len(logged) == 1, [r.getMessage() for r in logged]
    line = logged[0].getMessage()
    assert reason in line and code in line
    origin = {"not a partner": "hub-c.test", "unsigned": "-", "other scheme": "-"}.get(
        case, "hub-a.test"
    )
    assert f"GET {PING.split('?')[0]} from {origin}: " in line, line
    header = request.get("headers", {}).get("Authorization", "")
    if header:
        assert header not in caplog.text
        assert header.rsplit('sig="', 1)[-1].rstrip('"') not in caplog.text
        assert "not-for-us" not in caplog.text


async def test_a_replayed_request_is_refused(pair: Pair, caplog):
    headers = signed(pair.a_keys)
    assert (await pair.to_b("GET", PING, headers=headers))[0] == 200
    caplog.clear()
    status, body = await pair.to_b("GET", PING, headers=headers)
    assert (status, body["code"]) == (401, "replayed")
    assert [r.getMessage() for r in refusals(caplog)] == [
        f"federation: refused GET {PING} from hub-a.test: nonce already used: replayed request "
        "(replayed)"
    ]


async def test_every_route_under_the_prefix_refuses_unsigned_requests(pair: Pair):
    """Also the routes other modules add: verification belongs to the prefix, not to them."""
    for route in pair.b.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path") or ""
        if not path.startswith("/_hub/federation/v1/") or route.method == "HEAD":
            continue
        concrete = path.replace("{meeting_id}", "abc-defg-hij")
        status, body = await pair.to_b(route.method, concrete)
        assert (status, body["code"]) == (401, "signature_missing"), (route.method, path)


async def test_a_rotated_key_verifies_only_what_it_signed_before(tmp_path, caplog):
    a_port, b_port = free_port(), free_port()
    a_config = hub_config(tmp_path, "hub-a.test", a_port, [partner_entry("hub-b.test", b_port)])
    b_config = hub_config(tmp_path, "hub-b.test", b_port, [partner_entry("hub-a.test", a_port)])
    key_file = a_config.federation_key_file
    old = generate(key_file, system_clock())
    rotated = generate(key_file, system_clock())  # what `hub keys generate` does
    rotated_at = rotated.retired[0].expired_ts
    assert rotated.retired[0].key_id == old.key_id and rotated_at is not None
    async with (
        serving(a_config) as a,
        serving(b_config),
        aiohttp.ClientSession() as http,
    ):
        assert a[FEDERATION].keys.key_id == rotated.key_id  # A publishes and signs with the new

        async def ping(keys: InstanceKeys, ts: int) -> tuple[int, str]:
            headers = signed(keys, ts=ts)
            async with http.get(f"http://127.0.0.1:{b_port}{PING}", headers=headers) as answer:
                return answer.status, (await answer.json()).get("code", "")

        # The old key still verifies a request signed before the rotation...
        assert await ping(old, rotated_at - 1) == (200, "")
        # ...but not one signed after it.
        caplog.clear()
        assert await ping(old, system_clock()) == (401, "unknown_key")
        [line] = [r.getMessage() for r in refusals(caplog)]
        assert f"key {old.key_id} of hub-a.test was retired before this request" in line
        assert await ping(load(key_file), system_clock()) == (200, "")


async def test_the_outbound_guard_refuses_private_addresses(tmp_path):
    b_port = free_port()
    b_config = hub_config(tmp_path, "hub-b.test", b_port)
    config = hub_config(
        tmp_path,
        "hub-a.test",
        free_port(),
        [
            partner_entry("hub-b.test", b_port),
            {"server_name": "hub-local.test", "base_url": f"http://localhost:{b_port}"},
        ],
        allow_private_networks=False,
    )
    async with serving(b_config), serving(config) as a:
        client: FederationClient = a[FEDERATION].client
        for partner in ("hub-b.test", "hub-local.test"):  # an IP literal, a name resolved
            with pytest.raises(OutboundRefused, match="resolves to a non-public address"):
                await client.request(partner, "GET", PING, None)
            with pytest.raises(OutboundRefused):
                await client.ws_connect(partner, PING)
        with pytest.raises(PartnerUnknown, match=r"hub-c\.test is not a partner of this hub"):
            await client.request("hub-c.test", "GET", PING, None)
        # The same partner is reached once private networks are allowed (tests, labs).
        policy = PartnerPolicy(config, a[DATABASE].sessions)
        open_client = FederationClient(
            a[FEDERATION].server_name, a[FEDERATION].keys, policy, allow_private_networks=True
        )
        try:
            status, body = await open_client.request("hub-b.test", "GET", PING, None)
        finally:
            await open_client.close()
        assert (status, body["code"]) == (403, "not_a_partner")  # B does not list A


async def test_redirects_are_never_followed(tmp_path):
    port = free_port()

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://127.0.0.1:1/elsewhere")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    config = hub_config(tmp_path, "hub-a.test", free_port(), [partner_entry("hub-r.test", port)])
    try:
        async with serving(config) as a:
            client = a[FEDERATION].client
            with pytest.raises(HubError, match=r"hub-r.test answered a redirect \(302\)"):
                await client.request("hub-r.test", "POST", PING, {"x": 1})
            with pytest.raises(HubError, match=r"hub-r.test answered a redirect \(302\)"):
                await client.ws_connect("hub-r.test", PING)
    finally:
        await runner.cleanup()


async def test_federation_is_off_without_a_server_name(tmp_path):
    from tests.conftest import make_config

    port = free_port()
    config = make_config(tmp_path, server={"port": port})
    async with serving(config) as app, aiohttp.ClientSession() as http:
        assert FEDERATION not in app
        for path in ("/.well-known/hub/keys", PING):
            async with http.get(f"http://127.0.0.1:{port}{path}") as answer:
                assert answer.status == 404
    assert not config.federation_key_file.exists()
