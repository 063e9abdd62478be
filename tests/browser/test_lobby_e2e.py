"""End to end, on the real hub: a guest knocks at a "trusted" meeting, waits in the lobby, is
let in by the owner from the lobby panel and then decodes the owner's camera; another guest is
refused and gets nothing of the meeting: two frames (`waiting`, `denied`) and no media."""

from __future__ import annotations

import json

from playwright.sync_api import Browser, Page, WebSocket, expect

from hub.i18n import translate
from tests.browser.support import (
    E2E_PAGE_JS,
    create_meeting,
    new_context,
    open_meeting_page,
    self_id,
    wait_for_flow,
    wait_until,
    watch_errors,
)

# Test-only: how many peer connections the page made, and how many remote tracks reached them.
PEER_COUNT_JS = """
(() => {
  const Native = window.RTCPeerConnection;
  window.__peers = {connections: 0, tracks: 0};
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      window.__peers.connections += 1;
      this.addEventListener("track", () => { window.__peers.tracks += 1; });
    }
  };
})();
"""


def state(page: Page) -> str:
    return str(page.evaluate("() => window.visioDebug.state()"))


def test_owner_admits_one_guest_and_refuses_another(browser: Browser, hub_server: str) -> None:
    owner_context = new_context(browser, hub_server, init_scripts=(E2E_PAGE_JS,))
    guests = []
    try:
        owner = owner_context.new_page()
        owner_errors = watch_errors(owner)
        meeting_id = create_meeting(owner, "Réunion sur invitation", access_level="trusted")
        owner_sent: list[str] = []
        owner.on(
            "websocket",
            lambda socket: socket.on("framesent", lambda payload: owner_sent.append(str(payload))),
        )
        owner.fill("#name", "Organisatrice")
        owner.click("#join-button")
        owner.wait_for_function("() => window.visioDebug.state() === 'connected'", timeout=20_000)
        assert owner.evaluate("() => window.visioDebug.role()") == "owner"
        owner_id = self_id(owner)

        # A guest (no account) waits, and sees nothing of the meeting meanwhile.
        admitted = open_meeting_page(
            browser, hub_server, meeting_id, "Invité Un", init_scripts=(E2E_PAGE_JS,),
            timeout=20_000,
        )  # fmt: skip
        guests.append(admitted)
        assert state(admitted) == "waiting"
        expect(admitted.locator("#waiting")).to_be_visible()
        expect(admitted.locator("#room")).to_be_hidden()
        assert admitted.evaluate("() => window.visioDebug.participants()") == []

        # The owner sees the knock and lets the guest in from the lobby panel.
        expect(owner.locator("#lobby-count")).to_have_text("1")
        expect(owner.locator("#notices")).to_contain_text("Invité Un demande à entrer")
        owner.click("#toggle-lobby")
        entry = owner.locator("#lobby-list li")
        expect(entry).to_have_count(1)
        expect(entry).to_contain_text("Invité Un")
        expect(entry).to_contain_text(translate("fr", "meeting.lobby.kind.guest"))
        entry.locator("button[data-action='admit']").click()
        expect(owner.locator("#lobby-count")).to_have_text("0")

        admitted.wait_for_function("() => window.visioDebug.state() === 'connected'")
        expect(admitted.locator("#room")).to_be_visible()
        assert admitted.evaluate("() => window.visioDebug.lobbyState()") == "admitted"
        wait_for_flow([(admitted, owner_id, "camera")], timeout=20)
        owner.wait_for_function("() => window.visioDebug.participants().length === 2")

        # A second guest is refused: two frames, no media, no second try.
        refused = open_meeting_page(
            browser, hub_server, meeting_id, "Invitée Deux", join=False,
            init_scripts=(PEER_COUNT_JS,),
        )  # fmt: skip
        guests.append(refused)
        sockets: list[WebSocket] = []
        frames: list[str] = []

        def on_socket(socket: WebSocket) -> None:
            sockets.append(socket)
            socket.on("framereceived", lambda payload: frames.append(str(payload)))

        refused.on("websocket", on_socket)
        refused.click("#join-button")
        refused.wait_for_function("() => window.visioDebug.state() === 'waiting'")
        expect(owner.locator("#lobby-list li")).to_have_count(1)
        owner.locator("#lobby-list li button[data-action='deny']").click()

        expect(refused.locator("#after-title")).to_have_text(
            translate("fr", "meeting.denied.heading")
        )
        assert state(refused) == "denied"
        refused.wait_for_timeout(1500)  # time enough for any reconnect attempt to show
        types = [json.loads(frame)["type"] for frame in frames]
        assert [kind for kind in types if kind != "pong"] == ["waiting", "denied"]
        assert len(sockets) == 1
        peers = refused.evaluate("() => window.__peers")
        assert peers == {"connections": 0, "tracks": 0}
        assert refused.evaluate("() => window.visioDebug.subscribePc()") is None
        expect(owner.locator("#lobby-count")).to_have_text("0")
        wait_until(lambda: owner.evaluate("() => window.visioDebug.lobby()") == [], owner)

        # Locking shows on every page; ending goes over the socket and ends it for everyone.
        owner.click("#toggle-lock")
        for page in (owner, admitted):
            expect(page.locator("#locked-indicator")).to_be_visible()
        expect(owner.locator("#toggle-lock")).to_have_attribute("data-state", "on")

        # The admitted guest reloads: the name is remembered, and the rejoin ticket of the last
        # welcome takes them straight back in, locked meeting or not, nobody asked again.
        admitted_frames: list[str] = []
        admitted.on(
            "websocket",
            lambda socket: socket.on(
                "framereceived", lambda payload: admitted_frames.append(str(payload))
            ),
        )
        admitted.reload()
        expect(admitted.locator("#name")).to_have_value("Invité Un")
        admitted.click("#join-button")
        admitted.wait_for_function("() => window.visioDebug.state() === 'connected'")
        kinds = [json.loads(frame)["type"] for frame in admitted_frames]
        assert "waiting" not in kinds and "welcome" in kinds, kinds
        expect(owner.locator("#lobby-count")).to_have_text("0")
        owner.wait_for_function("() => window.visioDebug.participants().length === 2")
        owner.once("dialog", lambda dialog: dialog.accept())
        owner.click("#end-for-all")
        ended = translate("fr", "meeting.ended.heading")
        for page in (owner, admitted):
            expect(page.locator("#after-title")).to_have_text(ended, timeout=2500)
        sent_types = [json.loads(frame)["type"] for frame in owner_sent]
        assert "lock" in sent_types and "end_meeting" in sent_types
        assert owner_errors == []
    finally:
        for page in guests:
            page.context.close()
        owner_context.close()
