"""Fixtures for tests in real Chromium: one browser per session, the real hub as a subprocess.

The sync Playwright API is used throughout, in plain `def` tests (never inside an event loop).
Playwright and the browser live for this package, not the whole session: while the sync API is
alive its event loop counts as running in this thread, and the async tests that pytest runs
after this folder could not start their own. Package scope ends it after the last browser test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.browser.support import AXE, HubServer, launch_chromium
from tests.conftest import skip_or_fail
from tests.support.chromium import CHROMIUM
from tests.support.netns import NetNamespace, network_namespace

SCREENSHOTS = os.environ.get("HUB_TEST_SCREENSHOTS")  # a folder: tests then save screenshots


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} not found (apt package chromium)")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch_chromium(playwright)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real hub in dev mode for the whole session; yields its base URL."""
    server = HubServer(tmp_path_factory.mktemp("hub")).start()
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture
def axe_available() -> None:
    if not AXE.exists():
        skip_or_fail(f"{AXE} not found (run `npm ci` at the top of the repo)")


@pytest.fixture
def screenshot_dir() -> Path | None:
    if not SCREENSHOTS:
        return None
    path = Path(SCREENSHOTS)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def netns() -> Iterator[NetNamespace]:
    """A network namespace with a veth pair to the host (its own /30), removed afterwards;
    skipped (or failed under HUB_TEST_REQUIRE_SERVICES=1) where it cannot be made."""
    with network_namespace() as namespace:
        yield namespace
