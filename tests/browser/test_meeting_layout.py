"""The meeting page's layout in Chromium, at a laptop's 1280×800 and a phone's 390×844: tiles
that always fit, one row of controls, names of controls that say what a press does, notices
that take no clicks, speaker view, pinning, pages of tiles and the phone's "more" menu.

The hub's socket is scripted (LobbyFakeHub): layout needs people in the roster, not media."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.support import LobbyFakeHub, create_meeting, fr, new_context, wait_until

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def people(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"p{i}",
            "name": f"Personne {i}",
            "audio": True,
            "video": False,
            "screen": False,
            "hand": False,
            "role": "participant",
        }
        for i in range(1, count + 1)
    ]


@pytest.fixture(scope="module")
def meeting_id(browser: Browser, hub_server: str) -> str:
    context = new_context(browser, hub_server)
    try:
        return create_meeting(context.new_page(), "Mise en page")
    finally:
        context.close()


def joined(
    browser: Browser, hub_server: str, meeting_id: str, viewport: dict[str, int],
    others: int, role: str = "participant",
) -> tuple[Page, LobbyFakeHub]:  # fmt: skip
    context = new_context(browser, hub_server, viewport=viewport)
    page = context.new_page()
    hub = LobbyFakeHub(others=people(others), role=role)
    hub.install(page)
    page.goto(f"/m/{meeting_id}")
    page.fill("#name", "Camille")
    page.click("#join-button")
    page.wait_for_function("() => window.visioDebug.state() === 'connected'", timeout=10_000)
    expect(page.locator("#grid > li")).to_have_count(others + 1)
    return page, hub


# For every visible tile: its box, its name's box, and what covers the middle of its name.
BOXES_JS = """
() => [...document.querySelectorAll('#grid > li:not([hidden])')].map((tile) => {
  const box = tile.getBoundingClientRect();
  const name = tile.querySelector('.tile-name').getBoundingClientRect();
  return {
    key: tile.dataset.participant + ':' + tile.dataset.source,
    pip: tile.classList.contains('tile-pip'),
    tile: [box.left, box.top, box.right, box.bottom],
    name: [name.left, name.top, name.right, name.bottom],
  };
})
"""


def inside(box: list[float], area: list[float]) -> bool:
    return (
        box[0] >= area[0] - 0.5 and box[1] >= area[1] - 0.5
        and box[2] <= area[2] + 0.5 and box[3] <= area[3] + 0.5
    )  # fmt: skip


def check_fits(page: Page, expected_visible: int) -> None:
    """Every shown tile and its name lie inside the stage (so inside the viewport, above the
    control bar); nothing scrolls; no two tiles of the layout overlap."""
    stage = page.locator("#stage").bounding_box()
    assert stage is not None
    area = [stage["x"], stage["y"], stage["x"] + stage["width"], stage["y"] + stage["height"]]
    viewport = page.viewport_size
    assert viewport is not None
    assert area[3] <= viewport["height"] and area[2] <= viewport["width"]
    boxes = page.evaluate(BOXES_JS)
    assert len(boxes) == expected_visible, boxes
    for box in boxes:
        assert inside(box["tile"], area), (box, area)
        assert inside(box["name"], box["tile"]), box
    laid = [box["tile"] for box in boxes if not box["pip"]]
    for i, a in enumerate(laid):
        for b in laid[i + 1 :]:
            assert (
                a[2] <= b[0] + 0.5 or b[2] <= a[0] + 0.5 or a[3] <= b[1] + 0.5 or b[3] <= a[1] + 0.5
            )
    scroll = page.evaluate(
        "() => [document.scrollingElement, document.querySelector('main'),"
        " document.querySelector('#stage')].map((e) => e.scrollHeight - e.clientHeight)"
    )
    assert all(extra <= 1 for extra in scroll), scroll


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
@pytest.mark.parametrize("size", [3, 6, 12])
def test_every_tile_and_name_fits_without_scrolling(
    browser: Browser, hub_server: str, meeting_id: str, viewport: dict[str, int], size: int
) -> None:
    page, _ = joined(browser, hub_server, meeting_id, viewport, size - 1)
    try:
        check_fits(page, size)  # the others on one page, and oneself in the corner
        me = page.locator("#grid > li.tile-pip")
        expect(me).to_have_count(1)
        expect(me).to_contain_text("Camille (vous)")
        tile = page.locator("#grid > li:not(.tile-pip)").first.bounding_box()
        pip = me.bounding_box()
        assert tile is not None and pip is not None
        assert pip["width"] < tile["width"]  # one's own camera is the small one
        if size == 3 and viewport is LAPTOP:
            assert tile["width"] >= 480  # two people get large tiles
    finally:
        page.context.close()


@pytest.mark.parametrize("width", [1024, 1280, 1600])
def test_the_owners_controls_are_one_row(
    browser: Browser, hub_server: str, meeting_id: str, width: int
) -> None:
    page, _ = joined(
        browser, hub_server, meeting_id, {"width": width, "height": 800}, 2, role="owner"
    )
    try:
        expect(page.locator("#end-for-all")).to_be_visible()
        boxes = page.evaluate(
            "() => [...document.querySelectorAll('.toolbar .tool')]"
            ".filter((b) => b.offsetParent !== null)"
            ".map((b) => { const r = b.getBoundingClientRect();"
            " return [b.id, Math.round(r.top), r.left, r.right]; })"
        )
        assert len(boxes) >= 11, boxes
        assert len({top for _, top, _, _ in boxes}) == 1, boxes
        assert all(left >= 0 and right <= width for _, _, left, right in boxes), boxes
        check_fits(page, 3)
    finally:
        page.context.close()


def test_each_control_says_what_a_press_does_now(
    browser: Browser, hub_server: str, meeting_id: str
) -> None:
    page, hub = joined(browser, hub_server, meeting_id, LAPTOP, 2, role="owner")
    try:
        mic = page.locator("#toggle-mic")
        expect(mic).to_have_accessible_name(fr("meeting.mic"))
        mic.click()
        expect(mic).to_have_accessible_name(fr("meeting.mic_unmute"))
        expect(mic).to_have_attribute("data-state", "off")
        mic.click()
        expect(mic).to_have_accessible_name(fr("meeting.mic"))
        camera = page.locator("#toggle-camera")
        camera.click()
        expect(camera).to_have_accessible_name(fr("meeting.camera_on"))
        hand = page.locator("#toggle-hand")
        hand.click()
        expect(hand).to_have_accessible_name(fr("meeting.hand_lower"))
        hub.send({"type": "meeting_state", "locked": True})
        expect(page.locator("#toggle-lock")).to_have_accessible_name(fr("meeting.unlock"))
        expect(page.locator("#toggle-participants")).to_have_accessible_name(
            f"{fr('meeting.participants')} 3"
        )
        # Where the labels are not in view (below 1600 px), the tooltip says the same, on
        # keyboard focus too.
        page.set_viewport_size({"width": 1100, "height": 800})
        mic.focus()
        tip = page.evaluate(
            "() => getComputedStyle(document.querySelector('#toggle-mic'), '::after').content"
        )
        assert tip.startswith(f'"{fr("meeting.mic")}"'), tip  # the text, with an empty alt
    finally:
        page.context.close()


def test_notices_take_no_clicks(browser: Browser, hub_server: str, meeting_id: str) -> None:
    page, hub = joined(browser, hub_server, meeting_id, PHONE, 2)
    try:
        for n in range(3):
            hub.send({"type": "chat", "participant_id": "p1", "name": "Personne 1",
                      "text": f"Bonjour {n}", "at": "2026-12-01T10:00:00Z"})  # fmt: skip
        notice = page.locator("#notices p").first
        expect(notice).to_be_visible()
        box = notice.bounding_box()
        assert box is not None
        under = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y).closest('#notices') === null",
            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
        )
        assert under, "a notice would take the click meant for what is under it"
        # Whatever sits under the notices gets the click (Playwright checks it is not covered).
        page.locator("#grid > li:not(.tile-pip)").first.locator(".tile-pin").click()
        expect(page.locator("#grid")).to_have_attribute("data-layout", "focus")
    finally:
        page.context.close()


def test_pinning_and_speaker_view_show_one_person_large(
    browser: Browser, hub_server: str, meeting_id: str
) -> None:
    page, hub = joined(browser, hub_server, meeting_id, LAPTOP, 5)
    try:
        tile = page.locator('#grid > li[data-participant="p3"]')
        pin = tile.locator(".tile-pin")
        expect(pin).to_have_accessible_name(fr("meeting.pin", name="Personne 3"))
        pin.click()
        expect(page.locator("#grid")).to_have_attribute("data-layout", "focus")
        expect(tile).to_have_class(re.compile(r"\btile-focus\b"))
        expect(pin).to_have_accessible_name(fr("meeting.unpin", name="Personne 3"))
        large = tile.bounding_box()
        small = page.locator('#grid > li[data-participant="p1"]').bounding_box()
        assert large is not None and small is not None
        assert large["width"] > 3 * small["width"]
        check_fits(page, 6)
        pin.click()
        expect(page.locator("#grid")).to_have_attribute("data-layout", "grid")

        layout = page.locator("#toggle-layout")
        layout.click()
        expect(layout).to_have_accessible_name(fr("meeting.layout.grid"))
        hub.send({"type": "active_speaker", "participant_id": "p4"})
        speaker = page.locator('#grid > li[data-participant="p4"]')
        expect(speaker).to_have_class(re.compile(r"\btile-focus\b"))
        expect(speaker).to_have_class(re.compile(r"\bspeaking\b"))
        check_fits(page, 6)
    finally:
        page.context.close()


def test_a_large_meeting_shows_pages_of_tiles(
    browser: Browser, hub_server: str, meeting_id: str
) -> None:
    page, _ = joined(browser, hub_server, meeting_id, LAPTOP, 40)
    try:
        expect(page.locator("#pager")).to_be_visible()
        first = page.evaluate(BOXES_JS)
        shown = [box["key"] for box in first if not box["pip"]]
        assert 9 <= len(shown) <= 25, shown
        check_fits(page, len(first))
        page.click("#page-next")
        second = [box["key"] for box in page.evaluate(BOXES_JS) if not box["pip"]]
        assert second and not set(second) & set(shown)
        pages = -(-40 // len(shown))
        expect(page.locator("#page-status")).to_have_text(
            fr("meeting.page.status", page=2, pages=pages)
        )
    finally:
        page.context.close()


def test_a_newcomer_off_the_current_page_is_left_out_by_a_new_view(
    browser: Browser, hub_server: str, meeting_id: str
) -> None:
    """The hub sends a person who joined after the page's last `view` as if shown, until the
    page's next one (docs/signaling.md): the page must say again what it shows even when a
    newcomer lands on another page and its tiles stay the same, or the hub forwards the
    newcomer's video for as long as the meeting lasts (found by tests/browser/
    test_pagination_e2e.py: a late joiner's video went to a page that showed page 1)."""
    page, hub = joined(browser, hub_server, meeting_id, LAPTOP, 40)
    try:
        expect(page.locator("#pager")).to_be_visible()
        wait_until(lambda: bool(hub.sent("view")), page)
        page.wait_for_timeout(300)  # the layout settled: no view is on its way
        views = len(hub.sent("view"))
        shown = hub.sent("view")[-1]["tiles"]
        newcomer = people(41)[-1]
        hub.send({"type": "participant_joined", "participant": newcomer})
        expect(page.locator("#grid > li")).to_have_count(42)
        wait_until(lambda: len(hub.sent("view")) > views, page, timeout=3)
        again = hub.sent("view")[-1]
        assert again["tiles"] == shown and again["visible"] is True
        assert newcomer["id"] not in {tile["participant"] for tile in again["tiles"]}
    finally:
        page.context.close()


def test_a_page_turned_while_the_media_reconnects_still_tells_the_hub(
    browser: Browser, hub_server: str, meeting_id: str
) -> None:
    """While the hub suspects a connection (`media_state` suspect: the pill says
    "reconnecting"), the socket is up and the page goes on showing people: a page turned
    then must reach the hub at once, or the hub forwards the old page's videos and not the
    new ones' until the next change (found by tests/browser/test_pagination_e2e.py on a
    loaded machine: 15 s after the click, still the old page's four)."""
    page, hub = joined(browser, hub_server, meeting_id, LAPTOP, 40)
    try:
        wait_until(lambda: bool(hub.sent("view")), page)
        page.wait_for_timeout(300)  # the layout settled: no view is on its way
        first = hub.sent("view")[-1]["tiles"]
        hub.send({"type": "media_state", "pc": "subscribe", "state": "suspect"})
        page.wait_for_function("() => window.visioDebug.state() === 'reconnecting'")
        views = len(hub.sent("view"))
        page.click("#page-next")
        wait_until(lambda: len(hub.sent("view")) > views, page, timeout=3)
        second = hub.sent("view")[-1]["tiles"]
        assert second and not {t["participant"] for t in second} & {t["participant"] for t in first}
    finally:
        page.context.close()


def test_the_phone_folds_the_second_group_into_a_menu(
    browser: Browser, hub_server: str, meeting_id: str
) -> None:
    page, _ = joined(browser, hub_server, meeting_id, PHONE, 2, role="owner")
    try:
        more = page.locator("#toggle-more")
        expect(more).to_be_visible()
        expect(page.locator("#toggle-hand")).to_be_hidden()
        expect(page.locator("#toggle-screen")).to_be_hidden()  # phones do not share screens
        tops = page.evaluate(
            "() => [...document.querySelectorAll('.toolbar > .toolbar-main > .tool, #leave')]"
            ".filter((b) => b.offsetParent !== null)"
            ".map((b) => Math.round(b.getBoundingClientRect().top))"
        )
        assert len(set(tops)) == 1, tops
        more.click()
        expect(more).to_have_attribute("aria-expanded", "true")
        hand = page.locator("#toggle-hand")
        expect(hand).to_be_visible()
        hand.click()  # a choice closes the menu
        expect(more).to_have_attribute("aria-expanded", "false")
        expect(hand).to_have_attribute("data-state", "on")
        more.click()
        page.keyboard.press("Escape")
        expect(more).to_have_attribute("aria-expanded", "false")
        expect(more).to_be_focused()
    finally:
        page.context.close()


def test_the_favicon_is_served(browser: Browser, hub_server: str, meeting_id: str) -> None:
    context = new_context(browser, hub_server)
    page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    try:
        page.goto(f"/m/{meeting_id}")
        icon = page.locator('link[rel="icon"]').get_attribute("href")
        assert icon is not None
        answer = page.request.get(icon)
        assert answer.status == 200 and answer.headers["content-type"] == "image/svg+xml"
        wait_until(lambda: True, page, timeout=1)
        assert failed == []
    finally:
        context.close()


def test_raised_hands_are_listed_in_turn_and_a_moderator_lowers_them(
    browser: Browser, hub_server: str, meeting_id: str
) -> None:
    page, hub = joined(browser, hub_server, meeting_id, LAPTOP, 3, role="owner")
    try:
        lower = page.locator("#lower-hands")
        page.click("#toggle-participants")
        expect(lower).to_be_hidden()
        for pid, order in (("p3", 4), ("p1", 7)):
            person = next(p for p in people(3) if p["id"] == pid)
            hub.send({"type": "participant_updated",
                      "participant": person | {"hand": True, "hand_order": order}})  # fmt: skip
        rows = page.locator("#participant-list > li")
        expect(rows.nth(0)).to_contain_text(fr("meeting.status.hand_turn", turn=1))
        expect(rows.nth(0)).to_contain_text("Personne 3")
        expect(rows.nth(1)).to_contain_text("Personne 1")
        expect(rows.nth(1)).to_contain_text(fr("meeting.status.hand_turn", turn=2))
        tile = page.locator('#grid > li[data-participant="p3"]')
        expect(tile).to_contain_text(fr("meeting.status.hand_turn", turn=1))
        expect(lower).to_be_visible()
        lower.click()
        wait_until(lambda: bool(hub.sent("lower_hands")), page)
        assert hub.sent("lower_hands") == [{"type": "lower_hands"}]
    finally:
        page.context.close()


LEVEL_ROSE_JS = """
(id) => new Promise((resolve) => {
  let best = 0;
  const started = performance.now();
  const timer = setInterval(() => {
    best = Math.max(best, document.getElementById(id).value);
    if (best > 0.05 || performance.now() - started > 4000) { clearInterval(timer); resolve(best); }
  }, 50);
})
"""


def test_the_microphone_level_shows_before_joining_and_in_the_settings(
    browser: Browser, hub_server: str, meeting_id: str
) -> None:
    context = new_context(browser, hub_server)
    page = context.new_page()
    hub = LobbyFakeHub(others=people(1))
    hub.install(page)
    try:
        page.goto(f"/m/{meeting_id}")
        expect(page.locator("#prejoin-level")).to_be_visible()
        # Chromium's fake microphone beeps: the meter moves.
        assert page.evaluate(LEVEL_ROSE_JS, "prejoin-level") > 0.05
        page.fill("#name", "Camille")
        page.click("#join-button")
        page.wait_for_function("() => window.visioDebug.state() === 'connected'")

        settings = page.locator("#toggle-settings")
        expect(settings).to_have_accessible_name(fr("meeting.settings"))
        settings.click()
        expect(page.locator("#settings-panel")).to_be_visible()
        expect(settings).to_have_attribute("aria-expanded", "true")
        microphones = page.locator("#settings-microphone option")
        cameras = page.locator("#settings-camera option")
        assert microphones.count() >= 1 and cameras.count() >= 1
        assert page.evaluate(LEVEL_ROSE_JS, "settings-level") > 0.05
        # Choosing a camera gives the publish connection a new track from that device, with
        # no renegotiation and no reload.
        sent_track = (
            "() => window.visioDebug.publishPc().getSenders()"
            ".map((s) => s.track).find((t) => t && t.kind === 'video').id"
        )
        before = page.evaluate(sent_track)
        wanted = cameras.nth(cameras.count() - 1).get_attribute("value")
        page.select_option("#settings-camera", wanted)
        page.wait_for_function("(id) => window.visioDebug.devices().video === id", arg=wanted)
        page.wait_for_function(f"(before) => ({sent_track})() !== before", arg=before)
        # Closing the panel stops the analysis.
        page.locator("#settings-panel .panel-close").click()
        page.wait_for_timeout(300)
        assert page.evaluate("() => document.getElementById('settings-level').value") == 0
    finally:
        context.close()


def test_a_reaction_is_sent_and_shown_over_the_senders_tile(
    browser: Browser, hub_server: str, meeting_id: str
) -> None:
    page, hub = joined(browser, hub_server, meeting_id, LAPTOP, 2)
    try:
        toggle = page.locator("#toggle-reactions")
        expect(toggle).to_have_accessible_name(fr("meeting.reaction.button"))
        toggle.click()
        choice = page.get_by_role("button", name=fr("meeting.reaction.send", emoji="👍"))
        expect(choice).to_be_focused()  # the menu opens on its first choice, for the keyboard
        choice.click()
        wait_until(lambda: bool(hub.sent("reaction")), page)
        assert hub.sent("reaction") == [{"type": "reaction", "emoji": "👍"}]
        expect(page.locator("#reactions-menu")).to_be_hidden()
        hub.send({"type": "reaction", "participant_id": "p2", "emoji": "🎉"})
        bubble = page.locator('#grid > li[data-participant="p2"] .reaction-bubble')
        expect(bubble).to_have_text("🎉")
        expect(page.locator("#reaction-said")).to_have_text(
            fr("meeting.reaction.from", name="Personne 2", emoji="🎉")
        )
        expect(bubble).to_have_count(0, timeout=6000)  # gone after a few seconds
    finally:
        page.context.close()


def test_every_control_is_reached_and_used_with_the_keyboard_alone(
    browser: Browser, hub_server: str, meeting_id: str
) -> None:
    page, hub = joined(browser, hub_server, meeting_id, LAPTOP, 2, role="owner")
    try:
        visible = set(
            page.evaluate(
                "() => [...document.querySelectorAll('.toolbar .tool, .tile-pin')]"
                ".filter((b) => b.offsetParent !== null).map((b) => b.id || b.closest('li')"
                ".dataset.participant + ':pin')"
            )
        )
        reached: list[str] = []
        page.locator("#room-title").focus()
        for _ in range(60):
            page.keyboard.press("Tab")
            reached.append(
                page.evaluate(
                    "() => { const e = document.activeElement; return e.id || "
                    "(e.classList.contains('tile-pin') ? e.closest('li').dataset.participant"
                    " + ':pin' : e.tagName); }"
                )
            )
        assert visible <= set(reached), visible - set(reached)
        # Space and Enter act on what has the focus.
        page.locator("#toggle-mic").focus()
        page.keyboard.press("Space")
        expect(page.locator("#toggle-mic")).to_have_attribute("data-state", "off")
        page.locator("#toggle-chat").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#chat-input")).to_be_focused()
        page.keyboard.type("Bonjour")
        page.keyboard.press("Enter")
        wait_until(lambda: bool(hub.sent("chat")), page)
        assert hub.sent("chat")[-1]["text"] == "Bonjour"
        page.locator('#grid > li[data-participant="p1"] .tile-pin').focus()
        page.keyboard.press("Enter")
        expect(page.locator("#grid")).to_have_attribute("data-layout", "focus")
    finally:
        page.context.close()
