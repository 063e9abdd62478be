"""axe-core in Chromium on every page a person sees: no serious or critical violation.

The contexts bypass the pages' Content-Security-Policy only so that axe can be injected.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.support import (
    FakeHub,
    LobbyFakeHub,
    axe_violations,
    create_meeting,
    new_context,
    open_meeting_page,
)

pytestmark = pytest.mark.usefixtures("axe_available")
AXE_CONTEXT = {"bypass_csp": True}


@pytest.fixture(scope="module")
def meeting_id(browser: Browser, hub_server: str) -> str:
    context = new_context(browser, hub_server)
    try:
        return create_meeting(context.new_page(), "Revue d'accessibilité")
    finally:
        context.close()


def check(page: Page, what: str, screenshot_dir=None, shot: str | None = None) -> None:
    violations = axe_violations(page)
    if screenshot_dir and shot:
        page.screenshot(path=str(screenshot_dir / shot), full_page=True)
    assert violations == [], f"{what}:\n" + "\n".join(violations)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_home(browser, hub_server, lang, screenshot_dir):
    context = new_context(browser, hub_server, lang=lang, **AXE_CONTEXT)
    try:
        page = context.new_page()
        page.goto("/")
        check(page, f"home ({lang})", screenshot_dir, f"home-{lang}.png")
        # The same page showing form errors.
        page.fill("#title", "")
        page.click("form[action='/meetings'] button[type=submit]")
        expect(page.locator("#create-errors")).to_be_visible()
        check(page, f"home with errors ({lang})", screenshot_dir, f"home-errors-{lang}.png")
    finally:
        context.close()


def test_prejoin(browser, hub_server, meeting_id, screenshot_dir):
    page = open_meeting_page(
        browser, hub_server, meeting_id, "Camille", join=False, context_options=AXE_CONTEXT
    )
    try:
        page.wait_for_function("() => document.getElementById('preview').videoWidth > 0")
        check(page, "pre-join", screenshot_dir, "prejoin-full.png")
    finally:
        page.context.close()


def test_prejoin_failed_and_denied(browser, hub_server, meeting_id):
    context = new_context(browser, hub_server, **AXE_CONTEXT)
    context.add_init_script(
        "navigator.mediaDevices.getUserMedia = () => "
        "Promise.reject(new DOMException('refused', 'NotAllowedError'));"
    )
    try:
        page = context.new_page()
        FakeHub(refuse=True).install(page)
        page.goto(f"/m/{meeting_id}")
        page.fill("#name", "Camille")
        page.click("#join-button")
        expect(page.locator("#join-failed")).to_be_visible()
        check(page, "pre-join, devices denied and join failed")
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_in_meeting(browser, hub_server, meeting_id, lang, screenshot_dir):
    others = [
        {"id": "a", "name": "Alice Martin", "audio": False, "video": True, "screen": False,
         "hand": True},
        {"id": "b", "name": "Bruno Petit", "audio": True, "video": False, "screen": False,
         "hand": False},
    ]  # fmt: skip
    hub = FakeHub(others=others)
    page = open_meeting_page(
        browser, hub_server, meeting_id, "Camille", join=False, lang=lang,
        context_options=AXE_CONTEXT,
    )  # fmt: skip
    try:
        hub.install(page)
        page.click("#join-button")
        page.wait_for_function("() => window.visioDebug.state() === 'connected'")
        hub.send({"type": "active_speaker", "participant_id": "a"})
        check(page, f"in meeting ({lang})", screenshot_dir, f"meeting-{lang}.png")
        page.click("#toggle-participants")
        check(page, f"in meeting, participants ({lang})")
        page.click("#toggle-chat")
        hub.send({"type": "chat", "participant_id": "a", "name": "Alice Martin",
                  "text": "Bonjour, on commence ?", "at": "2026-01-05T10:00:00Z"})  # fmt: skip
        expect(page.locator("#chat-log li")).to_have_count(1)
        check(page, f"in meeting, chat ({lang})", screenshot_dir, f"meeting-chat-{lang}.png")
        page.click("#leave")
        expect(page.locator("#after")).to_be_visible()
        check(page, f"after leaving ({lang})")
    finally:
        page.context.close()


def test_phone_layout_and_screen_share(browser, hub_server, meeting_id):
    """The phone's layout with its overflow menu open, then a screen share's layout (the share
    large, the cameras in a filmstrip) on a laptop."""
    others = [
        {"id": "a", "name": "Alice Martin", "audio": True, "video": True, "screen": False,
         "hand": False},
        {"id": "b", "name": "Bruno Petit", "audio": False, "video": True, "screen": False,
         "hand": False},
    ]  # fmt: skip
    for viewport in ({"width": 390, "height": 844}, {"width": 1280, "height": 800}):
        hub = FakeHub(others=others)
        page = open_meeting_page(
            browser, hub_server, meeting_id, "Camille", join=False,
            context_options={**AXE_CONTEXT, "viewport": viewport},
        )  # fmt: skip
        try:
            hub.install(page)
            page.click("#join-button")
            page.wait_for_function("() => window.visioDebug.state() === 'connected'")
            if viewport["width"] < 1024:
                check(page, "phone layout")
                page.click("#toggle-more")
                expect(page.locator("#toggle-hand")).to_be_visible()
                check(page, "phone layout, menu open")
                continue
            # Nobody answers the page's offer here: released as a hub's error would.
            hub.send({"type": "error", "code": "bad_sdp", "message": "test",
                      "request": "publish_offer"})  # fmt: skip
            page.click("#toggle-screen")  # Chromium's fake capture gives a screen at once
            expect(page.locator("#grid > li[data-source='screen']")).to_have_count(1)
            check(page, "screen share")
        finally:
            page.context.close()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_lobby_waiting_and_denied(browser, hub_server, meeting_id, lang, screenshot_dir):
    hub = LobbyFakeHub(waiting=True)
    page = open_meeting_page(
        browser, hub_server, meeting_id, "Camille", join=False, lang=lang,
        context_options=AXE_CONTEXT,
    )  # fmt: skip
    try:
        hub.install(page)
        page.click("#join-button")
        page.wait_for_function("() => window.visioDebug.state() === 'waiting'")
        check(page, f"waiting in the lobby ({lang})", screenshot_dir, f"lobby-waiting-{lang}.png")
        hub.deny(message="Réunion interne au service")
        expect(page.locator("#after-reason")).to_be_visible()
        check(page, f"refused at the lobby ({lang})", screenshot_dir, f"lobby-denied-{lang}.png")
    finally:
        page.context.close()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_moderator_panels(browser, hub_server, meeting_id, lang, screenshot_dir):
    others = [
        {"id": "a", "name": "Alice Martin", "audio": True, "video": True, "screen": False,
         "hand": False, "role": "moderator"},
        {"id": "b", "name": "Bruno Petit", "audio": True, "video": False, "screen": False,
         "hand": True, "role": "participant"},
    ]  # fmt: skip
    hub = LobbyFakeHub(others=others, role="owner")
    page = open_meeting_page(
        browser, hub_server, meeting_id, "Camille", join=False, lang=lang,
        context_options=AXE_CONTEXT,
    )  # fmt: skip
    try:
        hub.install(page)
        page.click("#join-button")
        page.wait_for_function("() => window.visioDebug.state() === 'connected'")
        hub.send({"type": "lobby", "entries": [
            {"id": "e1", "name": "Chloé Lemaire", "kind": "guest", "since": "2026-01-05T10:00:00Z",
             "message": "Experte budget, invitée par Alice"},
            {"id": "e2", "name": "David Moreau", "kind": "matrix", "since": "2026-01-05T10:00:02Z"},
        ]})  # fmt: skip
        hub.send({"type": "meeting_state", "locked": True})
        page.click("#toggle-lobby")
        expect(page.locator("#lobby-list li")).to_have_count(2)
        check(page, f"moderator, lobby panel ({lang})", screenshot_dir, f"lobby-panel-{lang}.png")
        page.click("#toggle-participants")
        page.click("#participant-list li[data-participant='b'] button[data-action='menu']")
        expect(page.locator("#actions-b")).to_be_visible()
        check(page, f"moderator, participant actions ({lang})", screenshot_dir,
              f"moderator-actions-{lang}.png")  # fmt: skip
    finally:
        page.context.close()


def test_error_and_ended_pages(browser, hub_server, screenshot_dir):
    context = new_context(browser, hub_server, **AXE_CONTEXT)
    try:
        page = context.new_page()
        answer = page.goto("/m/zzz-zzzz-zzz")
        assert answer is not None and answer.status == 404
        check(page, "404 page", screenshot_dir, "error-404.png")

        meeting = create_meeting(page, "Réunion terminée")
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        ended = page.request.post(
            f"/api/v1/meetings/{meeting}/end", headers={"X-CSRF-Token": token or ""}
        )
        assert ended.ok, ended.text()
        answer = page.goto(f"/m/{meeting}")
        assert answer is not None and answer.status == 410
        check(page, "ended meeting page", screenshot_dir, "ended.png")
    finally:
        context.close()
