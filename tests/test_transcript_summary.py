"""Summaries of finished transcripts by an OpenAI-compatible chat service: the exact wire
format against `ChatCompletionsServer` (tests/support/chat_completions.py, a small server
speaking POST /v1/chat/completions), what each kind of trouble becomes, the configuration's
checks, and through the hub: a meeting left empty hands its transcript out once, the summary
is kept with the meeting and downloaded by its moderators only.

The Matrix room's side (the file, then the summary, or a notice) is in
tests/bridge/test_transcript_posting.py."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from hub.config import load_config
from hub.config_summary import DEFAULT_PROMPT, SummaryConfig
from hub.errors import ConfigError
from hub.i18n import say
from hub.ids import ParticipantId
from hub.meetings.transcript_formats import markdown
from hub.speech.summary import ChatSummariser, SummaryFailed, chat_answer, chat_request
from hub.web.keys import TRANSCRIPTS
from hub.web.transcripts import NO_SUMMARY
from tests.conftest import make_config
from tests.support.chat_completions import ChatCompletionsServer
from tests.support.hub_client import another_browser, api_client
from tests.support.peer import wait_until
from tests.test_config import EXAMPLE, EXAMPLE_SECRET, GOOD_SECRET
from tests.test_lobby import Hub

TRANSCRIPT = "# Transcript\n\n**[00:00:01] Bruno** : good morning everyone\n"


@pytest.fixture
async def chat() -> AsyncIterator[ChatCompletionsServer]:
    server = ChatCompletionsServer()
    await server.start()
    yield server
    await server.close()


def test_the_request_and_answer_are_the_chat_completions_format() -> None:
    assert chat_request("mistral-small", "Résume.", TRANSCRIPT) == {
        "model": "mistral-small",
        "messages": [
            {"role": "system", "content": "Résume."},
            {"role": "user", "content": TRANSCRIPT},
        ],
        "stream": False,
    }
    answer = b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": " ok "}}]}'
    assert chat_answer(answer) == "ok"
    for body, error in (
        (b"<html>", "the answer is not JSON"),
        (b'{"choices": []}', "the answer has no choices[0].message.content"),
        (b'{"choices": [{"message": {"content": 3}}]}', "is empty or not text"),
        (b'{"choices": [{"message": {"content": "  "}}]}', "is empty or not text"),
    ):
        with pytest.raises(ValueError) as refused:
            chat_answer(body)
        assert error in str(refused.value)


async def test_the_summariser_speaks_to_the_service_and_names_each_failure(
    chat: ChatCompletionsServer,
) -> None:
    config = SummaryConfig(url=chat.url, model="mistral-small", api_key="k-1234", timeout=1)
    async with aiohttp.ClientSession() as session:
        summariser = ChatSummariser(config, session)
        assert await summariser.summarise(TRANSCRIPT) == chat.summary
        (body,) = chat.requests
        assert body["model"] == "mistral-small" and body["messages"][1]["content"] == TRANSCRIPT
        assert body["messages"][0] == {"role": "system", "content": DEFAULT_PROMPT}
        assert chat.authorizations == ["Bearer k-1234"]
        for mode, reason in (
            ("garbage", "unreadable answer: the answer is not JSON"),
            ("error", "HTTP 503: model overloaded"),
            ("slow", "no answer in 1 s"),
            ("redirect", "HTTP 307"),  # never followed: only the configured URL is asked
        ):
            chat.mode = mode
            with pytest.raises(SummaryFailed) as failed:
                await summariser.summarise(TRANSCRIPT)
            assert str(failed.value) == reason
        assert chat.elsewhere == 0
        with socket.socket() as unused:  # a port nobody listens on: the service is down
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]
        down = ChatSummariser(SummaryConfig(url=f"http://127.0.0.1:{port}/v1", model="m"), session)
        with pytest.raises(SummaryFailed, match=r"^cannot reach the server: "):
            await down.summarise(TRANSCRIPT)


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"url": "ai.example.gouv.fr/v1", "model": "m"}, "transcript_summary.url: must be an http"),
        ({"url": "https://ai.example.gouv.fr/v1?x=1", "model": "m"}, "transcript_summary.url"),
        ({"url": "https://ai.example.gouv.fr/v1"}, "transcript_summary: model: is required"),
        ({"timeout": 0}, "transcript_summary.timeout: Input should be greater than 0"),
        ({"url": "https:///v1", "model": "m"}, "transcript_summary.url: must be an http"),
        ({"url": "https://ai.example.gouv.fr:99999/v1", "model": "m"}, "must be an http"),
        (
            {"url": "https://bob:hunter2@ai.example.gouv.fr/v1", "model": "m"},
            "transcript_summary.url: must not carry a user or password",
        ),
    ],
)
def test_a_bad_summary_configuration_is_one_line(tmp_path, values, error) -> None:
    with pytest.raises(ConfigError) as refused:
        make_config(tmp_path, transcript_summary=values)
    assert error in str(refused.value) and "\n" not in str(refused.value)
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://ai.example.gouv.fr/v1", True),
        ("http://127.0.0.1:8000/v1", False),
        ("http://localhost:8000/v1", False),
        ("https://ai.example.gouv.fr/v1", False),
    ],
)
def test_outside_dev_mode_the_summary_service_is_https_unless_on_this_machine(
    tmp_path, url, refused
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("dev = true", "dev = false")
    text = text.replace(EXAMPLE_SECRET, GOOD_SECRET)
    empty = 'url = ""\n# The model name the service expects (required with url).\nmodel = ""'
    assert empty in text
    text = text.replace(empty, f'url = "{url}"\nmodel = "m"')
    path = tmp_path / "prod.toml"
    path.write_text(text, encoding="utf-8")
    if refused:
        with pytest.raises(ConfigError, match=r"transcript_summary\.url: must be an https:// URL"):
            load_config(path, environ={})
    else:
        assert load_config(path, environ={}).transcript_summary.url == url


async def _hub(aiohttp_client, tmp_path, chat: ChatCompletionsServer) -> Hub:
    config = make_config(
        tmp_path,
        speech={"transcript_empty_seconds": 1},
        transcript_summary={"url": chat.url, "model": "mistral-small", "timeout": 2},
    )
    client, csrf = await api_client(aiohttp_client, config)
    return Hub(client, csrf, [], [])


async def test_a_meeting_left_empty_is_summarised_once_for_its_moderators(
    aiohttp_client, tmp_path, chat: ChatCompletionsServer
) -> None:
    hub = await _hub(aiohttp_client, tmp_path, chat)
    meeting, olga, _ = await hub.gathering("public")
    transcripts = hub.app[TRANSCRIPTS]
    for text in ("good morning everyone", "the budget is approved"):
        await transcripts.keep(
            meeting, ParticipantId("p-bruno"), "Bruno", text,
            language="en", ended_at=datetime.now(UTC), seconds=1.5,
        )  # fmt: skip
    transcript = await transcripts.of(meeting)
    assert transcript is not None
    url = f"/api/v1/meetings/{meeting}/summary.md"
    assert (await (await hub.client.get(url)).json())["detail"] == say("fr", NO_SUMMARY)
    await olga.ws.close()  # the last one leaves: after 1 s empty the transcript is complete
    await wait_until(lambda: chat.requests, 10, "no summary asked for")
    assert chat.requests[0]["messages"][1]["content"] == markdown(transcript)
    for _ in range(50):  # the answer is kept just after it came
        got = await hub.client.get(url)
        if got.status == 200:
            break
        await asyncio.sleep(0.1)
    assert got.status == 200 and got.headers["Content-Type"].startswith("text/markdown")
    assert await got.text() == chat.summary + "\n"
    http, _csrf = await another_browser(hub.client)
    try:
        assert (await http.get(hub.client.make_url(url))).status == 403
    finally:
        await http.close()
    # The meeting ends afterwards: nothing new was said, nothing is handed out again.
    ended = await hub.client.post(f"/api/v1/meetings/{meeting}/end", headers=hub.owner_csrf)
    assert ended.status == 200, await ended.text()
    assert await transcripts.claim(meeting) is None and len(chat.requests) == 1


async def test_a_failing_summary_service_is_one_log_line_and_no_summary(
    aiohttp_client, tmp_path, chat: ChatCompletionsServer, caplog
) -> None:
    chat.mode = "garbage"
    hub = await _hub(aiohttp_client, tmp_path, chat)
    meeting, _olga, _ = await hub.gathering("public")
    await hub.app[TRANSCRIPTS].keep(
        meeting, ParticipantId("p-bruno"), "Bruno", "good morning",
        language="en", ended_at=datetime.now(UTC), seconds=1.0,
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="hub.meetings.transcript_release"):
        ended = await hub.client.post(f"/api/v1/meetings/{meeting}/end", headers=hub.owner_csrf)
        assert ended.status == 200
        await wait_until(
            lambda: any("summary" in r.getMessage() for r in caplog.records), 10, "no log line"
        )
    failures = [r for r in caplog.records if "summary failed" in r.getMessage()]
    assert [r.getMessage() for r in failures] == [
        "transcript summary failed: unreadable answer: the answer is not JSON"
    ]
    assert failures[0].exc_info is None  # one line, no stack trace
    got = await hub.client.get(f"/api/v1/meetings/{meeting}/summary.md")
    assert got.status == 404 and (await got.json())["detail"] == say("fr", NO_SUMMARY)
