"""Logging in with a real OpenID Connect provider in Chromium, as a person would: the login
button, the provider's form, a trusted meeting created and joined, then logout that ends both
the hub's session and the provider's (the next login asks for the password again)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.support import (
    HubServer,
    axe_violations,
    create_meeting,
    new_context,
    watch_errors,
)
from tests.conftest import toml_value
from tests.support.oidc import OidcProviderProcess, hub_uris

# Everything in these tests stays on loopback; anything else is refused in the browser.
OFF_LOOPBACK = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")


@dataclass
class LoginSetup:
    hub: HubServer
    provider: OidcProviderProcess


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoginSetup]:
    """A hub whose only way to create meetings is a login through the provider."""
    workdir = tmp_path_factory.mktemp("login")
    hub = HubServer(workdir)
    provider = OidcProviderProcess(workdir, **hub_uris(hub.base_url)).start()
    try:
        hub.env = {"HUB_AUTH__PROVIDERS": toml_value([provider.hub_provider()])}
        hub.start()
        try:
            yield LoginSetup(hub, provider)
        finally:
            hub.stop()
    finally:
        provider.stop()


@pytest.fixture
def context(browser: Browser, setup: LoginSetup) -> Iterator[BrowserContext]:
    context = new_context(browser, setup.hub.base_url)
    context.route(OFF_LOOPBACK, lambda route: route.abort())
    try:
        yield context
    finally:
        context.close()


def session_cookie(context: BrowserContext, setup: LoginSetup) -> str | None:
    cookies = context.cookies(setup.hub.base_url)
    return next((c["value"] for c in cookies if c["name"] == "visio_session"), None)


def log_in_at_provider(page: Page, setup: LoginSetup, login: str) -> None:
    page.wait_for_url(f"{setup.provider.issuer}/interaction/**")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")


def test_login_create_join_and_logout(
    context: BrowserContext, setup: LoginSetup, screenshot_dir: Path | None
) -> None:
    page = context.new_page()
    errors = watch_errors(page)
    page.goto("/")
    login_link = page.get_by_role("link", name="Se connecter avec Compte de test").first
    expect(login_link).to_be_visible()
    expect(page.locator("form[action='/meetings']")).to_have_count(0)  # guests cannot create
    if screenshot_dir:
        page.screenshot(path=str(screenshot_dir / "login-guest-home.png"), full_page=True)
    login_link.click()
    log_in_at_provider(page, setup, "marie.curie")
    page.wait_for_url(f"{setup.hub.base_url}/")
    expect(page.locator(".account")).to_contain_text("Connecté en tant que Marie CURIE")
    if screenshot_dir:
        page.screenshot(path=str(screenshot_dir / "login-home.png"), full_page=True)

    meeting_id = create_meeting(page, "Réunion identifiée", access_level="trusted")
    expect(page.locator("#name")).to_have_value("Marie CURIE")
    expect(page.locator(".login-block")).to_have_count(0)
    page.click("#join-button")
    page.wait_for_function("() => window.visioDebug.state() === 'connected'", timeout=15_000)
    expect(page.locator("#room")).to_be_visible()

    page.goto("/")
    page.click("form[action='/auth/logout'] button[type=submit]")
    page.wait_for_url(f"{setup.provider.issuer}/session/end**")
    page.click("button[value=yes]")  # this provider asks to confirm
    page.wait_for_url(f"{setup.hub.base_url}/auth/logged-out**")
    expect(page.get_by_role("heading", level=1)).to_have_text("Déconnexion effectuée")

    page.goto(f"/m/{meeting_id}")  # a guest now: offered the login on the meeting page
    expect(page.locator(".login-block")).to_be_visible()
    if screenshot_dir:
        page.screenshot(path=str(screenshot_dir / "login-guest-meeting.png"), full_page=True)
    page.goto("/")
    expect(page.get_by_text("Connecté en tant que")).to_have_count(0)
    page.get_by_role("link", name="Se connecter avec Compte de test").first.click()
    # The provider's session ended too: it asks for the password instead of logging in.
    page.wait_for_url(f"{setup.provider.issuer}/interaction/**")
    expect(page.locator("input[name=password]")).to_be_visible()
    assert errors == []


def test_a_refused_login_shows_why_and_opens_no_session(
    context: BrowserContext, setup: LoginSetup
) -> None:
    page = context.new_page()
    page.goto("/")
    guest = session_cookie(context, setup)
    page.get_by_role("link", name="Se connecter avec Compte de test").first.click()
    page.wait_for_url(f"{setup.provider.issuer}/interaction/**")
    page.click("text=[ Cancel ]")
    page.wait_for_url(f"{setup.hub.base_url}/auth/callback/test**")
    expect(page.get_by_role("heading", level=1)).to_have_text("La connexion a échoué")
    expect(page.get_by_text("annulée ou refusée")).to_be_visible()
    names = {cookie["name"] for cookie in context.cookies(setup.hub.base_url)}
    assert "visio_login" not in names
    assert session_cookie(context, setup) == guest  # still the same guest
    page.goto("/")
    expect(page.get_by_text("Connecté en tant que")).to_have_count(0)


@pytest.mark.usefixtures("axe_available")
def test_login_pages_are_accessible(browser: Browser, setup: LoginSetup) -> None:
    """axe-core: no serious or critical violation on the pages this feature adds or changes.
    (Its own context bypasses the CSP, only so that axe can be injected.)"""
    context = new_context(browser, setup.hub.base_url, bypass_csp=True)
    context.route(OFF_LOOPBACK, lambda route: route.abort())
    try:
        page = context.new_page()
        found: dict[str, list[str]] = {}
        page.goto("/")
        found["guest home"] = axe_violations(page)
        page.goto("/auth/login/nobody")
        found["login error"] = axe_violations(page)
        page.goto("/auth/logged-out")
        found["logged out"] = axe_violations(page)
        page.goto("/")
        page.get_by_role("link", name="Se connecter avec Compte de test").first.click()
        log_in_at_provider(page, setup, "jeanne.martin")
        page.wait_for_url(f"{setup.hub.base_url}/")
        found["logged-in home"] = axe_violations(page)
        meeting_id = create_meeting(page, "Revue", access_level="trusted")
        context.clear_cookies()
        page.goto(f"/m/{meeting_id}")
        expect(page.locator(".login-block")).to_be_visible()
        found["meeting page, guest"] = axe_violations(page)
        assert {page: v for page, v in found.items() if v} == {}
    finally:
        context.close()
