"""Pages for people, without a browser: languages, the no-JS create form and its CSRF check,
joining by code, the meeting page's states, and that every asset comes from the hub itself."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from hub.auth.session import Session
from hub.db.models import AccessLevel
from hub.resources import resource_dir
from hub.web.app import create_app
from hub.web.keys import MEETINGS, SESSION_CODEC
from hub.web.pages import meeting_id_from_code

HTML = {"Accept": "text/html"}
ID = re.compile(r"^/m/([a-z]{3}-[a-z]{4}-[a-z]{3})$")


class Assets(HTMLParser):
    """Collects what a page loads (script, link, img, video, audio, source) and its JSON blobs."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.blobs: dict[str, str] = {}
        self.lang: str | None = None
        self.inline_scripts = 0
        self._blob: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        if tag in ("script", "link", "img", "video", "audio", "source", "iframe"):
            for name in ("src", "href"):
                if values.get(name):
                    self.urls.append(str(values[name]))
        if tag == "script" and not values.get("src"):
            if values.get("type") == "application/json":
                self._blob = values.get("id") or ""
                self.blobs[self._blob] = ""
            else:
                self.inline_scripts += 1

    def handle_data(self, data: str) -> None:
        if self._blob is not None:
            self.blobs[self._blob] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._blob = None


def parse(html: str) -> Assets:
    parser = Assets()
    parser.feed(html)
    return parser


async def browser_client(aiohttp_client, config):
    """A client that opened the home page like a browser: it holds a guest session cookie."""
    app = create_app(config)
    client = await aiohttp_client(app)
    home = await client.get("/", headers=HTML)
    assert home.status == 200
    return app, client, await home.text()


def session_of(app, client) -> Session:
    codec = app[SESSION_CODEC]
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[codec.cookie_name]
    session = codec.decode(cookie.value)
    assert session is not None
    return session


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the create form has no csrf_token field"
    return match.group(1)


async def create_through_form(client, token: str, **fields: str):
    data = {"csrf_token": token, "title": "Point hebdo", "access_level": "restricted", **fields}
    return await client.post("/meetings", data=data, headers=HTML, allow_redirects=False)


async def test_home_is_french_by_default_and_english_on_request(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    french = await client.get("/", headers=HTML)
    text = await french.text()
    assert french.status == 200
    assert parse(text).lang == "fr"
    assert "Créer une réunion" in text and "Rejoindre une réunion" in text
    assert 'value="restricted"' in text and "checked" in text.split('value="restricted"')[1][:80]

    english = await client.get("/", headers={**HTML, "Accept-Language": "en-GB,en;q=0.9"})
    text = await english.text()
    assert parse(text).lang == "en"
    assert "Create a meeting" in text and "Join a meeting" in text

    chosen = await client.get("/?lang=en", headers=HTML)
    assert parse(await chosen.text()).lang == "en"
    remembered = await client.get("/", headers=HTML)  # the hub_lang cookie now says English
    assert parse(await remembered.text()).lang == "en"


async def test_the_form_creates_a_meeting_and_redirects_to_it(aiohttp_client, config):
    app, client, home = await browser_client(aiohttp_client, config)
    created = await create_through_form(client, form_token(home), access_level="public")
    assert created.status == 303
    match = ID.match(created.headers["Location"])
    assert match, created.headers["Location"]
    meeting = await app[MEETINGS].get(match.group(1))
    assert meeting.title == "Point hebdo"
    assert meeting.access_level is AccessLevel.PUBLIC
    assert meeting.owner_identity == session_of(app, client).identity

    page = await client.get(created.headers["Location"], headers=HTML)
    assert page.status == 200
    assert "Point hebdo" in await page.text()


@pytest.mark.parametrize("token", [None, "", "forged-token"])
async def test_a_missing_or_wrong_csrf_token_is_refused(aiohttp_client, config, token):
    app, client, _ = await browser_client(aiohttp_client, config)
    data = {"title": "Point hebdo", "access_level": "public"}
    if token is not None:
        data["csrf_token"] = token
    refused = await client.post("/meetings", data=data, headers=HTML, allow_redirects=False)
    assert refused.status == 403
    assert await app[MEETINGS].list_owned(session_of(app, client).identity) == []


async def test_another_sessions_token_is_refused(aiohttp_client, config):
    app, client, _ = await browser_client(aiohttp_client, config)
    other = app[SESSION_CODEC].new_guest()
    refused = await create_through_form(client, app[SESSION_CODEC].csrf_token(other))
    assert refused.status == 403
    assert await app[MEETINGS].list_owned(session_of(app, client).identity) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "   "}, "Indiquez un titre pour la réunion."),
        ({"title": "x" * 201}, "Le titre doit faire 200 caractères au plus."),
        ({"title": "bad\x07title"}, "caractères non autorisés"),
        ({"access_level": "everyone"}, "Choisissez qui peut entrer"),
    ],
)
async def test_invalid_input_re_renders_the_form_with_400(aiohttp_client, config, fields, message):
    app, client, home = await browser_client(aiohttp_client, config)
    answer = await create_through_form(client, form_token(home), **fields)
    text = await answer.text()
    assert answer.status == 400
    assert message in text
    assert 'id="create-errors"' in text  # the error summary, announced as an alert
    assert "<title>Erreur" in text
    assert form_token(text)  # the re-rendered form can be sent again
    assert await app[MEETINGS].list_owned(session_of(app, client).identity) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abc-defg-hij", "abc-defg-hij"),
        ("  ABC-DEFG-HIJ ", "abc-defg-hij"),
        ("abcdefghij", "abc-defg-hij"),
        ("abc defg hij", "abc-defg-hij"),
        ("https://visio.example.gouv.fr/m/abc-defg-hij", "abc-defg-hij"),
        ("http://127.0.0.1:8080/m/abc-defg-hij?lang=en#x", "abc-defg-hij"),
        ("/m/abc-defg-hij/", "abc-defg-hij"),
        ("abc-defg-hi", None),
        ("abc-defg-hij-k", None),
        ("abc-déf-ghij", None),
        ("", None),
    ],
)
def test_meeting_codes_are_normalised(text, expected):
    assert meeting_id_from_code(text) == expected


async def test_join_by_code_or_link_redirects_or_explains(aiohttp_client, config):
    _, client, home = await browser_client(aiohttp_client, config)
    created = await create_through_form(client, form_token(home))
    meeting_id = ID.match(created.headers["Location"]).group(1)

    for code in (
        meeting_id.upper(),
        f"http://127.0.0.1/m/{meeting_id}",
        meeting_id.replace("-", ""),
    ):
        answer = await client.get(
            "/join", params={"code": code}, headers=HTML, allow_redirects=False
        )
        assert answer.status == 303, code
        assert answer.headers["Location"] == f"/m/{meeting_id}"

    bad = await client.get("/join", params={"code": "not a code"}, headers=HTML)
    assert bad.status == 400
    text = await bad.text()
    assert "abc-defg-hij" in text
    assert 'href="/?lang=en"' in text  # switching language from here lands on a real page
    unknown = await client.get("/join", params={"code": "zzz-zzzz-zzz"}, headers=HTML)
    assert unknown.status == 404
    assert "Aucune réunion ne correspond à ce code" in await unknown.text()


async def test_meeting_page_states(aiohttp_client, config):
    app, client, home = await browser_client(aiohttp_client, config)
    created = await create_through_form(client, form_token(home), title="Revue <b>budget</b>")
    path = created.headers["Location"]
    page = await client.get(path, headers=HTML)
    text = await page.text()
    assert page.status == 200
    assert "Revue &lt;b&gt;budget&lt;/b&gt;" in text  # escaped, never markup
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assets = parse(text)
    assert assets.inline_scripts == 0
    settings = json.loads(assets.blobs["meeting-settings"])
    assert settings["wsPath"] == f"/api/v1/meetings/{path[3:]}/ws"
    strings = json.loads(assets.blobs["i18n"])
    assert strings["meeting.state.reconnecting"] == "Reconnexion…"
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', text)

    english = await client.get(path, headers={**HTML, "Accept-Language": "en"})
    assert json.loads(parse(await english.text()).blobs["i18n"])["meeting.join"] == (
        "Join the meeting"
    )
    upper = await client.get("/m/" + path[3:].upper(), headers=HTML, allow_redirects=False)
    assert upper.status == 301 and upper.headers["Location"] == path

    missing = await client.get("/m/zzz-zzzz-zzz", headers=HTML)
    assert missing.status == 404
    assert "Réunion introuvable" in await missing.text()
    nonsense = await client.get("/m/not-an-id", headers=HTML)
    assert nonsense.status == 404

    await app[MEETINGS].end(path[3:], by=session_of(app, client).identity)
    ended = await client.get(path, headers=HTML)
    text = await ended.text()
    assert ended.status == 410
    assert "La réunion est terminée" in text
    assert "meeting.js" not in text


async def test_pages_load_only_same_origin_assets(aiohttp_client, config):
    _, client, home = await browser_client(aiohttp_client, config)
    created = await create_through_form(client, form_token(home))
    pages = {
        "/": home,
        "/?lang=en": await (await client.get("/?lang=en", headers=HTML)).text(),
        "meeting": await (await client.get(created.headers["Location"], headers=HTML)).text(),
        "404": await (await client.get("/no/such/page", headers=HTML)).text(),
    }
    for name, html in pages.items():
        urls = parse(html).urls
        assert urls, name
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), (name, url)
        for url in urls:  # and each of them is really served
            assert (await client.get(url)).status == 200, (name, url)


def test_static_files_reference_no_other_host():
    static = resource_dir("static")
    files = [*static.rglob("*.css"), *static.rglob("*.js")]
    assert any(f.suffix == ".js" for f in files) and any(f.suffix == ".css" for f in files)
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), path
        assert "@font-face" not in text, path
        assert not re.search(r"@import\s+url\(", text), path
        assert not re.search(r"url\(\s*['\"]?//", text), path
