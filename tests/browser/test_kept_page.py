"""The page of what a meeting kept, in Chromium: reached from the home page with the keyboard,
every download reachable by Tab, a download that really downloads, and axe-core finding no
serious or critical violation, in French and English, with material kept and without.

The hub is a real `hub serve`; what it kept is written where it keeps it (tests/support/kept.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.support import (
    LobbyFakeHub,
    axe_violations,
    create_meeting,
    new_context,
    open_meeting_page,
)
from tests.support.hub_server import HubServer
from tests.support.kept import keep_sample

pytestmark = pytest.mark.usefixtures("axe_available")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    server = HubServer(tmp_path_factory.mktemp("kept")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_owner_reaches_the_kept_page_by_keyboard_and_it_is_accessible(
    browser: Browser, served: HubServer, lang: str, screenshot_dir: Path | None
):
    context = new_context(browser, served.base_url, lang=lang, bypass_csp=True)
    try:
        page = context.new_page()
        meeting_id = create_meeting(page, "Comité budgétaire")
        keep_sample(served.workdir / "data", meeting_id)
        page.goto("/")
        link = page.locator(f"a[href='/m/{meeting_id}/kept']")
        expect(link).to_have_text("Enregistrements et transcriptions" if lang == "fr"
                                  else "Recordings and transcripts")  # fmt: skip
        link.focus()
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/m/{meeting_id}/kept")
        expect(page.locator("h1")).to_be_visible()
        violations = axe_violations(page)
        if screenshot_dir:
            page.screenshot(path=str(screenshot_dir / f"kept-{lang}.png"), full_page=True)
        assert violations == [], "\n".join(violations)

        # Tab goes through every download, in the page's order.
        downloads = page.locator("main a[href^='/api/']")
        expected = [downloads.nth(i).get_attribute("href") for i in range(downloads.count())]
        assert len(expected) == 5  # transcript ×2, summary, two tracks
        reached = []
        for _ in range(40):
            page.keyboard.press("Tab")
            href = page.evaluate("() => document.activeElement.getAttribute('href')")
            if href and href.startswith("/api/"):
                reached.append(href)
            if len(reached) == len(expected):
                break
        assert reached == expected

        with page.expect_download() as download:
            page.locator(f"a[href='/api/v1/meetings/{meeting_id}/transcript.vtt']").click()
        assert download.value.suggested_filename == f"transcript-{meeting_id}.vtt"
        text = Path(download.value.path()).read_text(encoding="utf-8")
        assert text.startswith("WEBVTT") and "<v Bastien Leroy>" in text
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_empty_kept_page_is_accessible(browser: Browser, served: HubServer, lang: str):
    context = new_context(browser, served.base_url, lang=lang, bypass_csp=True)
    try:
        page = context.new_page()
        meeting_id = create_meeting(page, "Point d'équipe")
        page.goto(f"/m/{meeting_id}/kept")
        expect(page.locator(".empty-state")).to_have_count(2)
        assert axe_violations(page) == []
    finally:
        context.close()


@pytest.mark.parametrize("role", ["owner", "participant"])
def test_a_moderator_is_offered_the_kept_page_once_a_recording_stops(
    browser: Browser, served: HubServer, role: str
):
    context = new_context(browser, served.base_url)
    try:
        meeting_id = create_meeting(context.new_page(), "Revue de projet")
    finally:
        context.close()
    hub = LobbyFakeHub(role=role)
    page = open_meeting_page(
        browser, served.base_url, meeting_id, "Camille", join=False,
        context_options={"bypass_csp": True},
    )  # fmt: skip
    try:
        hub.install(page)
        page.click("#join-button")
        page.wait_for_function("() => window.visioDebug.state() === 'connected'")
        hub.send({"type": "recording_state", "recording": True, "by": "Camille"})
        expect(page.locator("#recording-indicator")).to_be_visible()
        expect(page.locator("#kept-link")).to_be_hidden()  # nothing stored yet
        hub.send({"type": "recording_state", "recording": False, "by": "Camille"})
        expect(page.locator("#recording-indicator")).to_be_hidden()
        link = page.locator("#kept-link")
        if role == "participant":
            expect(link).to_be_hidden()
            return
        expect(link).to_be_visible()
        assert link.get_attribute("href") == f"/m/{meeting_id}/kept"
        assert axe_violations(page) == []
        page.click("#leave")
        expect(page.locator("#after-kept")).to_be_visible()
    finally:
        page.context.close()
