"""The pre-join page in Chromium with fake devices: preview, device lists, keyboard use, and
the state shown when devices are refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from hub.i18n import translate
from tests.browser.support import create_meeting, new_context, open_meeting_page, watch_errors


@pytest.fixture(scope="module")
def meeting_id(browser: Browser, hub_server: str) -> str:
    context = new_context(browser, hub_server)
    try:
        return create_meeting(context.new_page(), "Pré-réunion")
    finally:
        context.close()


def test_preview_plays_and_devices_are_listed(browser, hub_server, meeting_id, screenshot_dir):
    page = open_meeting_page(browser, hub_server, meeting_id, "Camille", join=False)
    errors = watch_errors(page)
    try:
        page.wait_for_function(
            "() => document.getElementById('preview').videoWidth > 0", timeout=10_000
        )
        expect(page.locator("#device-status")).to_have_text(
            translate("fr", "meeting.devices.ready")
        )
        for select in ("#camera-select", "#microphone-select"):
            expect(page.locator(select)).to_be_enabled()
            labels = page.locator(f"{select} option").all_inner_texts()
            assert labels and all(label.strip() for label in labels), (select, labels)
        # Chromium's fake devices carry "fake" in their names.
        assert "fake" in page.locator("#camera-select option").first.inner_text().lower()
        # Switching the camera off stops the preview; on again, it plays again.
        page.click("#start-camera-off")
        expect(page.locator("#preview-off")).to_be_visible()
        page.click("#start-camera-off")
        page.wait_for_function("() => document.getElementById('preview').videoWidth > 0")
        if screenshot_dir:
            page.screenshot(path=str(screenshot_dir / "prejoin.png"))
        assert errors == []
    finally:
        page.context.close()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_keyboard_reaches_every_control_with_its_name(browser, hub_server, meeting_id, lang):
    page = open_meeting_page(browser, hub_server, meeting_id, "Camille", join=False, lang=lang)
    try:
        page.wait_for_function("() => !document.getElementById('camera-select').disabled")
        expected = [
            page.get_by_role("textbox", name=translate(lang, "meeting.name_label"), exact=True),
            page.get_by_role("textbox", name=translate(lang, "meeting.knock_label"), exact=True),
            page.get_by_role("combobox", name=translate(lang, "meeting.camera_select"), exact=True),
            page.get_by_role(
                "combobox", name=translate(lang, "meeting.microphone_select"), exact=True
            ),
            page.get_by_role("button", name=translate(lang, "meeting.start_muted"), exact=True),
            page.get_by_role(
                "button", name=translate(lang, "meeting.start_camera_off"), exact=True
            ),
            page.get_by_role("button", name=translate(lang, "meeting.join"), exact=True),
        ]
        page.locator("body").focus()
        reached = 0
        for _ in range(20):  # skip link, brand and language switch come first
            page.keyboard.press("Tab")
            if expected[reached].evaluate("el => el === document.activeElement"):
                reached += 1
                if reached == len(expected):
                    break
        assert reached == len(expected), f"Tab stopped reaching controls after {reached}"

        muted = expected[4]
        muted.focus()
        expect(muted).to_have_attribute("aria-pressed", "false")
        page.keyboard.press("Space")
        expect(muted).to_have_attribute("aria-pressed", "true")
        page.keyboard.press("Enter")
        expect(muted).to_have_attribute("aria-pressed", "false")

        # Joining without a name explains what is missing and puts the focus there.
        expected[0].fill("")
        expected[6].focus()
        page.keyboard.press("Enter")
        expect(page.locator("#name-error")).to_be_visible()
        expect(expected[0]).to_be_focused()
        expect(expected[0]).to_have_attribute("aria-invalid", "true")
    finally:
        page.context.close()


def test_denied_devices_are_explained_and_joining_without_them_is_possible(
    browser, hub_server, meeting_id
):
    context = new_context(browser, hub_server)
    # Replace getUserMedia before the page's scripts run, as a browser that refuses would.
    context.add_init_script(
        "navigator.mediaDevices.getUserMedia = () => "
        "Promise.reject(new DOMException('refused', 'NotAllowedError'));"
    )
    try:
        page = context.new_page()
        errors = watch_errors(page)
        page.goto(f"/m/{meeting_id}")
        expect(page.locator("#device-status")).to_have_text(
            translate("fr", "meeting.devices.denied")
        )
        expect(page.locator("#start-muted")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#start-camera-off")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#preview-off")).to_be_visible()
        expect(page.locator("#join-button")).to_be_enabled()
        assert errors == []
    finally:
        context.close()
