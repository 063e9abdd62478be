"""The meeting page's side of the lobby and moderation, in Chromium, against a scripted hub
socket (LobbyFakeHub): waiting, admitted, refused, removed, the moderators' controls, a
moderator's mute, the join token of the link's fragment, and rate limiting."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.support import (
    LobbyFakeHub,
    create_meeting,
    fr,
    new_context,
    open_meeting_page,
    wait_until,
    watch_errors,
)

ALICE = {"id": "alice", "name": "Alice Martin", "audio": True, "video": True, "screen": False,
         "hand": False, "role": "participant"}  # fmt: skip
OWNER = {"id": "owner", "name": "Olivier Roux", "audio": True, "video": False, "screen": False,
         "hand": False, "role": "owner"}  # fmt: skip
ENTRIES = [
    {"id": "e1", "name": "Bruno Petit", "kind": "guest", "since": "2026-01-05T10:00:00+00:00"},
    {"id": "e2", "name": "Chloé Lemaire", "kind": "local", "since": "2026-01-05T10:00:03+00:00"},
]


@pytest.fixture(scope="module")
def meeting_id(browser: Browser, hub_server: str) -> str:
    context = new_context(browser, hub_server)
    try:
        return create_meeting(context.new_page(), "Conseil de service")
    finally:
        context.close()


def join_with(browser, hub_server, meeting_id, hub: LobbyFakeHub, state: str) -> Page:
    page = open_meeting_page(browser, hub_server, meeting_id, "Camille", join=False)
    hub.install(page)
    page.click("#join-button")
    page.wait_for_function(f"() => window.visioDebug.state() === '{state}'", timeout=10_000)
    return page


def debug(page: Page, what: str):
    return page.evaluate(f"() => window.visioDebug.{what}()")


def test_waiting_then_admitted_enters_the_meeting(browser, hub_server, meeting_id):
    hub = LobbyFakeHub(others=[ALICE], waiting=True)
    page = join_with(browser, hub_server, meeting_id, hub, "waiting")
    errors = watch_errors(page)
    try:
        expect(page.locator("#waiting")).to_be_visible()
        expect(page.locator("#waiting-title")).to_be_focused()
        expect(page.locator("#waiting-status")).to_have_text(fr("meeting.waiting.status"))
        expect(page.locator("#waiting-status")).to_have_attribute("aria-live", "polite")
        for hidden in ("#prejoin", "#room"):
            expect(page.locator(hidden)).to_be_hidden()
        assert debug(page, "waiting") is True and debug(page, "lobbyState") == "waiting"
        assert debug(page, "participants") == []
        page.wait_for_timeout(300)
        assert hub.sent("publish_offer") == []  # no media before being let in

        hub.admit()
        page.wait_for_function("() => window.visioDebug.state() === 'connected'")
        expect(page.locator("#room")).to_be_visible()
        expect(page.locator("#waiting")).to_be_hidden()
        expect(page.locator("#room-title")).to_be_focused()
        assert debug(page, "lobbyState") == "admitted"
        assert {p["name"] for p in debug(page, "participants")} == {"Camille", "Alice Martin"}
        wait_until(lambda: bool(hub.sent("publish_offer")), page)
        assert errors == []
    finally:
        page.context.close()


def test_leaving_the_lobby_sends_leave(browser, hub_server, meeting_id):
    hub = LobbyFakeHub(waiting=True)
    page = join_with(browser, hub_server, meeting_id, hub, "waiting")
    try:
        page.focus("#waiting-leave")
        page.keyboard.press("Enter")
        expect(page.locator("#after-title")).to_have_text(fr("meeting.left.heading"))
        wait_until(lambda: bool(hub.sent("leave")), page)
        assert len(hub.opened_at) == 1
    finally:
        page.context.close()


@pytest.mark.parametrize(
    ("waiting", "reason", "announce", "final"),
    [
        (True, "denied", True, "denied"),
        (False, "removed", True, "removed"),
        (False, "removed", False, "denied"),  # a bare close 4003 is final too
    ],
)
def test_denied_or_removed_is_final(browser, hub_server, meeting_id, waiting, reason, announce,
                                    final):  # fmt: skip
    hub = LobbyFakeHub(others=[ALICE], waiting=waiting)
    page = join_with(browser, hub_server, meeting_id, hub, "waiting" if waiting else "connected")
    errors = watch_errors(page)
    try:
        hub.deny(reason, announce=announce)
        expect(page.locator("#after-title")).to_have_text(fr(f"meeting.{final}.heading"))
        expect(page.locator("#after-title")).to_be_focused()
        expect(page.locator("#after-text")).to_have_text(fr(f"meeting.{final}.text"))
        expect(page.locator("#rejoin")).to_be_hidden()
        for hidden in ("#prejoin", "#room", "#waiting"):
            expect(page.locator(hidden)).to_be_hidden()
        assert debug(page, "state") == "denied" and debug(page, "lobbyState") == final
        # The reconnect logic would try again within a second: nothing may come.
        page.wait_for_timeout(2500)
        assert len(hub.opened_at) == 1
        assert debug(page, "participants") == []
        assert errors == []
    finally:
        page.context.close()


def test_moderator_lets_people_in_from_the_lobby_panel(browser, hub_server, meeting_id):
    hub = LobbyFakeHub(others=[ALICE], role="owner")
    page = join_with(browser, hub_server, meeting_id, hub, "connected")
    errors = watch_errors(page)
    try:
        assert debug(page, "role") == "owner"
        expect(page.locator("#toggle-lobby")).to_be_visible()
        expect(page.locator("#lobby-count")).to_have_text("0")
        hub.send({"type": "lobby", "entries": ENTRIES[:1]})
        expect(page.locator("#notices")).to_contain_text("Bruno Petit demande à entrer")
        hub.send({"type": "lobby", "entries": ENTRIES})
        expect(page.locator("#notices")).to_contain_text("Chloé Lemaire demande à entrer")
        expect(page.locator("#lobby-count")).to_have_text("2")
        assert [e["id"] for e in debug(page, "lobby")] == ["e1", "e2"]

        page.click("#toggle-lobby")
        expect(page.locator("#toggle-lobby")).to_have_attribute("aria-expanded", "true")
        expect(page.locator("#lobby-panel")).to_be_visible()
        expect(page.locator("#lobby-heading")).to_have_text("Salle d'attente (2)")
        rows = page.locator("#lobby-list li")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("Bruno Petit")
        expect(rows.nth(0)).to_contain_text("invité")
        expect(rows.nth(1)).to_contain_text("agent connecté")
        expect(page.locator("#lobby-admit-all")).to_be_visible()

        page.click("#lobby-list li[data-entry='e2'] button[data-action='admit']")
        wait_until(lambda: bool(hub.sent("admit")), page)
        assert hub.sent("admit") == [{"type": "admit", "entry_id": "e2"}]
        hub.send({"type": "lobby", "entries": ENTRIES[:1]})
        expect(rows).to_have_count(1)
        # The focus moves on to the next person rather than being lost.
        expect(page.locator("#lobby-list li[data-entry='e1'] button[data-action='admit']")
               ).to_be_focused()  # fmt: skip
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")  # "Refuser", by keyboard
        wait_until(lambda: bool(hub.sent("deny")), page)
        assert hub.sent("deny") == [{"type": "deny", "entry_id": "e1"}]
        hub.send({"type": "lobby", "entries": []})
        expect(page.locator("#lobby-empty")).to_be_visible()
        expect(page.locator("#lobby-heading")).to_be_focused()
        assert errors == []
    finally:
        page.context.close()


def test_a_knock_message_goes_with_the_join_and_the_refusal_reason_is_shown(
    browser, hub_server, meeting_id
):
    hub = LobbyFakeHub(waiting=True)
    page = open_meeting_page(browser, hub_server, meeting_id, "Camille", join=False)
    hub.install(page)
    errors = watch_errors(page)
    try:
        # Markup is refused on the page, in the page's language, and nothing is sent.
        message = page.locator("#knock-message")
        expect(message).to_have_attribute("maxlength", "200")
        message.fill("Bonjour <b>urgent</b>")
        page.click("#join-button")
        expect(page.locator("#knock-error")).to_have_text(fr("meeting.note.markup"))
        expect(message).to_have_attribute("aria-invalid", "true")
        expect(message).to_be_focused()
        page.wait_for_timeout(300)
        assert hub.sent("join") == [] and debug(page, "state") == "idle"

        message.fill("Camille, DGFiP :\n  le point   budget")
        expect(page.locator("#knock-error")).to_be_hidden()
        page.click("#join-button")
        page.wait_for_function("() => window.visioDebug.state() === 'waiting'")
        [join] = hub.sent("join")
        assert join["message"] == "Camille, DGFiP : le point budget"

        # The moderator's reason is shown as they wrote it: text, never markup.
        hub.deny(message="Réunion interne <img src=x onerror=alert(1)>")
        expect(page.locator("#after-title")).to_have_text(fr("meeting.denied.heading"))
        reason = page.locator("#after-reason")
        expect(reason).to_have_text(
            "Motif donné par l'organisateur : « Réunion interne <img src=x onerror=alert(1)> »"
        )
        expect(page.locator("#after img")).to_have_count(0)
        assert errors == []
    finally:
        page.context.close()


def test_a_refusal_without_reason_shows_none(browser, hub_server, meeting_id):
    hub = LobbyFakeHub(waiting=True)
    page = join_with(browser, hub_server, meeting_id, hub, "waiting")
    try:
        assert "message" not in hub.sent("join")[0]  # nothing typed, nothing sent
        hub.deny()
        expect(page.locator("#after-title")).to_have_text(fr("meeting.denied.heading"))
        expect(page.locator("#after-reason")).to_be_hidden()
    finally:
        page.context.close()


def test_moderators_read_the_knock_message_and_give_a_reason(browser, hub_server, meeting_id):
    hub = LobbyFakeHub(others=[ALICE], role="owner")
    page = join_with(browser, hub_server, meeting_id, hub, "connected")
    errors = watch_errors(page)
    try:
        bruno = {**ENTRIES[0], "message": "Expert budget <b>invité</b> par Alice"}
        hub.send({"type": "lobby", "entries": [bruno, ENTRIES[1]]})
        page.click("#toggle-lobby")
        row = page.locator("#lobby-list li[data-entry='e1']")
        expect(row.locator(".lobby-message")).to_have_text(
            "Son message : « Expert budget <b>invité</b> par Alice »"
        )
        expect(row.locator("b")).to_have_count(0)
        expect(page.locator("#lobby-list li[data-entry='e2'] .lobby-message")).to_have_count(0)

        reason = row.get_by_label(fr("meeting.lobby.reason_label"))
        reason.fill("<i>non</i>")
        row.locator("button[data-action='deny']").click()
        expect(row.locator(".lobby-reason .error-text")).to_have_text(fr("meeting.note.markup"))
        expect(reason).to_have_attribute("aria-invalid", "true")
        page.wait_for_timeout(300)
        assert hub.sent("deny") == []

        reason.fill("  Réunion interne,\nvoyez Paul. ")
        row.locator("button[data-action='deny']").click()
        wait_until(lambda: bool(hub.sent("deny")), page)
        assert hub.sent("deny") == [
            {"type": "deny", "entry_id": "e1", "message": "Réunion interne, voyez Paul."}
        ]
        assert errors == []
    finally:
        page.context.close()


def test_moderation_buttons_send_the_protocol(browser, hub_server, meeting_id):
    hub = LobbyFakeHub(others=[ALICE, OWNER], role="moderator")
    page = join_with(browser, hub_server, meeting_id, hub, "connected")
    errors = watch_errors(page)
    try:
        page.click("#toggle-participants")
        rows = page.locator("#participant-list li")
        expect(rows).to_have_count(3)
        owner_row = page.locator("#participant-list li[data-participant='owner']")
        expect(owner_row).to_contain_text("organisateur")
        expect(owner_row.locator("button")).to_have_count(0)  # nobody acts on the owner
        expect(page.locator("#participant-list li[data-participant='self-1'] button")
               ).to_have_count(0)  # fmt: skip
        expect(page.locator("#participant-list li[data-participant='self-1']")
               ).to_contain_text("modérateur")  # fmt: skip

        alice = page.locator("#participant-list li[data-participant='alice']")
        menu = alice.locator("button[data-action='menu']")
        expect(menu).to_have_attribute("aria-label", "Actions pour Alice Martin")

        def act(action: str) -> None:
            menu.click()
            expect(menu).to_have_attribute("aria-expanded", "true")
            alice.locator(f"button[data-action='{action}']").click()
            expect(menu).to_have_attribute("aria-expanded", "false")
            expect(menu).to_be_focused()

        act("mute-audio")
        act("mute-video")
        act("make-moderator")
        wait_until(lambda: len(hub.sent("mute")) == 2 and bool(hub.sent("set_role")), page)
        assert hub.sent("mute") == [
            {"type": "mute", "participant_id": "alice", "kind": "audio"},
            {"type": "mute", "participant_id": "alice", "kind": "video"},
        ]
        assert hub.sent("set_role") == [
            {"type": "set_role", "participant_id": "alice", "role": "moderator"}
        ]
        # The hub's answer: Alice is a moderator, muted; only the owner may manage her now.
        hub.send({"type": "participant_updated", "participant": {
            **ALICE, "audio": False, "role": "moderator"}})  # fmt: skip
        expect(alice).to_contain_text("modérateur")
        menu.click()
        expect(alice.locator("button[data-action='mute-audio']")).to_be_hidden()
        expect(alice.locator("button[data-action='mute-video']")).to_be_visible()
        expect(alice.locator("button[data-action='remove']")).to_be_hidden()
        page.keyboard.press("Escape")
        expect(menu).to_have_attribute("aria-expanded", "false")

        # Made a participant again (by the owner): this moderator may remove her.
        hub.send({"type": "participant_updated", "participant": ALICE})
        page.once("dialog", lambda dialog: dialog.accept())
        act("remove")
        wait_until(lambda: bool(hub.sent("remove")), page)
        assert hub.sent("remove") == [{"type": "remove", "participant_id": "alice"}]

        lock = page.locator("#toggle-lock")
        expect(lock).to_have_attribute("data-state", "off")
        expect(page.locator("#locked-indicator")).to_be_hidden()
        lock.click()
        wait_until(lambda: bool(hub.sent("lock")), page)
        assert hub.sent("lock") == [{"type": "lock", "locked": True}]
        hub.send({"type": "meeting_state", "locked": True})
        expect(lock).to_have_attribute("data-state", "on")
        expect(page.locator("#locked-indicator")).to_have_text(fr("meeting.locked"))
        expect(page.locator("#notices")).to_contain_text("La réunion est verrouillée")
        assert debug(page, "locked") is True

        # Any moderator ends the meeting over the socket (this page does not own it).
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#end-for-all")
        wait_until(lambda: bool(hub.sent("end_meeting")), page)
        hub.send({"type": "ended", "reason": "ended"})
        expect(page.locator("#after-title")).to_have_text(fr("meeting.ended.heading"))
        assert errors == []
    finally:
        page.context.close()


def test_a_participant_has_no_moderation_but_sees_the_lock(browser, hub_server, meeting_id):
    hub = LobbyFakeHub(others=[ALICE, OWNER])
    page = join_with(browser, hub_server, meeting_id, hub, "connected")
    try:
        for hidden in ("#toggle-lobby", "#toggle-lock", "#end-for-all"):
            expect(page.locator(hidden)).to_be_hidden()
        page.click("#toggle-participants")
        expect(page.locator("#participant-list li")).to_have_count(3)
        expect(page.locator("#participant-list button")).to_have_count(0)
        hub.send({"type": "meeting_state", "locked": True})
        expect(page.locator("#locked-indicator")).to_be_visible()
        # Promoted by the owner: the controls appear, with the lobby.
        hub.send({"type": "participant_updated", "participant": {
            "id": "self-1", "name": "Camille", "audio": True, "video": True, "screen": False,
            "hand": False, "role": "moderator"}})  # fmt: skip
        expect(page.locator("#toggle-lobby")).to_be_visible()
        expect(page.locator("#notices")).to_contain_text(fr("meeting.notice.now_moderator"))
        # The actions toggle and its buttons (lower hand, mute ×2, role, remove; the ones
        # that do not apply are hidden).
        expect(page.locator("#participant-list li[data-participant='alice'] button")
               ).to_have_count(6)  # fmt: skip
        expect(page.locator("#participant-list li[data-participant='alice'] "
                            "button[data-action='lower-hand']")).to_be_hidden()  # fmt: skip
    finally:
        page.context.close()


def test_muted_by_a_moderator_turns_the_microphone_off(browser, hub_server, meeting_id):
    hub = LobbyFakeHub(others=[ALICE])
    page = join_with(browser, hub_server, meeting_id, hub, "connected")
    errors = watch_errors(page)
    try:
        expect(page.locator("#toggle-mic")).to_have_attribute("data-state", "on")
        hub.send({"type": "muted", "kind": "audio", "by": "Alice Martin"})
        expect(page.locator("#toggle-mic")).to_have_attribute("data-state", "off")
        expect(page.locator("#notices")).to_contain_text("Alice Martin a coupé votre micro.")
        assert debug(page, "audio") is False
        track_enabled = page.evaluate(
            "() => window.visioDebug.publishPc().getSenders()"
            ".find((s) => s.track && s.track.kind === 'audio').track.enabled"
        )
        assert track_enabled is False
        wait_until(lambda: bool(hub.sent("media")), page)
        assert hub.sent("media")[-1] == {"type": "media", "audio": False, "video": True}

        hub.send({"type": "muted", "kind": "video", "by": "Alice Martin"})
        expect(page.locator("#toggle-camera")).to_have_attribute("data-state", "off")
        expect(page.locator("#notices")).to_contain_text("Alice Martin a coupé votre caméra.")
        assert debug(page, "video") is False

        # They may turn it on again themselves.
        page.click("#toggle-mic")
        expect(page.locator("#toggle-mic")).to_have_attribute("data-state", "on")
        wait_until(lambda: hub.sent("media")[-1]["audio"] is True, page)
        assert hub.sent("media")[-1] == {"type": "media", "audio": True, "video": False}
        assert errors == []
    finally:
        page.context.close()


def test_join_token_from_the_fragment(browser, hub_server, meeting_id):
    token = "eyJhbGciOiJIUzI1NiJ9.eyJtIjoiYWJjIn0.c2lnbmF0dXJl"
    hub = LobbyFakeHub()
    context = new_context(browser, hub_server)
    try:
        page = context.new_page()
        urls: list[str] = []
        page.on("request", lambda request: urls.append(request.url))
        hub.install(page)
        page.goto(f"/m/{meeting_id}#token={token}")
        page.wait_for_function("() => window.visioDebug !== undefined")
        assert page.url == f"{hub_server}/m/{meeting_id}"  # gone from the address bar
        assert page.evaluate("() => window.location.hash") == ""
        page.fill("#name", "Camille")
        page.click("#join-button")
        page.wait_for_function("() => window.visioDebug.state() === 'connected'")
        assert hub.sent("join")[0]["token"] == token
        assert not [url for url in urls if token in url]  # never in a query string
    finally:
        context.close()


def test_rate_limited_join_waits_before_trying_again(browser, hub_server, meeting_id):
    hub = LobbyFakeHub(rate_limit=2)
    page = open_meeting_page(browser, hub_server, meeting_id, "Camille", join=False)
    hub.install(page)
    try:
        page.click("#join-button")
        expect(page.locator("#join-failed-text")).to_have_text(
            "Trop de tentatives, réessayez dans 2 s."
        )
        retry = page.locator("#join-retry")
        expect(retry).to_be_focused()
        expect(retry).to_have_attribute("aria-disabled", "true")
        # Playwright waits for aria-disabled buttons to become enabled: force the clicks.
        retry.click(force=True)
        page.click("#join-button", force=True)
        page.wait_for_timeout(300)
        assert len(hub.opened_at) == 1  # the buttons do nothing until the time is up
        expect(retry).to_have_attribute("aria-disabled", "false", timeout=3000)
        hub.rate_limit = None
        retry.click()
        page.wait_for_function("() => window.visioDebug.state() === 'connected'")

        # A network drop, then the hub limits the rejoin: the next try waits retry_after.
        opened = len(hub.opened_at)
        hub.rate_limit = 2
        hub.drop()
        wait_until(lambda: len(hub.opened_at) > opened, page)
        expect(page.locator("#notices")).to_contain_text("Trop de tentatives, réessayez dans")
        hub.rate_limit = None
        wait_until(lambda: len(hub.opened_at) > opened + 1, page, timeout=6)
        limited, next_try = hub.opened_at[opened : opened + 2]
        assert next_try - limited >= 1.9
        page.wait_for_function("() => window.visioDebug.state() === 'connected'")
    finally:
        page.context.close()
