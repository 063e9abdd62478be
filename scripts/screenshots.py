"""Take the README's pictures from the real pages, so they stay current.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Starts `hub serve --dev` in a temporary folder, opens its pages in Debian's Chromium (fake
camera and microphone) and saves PNGs. The meeting's other people are a scripted roster on the
page's socket (tests/browser/support.py's LobbyFakeHub): the page, its layout and its panels
are the real ones; only who else is in the meeting is made up, so the pictures need no second
browser and show no one's real face.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from tests.browser.support import LobbyFakeHub, create_meeting, new_context  # noqa: E402
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.hub_server import HubServer  # noqa: E402
from tests.support.kept import keep_sample  # noqa: E402

NAMES = ["Amélie Rousseau", "Bastien Leroy", "Chloé Nguyen", "David Morel", "Élise Fabre",
         "Farid Benali", "Gaëlle Martin", "Hugo Lambert", "Inès Girard", "Julien Roux",
         "Karima Haddad"]  # fmt: skip
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def roster(count: int, hands: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    return [
        {
            "id": f"p{i}",
            "name": NAMES[i],
            "audio": i % 3 != 1,
            "video": False,
            "screen": False,
            "hand": i in hands,
            "hand_order": (hands.index(i) + 1) if i in hands else None,
            "role": "participant",
        }
        for i in range(count)
    ]


def in_meeting(
    browser: Browser, base_url: str, meeting_id: str, viewport: dict[str, int],
    others: list[dict[str, Any]], role: str = "participant", waiting: bool = False,
) -> tuple[Page, LobbyFakeHub]:  # fmt: skip
    context = new_context(browser, base_url, viewport=viewport)
    page = context.new_page()
    hub = LobbyFakeHub(others=others, role=role, waiting=waiting)
    hub.install(page)
    page.goto(f"/m/{meeting_id}")
    page.fill("#name", "Camille Durand")
    page.click("#join-button")
    state = "waiting" if waiting else "connected"
    page.wait_for_function(f"() => window.visioDebug.state() === '{state}'")
    page.wait_for_timeout(800)  # the preview's first frames
    return page, hub


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots",
                        help="folder for the PNGs (default: docs/screenshots)")  # fmt: skip
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        hub = HubServer(Path(folder)).start()
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            shots(browser, hub.base_url, out, hub.workdir / "data")
        finally:
            browser.close()
            hub.stop()
    for path in sorted(out.glob("*.png")):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def shots(browser: Browser, base_url: str, out: Path, data_dir: Path) -> None:
    context = new_context(browser, base_url, viewport=LAPTOP)
    page = context.new_page()
    page.goto("/")
    page.screenshot(path=out / "home.png")
    meeting_id = create_meeting(page, "Comité interministériel numérique", access_level="trusted")
    page.fill("#name", "Camille Durand")
    page.wait_for_function("() => document.getElementById('preview').videoWidth > 0")
    page.screenshot(path=out / "prejoin.png")
    # What the meeting kept (a transcript, its summary, a recording), as its owner sees it.
    keep_sample(data_dir, meeting_id)
    page.goto(f"/m/{meeting_id}/kept")
    page.screenshot(path=out / "kept.png", full_page=True)
    context.close()

    page, hub = in_meeting(browser, base_url, meeting_id, LAPTOP, roster(5), role="owner")
    page.mouse.move(5, 5)  # no tooltip in the picture
    page.screenshot(path=out / "meeting-grid.png")
    page.click("#toggle-layout")
    hub.send({"type": "active_speaker", "participant_id": "p2"})
    page.mouse.move(5, 5)  # no tooltip in the picture
    page.wait_for_timeout(300)
    page.screenshot(path=out / "meeting-speaker.png")
    page.click("#toggle-layout")
    hub.send({"type": "lobby", "entries": [
        {"id": "e1", "name": "Marc Petit", "kind": "guest", "since": "2026-12-01T09:58:00Z"},
        {"id": "e2", "name": "Sophie Bernard", "kind": "matrix", "since": "2026-12-01T09:59:00Z"},
    ]})  # fmt: skip
    page.click("#toggle-lobby")
    page.mouse.move(5, 5)
    page.wait_for_timeout(300)
    page.screenshot(path=out / "moderator-lobby.png")
    page.context.close()

    page, _ = in_meeting(browser, base_url, meeting_id, PHONE, roster(4, hands=(2,)))
    page.screenshot(path=out / "phone.png")
    page.context.close()

    page, _ = in_meeting(browser, base_url, meeting_id, LAPTOP, [], waiting=True)
    page.screenshot(path=out / "waiting.png")
    page.context.close()


if __name__ == "__main__":
    main()
