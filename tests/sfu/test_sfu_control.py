"""The control protocol between the hub and its SFU workers (hub/sfu/control.py): pure checks,
then a real `hub sfu-worker` process fed hostile frames."""

from __future__ import annotations

import asyncio
import json
import os
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from hub.pipes import frames
from hub.pipes.frames import FrameError
from hub.sfu import control
from hub.sfu.control import EVENTS, REQUESTS, ControlError


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def message(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\xff\xfe{", "not JSON"),
        (b"[1, 2]", "a JSON list where an object was expected"),
        (message(id=1), "no string 'type'"),
        (message(type="explode", id=1), "unknown message type 'explode'"),
        (message(type="close_room", meeting="m"), "close_room: no 'id'"),
        (message(type="close_room", id=-1, meeting="m"), "'id' is not a non-negative integer"),
        (message(type="close_room", id=True, meeting="m"), "'id' is not a non-negative integer"),
        (message(type="close_room", id=1), "close_room: 'meeting' is missing or not of type str"),
        (
            message(type="set_forwarding", id=1, meeting="m", participant="p", audio=1, video=1),
            "set_forwarding: 'audio' is missing or not of type bool",
        ),
        (message(type="close_room", id=1, meeting="m", x=1), "close_room: unknown fields ['x']"),
        (b"[" * 100 + b"]" * 100, "not JSON"),
    ],
)
def test_a_frame_that_is_no_request_is_refused_with_what_is_wrong(body: bytes, error: str):
    with pytest.raises(ControlError, match=error.replace("[", r"\[").replace("]", r"\]")):
        control.parse(body, REQUESTS, need_id=True)


def test_requests_and_events_round_trip():
    encoded = control.encode("add_candidate", 7, meeting="m", participant="p", which="publish",
                             candidate="c", sdp_mid=None, sdp_mline_index=0)  # fmt: skip
    length = frames.frame_length(encoded[:4], control.MAX_FRAME)
    parsed = control.parse(encoded[4 : 4 + length], REQUESTS, need_id=True)
    assert (parsed.type, parsed.id, parsed.maybe_text("sdp_mid")) == ("add_candidate", 7, None)
    assert parsed.maybe_integer("sdp_mline_index") == 0
    event = control.encode("speaker", meeting="m", participant=None)
    assert control.parse(event[4:], EVENTS, need_id=False).maybe_text("participant") is None


def test_an_announced_length_over_the_limit_is_refused_before_reading():
    with pytest.raises(FrameError, match="frame of 1048577 bytes announced"):
        frames.frame_length(struct.pack(">I", control.MAX_FRAME + 1), control.MAX_FRAME)
    with pytest.raises(ControlError, match="over 1048576"):
        control.encode("snapshot", 1, meeting="m" * control.MAX_FRAME)


def test_request_fields_inside_are_checked():
    view = control.parse(
        message(type="set_view", id=1, meeting="m", participant="p", tiles=[["a", 1, -2]],
                visible=True, known=[]), REQUESTS, need_id=True,
    )  # fmt: skip
    with pytest.raises(ControlError, match="a tile is not"):
        control.tiles_of(view)
    publish = control.parse(
        message(type="publish", id=1, meeting="m", participant="p", sdp="v=0",
                sources={"0": "hologram"}, owners=None), REQUESTS, need_id=True,
    )  # fmt: skip
    with pytest.raises(ControlError, match="source 'hologram' of mid '0'"):
        control.sources_of(publish)


class Control:
    """One control connection to a worker, speaking frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def ask(self, body: bytes) -> dict[str, Any]:
        self.writer.write(frame(body))
        return await self.reply()

    async def reply(self) -> dict[str, Any]:
        while True:  # load reports come unasked every second
            async with asyncio.timeout(10):
                body = await control.read_frame(self.reader)
            assert body is not None, "the worker closed the connection"
            answer: dict[str, Any] = json.loads(body)
            if answer["type"] == "reply":
                return answer


@pytest.fixture
async def worker():
    """A `hub sfu-worker` process on a socket in a private directory; its log lines."""
    folder = Path(tempfile.mkdtemp(prefix="hub-test-"))
    path = folder / "w.sock"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", "sfu-worker", "--control", str(path),
        "--log-format", "text", stderr=asyncio.subprocess.PIPE, env=dict(os.environ),
    )  # fmt: skip
    lines: list[str] = []

    async def read_log() -> None:
        assert process.stderr is not None
        async for line in process.stderr:
            lines.append(line.decode())

    reading = asyncio.create_task(read_log())

    async def connect() -> Control:
        for _ in range(300):
            try:
                return Control(*await asyncio.open_unix_connection(str(path)))
            except (FileNotFoundError, ConnectionRefusedError):
                await asyncio.sleep(0.05)
        raise AssertionError("the worker did not listen")

    try:
        yield connect, lines
    finally:
        process.terminate()
        await process.wait()
        reading.cancel()
        path.unlink(missing_ok=True)
        folder.rmdir()


async def test_hostile_control_frames_are_refused_logged_once_and_the_worker_serves_on(worker):
    connect, lines = worker
    hub = await connect()
    ok = await hub.ask(message(type="configure", id=1, ice_servers=[],
                               candidate_addresses=["127.0.0.1"], relay_addresses=[]))  # fmt: skip
    assert ok == {"type": "reply", "id": 1, "ok": True, "result": {}}
    opened = message(type="set_forwarding", id=2, meeting="ours", participant="p", audio=True,
                     video=False)  # fmt: skip
    assert (await hub.ask(opened))["ok"]
    # Other addresses while it forwards a meeting: refused (the same ones would be taken).
    other = message(type="configure", id=3, ice_servers=[], candidate_addresses=[],
                    relay_addresses=[])  # fmt: skip
    assert (await hub.ask(other))["kind"] == "refused"

    hostile = await connect()
    refusals = [
        (b"garbage", None, "not JSON"),
        (message(type="explode", id=5), 5, "unknown message type 'explode'"),
        (message(type="close_room", id=6, meeting=7), 6, "'meeting' is missing or not of type"),
        (b"[" * 5000 + b"]" * 5000, None, "not JSON: JSON is nested deeper than 32 levels"),
        (message(type="close_room", id=8, meeting="ours"), 8, "held by another control"),
    ]
    for body, id_, error in refusals:
        answer = await hostile.ask(body)
        assert answer["ok"] is False and answer["kind"] == "refused", answer
        assert answer.get("id") == id_ and error in answer["error"], answer
    # The same connection is still served.
    assert (await hostile.ask(message(type="snapshot", id=9, meeting="theirs")))["ok"]
    # A frame announced over the limit: refused, and that connection (only) is closed.
    hostile.writer.write(struct.pack(">I", 1 << 31))
    answer = await hostile.reply()
    assert "over the 1048576-byte limit" in answer["error"]
    async with asyncio.timeout(5):
        assert await hostile.reader.read() == b""
    # The hub's connection and its meeting are untouched; a new connection is served.
    ours = await hub.ask(message(type="snapshot", id=4, meeting="ours"))
    assert list(ours["result"]["participants"]) == ["p"]
    again = await connect()
    assert (await again.ask(message(type="snapshot", id=1, meeting="other")))["ok"]
    for _ in range(100):  # the log reaches us through a pipe
        refused = [line for line in lines if "control message refused" in line]
        if len(refused) >= len(refusals) + 2:
            break
        await asyncio.sleep(0.05)
    assert len(refused) == len(refusals) + 2, lines
    assert not any("Traceback" in line for line in lines), lines
