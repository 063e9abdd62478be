"""A real OpenID Connect provider for tests: tests/support/oidc_provider.mjs (npm oidc-provider)
run by `node` on a free loopback port, stopped by its pid; plus what drives its login form the
way a browser would (with aiohttp), and its fault switches."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp
import pytest

from tests.conftest import REPO, skip_or_fail
from tests.support.processes import free_port, start, stop

SCRIPT = REPO / "tests" / "support" / "oidc_provider.mjs"
PACKAGE = REPO / "node_modules" / "oidc-provider"
READY = "oidc-provider ready "
CLIENT_ID = "visio-hub"
# The hub in tests/test_oidc.py runs in-process on whatever port; the provider only ever
# redirects the test's client to this public URL, which the test maps back to its own server.
HUB_URL = "http://127.0.0.1:8123"


@dataclass
class OidcProviderProcess:
    """One oidc-provider process; `start()` waits for its ready line, `stop()` ends it."""

    workdir: Path
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    port: int = 0
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    process: Any = None

    def __post_init__(self) -> None:
        if not self.port:
            self.port = free_port()

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "oidc-provider.log"

    def start(self, timeout: float = 20) -> OidcProviderProcess:
        node = shutil.which("node")
        if node is None or not PACKAGE.exists():
            skip_or_fail("node or node_modules/oidc-provider missing (run `npm ci`)")
        assert node is not None
        args = [node, str(SCRIPT), "--port", str(self.port), "--client-id", CLIENT_ID]
        for uri in self.redirect_uris:
            args += ["--redirect-uri", uri]
        for uri in self.post_logout_redirect_uris:
            args += ["--post-logout-redirect-uri", uri]
        env = {**os.environ, "OIDC_CLIENT_SECRET": self.client_secret}
        self.process = start(args, log_path=self.log_path, cwd=REPO, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY in self.log():
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"oidc-provider exited:\n{self.log()}")
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"oidc-provider not ready within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.issuer}{path}", data=data, method="POST" if data else "GET"
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.loads(answer.read())

    def set_faults(self, *faults: str) -> None:
        """Make the provider misbehave (see the list in oidc_provider.mjs); none: behave."""
        self._call("/__test/faults", {"faults": list(faults)})

    def stats(self) -> dict[str, int]:
        return dict(self._call("/__test/stats"))

    def hub_provider(self, name: str = "test", **overrides: Any) -> dict[str, Any]:
        """The hub's [[auth.providers]] entry for this provider."""
        return {
            "name": name,
            "label": "Compte de test",
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": self.client_secret,
            "scopes": ["openid", "email", "given_name", "usual_name", "uid"],
            "acr_values": "eidas1",
            **overrides,
        }


def hub_uris(base_url: str, names: tuple[str, ...] = ("test",)) -> dict[str, list[str]]:
    return {
        "redirect_uris": [f"{base_url}/auth/callback/{name}" for name in names],
        "post_logout_redirect_uris": [f"{base_url}/auth/logged-out"],
    }


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProviderProcess]:
    """One provider for the in-process hub tests (public URL HUB_URL); faults off for each."""
    provider = OidcProviderProcess(
        tmp_path_factory.mktemp("oidc"), **hub_uris(HUB_URL, ("test", "other"))
    ).start()
    try:
        yield provider
    finally:
        provider.stop()


class FormParser(HTMLParser):
    """The first form of a page: its action and fields (devInteractions and logout pages)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.links: list[str] = []
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action, self._in_form = values.get("action", ""), True
        elif tag == "input" and self._in_form and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")
        elif tag == "a" and values.get("href"):
            self.links.append(values["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def parse_form(html: str) -> FormParser:
    parser = FormParser()
    parser.feed(html)
    return parser


class ProviderBrowser:
    """The person's browser at the provider: its own cookies, following the provider's own
    redirects until one leads back to the hub (whose URL it returns without following)."""

    def __init__(self, session: aiohttp.ClientSession, issuer: str) -> None:
        self.session = session
        self.issuer = issuer

    async def follow(self, url: str, *, data: dict[str, str] | None = None) -> tuple[str, str]:
        """Request `url` and follow redirects within the provider; ("hub", url) when sent
        back to the hub, ("page", html) when the provider shows a page."""
        method = "POST" if data is not None else "GET"
        for _ in range(10):
            async with self.session.request(method, url, data=data, allow_redirects=False) as r:
                if r.status in (302, 303):
                    url = urljoin(url, r.headers["Location"])
                    method, data = "GET", None
                    if not url.startswith(self.issuer):
                        return "hub", url
                    continue
                assert r.status == 200, (r.status, await r.text())
                return "page", await r.text()
        raise AssertionError("too many redirects at the provider")

    async def log_in(self, authorize_url: str, login: str) -> str:
        """Go through the login form; the URL the provider sends the browser back to."""
        kind, value = await self.follow(authorize_url)
        if kind == "hub":  # already logged in at the provider
            return value
        form = parse_form(value)
        assert form.action and "prompt" in form.fields, value[:500]
        fields = {**form.fields, "login": login, "password": "any password"}
        kind, value = await self.follow(urljoin(self.issuer, form.action), data=fields)
        assert kind == "hub", value[:500]
        return value

    async def cancel(self, authorize_url: str) -> str:
        """Click the login page's "[ Cancel ]" link: the provider answers access_denied."""
        kind, page = await self.follow(authorize_url)
        assert kind == "page"
        abort = next(link for link in parse_form(page).links if "/abort" in link)
        kind, value = await self.follow(urljoin(self.issuer, abort))
        assert kind == "hub", value[:500]
        return value
