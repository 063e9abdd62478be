"""The aiohttp app: health, metrics, error answers for APIs and people, request ids, logs."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import socket
import struct
import time
import urllib.request

import pytest
import requests
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from hub.log import ContextFilter, redact
from hub.web.app import create_app
from tests.conftest import make_config
from tests.support.hub_client import api_client, csrf_header
from tests.support.postgres import PostgresCluster
from tests.support.served_hub import served_hub


async def test_live_and_ready_answer_ok_with_the_database_up(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    live = await client.get("/health/live")
    assert live.status == 200
    ready = await client.get("/health/ready")
    assert ready.status == 200
    assert (await ready.json())["checks"]["database"] == "ok"


@pytest.mark.postgres
async def test_ready_answers_503_when_the_database_is_gone(
    aiohttp_client, tmp_path, postgres_bindir
):
    cluster = PostgresCluster(postgres_bindir).start()  # our own: this test stops it
    try:
        config = make_config(
            tmp_path, database={"url": cluster.url("postgres"), "connect_timeout": 1.0}
        )
        client = await aiohttp_client(create_app(config))
        assert (await client.get("/health/ready")).status == 200
        cluster.stop()  # by pid, under the running hub
        gone = await client.get("/health/ready")
        assert gone.status == 503
        body = await gone.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"]
        metrics = await (await client.get("/metrics")).text()
        assert "hub_database_up 0.0" in metrics
    finally:
        cluster.stop()


async def test_metrics_time_what_stops_the_event_loop_while_the_app_runs(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    gc.collect()
    await asyncio.sleep(0.02)
    time.sleep(0.12)  # the loop stopped, as by a long collection: its lag probe wakes late
    await asyncio.sleep(0.1)
    metrics = await (await client.get("/metrics")).text()
    counted = re.search(r'hub_gc_pause_seconds_count\{generation="2"\} (\d+)', metrics)
    assert counted is not None and int(counted.group(1)) >= 1
    late = re.search(r'hub_event_loop_lag_seconds_bucket\{le="0.05"\} (\d+)', metrics)
    total = re.search(r"hub_event_loop_lag_seconds_count (\d+)", metrics)
    assert late is not None and total is not None
    assert int(total.group(1)) - int(late.group(1)) >= 1  # one wake-up later than 50 ms
    await client.close()  # the app's cleanup takes its meter out of the collector's callbacks
    assert not [c for c in gc.callbacks if type(c).__name__ == "PauseMeter"]


async def test_metrics_serve_prometheus_text_with_request_counts(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    await client.get("/health/live")
    await client.get("/health/live")
    answer = await client.get("/metrics")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(await answer.text())}
    samples = [
        s
        for s in families["hub_http_requests"].samples
        if s.name == "hub_http_requests_total" and s.labels["route"] == "/health/live"
    ]
    assert samples and samples[0].value == 2


async def test_metrics_refused_outside_allowed_networks(aiohttp_client, tmp_path):
    config = make_config(tmp_path, metrics={"allow_from": ["192.0.2.0/24"]})
    client = await aiohttp_client(create_app(config))
    answer = await client.get("/metrics")
    assert answer.status == 403
    assert (await answer.json())["code"] == "forbidden"


async def test_unknown_api_path_is_a_json_problem(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    answer = await client.get("/api/v1/nothing-here")
    assert answer.status == 404
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert (await answer.json())["code"] == "not_found"


async def test_unknown_page_is_a_french_page_first_and_english_on_request(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    answer = await client.get("/nulle-part", headers={"Accept": "text/html"})
    assert answer.status == 404
    html = await answer.text()
    assert '<html lang="fr">' in html
    assert "Retour à l&#39;accueil" in html
    english = await client.get(
        "/nulle-part", headers={"Accept": "text/html", "Accept-Language": "en-GB,en;q=0.9"}
    )
    assert '<html lang="en">' in await english.text()


async def test_json_problems_are_in_one_language_the_readers_and_keep_their_code(
    aiohttp_client, config
):
    """An API answer is said in the request's language (French by default, Accept-Language,
    the switch's cookie), never both at once; the machine-readable code does not change."""
    client = await aiohttp_client(create_app(config))
    path = "/api/v1/meetings/abc-defg-hij/ws"  # asked before any session or upgrade
    by_default = await client.get(path)
    english = await client.get(path, headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
    french, other = await by_default.json(), await english.json()
    assert (by_default.status, french["code"], other["code"]) == (404, "not_found", "not_found")
    assert (french["title"], french["detail"]) == ("Introuvable", "Réunion introuvable")
    assert (other["title"], other["detail"]) == ("Not found", "No such meeting")
    assert by_default.headers["Content-Language"] == "fr"
    assert english.headers["Content-Language"] == "en"
    switched = await client.get("/api/v1/meetings/abc-defg-hij?lang=en")
    refused = await switched.json()
    assert (switched.status, refused["code"]) == (401, "unauthorized")
    assert (refused["detail"], switched.headers["Content-Language"]) == (
        "A session is required", "en")  # fmt: skip


async def test_language_switch_is_remembered(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    first = await client.get("/?lang=en")
    assert '<html lang="en">' in await first.text()
    again = await client.get("/")
    assert '<html lang="en">' in await again.text()


async def test_unexpected_error_gives_a_reference_logged_once_with_the_traceback(
    aiohttp_client, config, caplog
):
    app = create_app(config)

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("database row 42 exploded")

    app.router.add_get("/api/v1/broken", broken)
    client = await aiohttp_client(app)
    with caplog.at_level(logging.ERROR, logger="hub"):
        answer = await client.get("/api/v1/broken")
    assert answer.status == 500
    body = await answer.json()
    assert "exploded" not in str(body)
    reference = body["reference"]
    records = [r for r in caplog.records if getattr(r, "reference", None) == reference]
    assert len(records) == 1
    assert records[0].exc_info is not None
    page = await client.get("/api/v1/broken", headers={"Accept": "text/html"})
    assert page.status == 500


async def test_request_id_is_generated_or_taken_from_a_sane_header(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    generated = await client.get("/health/live")
    assert len(generated.headers["X-Request-Id"]) == 16
    given = await client.get("/health/live", headers={"X-Request-Id": "proxy-abc-12345"})
    assert given.headers["X-Request-Id"] == "proxy-abc-12345"
    injected = await client.get("/health/live", headers={"X-Request-Id": 'x" evil=1 ' * 3})
    assert injected.headers["X-Request-Id"] != 'x" evil=1 ' * 3


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("GET /cb?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj", "SplxlOBeZQQYbYS6WxSbIA"),
        ("token exchange: {'access_token': 'eyJhbGciOi.J9.xyz', 'expires_in': 60}", "eyJhbGciOi"),
        ('body {"id_token_hint":"eyJraWQi.payload.sig"}', "eyJraWQi"),
        ("Authorization: Bearer syt_YWxpY2U_secretpart", "syt_YWxpY2U"),
        ("connecting postgresql+asyncpg://visio:hunter2@db/visio", "hunter2"),
        ('X-Matrix origin=a.gouv.fr,key="ed25519:1",sig="ABCDEF"', "ABCDEF"),
    ],
)
def test_secrets_are_scrubbed_from_log_lines(line, secret):
    assert secret not in redact(line)
    record = logging.LogRecord("hub.x", logging.INFO, __file__, 1, "seen %s", (line,), None)
    ContextFilter().filter(record)
    assert secret not in record.getMessage()


async def test_every_kind_of_answer_carries_the_security_headers(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    answers = [
        await client.get("/", headers={"Accept": "text/html"}),
        await client.get("/nulle-part", headers={"Accept": "text/html"}),
        await client.get("/api/v1/nothing"),
        await client.get("/static/css/hub.css"),
        await client.get("/health/live"),
    ]
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff", answer.url
        assert "script-src 'self'" in answer.headers["Content-Security-Policy"], answer.url
        assert answer.headers["Referrer-Policy"] == "same-origin", answer.url
        assert "Strict-Transport-Security" not in answer.headers  # dev mode, plain http


async def test_behind_a_trusted_proxy_each_forwarded_client_is_its_own(aiohttp_client, tmp_path):
    """The in-process half of tests/test_reverse_proxy.py (which puts a real nginx in front)."""
    config = make_config(
        tmp_path, server={"trusted_proxies": ["127.0.0.1/32"]}, limits={"meetings_per_hour": 1}
    )
    client, csrf = await api_client(aiohttp_client, config)

    async def create(forwarded_for: str) -> int:
        answer = await client.post(
            "/api/v1/meetings",
            json={"title": "x"},
            headers={**csrf, "X-Forwarded-For": forwarded_for},
        )
        return answer.status

    assert [await create("192.0.2.1"), await create("192.0.2.1")] == [201, 429]
    assert await create("192.0.2.2") == 201  # another person behind the same proxy
    outside = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert outside.status == 403
    assert (await client.get("/metrics")).status == 200  # Prometheus on this machine


async def test_without_trusted_proxies_forwarding_headers_are_ignored(aiohttp_client, tmp_path):
    config = make_config(tmp_path, limits={"meetings_per_hour": 1})
    client, csrf = await api_client(aiohttp_client, config)
    statuses = []
    for forwarded_for in ("192.0.2.1", "192.0.2.2"):
        headers = {**csrf, "X-Forwarded-For": forwarded_for}
        answer = await client.post("/api/v1/meetings", json={"title": "x"}, headers=headers)
        statuses.append(answer.status)
    assert statuses == [201, 429]  # both are the TCP peer, whatever they claim
    forged = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert forged.status == 200


async def test_every_kind_of_answer_names_the_server_without_a_version(aiohttp_client, config):
    app = create_app(config)

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("unexpected")

    app.router.add_get("/api/v1/broken", broken)
    client = await aiohttp_client(app)
    created = await client.post("/api/v1/meetings", json={"title": "x"})  # 401: no session
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    page = await client.get("/", headers={"Accept": "text/html"})
    csrf = csrf_header(app, client.session.cookie_jar, client.make_url("/"))
    meeting = await client.post(
        "/api/v1/meetings", json={"title": "x", "access_level": "public"}, headers=csrf
    )
    meeting_id = (await meeting.json())["id"]
    answers = [
        page,
        created,
        await client.get("/nulle-part", headers={"Accept": "text/html"}),
        await client.get("/api/v1/nothing"),
        await client.put("/api/v1/meetings"),  # 405
        await client.get("/api/v1/broken"),  # 500
        await client.get("/static/css/hub.css"),
        await client.get("/health/live"),
        await client.get(f"/api/v1/meetings/{meeting_id}/ws", headers=upgrade),  # 101
    ]
    assert [a.status for a in answers] == [200, 401, 404, 404, 405, 500, 200, 200, 101]
    for answer in answers:
        assert answer.headers["Server"] == "visio-hub", answer.url
    answers[-1].close()


async def test_pages_carrying_a_csrf_token_are_not_stored(aiohttp_client, config):
    client, csrf = await api_client(aiohttp_client, config)
    created = await client.post(
        "/api/v1/meetings", json={"title": "x", "access_level": "public"}, headers=csrf
    )
    meeting_id = (await created.json())["id"]
    html = {"Accept": "text/html"}
    for path in ("/", f"/m/{meeting_id}", "/join?code=nope"):
        page = await client.get(path, headers=html)
        assert 'name="csrf-token"' in await page.text(), path
        assert page.headers["Cache-Control"] == "no-store", path
    # Pages without a token may be cached as usual.
    anonymous = await client.get("/nulle-part", headers=html)
    assert "Cache-Control" not in anonymous.headers


def test_a_malformed_request_is_one_warning_line_in_the_log(tmp_path):
    garbage = [
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00",  # TLS to a plain port: aiohttp logs it at debug
    ]
    with served_hub(tmp_path) as hub:
        for payload in garbage:
            with socket.create_connection(("127.0.0.1", hub.port), timeout=10) as sock:
                sock.sendall(payload)
                assert sock.recv(4096).startswith(b"HTTP/1.0 400 Bad Request\r\n")
        # The hub still serves, and its own answers name no version.
        with urllib.request.urlopen(f"{hub.url}/health/live", timeout=10) as answer:
            assert answer.headers["Server"] == "visio-hub"
    log = hub.log_lines()
    assert not any("Traceback" in line or " ERROR " in line for line in log), "\n".join(log)
    refused = [line for line in log if "malformed HTTP request" in line]
    assert len(refused) == 4, "\n".join(log)
    assert all(" WARNING aiohttp.server " in line for line in refused)
    assert (
        "malformed HTTP request from 127.0.0.1 refused with 400: BadHttpMessage: Invalid "
        "header token: b'Bad Header'" in refused[0]
    )
    assert "LineTooLong: Got more than 8190 bytes" in refused[3]
    assert len(refused[3]) < 400


def test_a_client_gone_during_the_websocket_upgrade_leaves_no_error(tmp_path):
    """Clients that reset the connection right after asking for the meeting socket (a closed
    tab, a dropped network): no traceback, no ERROR, and the hub keeps serving."""
    with served_hub(tmp_path) as hub, requests.Session() as http:
        http.get(f"{hub.url}/", headers={"Accept": "text/html"}, timeout=10)
        csrf = hub.csrf_header(http.cookies[hub.codec.cookie_name])
        created = http.post(
            f"{hub.url}/api/v1/meetings", json={"title": "x", "access_level": "public"},
            headers=csrf, timeout=10,
        )  # fmt: skip
        upgrade = (
            f"GET /api/v1/meetings/{created.json()['id']}/ws HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{hub.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {hub.url}\r\n\r\n"
        ).encode()
        for _ in range(40):
            sock = socket.create_connection(("127.0.0.1", hub.port), timeout=10)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(upgrade)
            sock.close()  # a reset, at once
        with urllib.request.urlopen(f"{hub.url}/health/live", timeout=10) as answer:
            assert answer.status == 200
    log = hub.log_lines()
    assert not any("Traceback" in line or " ERROR " in line for line in log), "\n".join(log)
