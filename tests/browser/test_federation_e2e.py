"""Two ministries, one meeting: two real hubs (separate processes, databases and keys) that
trust each other, each person in Chromium on their own hub, media cascaded between the SFUs.

Hub A hosts the meeting; hub B mirrors it for its own people and reaches A through a TCP
relay (tests/support/proxy.py), so the test can cut the link as a failing network would.
Every check is on what the pages decoded (getStats) and on each hub's /metrics.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

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
from tests.conftest import toml_value
from tests.support.proxy import TcpRelay
from tests.support.synapse import MatrixUser, Synapse

LABEL_A, LABEL_B = "Intérieur", "Finances"


@dataclass
class Ministry:
    hub: HubServer
    name: str  # server name
    label: str
    homeserver: Synapse  # the ministry's own Tchap homeserver


@dataclass
class Federation:
    a: Ministry
    b: Ministry
    relay: TcpRelay  # B -> A
    bot: MatrixUser  # hub A's meeting bot


@pytest.fixture(scope="module")
def federation(
    tmp_path_factory: pytest.TempPathFactory, synapse_pair: tuple[Synapse, Synapse]
) -> Iterator[Federation]:
    """Ministry A (homeserver `home`, its bot in hub A) and ministry B (homeserver `other`),
    each with its own hub process, database and key; B reaches A through the relay."""
    home, other = synapse_pair
    bot = home.register(f"visio{secrets.token_hex(3)}")
    a = HubServer(tmp_path_factory.mktemp("hub-a"))
    b = HubServer(tmp_path_factory.mktemp("hub-b"))
    relay = TcpRelay(a.port).start()
    a_name, b_name = f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"
    overrides = toml_value({server.server_name: server.url for server in synapse_pair})
    rules = {"label": "", "inbound_trusted": True, "outbound_allowed": True}
    a.env = {
        "HUB_FEDERATION__PARTNERS": toml_value([{
            "server_name": b_name, "base_url": b.base_url, **rules, "label": LABEL_B,
            "matrix_homeservers": [other.server_name],
        }]),
        "HUB_MATRIX__ALLOWED_HOMESERVERS": toml_value([home.server_name]),
        "HUB_MATRIX__HOMESERVER_OVERRIDES": overrides,
        "HUB_MATRIX__BOT_USER_ID": bot.user_id,
        "HUB_MATRIX__BOT_HOMESERVER_URL": home.url,
        "HUB_MATRIX__BOT_PASSWORD": bot.password,
    }  # fmt: skip
    b.env = {
        "HUB_FEDERATION__PARTNERS": toml_value([{
            "server_name": a_name, "base_url": relay.base_url, **rules, "label": LABEL_A,
        }]),
        "HUB_MATRIX__ALLOWED_HOMESERVERS": toml_value([other.server_name]),
        "HUB_MATRIX__HOMESERVER_OVERRIDES": overrides,
    }  # fmt: skip
    for hub, name in ((a, a_name), (b, b_name)):
        hub.env |= {
            "HUB_FEDERATION__SERVER_NAME": name,
            "HUB_FEDERATION__SIGNING_KEY_FILE": str(hub.workdir / "signing.key"),
            "HUB_FEDERATION__ALLOW_PRIVATE_NETWORKS": "true",
        }
        generated = hub.command("keys", "generate", "--dev")
        assert generated.returncode == 0, generated.stderr
    a.start()
    b.start()
    try:
        yield Federation(
            Ministry(a, a_name, LABEL_A, home), Ministry(b, b_name, LABEL_B, other), relay, bot
        )
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


def _shown(page: Page) -> dict[str, str]:
    """The page's participants: name by participant id."""
    return {p["id"]: p["name"] for p in page.evaluate("() => window.visioDebug.participants()")}


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


def _room_messages(server: Synapse, user: MatrixUser, room: str) -> list[dict[str, object]]:
    path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/messages?dir=b&limit=50"
    chunk = server.request("GET", path, None, user.access_token)["chunk"]
    return list(chunk) if isinstance(chunk, list) else []


def _matrix_login(page: Page, server: Synapse, user: MatrixUser) -> None:
    """What a Tchap user does on their own hub's page: prove their Matrix identity (an OpenID
    token from their homeserver), then the page is theirs."""
    issued = server.openid_token(user)
    answer = page.evaluate(
        """async ({token, server}) => {
            const csrf = document.querySelector("meta[name=csrf-token]").content;
            const response = await fetch("/auth/matrix", {
              method: "POST",
              headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
              body: JSON.stringify({access_token: token, matrix_server_name: server}),
            });
            return response.status;
        }""",
        {"token": issued["access_token"], "server": issued["matrix_server_name"]},
    )
    assert answer == 200
    page.reload()


def test_a_tchap_room_across_two_ministries_meets_across_their_hubs(
    browser: Browser, federation: Federation
) -> None:
    """Alice (ministry A's homeserver) and Olga (ministry B's) share a Tchap room. `!visio
    start` there gives B's people B's own link; each joins from Chromium on their own hub,
    signed in as their Matrix self, Olga admitted by A as a member of the room, and each
    decodes the other's video."""
    fed = federation
    home, other = fed.a.homeserver, fed.b.homeserver
    alice = home.register(f"alice{secrets.token_hex(3)}")
    olga = other.register(f"olga{secrets.token_hex(3)}")
    room = str(home.request("POST", "/_matrix/client/v3/createRoom", {
        "invite": [fed.bot.user_id, olga.user_id],
        "power_level_content_override": {"users": {fed.bot.user_id: 50}},
    }, alice.access_token)["room_id"])  # fmt: skip
    other.request("POST", f"/_matrix/client/v3/join/{quote(room, safe='')}", {}, olga.access_token)

    quoted = quote(room, safe="")

    def bot_says(pattern: str, timeout: float = 30) -> re.Match[str]:
        """The newest of the bot's messages that matches `pattern` (waiting for one)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in _room_messages(home, alice, room):
                content = event.get("content")
                if event.get("sender") == fed.bot.user_id and isinstance(content, dict):
                    found = re.search(pattern, str(content.get("body", "")))
                    if found:
                        return found
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot never said {pattern!r}")
            time.sleep(0.3)

    def say(text: str) -> None:
        path = f"/_matrix/client/v3/rooms/{quoted}/send/m.room.message/{secrets.token_hex(6)}"
        home.request("PUT", path, {"msgtype": "m.text", "body": text}, alice.access_token)

    member = f"/_matrix/client/v3/rooms/{quoted}/state/m.room.member/{fed.bot.user_id}"
    deadline = time.monotonic() + 30
    while home.request("GET", member, None, alice.access_token).get("membership") != "join":
        assert time.monotonic() < deadline, "the bot did not join the room"
        time.sleep(0.3)
    say("!visio start Comité interministériel")
    link_a = bot_says(r"Lien : (\S+)").group(1)  # the room speaks French (the default)
    meeting_id = link_a.rsplit("/m/", 1)[1]
    partner_line = rf"Agents {LABEL_B} : (\S+)"
    for _ in range(30):  # Olga's membership reaches hub A with the bot's next sync
        with contextlib.suppress(AssertionError):
            bot_says(partner_line, timeout=0)
            break
        say("!visio link")
        time.sleep(1)
    link_b = bot_says(partner_line).group(1)
    assert link_b == f"{fed.b.hub.base_url}/f/{fed.a.name}/{meeting_id}"

    anne_page = new_context(browser, fed.a.hub.base_url).new_page()
    anne_page.goto(f"/m/{meeting_id}")
    _matrix_login(anne_page, home, alice)
    olga_page = new_context(browser, fed.b.hub.base_url).new_page()
    olga_page.goto(link_b)
    olga_page.wait_for_url(f"**/m/{meeting_id}")
    _matrix_login(olga_page, other, olga)
    for page in (anne_page, olga_page):  # the restricted meeting: no lobby for either
        page.click("#join-button")
        page.wait_for_function("() => window.visioDebug.state() === 'connected'", timeout=20_000)
    anne_id, olga_id = self_id(anne_page), self_id(olga_page)
    shown = {
        p["id"]: p["name"] for p in anne_page.evaluate("() => window.visioDebug.participants()")
    }
    deadline = time.monotonic() + 10
    while olga_id not in shown and time.monotonic() < deadline:
        anne_page.wait_for_timeout(200)
        shown = {
            p["id"]: p["name"] for p in anne_page.evaluate("() => window.visioDebug.participants()")
        }
    assert shown[olga_id].endswith(f"({LABEL_B})")
    wait_for_flow([(anne_page, olga_id, "camera"), (olga_page, anne_id, "camera")], timeout=30)
    anne_page.context.close()
    olga_page.context.close()
