"""A meeting's transcript reaches its Matrix room as a file when the meeting ends, through the
hub's in-process bot and a real Synapse: an m.file whose media is the Markdown transcript
(encrypted, with its keys in the event, in an encrypted room), and the status message says a
transcript is available.

The transcript's lines are kept through the hub's store as the subtitle relay keeps them
(tests/test_transcripts.py covers the speech that produces them)."""

from __future__ import annotations

import asyncio
import secrets
import socket
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from nio import RoomEncryptedFile
from nio.crypto.attachments import decrypt_attachment

from bridge import wire
from bridge.hub_port import (
    MeetingClosed,
    MeetingSummary,
    TranscriptDigest,
    TranscriptFile,
    TranscriptReady,
)
from hub.ids import MeetingId, ParticipantId
from hub.meetings.transcript_formats import markdown
from hub.web.keys import ROOM_LINKS, TRANSCRIPTS
from tests.bridge.people import EncryptedPerson, Person, moderated_room
from tests.conftest import make_config
from tests.support.chat_completions import ChatCompletionsServer
from tests.support.hub_client import another_browser, api_client
from tests.support.peer import Participant
from tests.support.synapse import Synapse

ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


@pytest.fixture
async def hub(aiohttp_client, tmp_path: Path, synapse: Synapse) -> Any:
    return await bridged_hub(aiohttp_client, tmp_path, synapse)


async def bridged_hub(
    aiohttp_client, tmp_path: Path, synapse: Synapse, **sections: dict[str, object]
) -> Any:
    bot = synapse.register(f"visio{secrets.token_hex(3)}")
    config = make_config(
        tmp_path,
        **sections,
        matrix={
            "allowed_homeservers": [synapse.server_name],
            "homeserver_overrides": {synapse.server_name: synapse.url},
            "bot_user_id": bot.user_id,
            "bot_homeserver_url": synapse.url,
            "bot_password": bot.password,
        },
    )
    client, _csrf = await api_client(aiohttp_client, config)
    client.bot_id = bot.user_id
    return client


@pytest.fixture
async def chat() -> Any:
    server = ChatCompletionsServer()
    await server.start()
    yield server
    await server.close()


def download(synapse: Synapse, mxc: str, token: str) -> bytes:
    server, media = mxc.removeprefix("mxc://").split("/", 1)
    request = urllib.request.Request(
        f"{synapse.url}/_matrix/client/v1/media/download/{server}/{media}"
    )
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


async def meeting_with_transcript(
    hub: Any, alice: Person | EncryptedPerson, room: str
) -> tuple[MeetingId, str]:
    """`!visio start`, two utterances kept, `!visio end`; the expected Markdown."""
    await alice.wait_reply(room, hub.bot_id, await alice.say(room, "!visio start Point budget"))
    link = await hub.app[ROOM_LINKS].live_for(room)
    assert link is not None
    meeting = MeetingId(link.meeting_id)
    transcripts = hub.app[TRANSCRIPTS]
    for text in ("good morning everyone", "please mute your microphone"):
        await transcripts.keep(
            meeting, ParticipantId("p-bruno"), "Bruno", text,
            language="en", ended_at=datetime.now(UTC), seconds=1.5,
        )  # fmt: skip
    expected = await transcripts.of(meeting)
    assert expected is not None
    await alice.say(room, "!visio end")
    return meeting, markdown(expected)


async def status_says_available(alice: Person, room: str, bot_id: str) -> None:
    async def edited() -> bool:
        for event in await alice.events(room):
            new = event.get("content", {}).get("m.new_content", {})
            if event["sender"] == bot_id and "Transcription disponible" in new.get("body", ""):
                return True
        return False

    await alice.wait_until(edited, "the status message saying a transcript is available")


async def test_the_room_receives_the_transcript_as_a_file(hub: Any, synapse: Synapse):
    alice = Person(synapse, synapse.register(f"alice{secrets.token_hex(3)}"))
    room = await alice.create_room([hub.bot_id], **moderated_room(hub.bot_id))
    await alice.wait_membership(room, hub.bot_id, "join")
    meeting, expected = await meeting_with_transcript(hub, alice, room)

    async def file_event() -> dict[str, Any] | None:
        for event in await alice.events(room):
            if event["sender"] == hub.bot_id and event["content"].get("msgtype") == "m.file":
                return dict(event["content"])
        return None

    content = await alice.wait_until(file_event, "the m.file event")
    name = f"transcript-{meeting}.md"
    assert (content["body"], content["filename"]) == (name, name)
    assert content["info"]["mimetype"] == "text/markdown"
    data = await asyncio.to_thread(download, synapse, content["url"], alice.user.access_token)
    assert data.decode() == expected
    assert "**[00:00:" in expected and "Bruno** : good morning everyone" in expected
    await status_says_available(alice, room, hub.bot_id)


async def test_an_encrypted_room_receives_it_encrypted(hub: Any, synapse: Synapse, tmp_path):
    account = synapse.register(f"alice{secrets.token_hex(3)}")
    alice = Person(synapse, account)
    room = await alice.create_room(
        [hub.bot_id], initial_state=[ENCRYPTION], **moderated_room(hub.bot_id)
    )
    await alice.wait_membership(room, hub.bot_id, "join")
    reader = EncryptedPerson(synapse, account, tmp_path / "alice-store")
    try:
        _meeting, expected = await meeting_with_transcript(hub, reader, room)
        found: RoomEncryptedFile | None = None
        edits: list[str] = []
        async with asyncio.timeout(20):
            while found is None or not edits:
                response = await reader.sync()
                joined = response.rooms.join.get(room)
                for event in joined.timeline.events if joined else []:
                    if event.sender != hub.bot_id:
                        continue
                    if isinstance(event, RoomEncryptedFile):
                        found = event
                    new = event.source.get("content", {}).get("m.new_content", {})
                    if "Transcription disponible" in new.get("body", ""):
                        edits.append(new["body"])
        # The event holds no readable url: only the ciphertext's, with the keys that open it.
        assert found.decrypted and "url" not in found.source["content"]
        ciphertext = await asyncio.to_thread(download, synapse, found.url, account.access_token)
        assert expected.encode() not in ciphertext
        plain = decrypt_attachment(ciphertext, found.key["k"], found.hashes["sha256"], found.iv)
        assert plain.decode() == expected
    finally:
        await reader.close()


async def keep_two_lines(hub: Any, meeting: MeetingId) -> str:
    transcripts = hub.app[TRANSCRIPTS]
    for text in ("good morning everyone", "please mute your microphone"):
        await transcripts.keep(
            meeting, ParticipantId("p-bruno"), "Bruno", text,
            language="en", ended_at=datetime.now(UTC), seconds=1.5,
        )  # fmt: skip
    expected = await transcripts.of(meeting)
    assert expected is not None
    return markdown(expected)


def bot_files(events: list[dict[str, Any]], bot_id: str) -> list[dict[str, Any]]:
    return [e for e in events if e["sender"] == bot_id and e["content"].get("msgtype") == "m.file"]


async def test_a_meeting_left_empty_gives_the_room_its_transcript_once_then_its_summary(
    aiohttp_client, tmp_path: Path, synapse: Synapse, chat: ChatCompletionsServer
):
    """Nobody ends the meeting: everyone leaves. After speech.transcript_empty_seconds the
    room gets the transcript, then the summary the chat service wrote; ending the meeting
    afterwards posts nothing twice."""
    hub = await bridged_hub(
        aiohttp_client, tmp_path, synapse,
        speech={"transcript_empty_seconds": 1},
        transcript_summary={"url": chat.url, "model": "mistral-small"},
    )  # fmt: skip
    account = synapse.register(f"alice{secrets.token_hex(3)}")
    alice = Person(synapse, account)
    room = await alice.create_room([hub.bot_id], **moderated_room(hub.bot_id))
    await alice.wait_membership(room, hub.bot_id, "join")
    await alice.wait_reply(room, hub.bot_id, await alice.say(room, "!visio start Point budget"))
    link = await hub.app[ROOM_LINKS].live_for(room)
    assert link is not None
    meeting = MeetingId(link.meeting_id)
    expected = await keep_two_lines(hub, meeting)
    # Alice, as herself (Matrix OpenID), is in the meeting, then leaves: nobody is left.
    http, csrf = await another_browser(hub)
    try:
        issued = await asyncio.to_thread(synapse.openid_token, account)
        login = await http.post(
            hub.make_url("/auth/matrix"),
            json={k: issued[k] for k in ("access_token", "matrix_server_name")},
            headers=csrf,
        )
        assert login.status == 200, await login.text()
        ws = await http.ws_connect(hub.make_url(f"/api/v1/meetings/{meeting}/ws"))
        alice_call = Participant(ws, "Alice")
        await alice_call.join(audio=False, video=False)
        await alice_call.close()

        async def digest() -> list[dict[str, Any]] | None:
            events = await alice.events(room)
            found = [
                e for e in events
                if e["sender"] == hub.bot_id and "Résumé de la transcription" in
                e["content"].get("body", "")
            ]  # fmt: skip
            return events if found and bot_files(events, hub.bot_id) else None

        events = await alice.wait_until(digest, "the transcript, then its summary")
        (file,) = bot_files(events, hub.bot_id)
        data = await asyncio.to_thread(
            download, synapse, file["content"]["url"], account.access_token
        )
        assert data.decode() == expected
        summary = next(
            e for e in events if "Résumé de la transcription" in e["content"].get("body", "")
        )
        assert summary["content"]["body"].endswith(chat.summary)
        assert events.index(summary) < events.index(file)  # newest first: the file came first
        assert chat.requests[0]["messages"][1]["content"] == expected
        # The owner downloads the same summary from the hub.
        got = await http.get(hub.make_url(f"/api/v1/meetings/{meeting}/summary.md"))
        assert got.status == 200 and await got.text() == chat.summary + "\n"
    finally:
        await http.close()
    # Ending the meeting now: the status says it ended; no second file, no second summary.
    await alice.say(room, "!visio end")

    async def closed() -> bool:
        return await hub.app[ROOM_LINKS].live_for(room) is None

    await alice.wait_until(closed, "the meeting ended")
    await asyncio.sleep(2)  # what a second posting would take
    assert len(bot_files(await alice.events(room), hub.bot_id)) == 1 and len(chat.requests) == 1


async def test_a_summary_service_that_is_down_leaves_the_transcript_and_a_notice(
    aiohttp_client, tmp_path: Path, synapse: Synapse
):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    hub = await bridged_hub(
        aiohttp_client, tmp_path, synapse,
        transcript_summary={"url": f"http://127.0.0.1:{port}/v1", "model": "m"},
    )  # fmt: skip
    alice = Person(synapse, synapse.register(f"alice{secrets.token_hex(3)}"))
    room = await alice.create_room([hub.bot_id], **moderated_room(hub.bot_id))
    await alice.wait_membership(room, hub.bot_id, "join")
    _meeting, _expected = await meeting_with_transcript(hub, alice, room)

    async def notice() -> list[dict[str, Any]] | None:
        events = await alice.events(room)
        failed = [e for e in events if "n'a pas pu être rédigé" in e["content"].get("body", "")]
        return events if failed and bot_files(events, hub.bot_id) else None

    events = await alice.wait_until(notice, "the transcript and the notice that no summary came")
    assert len(bot_files(events, hub.bot_id)) == 1


def test_a_bot_run_alone_gets_the_transcript_in_the_summary_event():
    """`hub bridge` receives MeetingClosed over the bridge API's JSON: the file survives it."""
    summary = MeetingSummary(
        room_id="!r:localhost", meeting_id="abc-defg-hij", title="t", widget_id="visio_1",
        status_event_id="$s", started_at=None, ended_at=datetime(2026, 12, 1, tzinfo=UTC),
        participant_count=1, names=(),
        transcript=TranscriptFile("transcript-abc-defg-hij.md", "text/markdown", "**A** : b\n"),
    )  # fmt: skip
    event = MeetingClosed(summary)
    assert wire.event_from_json(wire.event_to_json(event)) == event
    without = MeetingClosed(replace(summary, transcript=None))
    assert wire.event_from_json(wire.event_to_json(without)) == without
    # A meeting left empty: the file alone, then the summary (or None: the service failed).
    for later in (
        TranscriptReady("!r:localhost", "abc-defg-hij", summary.transcript),
        TranscriptDigest("!r:localhost", "abc-defg-hij", "- Budget : validé."),
        TranscriptDigest("!r:localhost", "abc-defg-hij", None),
    ):
        assert wire.event_from_json(wire.event_to_json(later)) == later
