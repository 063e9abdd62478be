"""The hub behind a real nginx, configured as the README says: each client is itself.

Everything runs on loopback, so addresses of 127.0.0.0/8 stand for the machines: nginx reaches
the hub from 127.0.0.2 (the only proxy the hub trusts, with 127.0.0.5, an "outer" proxy);
people are 127.0.0.3, 127.0.0.4 ...; a direct connection to the hub comes from 127.0.0.1,
which is not trusted. Documentation addresses (203.0.113.7) appear only inside headers.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import pytest
from yarl import URL

from hub.auth.session import SessionCodec
from tests.conftest import skip_or_fail
from tests.support.hub_client import codec_csrf_header
from tests.support.hub_server import HubServer
from tests.support.nginx import Nginx, nginx_binary

NGINX_ADDRESS = "127.0.0.2"
OUTER_PROXY = "127.0.0.5"
LOGINS_PER_MINUTE = 2
SECRET = secrets.token_urlsafe(40)


@dataclass
class Deployment:
    hub: HubServer
    nginx: Nginx

    @asynccontextmanager
    async def client(self, address: str) -> AsyncIterator[aiohttp.ClientSession]:
        """A browser on the machine `address`, trusting nginx's certificate."""
        tls = ssl.create_default_context(cafile=self.nginx.certificate)
        connector = aiohttp.TCPConnector(local_addr=(address, 0), ssl=tls)
        async with aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)
        ) as session:
            yield session


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    binary = nginx_binary()
    if binary is None:
        skip_or_fail("nginx not found (apt package nginx)")
    assert binary is not None
    hub = HubServer(
        tmp_path_factory.mktemp("hub"),
        env={
            "HUB_SERVER__TRUSTED_PROXIES": json.dumps([f"{NGINX_ADDRESS}/32", f"{OUTER_PROXY}/32"]),
            "HUB_LIMITS__LOGIN_PER_MINUTE": str(LOGINS_PER_MINUTE),
            "HUB_SECURITY__SECRET_KEY": SECRET,
            "HUB_LOGGING__FORMAT": "text",
        },
    )
    nginx = Nginx(binary, tmp_path_factory.mktemp("nginx"), hub.port, bind=NGINX_ADDRESS)
    try:
        hub.start()
        nginx.start()
        yield Deployment(hub, nginx)
    finally:
        nginx.stop()
        hub.stop()


async def login_statuses(
    http: aiohttp.ClientSession, base_url: str, forwarded_for: list[str | None]
) -> list[int]:
    """Start a login once per entry (the cheapest rate-limited request), sending that entry as
    the client's own X-Forwarded-For; the answers' statuses."""
    statuses = []
    for value in forwarded_for:
        headers = {"X-Forwarded-For": value} if value else {}
        async with http.get(f"{base_url}/auth/login/nowhere", headers=headers) as answer:
            statuses.append(answer.status)
    return statuses


async def test_each_client_behind_nginx_has_its_own_rate_limit(deployment: Deployment) -> None:
    proxy, direct = deployment.nginx.base_url, deployment.hub.base_url
    limited = [404] * LOGINS_PER_MINUTE + [429]  # an unknown provider, until the limit
    async with deployment.client("127.0.0.3") as first, deployment.client("127.0.0.4") as second:
        assert await login_statuses(first, proxy, [None] * 3) == limited
        # Another person behind the same nginx is not locked out by the first.
        assert await login_statuses(second, proxy, [None]) == [404]
        # The first cannot escape by claiming another address: nginx appends its real one,
        # and the walk stops there (127.0.0.3 is not a proxy).
        assert await login_statuses(first, proxy, ["198.51.100.9", "127.0.0.2"]) == [429, 429]
    # A direct connection is not from a trusted proxy: its forged headers count for nothing.
    async with deployment.client("127.0.0.1") as forger:
        statuses = await login_statuses(forger, direct, ["192.0.2.1", "192.0.2.2", "192.0.2.3"])
    assert statuses == limited
    # The access log names the real client, never nginx.
    assert await logged_logins(deployment.hub) == {
        ("404", "127.0.0.1"),
        ("404", "127.0.0.3"),
        ("404", "127.0.0.4"),
        ("429", "127.0.0.1"),
        ("429", "127.0.0.3"),
    }


async def logged_logins(hub: HubServer, expected: int = 5) -> set[tuple[str, str]]:
    """(status, remote) of the access-log lines for logins; waits a little for the last ones,
    since the hub logs a request after answering it."""
    deadline = asyncio.get_running_loop().time() + 5
    while True:
        text = hub.log_path.read_text()
        found = set(re.findall(r"GET /auth/login/nowhere (\d+) .*remote=(\S+)", text))
        if len(found) >= expected or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.05)


async def test_metrics_refuse_an_outside_client_forwarded_by_nginx(deployment: Deployment) -> None:
    # An outside client reaching the machine through a trusted outer proxy, then nginx.
    async with deployment.client(OUTER_PROXY) as outer:
        async with outer.get(
            f"{deployment.nginx.base_url}/metrics", headers={"X-Forwarded-For": "203.0.113.7"}
        ) as answer:
            assert answer.status == 403
        # The outer proxy's own monitoring is on loopback, and so allowed.
        async with outer.get(f"{deployment.nginx.base_url}/metrics") as answer:
            assert answer.status == 200
    async with (
        deployment.client("127.0.0.1") as prometheus,
        prometheus.get(f"{deployment.hub.base_url}/metrics") as answer,
    ):
        assert answer.status == 200
        assert "hub_http_requests_total" in await answer.text()


async def test_meeting_socket_upgrades_through_nginx_over_https(deployment: Deployment) -> None:
    proxy = deployment.nginx.base_url
    codec = SessionCodec(SECRET, secure=False)  # the hub runs in dev mode with this secret
    async with deployment.client("127.0.0.6") as browser:
        async with browser.get(f"{proxy}/", headers={"Accept": "text/html"}) as page:
            assert page.status == 200
        csrf = codec_csrf_header(codec, browser.cookie_jar, URL(proxy))
        async with browser.post(
            f"{proxy}/api/v1/meetings", json={"title": "Derrière nginx"}, headers=csrf
        ) as created:
            assert created.status == 201
            meeting_id = (await created.json())["id"]
        path = f"/api/v1/meetings/{meeting_id}/ws"
        # The page's origin is https://127.0.0.1:<nginx port>: only X-Forwarded-Proto from the
        # trusted nginx tells the hub (which speaks plain HTTP) that the scheme is https.
        async with browser.ws_connect(f"wss{proxy[5:]}{path}", origin=proxy) as socket:
            await socket.send_json({"type": "ping"})
            assert (await socket.receive_json(timeout=10))["type"] == "pong"
    # Straight to the hub, the same Origin is another site's, whatever the client claims about
    # the scheme and host: refused before the upgrade.
    forged = {"X-Forwarded-Proto": "https", "Host": URL(proxy).raw_authority}
    async with deployment.client("127.0.0.1") as direct:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await direct.ws_connect(
                f"{deployment.hub.base_url}{path}", origin=proxy, headers=forged
            )
    assert refused.value.status == 403


async def test_no_answer_through_nginx_names_a_version(deployment: Deployment) -> None:
    """nginx replaces the hub's Server header with its own, which the README's example keeps
    free of a version; even a request nginx itself refuses says only "nginx"."""
    async with (
        deployment.client("127.0.0.1") as browser,
        browser.get(f"{deployment.nginx.base_url}/") as answer,
    ):
        assert answer.status == 200
        assert answer.headers["Server"] == "nginx"
    # A request line nginx cannot parse, sent as raw bytes over TLS.
    tls = ssl.create_default_context(cafile=deployment.nginx.certificate)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", deployment.nginx.port, ssl=tls, server_hostname="localhost"
    )
    writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n")
    head = (await asyncio.wait_for(reader.read(4096), 10)).decode("latin-1")
    writer.close()
    assert head.startswith("HTTP/1.1 400"), head
    assert "\r\nServer: nginx\r\n" in head, head
