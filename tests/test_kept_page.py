"""The page of what a meeting kept (/m/{id}/kept): its owner and moderators see the transcript,
the summary and each recording with their downloads and expiry, and every link on it works;
anyone else is refused as the download API refuses them; the home page links to it.

Real rows: transcript lines and a summary in the hub's database, a recording's manifest and
track files in the local store, exactly where the hub keeps them."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from html import unescape

import aiohttp
import pytest

from hub.auth.session import Session
from hub.db.models import AuthSession, Participant, Role
from hub.i18n import Text, say
from hub.ids import Identity, MeetingId, ParticipantId
from hub.recording.manifest import ComposedEntry, Manifest, TrackEntry, key
from hub.web.kept import HOME_MEETINGS, STORE_WAIT, duration_text, size_text
from hub.web.keys import DATABASE, RECORDINGS, SESSION_CODEC, TRANSCRIPTS
from hub.web.recording_routes import NOT_THEIRS
from tests.conftest import make_config
from tests.support.hub_client import another_browser, api_client
from tests.support.processes import free_port

HTML = {"Accept": "text/html"}
SESSION_REQUIRED = Text("error.session_required")
RECORDING = "0123456789abcdef"
MIC = b"OggS" + bytes(range(256)) * 40  # 10,244 bytes: what the page must say and serve
CAMERA = b"\x1aE\xdf\xa3" + b"\x00" * 2_500_000
COMPOSED = b"\x1aE\xdf\xa3composed"


def identity_of(app, http: aiohttp.ClientSession) -> Identity:
    codec = app[SESSION_CODEC]
    session = codec.decode(next(c.value for c in http.cookie_jar if c.key == codec.cookie_name))
    assert session is not None
    return session.identity


async def take_part(app, meeting: str, identity: Identity, role: Role) -> None:
    async with app[DATABASE].sessions.begin() as db:
        db.add(
            Participant(
                id=secrets.token_hex(8), meeting_id=meeting, identity=identity,
                identity_kind="guest", display_name="Marc", role=role,
            )
        )  # fmt: skip


async def logged_in(app) -> aiohttp.ClientSession:
    """A browser holding an identity provider's session (cookie and stored row)."""
    session = Session(
        identity=Identity("local:test:ines"), display_name="Inès",
        session_id=secrets.token_urlsafe(16), expires_at=int(time.time()) + 3600,
        provider="test", email="ines@example.gouv.fr",
    )  # fmt: skip
    async with app[DATABASE].sessions.begin() as db:
        db.add(
            AuthSession(
                id=session.session_id, identity=session.identity, provider="test",
                email=session.email, id_token="unused", created_at=datetime.now(UTC),
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )  # fmt: skip
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    codec = app[SESSION_CODEC]
    http.cookie_jar.update_cookies({codec.cookie_name: codec.encode(session)})
    return http


async def keep_recording(app, meeting: str, *, composed: bool) -> Manifest:
    tracks = [
        TrackEntry(
            file="01-microphone.ogg", participant_id="p1", name="Bruno <b>", kind="audio",
            source="microphone", codec="opus", start=0.0, duration=185.0, frames=9250,
        ),
        TrackEntry(
            file="02-camera.webm", participant_id="p1", name="Bruno <b>", kind="video",
            source="camera", codec="vp8", start=0.04, duration=184.9, frames=2770,
            width=640, height=360,
        ),
    ]  # fmt: skip
    ended = datetime(2026, 12, 1, 9, 33, 5, tzinfo=UTC)
    manifest = Manifest(
        recording_id=RECORDING, meeting_id=meeting,
        started_at=ended - timedelta(seconds=185), ended_at=ended,
        expires_at=ended + timedelta(days=30), started_by="Olga", tracks=tracks,
        composed=ComposedEntry(
            file="composed-grid.webm", layout="grid", duration=185.0, made_at=ended
        ) if composed else None,
    )  # fmt: skip
    store = app[RECORDINGS].store
    await store.put_bytes(key(meeting, RECORDING, "01-microphone.ogg"), MIC)
    await store.put_bytes(key(meeting, RECORDING, "02-camera.webm"), CAMERA)
    if composed:
        await store.put_bytes(key(meeting, RECORDING, "composed-grid.webm"), COMPOSED)
    await store.put_bytes(key(meeting, RECORDING), manifest.to_bytes())
    return manifest


def links(page: str) -> list[str]:
    return [unescape(href) for href in re.findall(r'href="(/api/v1/[^"]+)"', page)]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def hub(aiohttp_client, tmp_path, request):
    database = {}
    if request.param == "postgres":  # the page's queries (DISTINCT, GROUP BY) on both
        database = {"url": request.getfixturevalue("postgres_url")}
    client, csrf = await api_client(aiohttp_client, make_config(tmp_path, database=database))
    created = await client.post("/api/v1/meetings", json={"title": "Comité <budget>"}, headers=csrf)
    assert created.status == 201
    others: list[aiohttp.ClientSession] = []
    yield client, csrf, MeetingId((await created.json())["id"]), others
    for http in others:
        await http.close()


async def test_an_empty_state_first_then_the_home_page_links_a_recording(hub):
    client, _, meeting, _ = hub
    page = await client.get(f"/m/{meeting}/kept", headers=HTML)
    assert page.status == 200 and page.headers["Cache-Control"] == "no-store"
    text = await page.text()
    assert "<h1>Enregistrements et transcriptions</h1>" in text
    assert "Comité &lt;budget&gt;" in text and "<budget>" not in text
    assert "Aucune transcription n&#39;est conservée" in text
    assert "Aucun enregistrement n&#39;est conservé" in text
    assert links(text) == []
    english = await client.get(f"/m/{meeting}/kept?lang=en", headers=HTML)
    assert "No transcript is kept for this meeting" in await english.text()
    home = await client.get("/", headers=HTML)
    assert f"/m/{meeting}/kept" not in await home.text()  # nothing kept: no link
    await keep_recording(client.app, meeting, composed=False)  # a recording alone is enough
    home = await client.get("/", headers=HTML)
    assert f'href="/m/{meeting}/kept"' in await home.text()


async def test_owner_and_moderator_see_everything_kept_and_every_link_downloads(hub):
    client, csrf, meeting, others = hub
    app = client.app
    transcripts = app[TRANSCRIPTS]
    said = [("p1", "Bruno <b>", "bonjour à tous"), ("p2", "Alice", "merci"),
            ("p1", "Bruno <b>", "on commence")]  # fmt: skip
    for participant, speaker, text in said:
        assert await transcripts.keep(
            meeting, ParticipantId(participant), speaker, text,
            language="fr", ended_at=datetime.now(UTC), seconds=1.0,
        )  # fmt: skip
    await transcripts.keep_summary(meeting, "Décisions :\n- le budget <2027> est voté")
    await keep_recording(app, meeting, composed=True)
    moderator, _ = await another_browser(client)
    others.append(moderator)
    await take_part(app, meeting, identity_of(app, moderator), Role.MODERATOR)

    for who, http in (("owner", client.session), ("moderator", moderator)):
        page = await http.get(client.make_url(f"/m/{meeting}/kept"), headers=HTML)
        assert page.status == 200, who
        text = await page.text()
        assert "<dd>3</dd>" in text and "<dd>Bruno &lt;b&gt;, Alice</dd>" in text, who
        assert "le budget &lt;2027&gt; est voté" in text
        expiry = (datetime.now(UTC) + timedelta(days=90)).strftime("%Y-%m-%d")
        assert f'datetime="{expiry}' in text  # 90 days after the last line
        assert 'Enregistrement du <time datetime="2026-12-01T09:30:00+00:00">' in text
        assert "2026-12-31 09:33 UTC" in text  # the recording's expiry, from its manifest
        assert f"<dd>{duration_text(185)}</dd>" == "<dd>3 min 05 s</dd>"
        assert "<dd>3 min 05 s</dd>" in text
        assert f"<dd>{size_text('fr', len(MIC) + len(CAMERA))}</dd>" == "<dd>2,5 Mo</dd>"
        assert "<dd>2,5 Mo</dd>" in text and "10,2 ko" in text
        base = f"/api/v1/meetings/{meeting}"
        files = f"{base}/recordings/{RECORDING}"
        assert links(text) == [
            f"{base}/transcript.vtt", f"{base}/transcript.md", f"{base}/summary.md",
            f"{files}/composed-grid.webm", f"{files}/01-microphone.ogg",
            f"{files}/02-camera.webm",
        ], who  # fmt: skip
        bodies = {}
        for url in links(text):
            got = await http.get(client.make_url(url))
            assert got.status == 200, (who, url, await got.text())
            bodies[url.rsplit("/", 1)[1]] = await got.read()
        assert bodies["transcript.vtt"].startswith(b"WEBVTT - Comit")
        assert "Alice** : merci" in bodies["transcript.md"].decode()
        assert bodies["summary.md"].startswith("Décisions".encode())
        assert bodies["01-microphone.ogg"] == MIC and bodies["02-camera.webm"] == CAMERA
        assert bodies["composed-grid.webm"] == COMPOSED

    english = await client.get(f"/m/{meeting}/kept?lang=en", headers=HTML)
    text = await english.text()
    assert "Download the transcript (WebVTT)" in text and "2.5 MB" in text
    assert "Download the composed video (WebM)" in text

    # The home page links to it: in the owner's open meetings, and for the moderator (whose
    # meeting it is not) in its own list; once it has ended, for the owner too.
    home = await client.get("/", headers=HTML)
    assert f'href="/m/{meeting}/kept"' in await home.text()
    home = await moderator.get(client.make_url("/"), headers=HTML)
    assert f'<a href="/m/{meeting}/kept">Comité &lt;budget&gt;</a>' in await home.text()
    ended = await client.post(f"/api/v1/meetings/{meeting}/end", headers=csrf)
    assert ended.status == 200
    home = await client.get("/", headers=HTML)
    assert f'<a href="/m/{meeting}/kept">Comité &lt;budget&gt;</a>' in await home.text()
    assert (await client.get(f"/m/{meeting}/kept", headers=HTML)).status == 200


async def test_everyone_else_is_refused_as_the_download_api_refuses_them(hub):
    client, _, meeting, others = hub
    app = client.app
    assert await app[TRANSCRIPTS].keep(
        meeting, ParticipantId("p1"), "Bruno", "secret", language="fr",
        ended_at=datetime.now(UTC), seconds=1.0,
    )  # fmt: skip
    await keep_recording(app, meeting, composed=False)
    participant, _ = await another_browser(client)  # was in it, not as a moderator
    stranger, _ = await another_browser(client)  # a guest who never was
    fresh = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # no cookie yet
    ines = await logged_in(app)  # logged in with an identity provider, not in the meeting
    others.extend([participant, stranger, fresh, ines])
    await take_part(app, meeting, identity_of(app, participant), Role.PARTICIPANT)

    for who, http in (("participant", participant), ("guest", stranger), ("no cookie", fresh),
                      ("logged in", ines)):  # fmt: skip
        page = await http.get(client.make_url(f"/m/{meeting}/kept"), headers=HTML)
        api = await http.get(client.make_url(f"/api/v1/meetings/{meeting}/recordings"))
        # A page makes a guest of a browser without a session (so 403); the API does not (401).
        assert page.status == 403 and api.status == (401 if who == "no cookie" else 403), who
        text = await page.text()
        assert "secret" not in text and RECORDING not in text and "Bruno" not in text, who
        assert "Seuls l&#39;organisateur et les modérateurs" in text, who
        as_json = await http.get(
            client.make_url(f"/m/{meeting}/kept"), headers={"Accept": "application/json"}
        )
        refusal = say("fr", SESSION_REQUIRED if who == "no cookie" else NOT_THEIRS)
        assert (await as_json.json())["detail"] == refusal, who
        home = await http.get(client.make_url("/"), headers=HTML)
        assert "/kept" not in await home.text(), who
    for unknown in ("zzz-zzzz-zzz", "not-a-meeting"):
        page = await client.get(f"/m/{unknown}/kept", headers=HTML)
        api = await client.get(f"/api/v1/meetings/{unknown}/recordings")
        assert page.status == api.status == 404


async def test_a_hub_without_recording_says_so(aiohttp_client, tmp_path):
    client, csrf = await api_client(
        aiohttp_client, make_config(tmp_path, recording={"enabled": False})
    )
    created = await client.post("/api/v1/meetings", json={"title": "Point"}, headers=csrf)
    meeting = (await created.json())["id"]
    page = await client.get(f"/m/{meeting}/kept", headers=HTML)
    assert page.status == 200
    assert "L&#39;enregistrement des réunions n&#39;est pas activé" in await page.text()


def test_sizes_and_durations_read_as_people_write_them():
    assert [size_text("fr", n) for n in (0, 999, 1000, 10_244, 2_510_244, 123_456_789)] == [
        "0 o", "999 o", "1,0 ko", "10,2 ko", "2,5 Mo", "123 Mo",
    ]  # fmt: skip
    assert size_text("en", 2_510_244) == "2.5 MB"
    assert [duration_text(s) for s in (0.4, 42, 185, 3725)] == [
        "0 s", "42 s", "3 min 05 s", "1 h 02 min",
    ]  # fmt: skip


async def test_a_store_that_is_down_takes_neither_the_home_page_nor_the_transcript_with_it(
    aiohttp_client, tmp_path, caplog
):
    pytest.importorskip("aiobotocore")
    # A real S3 client whose endpoint has nobody listening: every listing fails.
    storage = {
        "backend": "s3", "endpoint": f"http://127.0.0.1:{free_port()}", "bucket": "gone",
        "access_key": "AKIAGONE", "secret_key": "s" * 40,
    }  # fmt: skip
    client, csrf = await api_client(aiohttp_client, make_config(tmp_path, storage=storage))
    created = await client.post("/api/v1/meetings", json={"title": "Point"}, headers=csrf)
    assert created.status == 201
    home = await client.get("/", headers=HTML)
    assert home.status == 200 and "/kept" not in await home.text()
    assert "recordings not listed for the home page" in caplog.text
    # The page still shows the transcript, and says the recordings cannot be read now.
    meeting = (await created.json())["id"]
    assert await client.app[TRANSCRIPTS].keep(
        meeting, ParticipantId("p1"), "Bruno", "bonjour", language="fr",
        ended_at=datetime.now(UTC), seconds=1.0,
    )  # fmt: skip
    page = await client.get(f"/m/{meeting}/kept", headers=HTML)
    assert page.status == 200
    text = await page.text()
    assert "Télécharger la transcription (WebVTT)" in text
    assert "Les enregistrements ne peuvent pas être lus pour le moment" in text
    assert "Aucun enregistrement" not in text


async def test_a_store_that_never_answers_holds_neither_page_more_than_a_moment(
    aiohttp_client, tmp_path, caplog
):
    """The S3 endpoint accepts connections and never answers (its client would wait 60 s a
    read, three times): the home page answers without the link, the kept page says the
    recordings cannot be read now, each within the store's wait."""
    pytest.importorskip("aiobotocore")
    held: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepted, read, never answered

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        storage = {
            "backend": "s3", "endpoint": f"http://127.0.0.1:{port}", "bucket": "stalled",
            "access_key": "AKIASTALLED", "secret_key": "s" * 40,
        }  # fmt: skip
        client, csrf = await api_client(aiohttp_client, make_config(tmp_path, storage=storage))
        created = await client.post("/api/v1/meetings", json={"title": "Point"}, headers=csrf)
        meeting = (await created.json())["id"]
        started = time.monotonic()
        async with asyncio.timeout(STORE_WAIT + 5):
            home = await client.get("/", headers=HTML)
        assert home.status == 200 and "/kept" not in await home.text()
        assert f"no answer in {STORE_WAIT:g} s" in caplog.text
        async with asyncio.timeout(STORE_WAIT + 5):
            page = await client.get(f"/m/{meeting}/kept", headers=HTML)
        assert page.status == 200
        assert "Les enregistrements ne peuvent pas être lus pour le moment" in await page.text()
        assert time.monotonic() - started < 2 * STORE_WAIT + 3
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_the_home_page_links_every_transcript_not_only_the_newest_meetings(hub):
    """The oldest of HOME_MEETINGS + 2 meetings kept a transcript: it is linked all the same
    (the recordings alone are looked for in the newest few: one store listing each)."""
    client, csrf, oldest, _ = hub
    assert await client.app[TRANSCRIPTS].keep(
        oldest, ParticipantId("p1"), "Bruno", "bonjour", language="fr",
        ended_at=datetime.now(UTC), seconds=1.0,
    )  # fmt: skip
    for number in range(HOME_MEETINGS + 1):
        created = await client.post(
            "/api/v1/meetings", json={"title": f"Réunion {number}"}, headers=csrf
        )
        assert created.status == 201
    newest = MeetingId((await created.json())["id"])
    await keep_recording(client.app, newest, composed=False)
    home = await (await client.get("/", headers=HTML)).text()
    assert f'href="/m/{oldest}/kept"' in home and f'href="/m/{newest}/kept"' in home
    assert home.index(f"/m/{newest}/kept") < home.index(f"/m/{oldest}/kept")  # newest first
