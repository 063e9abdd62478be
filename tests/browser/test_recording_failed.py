"""The meeting page, in Chromium, when a recording that stopped could not be stored: the hub
tells its moderators (`recording_state` with `failed`, tests/test_recording_store_down.py)
and the page says so in its language, without touching the indicator or the other controls.
The hub's side is a scripted socket (LobbyFakeHub); the page is the real one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.support import LobbyFakeHub, create_meeting, fr, new_context, open_meeting_page
from tests.support.hub_server import HubServer


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    server = HubServer(tmp_path_factory.mktemp("failed")).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_moderator_sees_that_the_recording_could_not_be_stored(
    browser: Browser, served: HubServer
):
    context = new_context(browser, served.base_url)
    try:
        meeting_id = create_meeting(context.new_page(), "Revue de projet")
    finally:
        context.close()
    hub = LobbyFakeHub(role="owner")
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
        hub.send({"type": "recording_state", "recording": False, "by": "Camille"})
        expect(page.locator("#recording-indicator")).to_be_hidden()
        hub.send({"type": "recording_state", "recording": False, "failed": True})
        failed = page.locator("#notices .notice-error")
        expect(failed).to_have_text(fr("meeting.notice.recording_failed"))
        expect(page.locator("#recording-indicator")).to_be_hidden()
        control = page.locator("#toggle-recording")
        assert control.get_attribute("data-state") == "off"  # one can record again
    finally:
        page.context.close()
