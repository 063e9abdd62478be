"""The in-meeting page's side of the signaling protocol, in Chromium, against a scripted hub
socket (FakeHub) so that it is tested apart from the SFU; and one join against the real hub."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser, Page, expect

from hub.i18n import translate
from hub.web.node import DRAINING_REASON
from tests.browser.support import (
    FakeHub,
    LobbyFakeHub,
    create_meeting,
    new_context,
    open_meeting_page,
    wait_until,
    watch_errors,
)

ALICE = {"id": "alice", "name": "Alice Martin", "audio": True, "video": True, "screen": False,
         "hand": False}  # fmt: skip


@pytest.fixture(scope="module")
def meeting_id(browser: Browser, hub_server: str) -> str:
    context = new_context(browser, hub_server)
    try:
        return create_meeting(context.new_page(), "Comité de suivi")
    finally:
        context.close()


def joined_page(browser, hub_server, meeting_id, hub: FakeHub, lang: str = "fr") -> Page:
    page = open_meeting_page(browser, hub_server, meeting_id, "Camille", join=False, lang=lang)
    hub.install(page)
    page.click("#join-button")
    page.wait_for_function("() => window.visioDebug.state() === 'connected'", timeout=10_000)
    return page


def test_join_then_every_control_speaks_the_protocol(browser, hub_server, meeting_id):
    hub = FakeHub(others=[ALICE])
    page = joined_page(browser, hub_server, meeting_id, hub)
    errors = watch_errors(page)
    try:
        join = hub.sent("join")[0]
        assert join == {  # with the page's language: the hub's errors are said in it
            "type": "join",
            "name": "Camille",
            "audio": True,
            "video": True,
            "lang": "fr",
        }
        expect(page.locator("#room-title")).to_be_focused()
        expect(page.locator("#connection-state")).to_have_text("Connecté")
        participants = page.evaluate("() => window.visioDebug.participants()")
        assert {p["name"] for p in participants} == {"Camille", "Alice Martin"}
        expect(page.locator("#grid > li")).to_have_count(2)
        expect(page.locator("#grid")).to_contain_text("Camille (vous)")

        # The publish offer: sendonly microphone and camera, described by mid, no ICE server.
        wait_until(lambda: bool(hub.sent("publish_offer")), page)
        offer = hub.sent("publish_offer")[0]
        assert [t["source"] for t in offer["tracks"]] == ["microphone", "camera"]
        assert offer["sdp"].count("a=sendonly") == 2
        config = page.evaluate("() => window.visioDebug.publishPc().getConfiguration()")
        assert config["iceServers"] == []

        page.click("#toggle-mic")
        expect(page.locator("#toggle-mic")).to_have_attribute("data-state", "off")
        wait_until(lambda: bool(hub.sent("media")), page)
        assert hub.sent("media")[-1] == {"type": "media", "audio": False, "video": True}

        page.click("#toggle-hand")
        expect(page.locator("#toggle-hand")).to_have_attribute("data-state", "on")
        wait_until(lambda: bool(hub.sent("hand")), page)
        assert hub.sent("hand")[-1] == {"type": "hand", "raised": True}

        # Chat: shown at once, confirmed by the hub's broadcast without a duplicate.
        page.click("#toggle-chat")
        expect(page.locator("#chat-input")).to_be_focused()
        page.keyboard.type("Bonjour à tous")
        page.keyboard.press("Enter")
        wait_until(lambda: bool(hub.sent("chat")), page)
        assert hub.sent("chat")[0]["text"] == "Bonjour à tous"
        hub.send({"type": "chat", "participant_id": "self-1", "name": "Camille",
                  "text": "Bonjour à tous", "at": "2026-01-05T10:00:00Z"})  # fmt: skip
        hub.send({"type": "chat", "participant_id": "alice", "name": "Alice Martin",
                  "text": "<b>Bonjour</b>", "at": "2026-01-05T10:00:05Z"})  # fmt: skip
        expect(page.locator("#chat-log li")).to_have_count(2)
        expect(page.locator("#chat-log li.pending")).to_have_count(0)
        expect(page.locator("#chat-log li").last).to_contain_text("<b>Bonjour</b>")  # as text

        # The hub's view of others: speaker, hand, screen share, errors, departures.
        hub.send({"type": "active_speaker", "participant_id": "alice"})
        expect(page.locator("#grid > li[data-participant='alice']")).to_have_class("tile speaking")
        hub.send({"type": "participant_updated",
                  "participant": {**ALICE, "hand": True, "screen": True}})  # fmt: skip
        expect(page.locator("#notices")).to_contain_text("Alice Martin lève la main.")
        expect(page.locator("#grid > li[data-source='screen']")).to_have_count(1)
        expect(page.locator("#grid")).to_contain_text("Écran de Alice Martin")
        hub.send({"type": "error", "code": "invalid_field", "message": "chat: text: too long",
                  "request": "chat"})  # fmt: skip
        expect(page.locator("#notices")).to_contain_text("chat: text: too long")
        hub.send({"type": "participant_left", "participant_id": "alice"})
        expect(page.locator("#grid > li")).to_have_count(1)
        expect(page.locator("#notices")).to_contain_text("Alice Martin a quitté la réunion.")

        page.click("#toggle-participants")
        expect(page.locator("#participant-list li")).to_have_count(1)
        expect(page.locator("#participants-heading")).to_have_text("Participants (1)")

        hub.send({"type": "ended", "reason": "owner"})
        expect(page.locator("#after-title")).to_have_text(translate("fr", "meeting.ended.heading"))
        expect(page.locator("#rejoin")).to_be_hidden()
        assert page.evaluate("() => window.visioDebug.state()") == "ended"
        assert errors == []
    finally:
        page.context.close()


def test_screen_share_adds_a_track_and_a_new_offer(browser, hub_server, meeting_id):
    hub = FakeHub()
    page = joined_page(browser, hub_server, meeting_id, hub)
    try:
        wait_until(lambda: bool(hub.sent("publish_offer")), page)
        # The offer is answered by nobody here, so the page waits for it; release it so the
        # next negotiation can start, as an error answer from the hub would.
        hub.send(
            {"type": "error", "code": "bad_sdp", "message": "test", "request": "publish_offer"}
        )
        page.click("#toggle-screen")  # Chromium's fake capture gives a screen at once
        expect(page.locator("#toggle-screen")).to_have_attribute("data-state", "on")
        assert page.evaluate("() => window.visioDebug.participants()[0].screen") is True
        wait_until(lambda: len(hub.sent("publish_offer")) >= 2, page)
        sources = [t["source"] for t in hub.sent("publish_offer")[-1]["tracks"]]
        assert sources == ["microphone", "camera", "screen"]
        expect(page.locator("#grid > li[data-source='screen']")).to_have_count(1)
        page.wait_for_function(
            "() => document.querySelector(\"#grid li[data-source='screen'] video\").videoWidth > 0"
        )

        # Stopping keeps the transceiver (inactive) and says so in a new offer.
        hub.send(
            {"type": "error", "code": "bad_sdp", "message": "test", "request": "publish_offer"}
        )
        page.click("#toggle-screen")
        expect(page.locator("#toggle-screen")).to_have_attribute("data-state", "off")
        wait_until(lambda: len(hub.sent("publish_offer")) >= 3, page)
        sources = [t["source"] for t in hub.sent("publish_offer")[-1]["tracks"]]
        assert sources == ["microphone", "camera"]
        expect(page.locator("#grid > li[data-source='screen']")).to_have_count(0)
    finally:
        page.context.close()


def test_socket_drop_reconnects_without_reload(browser, hub_server, meeting_id):
    hub = FakeHub(others=[ALICE])
    page = joined_page(browser, hub_server, meeting_id, hub)
    try:
        page.evaluate("() => { window.__sameDocument = true; }")
        states = page.evaluate_handle(
            """() => {
              const seen = [];
              new MutationObserver(() => seen.push(document.getElementById('connection-state')
                .dataset.state)).observe(document.getElementById('connection-state'),
                {attributes: true, childList: true});
              return seen;
            }"""
        )
        hub.drop()
        page.wait_for_function("() => window.visioDebug.state() === 'connected'", timeout=10_000)
        assert "reconnecting" in states.json_value()
        assert hub.joins == 2
        expect(page.locator("#notices")).to_contain_text("Connexion rétablie.")
        assert page.evaluate("() => window.__sameDocument") is True  # no reload happened
        assert len(page.evaluate("() => window.visioDebug.participants()")) == 2
    finally:
        page.context.close()


def test_a_refused_join_is_explained_with_a_retry(browser, hub_server, meeting_id):
    refusal = {"type": "error", "code": "full", "message": "La réunion est complète / Full"}
    hub = FakeHub(refuse=True, refusal=refusal)
    page = open_meeting_page(browser, hub_server, meeting_id, "Camille", join=False)
    hub.install(page)
    errors = watch_errors(page)
    try:
        page.click("#join-button")
        expect(page.locator("#join-failed")).to_be_visible()
        expect(page.locator("#join-retry")).to_be_focused()
        expect(page.locator("#join-failed-detail")).to_have_text(refusal["message"])
        assert page.evaluate("() => window.visioDebug.state()") == "failed"
        expect(page.locator("#prejoin")).to_be_visible()
        # Retrying once the hub accepts works without reloading.
        hub.refuse = False
        page.click("#join-retry")
        page.wait_for_function("() => window.visioDebug.state() === 'connected'")
        expect(page.locator("#room")).to_be_visible()
        assert errors == []
    finally:
        page.context.close()


def test_join_against_the_real_hub_connects_or_fails_visibly(browser, hub_server, meeting_id):
    """With the hub's socket in place two pages see each other; without it (404), the refusal
    must be shown on the pre-join screen. Media between pages is the end-to-end tests' job."""
    page = open_meeting_page(browser, hub_server, meeting_id, "Camille", join=False)
    errors = watch_errors(page)
    other = None
    try:
        page.click("#join-button")
        page.wait_for_function(
            "() => ['connected', 'failed'].includes(window.visioDebug.state())", timeout=20_000
        )
        if page.evaluate("() => window.visioDebug.state()") == "failed":
            expect(page.locator("#join-failed")).to_be_visible()
            expect(page.locator("#join-button")).to_have_attribute("aria-disabled", "false")
            return
        expect(page.locator("#room")).to_be_visible()
        other = open_meeting_page(browser, hub_server, meeting_id, "Dominique")
        assert other.evaluate("() => window.visioDebug.state()") == "connected"
        for viewer in (page, other):
            viewer.wait_for_function(
                "() => window.visioDebug.participants().map((p) => p.name).sort().join()"
                " === 'Camille,Dominique'"
            )
        expect(page.locator("#notices")).to_contain_text("Dominique a rejoint la réunion.")
        other.click("#leave")
        page.wait_for_function("() => window.visioDebug.participants().length === 1")
        assert errors == []
    finally:
        page.context.close()
        if other is not None:
            other.context.close()


def test_the_owner_can_end_the_meeting_for_everyone(browser, hub_server):
    """The real hub ends it in tests/browser/test_lobby_e2e.py; here: the right message goes."""
    context = new_context(browser, hub_server)
    try:
        page = context.new_page()
        create_meeting(page, "Réunion à terminer")  # this profile owns it
        hub = LobbyFakeHub(role="owner")
        hub.install(page)
        page.fill("#name", "Organisatrice")
        page.click("#join-button")
        page.wait_for_function("() => window.visioDebug.state() === 'connected'")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#end-for-all")
        for _ in range(50):  # Playwright delivers the page's frames while the page is waited on
            if hub.sent("end_meeting"):
                break
            page.wait_for_timeout(100)
        assert hub.sent("end_meeting") == [{"type": "end_meeting"}]
        hub.send({"type": "ended", "reason": "ended"})
        expect(page.locator("#after-title")).to_have_text(translate("fr", "meeting.ended.heading"))
    finally:
        context.close()


class DrainingNodeFirst(FakeHub):
    """The first socket lands on a node being drained (hub/web/node.py: `restarting`, then
    1012 with the draining reason, before any join); the next ones on a node that lets in."""

    def __init__(self) -> None:
        super().__init__()
        self.drained = 0

    def accept(self, ws) -> None:
        if not self.drained:
            self.drained += 1
            ws.send(json.dumps({"type": "restarting"}))
            ws.close(code=1012, reason=DRAINING_REASON)
            return
        super().accept(ws)


def test_a_first_join_on_a_draining_node_comes_back_through_the_load_balancer(
    browser, hub_server, meeting_id
):
    hub = DrainingNodeFirst()
    page = open_meeting_page(browser, hub_server, meeting_id, "Camille", join=False)
    hub.install(page)
    errors = watch_errors(page)
    try:
        page.click("#join-button")
        # No failure shown, no retry button to press: the page tries again by itself.
        page.wait_for_function("() => window.visioDebug.state() === 'connected'", timeout=10_000)
        assert (hub.drained, hub.joins) == (1, 1)
        expect(page.locator("#join-failed")).to_be_hidden()
        expect(page.locator("#room")).to_be_visible()
        assert errors == []
    finally:
        page.context.close()
