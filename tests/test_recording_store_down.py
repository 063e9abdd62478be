"""A recording whose store goes down after it started: the S3 server (moto_server, real HTTP)
is stopped while the meeting is recorded. When the recording stops, its moderators are told
it could not be stored, one log line says where its files stay, and the files are kept in
the spool, playable; the meeting, and the people who are not moderators, see nothing else."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import av
import pytest

from hub.web.keys import RECORDINGS
from tests.conftest import make_config
from tests.support.hub_client import api_client
from tests.support.processes import free_port, start, stop, wait_for_port
from tests.test_lobby import Hub
from tests.test_recording_storage import BUCKET, make_keys
from tests.test_recordings import states

RECORD_SECONDS = 2.0


class S3Server:
    """One moto_server of this test's own, so that stopping it harms nobody else."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        moto = Path(sys.executable).with_name("moto_server")
        env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
        self.process = start(
            [str(moto), "-H", "127.0.0.1", "-p", str(self.port)],
            log_path=root / "moto.log",
            env=env,
        )
        wait_for_port("127.0.0.1", self.port, 30, self.process)

    def stop(self) -> None:
        stop(self.process)


@pytest.fixture
def s3(tmp_path) -> Iterator[S3Server]:
    server = S3Server(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def hub(aiohttp_client, tmp_path, s3: S3Server) -> AsyncIterator[Hub]:
    access, secret = await make_keys(s3.url)
    config = make_config(
        tmp_path,
        sfu={"candidate_addresses": ["127.0.0.1"]},
        storage={
            "backend": "s3", "endpoint": s3.url, "bucket": BUCKET,
            "access_key": access, "secret_key": secret,
        },
    )  # fmt: skip
    client, csrf = await api_client(aiohttp_client, config)
    state = Hub(client, csrf, [], [])
    yield state
    for person in state.people:
        await person.close()
    for http in state.sessions:
        await http.close()


async def test_a_store_down_after_the_start_tells_the_moderators_and_keeps_the_files(
    hub: Hub, s3: S3Server, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    _meeting, olga, (bruno,) = await hub.gathering("public", "Bruno")
    for person in (olga, bruno):
        await person.publish()
    await olga.send({"type": "recording", "on": True})
    for person in (olga, bruno):
        assert (await person.wait_for("recording_state"))["recording"] is True
    await asyncio.sleep(RECORD_SECONDS)
    s3.stop()  # the store is gone
    seen = {person: len(person.messages) for person in (olga, bruno)}
    await olga.send({"type": "recording", "on": False})
    for person in (olga, bruno):
        said = await person.wait_for("recording_state", after=seen[person])
        assert said == {"type": "recording_state", "recording": False, "by": "Olga"}
    await hub.app[RECORDINGS].settle()

    # The moderator is told, in the page's language; Bruno (a participant) only saw it stop.
    told = await olga.wait_for("recording_state", after=seen[olga] + 1)
    assert told == {"type": "recording_state", "recording": False, "failed": True}
    assert [m.get("failed") for m in states(bruno)] == [None, None]

    # One log line, no traceback; it names where the files stay.
    lines = [
        r for r in caplog.records if r.name == "hub.web.recordings" and "not stored" in r.message
    ]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith("hub")]
    spool = tmp_path / "data" / "recording-spool"
    (folder,) = list(spool.iterdir())
    assert str(folder) in lines[0].getMessage()

    # The tracks are kept, whole and playable, for the operator to recover.
    files = sorted(folder.iterdir())
    assert {f.suffix for f in files} == {".webm", ".ogg"} and len(files) == 4, files
    for path in files:
        with av.open(str(path)) as container:
            assert sum(1 for _ in container.decode(container.streams[0])) > 10, path

    # The meeting goes on: recording again is possible (its store is still down).
    index = len(olga.messages)
    await olga.send({"type": "recording", "on": True})
    assert (await olga.wait_for("recording_state", after=index))["recording"] is True
    await olga.send({"type": "recording", "on": False})
    await hub.app[RECORDINGS].settle()
