"""The meeting page as a widget of a Matrix client, in Chromium: a stand-in for Element served
from another site than the hub (localhost vs 127.0.0.1) frames the page and speaks the widget
API with it, handing out a real OpenID token of a real Synapse user. Cross-site, the hub's cookie
is neither sent nor stored in the iframe: the Matrix identity must get the person in alone."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Frame, Page, expect

from tests.browser.support import (
    HubServer,
    axe_violations,
    create_meeting,
    fr,
    new_context,
    watch_errors,
)
from tests.conftest import toml_value
from tests.support.synapse import MatrixUser, Synapse

WIDGET_ID = "visio_test"

# The Matrix client: the widget in an iframe, and its side of the widget API (as Element's
# ClientWidgetApi does it: capabilities once the iframe has loaded, get_openid answered with
# the configured state, "request" followed by openid_credentials). Everything is logged.
CLIENT_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Salon Tchap</title></head><body>
<iframe name="widget" title="Visio" src="{src}" allow="camera; microphone; display-capture"
        width="1100" height="760"></iframe>
<script>
const config = {config};
const frame = document.querySelector("iframe");
window.exchanges = [];
let count = 0;
function post(message) {{ frame.contentWindow.postMessage(message, config.hubOrigin); }}
function ask(action, data) {{
  count += 1;
  const requestId = `client-${{count}}`;
  post({{api: "toWidget", widgetId: config.widgetId, requestId, action, data}});
}}
function reply(request, response) {{ post({{...request, response}}); }}
window.addEventListener("message", (event) => {{
  if (event.origin !== config.hubOrigin) return;
  const message = event.data;
  window.exchanges.push(message);
  if (message.api !== "fromWidget" || "response" in message) return;
  if (message.action !== "get_openid") {{
    reply(message, {{error: {{message: "Improper sequence or unsupported"}}}});
  }} else if (config.state === "request") {{
    reply(message, {{state: "request"}});
    setTimeout(() => ask("openid_credentials", {{
      state: "allowed", original_request_id: message.requestId, ...config.credentials}}), 300);
  }} else if (config.state === "allowed") {{
    reply(message, {{state: "allowed", ...config.credentials}});
  }} else {{
    reply(message, {{state: config.state}});
  }}
}});
frame.addEventListener("load", () => {{
  ask("capabilities", {{}});
  ask("supported_api_versions", {{}});
  ask("org.example.unknown", {{}});
}});
</script></body></html>
"""


class ClientSite:
    """The Matrix client's web server, on loopback but named `localhost`: another site than
    the hub's 127.0.0.1 (a real server: Chromium lets only a local page frame a loopback one).
    `serve(html)` publishes a page and gives its URL; `close()` stops the thread."""

    def __init__(self) -> None:
        pages: dict[str, bytes] = {}
        self.pages = pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, html: str) -> str:
        path = f"/room/{len(self.pages)}"
        self.pages[path] = html.encode()
        return f"{self.origin}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


PARTNER_HUB = "https://visio.finances.test"  # never contacted: only given as a link
PARTNER_HOMESERVER = "agent.finances.test"


@dataclass
class WidgetSetup:
    hub: HubServer
    synapse: Synapse
    client: ClientSite  # its origin is in matrix.widget_parent_origins
    stranger: ClientSite  # another Matrix client, not listed


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, synapse: Synapse) -> Iterator[WidgetSetup]:
    client, stranger = ClientSite(), ClientSite()
    try:
        hub = HubServer(tmp_path_factory.mktemp("widget"))
        hub.env = {
            "HUB_MATRIX__ALLOWED_HOMESERVERS": toml_value([synapse.server_name]),
            "HUB_MATRIX__HOMESERVER_OVERRIDES": toml_value({synapse.server_name: synapse.url}),
            "HUB_MATRIX__WIDGET_PARENT_ORIGINS": toml_value([client.origin]),
            # A partner ministry whose people's Tchap accounts live on their own homeserver.
            "HUB_FEDERATION__SERVER_NAME": "visio.interieur.test",
            "HUB_FEDERATION__ALLOW_PRIVATE_NETWORKS": "true",
            "HUB_FEDERATION__PARTNERS": toml_value([{
                "server_name": "visio.finances.test", "base_url": PARTNER_HUB,
                "label": "Finances", "matrix_homeservers": [PARTNER_HOMESERVER],
            }]),
        }  # fmt: skip
        hub.start()
        try:
            yield WidgetSetup(hub, synapse, client, stranger)
        finally:
            hub.stop()
    finally:
        client.close()
        stranger.close()


@pytest.fixture(scope="module")
def meeting_id(browser: Browser, setup: WidgetSetup) -> str:
    """A trusted meeting: a guest would wait in the lobby, a verified Matrix user enters."""
    context = new_context(browser, setup.hub.base_url)
    try:
        return create_meeting(context.new_page(), "Point Tchap", access_level="trusted")
    finally:
        context.close()


def open_in_client(
    browser: Browser,
    setup: WidgetSetup,
    meeting_id: str,
    state: str,
    user: MatrixUser | None = None,
    *,
    site: ClientSite | None = None,
    credentials: dict[str, Any] | None = None,
    **context_options: Any,
) -> tuple[BrowserContext, Page]:
    """A fresh profile showing the Matrix client's room page, with the widget in it."""
    site = site or setup.client
    origin = site.origin
    if credentials is None:
        credentials = setup.synapse.openid_token(user) if user else {}
    parent_url = urllib.parse.quote(f"{origin}/#/room/!salon:{setup.synapse.server_name}")
    src = (
        f"{setup.hub.base_url}/m/{meeting_id}?widget=1&lang=fr"
        f"&widgetId={WIDGET_ID}&parentUrl={parent_url}"
    )
    config = {
        "hubOrigin": setup.hub.base_url,
        "widgetId": WIDGET_ID,
        "state": state,
        "credentials": credentials,
    }
    room = site.serve(CLIENT_PAGE.format(src=src, config=json.dumps(config)))
    context = new_context(browser, setup.hub.base_url, **context_options)
    page = context.new_page()
    page.goto(room)
    return context, page


def widget_frame(page: Page) -> Frame:
    frame = page.frame(name="widget")
    assert frame is not None
    return frame


def answers(page: Page, action: str) -> list[dict[str, Any]]:
    """The widget's answers to the client's `action` requests."""
    exchanges = page.evaluate("() => window.exchanges")
    return [
        m["response"]
        for m in exchanges
        if m["api"] == "toWidget" and m["action"] == action and "response" in m
    ]


@pytest.mark.parametrize("state", ["allowed", "request"])
def test_the_widget_joins_as_the_matrix_user(
    browser: Browser, setup: WidgetSetup, meeting_id: str, state: str
) -> None:
    user = setup.synapse.register(f"agent{state}")
    context, page = open_in_client(browser, setup, meeting_id, state, user)
    try:
        errors = watch_errors(page)
        frame = widget_frame(page)
        status = frame.locator("#widget-status")
        expect(status).to_contain_text(f"en tant que agent{state} ({user.user_id})")
        expect(frame.locator("#name-field")).to_be_hidden()
        expect(frame.locator(".login-block")).to_have_count(0)
        # Verified: straight into the call, no second pre-join and no click.
        frame.wait_for_function("() => window.visioDebug.state() === 'connected'", timeout=15_000)
        expect(frame.locator("#room")).to_be_visible()
        expect(frame.locator("#prejoin")).to_be_hidden()
        opened_to_in = frame.evaluate("() => performance.now()") / 1000
        print(f"\nwidget: frame opened -> in the call: {opened_to_in:.2f} s")
        # The hub let the verified user in at once (a guest waits here) under their Matrix name.
        [me] = frame.evaluate("() => window.visioDebug.participants()")
        assert (me["name"], me["role"], me["isSelf"]) == (f"agent{state}", "participant", True)
        assert frame.evaluate("() => window.visioDebug.lobbyState()") == "none"
        # No cookie crossed sites: the identity token alone did it.
        assert context.cookies(setup.hub.base_url) == []
        assert answers(page, "capabilities") == [{"capabilities": []}]
        versions = answers(page, "supported_api_versions")
        assert versions == [{"supported_versions": ["0.0.1", "0.0.2"]}]
        assert "error" in answers(page, "org.example.unknown")[0]
        if state == "request":
            assert answers(page, "openid_credentials") == [{}]  # acknowledged
        assert errors == []
    finally:
        context.close()


def test_a_partner_ministrys_member_is_sent_to_their_own_hub(
    browser: Browser, setup: WidgetSetup, meeting_id: str
) -> None:
    """A Tchap user of a homeserver a partner hub serves: the widget offers that hub's way
    into this meeting (a new tab), and no socket opens here."""
    foreign = {"access_token": "opaque", "matrix_server_name": PARTNER_HOMESERVER,
               "token_type": "Bearer", "expires_in": 3600}  # fmt: skip
    context, page = open_in_client(browser, setup, meeting_id, "allowed", credentials=foreign)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        frame = widget_frame(page)
        problem = frame.locator("#widget-problem")
        expect(problem).to_contain_text("relève de l'instance Finances")
        link = frame.locator("#widget-partner-link")
        expect(link).to_have_attribute("href", f"{PARTNER_HUB}/f/visio.interieur.test/{meeting_id}")
        expect(link).to_have_attribute("target", "_blank")
        expect(frame.locator("#join-button")).to_be_hidden()
        expect(frame.locator("#widget-retry")).to_be_hidden()
        assert sockets == []
    finally:
        context.close()


def test_a_blocked_identity_is_explained_and_never_joins(
    browser: Browser, setup: WidgetSetup, meeting_id: str
) -> None:
    context, page = open_in_client(browser, setup, meeting_id, "blocked")
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        frame = widget_frame(page)
        problem = frame.locator("#widget-problem")
        expect(problem).to_be_visible()
        expect(problem).to_contain_text("autorisez ce widget à vérifier votre identité")
        expect(frame.locator("#join-button")).to_be_hidden()
        frame.locator("#widget-retry").click()  # asks the client again: still blocked
        expect(problem).to_be_visible()
        assert len(answers(page, "capabilities")) == 1
        gets = [m for m in page.evaluate("() => window.exchanges") if m["action"] == "get_openid"]
        assert len([m for m in gets if "response" not in m]) == 2
        assert frame.evaluate("() => window.visioDebug.state()") == "idle"
        assert sockets == []
    finally:
        context.close()


def test_an_unlisted_client_cannot_frame_the_page(
    browser: Browser, setup: WidgetSetup, meeting_id: str
) -> None:
    context, page = open_in_client(browser, setup, meeting_id, "allowed", site=setup.stranger)
    try:
        # The same page as for the listed client, on another port: Chromium refuses to show
        # the hub's page (frame-ancestors) and no widget API message ever comes.
        assert widget_frame(page).url == "chrome-error://chromewebdata/"
        page.wait_for_timeout(500)
        assert page.evaluate("() => window.exchanges") == []
    finally:
        context.close()


@pytest.mark.usefixtures("axe_available")
def test_the_widget_states_are_accessible(
    browser: Browser, setup: WidgetSetup, meeting_id: str
) -> None:
    """axe-core on the verified and blocked states (this context bypasses the CSP, only so that
    axe can be injected: framing is checked above)."""
    user = setup.synapse.register("agentaxe")
    found: dict[str, list[str]] = {}
    for state, shown in (("allowed", "#room"), ("blocked", "#widget-problem")):
        context, page = open_in_client(browser, setup, meeting_id, state, user, bypass_csp=True)
        try:
            frame = widget_frame(page)
            expect(frame.locator(shown)).to_be_visible()
            found[state] = axe_violations(frame)  # type: ignore[arg-type]
        finally:
            context.close()
    assert {state: v for state, v in found.items() if v} == {}


def test_a_widget_user_waiting_in_the_lobby_writes_a_message_for_the_moderators(
    browser: Browser, setup: WidgetSetup
) -> None:
    """No pre-join in the widget: the knock's message is typed on the waiting screen, under the
    pre-join's rule (refused with why, never cut), and the owner's lobby panel shows it."""
    owner_context = new_context(browser, setup.hub.base_url)
    owner = owner_context.new_page()
    meeting = create_meeting(owner, "Point restreint", access_level="restricted")
    owner.fill("#name", "Olga")
    owner.click("#join-button")
    owner.wait_for_function("() => window.visioDebug.state() === 'connected'", timeout=15_000)
    user = setup.synapse.register("agentlobby")
    context, page = open_in_client(browser, setup, meeting, "allowed", user)
    try:
        errors = watch_errors(page)
        frame = widget_frame(page)
        expect(frame.locator("#waiting")).to_be_visible(timeout=15_000)
        owner.click("#toggle-lobby")
        row = owner.locator("#lobby-list li")
        expect(row).to_have_count(1)
        expect(row.locator(".lobby-message")).to_have_count(0)  # nothing written yet

        note = frame.locator("#waiting").get_by_label(fr("meeting.knock_label"))
        expect(note).to_have_attribute("maxlength", "200")
        note.fill("Bonjour <b>urgent</b>")
        frame.locator("#waiting-note-send").click()
        expect(frame.locator("#waiting-message-error")).to_have_text(fr("meeting.note.markup"))
        expect(note).to_have_attribute("aria-invalid", "true")
        expect(note).to_be_focused()
        owner.wait_for_timeout(300)
        expect(row.locator(".lobby-message")).to_have_count(0)  # refused here, nothing sent

        note.fill("  Camille, DGFiP :\n le point   budget ")
        frame.locator("#waiting-note-send").click()
        expect(frame.locator("#waiting-message-error")).to_be_hidden()
        expect(frame.locator("#waiting-note-status")).to_have_text(fr("meeting.waiting.note_sent"))
        expect(row.locator(".lobby-message")).to_have_text(
            "Son message : « Camille, DGFiP : le point budget »"
        )
        note.fill("Camille, DGFiP : budget 2027")  # rewritten: the moderators see the new one
        note.press("Enter")  # a textarea: a new line, not a submit
        frame.locator("#waiting-note-send").click()
        expect(row.locator(".lobby-message")).to_have_text(
            "Son message : « Camille, DGFiP : budget 2027 »"
        )
        assert frame.evaluate("() => window.visioDebug.state()") == "waiting"
        assert errors == []
    finally:
        context.close()
        owner_context.close()
