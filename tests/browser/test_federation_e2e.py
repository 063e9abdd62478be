"""Two ministries, one meeting: two real hubs (separate processes, databases and keys) that
trust each other, each person in Chromium on their own hub, media cascaded between the SFUs.

Hub A hosts the meeting; hub B mirrors it for its own people and reaches A through a TCP
relay (tests/support/proxy.py), so the test can cut the link as a failing network would.
Every check is on what the pages decoded (getStats) and on each hub's /metrics.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.support import (
    HubServer,
    create_meeting,
    new_context,
    open_meeting_page,
    self_id,
    wait_for_flow,
)
from tests.support.proxy import TcpRelay

LABEL_A, LABEL_B = "Intérieur", "Finances"


@dataclass
class Ministry:
    hub: HubServer
    name: str  # server name
    label: str


@dataclass
class Federation:
    a: Ministry
    b: Ministry
    relay: TcpRelay  # B -> A


def _hub_command(workdir: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=workdir,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _partner(name: str, base_url: str, label: str) -> str:
    return (
        f'{{server_name = "{name}", base_url = "{base_url}", label = "{label}", '
        "inbound_trusted = true, outbound_allowed = true}"
    )


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    a = HubServer(tmp_path_factory.mktemp("hub-a"))
    b = HubServer(tmp_path_factory.mktemp("hub-b"))
    relay = TcpRelay(a.port).start()
    a_name, b_name = f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"
    for hub, name, partner in (
        (a, a_name, _partner(b_name, b.base_url, LABEL_B)),
        (b, b_name, _partner(a_name, relay.base_url, LABEL_A)),
    ):
        hub.env = {
            "HUB_FEDERATION__SERVER_NAME": name,
            "HUB_FEDERATION__SIGNING_KEY_FILE": str(hub.workdir / "signing.key"),
            "HUB_FEDERATION__ALLOW_PRIVATE_NETWORKS": "true",
            "HUB_FEDERATION__PARTNERS": f"[{partner}]",
        }
        _hub_command(hub.workdir, hub.env, "keys", "generate", "--dev")
    a.start()
    b.start()
    try:
        yield Federation(Ministry(a, a_name, LABEL_A), Ministry(b, b_name, LABEL_B), relay)
    finally:
        b.stop()
        a.stop()
        relay.close()


def _cascade(hub: HubServer, metric: str, partner: str) -> float:
    """One labelled cascade sample of a hub's /metrics."""
    import urllib.request

    with urllib.request.urlopen(f"{hub.base_url}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    wanted = f'{metric}{{partner="{partner}"}}'
    for line in text.splitlines():
        if line.startswith(wanted):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _join_through_b(
    browser: Browser, fed: Federation, meeting_id: str, name: str, *, from_host_page: bool = False
) -> Page:
    """Someone of ministry B joins A's meeting from B's own page: by B's link for it, or by
    A's link, whose page offers each partner ministry's way in."""
    context = new_context(browser, fed.b.hub.base_url)
    page = context.new_page()
    if from_host_page:
        page.goto(f"{fed.a.hub.base_url}/m/{meeting_id}")
        page.get_by_role("link", name=LABEL_B).click()
    else:
        page.goto(f"/f/{fed.a.name}/{meeting_id}")
    page.wait_for_url(f"{fed.b.hub.base_url}/m/{meeting_id}")
    page.fill("#name", name)
    page.click("#join-button")
    page.wait_for_function("() => window.visioDebug.state() === 'connected'", timeout=20_000)
    return page


def _names(page: Page) -> list[str]:
    return sorted(p["name"] for p in page.evaluate("() => window.visioDebug.participants()"))


def test_a_meeting_spans_two_hubs_and_each_stream_crosses_once(
    browser: Browser, federation: Federation
) -> None:
    fed = federation
    host_page = new_context(browser, fed.a.hub.base_url).new_page()
    meeting_id = create_meeting(host_page, "Réunion interministérielle", "public")
    host_page.context.close()
    anne = open_meeting_page(browser, fed.a.hub.base_url, meeting_id, "Anne")
    bruno = _join_through_b(browser, fed, meeting_id, "Bruno", from_host_page=True)
    anne_id, bruno_id = self_id(anne), self_id(bruno)

    # Each side shows the other's person with the instance's label.
    expect_names = {"Anne": ["Anne", f"Bruno ({LABEL_B})"], "Bruno": [f"Anne ({LABEL_A})", "Bruno"]}
    for page, name in ((anne, "Anne"), (bruno, "Bruno")):
        deadline = time.monotonic() + 10
        while _names(page) != expect_names[name] and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        assert _names(page) == expect_names[name]

    # Each decodes the other's video and audio, across the two SFUs.
    wait_for_flow(
        [
            (anne, bruno_id, "camera"),
            (anne, bruno_id, "microphone"),
            (bruno, anne_id, "camera"),
            (bruno, anne_id, "microphone"),
        ],
        timeout=30,
    )

    # A second receiver on B: A still sends each of Anne's streams once over the link.
    claire = _join_through_b(browser, fed, meeting_id, "Claire")
    wait_for_flow([(claire, anne_id, "camera"), (anne, self_id(claire), "camera")], timeout=30)
    assert _cascade(fed.a.hub, "hub_cascade_streams_sent", fed.b.name) == 2  # Anne: mic + camera
    assert _cascade(fed.b.hub, "hub_cascade_streams_sent", fed.a.name) == 4  # Bruno, Claire
    sent_before = _cascade(fed.a.hub, "hub_cascade_packets_sent_total", fed.b.name)
    received_before = _cascade(fed.b.hub, "hub_cascade_packets_received_total", fed.a.name)
    forwarded_before = fed.b.hub.metrics()["hub_sfu_packets_forwarded_total"]
    anne.wait_for_timeout(3000)
    sent = _cascade(fed.a.hub, "hub_cascade_packets_sent_total", fed.b.name) - sent_before
    received = (
        _cascade(fed.b.hub, "hub_cascade_packets_received_total", fed.a.name) - received_before
    )
    forwarded = fed.b.hub.metrics()["hub_sfu_packets_forwarded_total"] - forwarded_before
    assert sent > 100
    # What A sent is what B received (one copy), and B fanned it out to its two receivers.
    assert 0.9 * sent <= received <= 1.1 * sent, (sent, received)
    assert forwarded >= 1.8 * received, (forwarded, received)
    claire.context.close()

    # Cut the network between the hubs: both meetings go on, B's people are told, the link
    # comes back by itself and media flows again.
    assert fed.relay.cut() > 0
    expect(bruno.locator("#notices")).to_contain_text(LABEL_A, timeout=10_000)
    deadline = time.monotonic() + 10
    while f"Bruno ({LABEL_B})" in _names(anne) and time.monotonic() < deadline:
        anne.wait_for_timeout(200)
    assert anne.evaluate("() => window.visioDebug.state()") == "connected"
    wait_for_flow([(bruno, anne_id, "camera"), (anne, bruno_id, "camera")], timeout=40)
    assert f"Bruno ({LABEL_B})" in _names(anne)
    assert fed.relay.connections >= 2
    bruno.context.close()
    anne.context.close()


def test_refused_partner_and_unknown_meetings(browser: Browser, federation: Federation) -> None:
    """B's link to a meeting A does not have ends on a clear page, and nothing is mirrored."""
    page = new_context(browser, federation.b.hub.base_url).new_page()
    answer = page.goto(f"/f/{federation.a.name}/abc-defg-hjk")
    assert answer is not None and answer.status == 404
    answer = page.goto("/f/unknown.example/abc-defg-hjk")
    assert answer is not None and answer.status == 403
    page.context.close()
