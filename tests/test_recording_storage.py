"""Where recordings are kept and how long: the local folder (the default) and an S3-compatible
store, tested against a real S3 HTTP server (moto_server from PyPI, with SigV4 checking on),
and retention deleting what expired from either. Production refuses example store keys."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiobotocore.session import get_session

from hub.config import load_config
from hub.config_recording import StorageConfig
from hub.errors import ConfigError, NotFound
from hub.recording.manifest import ComposedEntry, Manifest, TrackEntry, key
from hub.recording.retention import expire
from hub.recording.s3 import PART, S3Store, StoreError
from hub.recording.storage import LocalStore, RecordingStore
from tests.support.processes import free_port, start, stop, wait_for_port
from tests.test_config import EXAMPLE_SECRET, GOOD_SECRET, production_example

BUCKET = "visio-recordings"
MEETING = "abc-defg-hij"


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory) -> Iterator[str]:
    """moto_server on a free loopback port; authentication is enforced after the first
    three requests (the ones that make our IAM user and its key)."""
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    process = start([str(moto), "-H", "127.0.0.1", "-p", str(port)], log_path=log, env=env)
    try:
        wait_for_port("127.0.0.1", port, 30, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture(scope="module")
def s3_keys(s3_server) -> tuple[str, str]:
    # In a thread of its own: the fixture may be first asked for inside a test's event loop.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, make_keys(s3_server)).result()


async def make_keys(s3_server: str) -> tuple[str, str]:
    """An IAM user allowed s3:* and its access key, made with the unauthenticated requests."""
    session = get_session()
    anonymous = {"aws_access_key_id": "bootstrap", "aws_secret_access_key": "bootstrap"}
    async with session.create_client(
        "iam", endpoint_url=s3_server, region_name="us-east-1", **anonymous
    ) as iam:
        await iam.create_user(UserName="hub")
        policy = json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        )  # fmt: skip
        await iam.put_user_policy(UserName="hub", PolicyName="s3", PolicyDocument=policy)
        made = (await iam.create_access_key(UserName="hub"))["AccessKey"]
    keys = (made["AccessKeyId"], made["SecretAccessKey"])
    async with session.create_client(
        "s3", endpoint_url=s3_server, region_name="us-east-1",
        aws_access_key_id=keys[0], aws_secret_access_key=keys[1],
    ) as s3:  # fmt: skip
        await s3.create_bucket(Bucket=BUCKET)
    return keys


def s3_config(endpoint: str, keys: tuple[str, str]) -> StorageConfig:
    return StorageConfig(
        backend="s3", endpoint=endpoint, bucket=BUCKET, access_key=keys[0], secret_key=keys[1]
    )


@pytest.fixture(params=["local", "s3"])
async def store(request, tmp_path) -> AsyncIterator[RecordingStore]:
    if request.param == "local":
        yield LocalStore(tmp_path / "recordings")
        return
    server, keys = request.getfixturevalue("s3_server"), request.getfixturevalue("s3_keys")
    s3 = S3Store(s3_config(server, keys))
    await s3.open()
    yield s3
    for name in await s3.keys(""):
        await s3.delete(name)
    await s3.close()


async def test_a_store_keeps_reads_lists_and_deletes(store: RecordingStore, tmp_path):
    big = tmp_path / "big.webm"  # past PART: a multipart upload on S3
    big.write_bytes(os.urandom(PART + 1024))
    content = big.read_bytes()
    name = key(MEETING, "0123456789abcdef", "01-camera.webm")
    await store.put_file(name, big)
    await store.put_bytes(key(MEETING, "0123456789abcdef"), b"{}")
    await store.put_bytes(key("zzz-zzzz-zzz", "0123456789abcdef"), b"{}")
    assert await store.size(name) == len(content)
    assert await store.read(name) == content
    assert b"".join([chunk async for chunk in store.chunks(name)]) == content
    assert await store.keys(f"{MEETING}/") == [
        f"{MEETING}/0123456789abcdef/01-camera.webm",
        f"{MEETING}/0123456789abcdef/manifest.json",
    ]
    await store.delete(name)
    await store.delete(name)  # twice: nothing happens
    with pytest.raises(NotFound):
        await store.read(name)
    with pytest.raises(NotFound):
        await store.size(name)
    with pytest.raises(ValueError, match="bad storage key"):
        await store.read(f"{MEETING}/../../etc/passwd")
    if isinstance(store, LocalStore):
        folder = store.root / MEETING / "0123456789abcdef"
        assert oct((folder / "manifest.json").stat().st_mode & 0o777) == "0o600"


async def test_a_wrong_secret_is_refused_by_the_s3_server(s3_server, s3_keys):
    store = S3Store(s3_config(s3_server, (s3_keys[0], "not-the-secret-at-all")))
    await store.open()
    try:
        with pytest.raises(StoreError, match="SignatureDoesNotMatch"):
            await store.put_bytes(key(MEETING, "0123456789abcdef"), b"{}")
    finally:
        await store.close()


def manifest(recording_id: str, ended: datetime, days: int) -> Manifest:
    track = TrackEntry(
        file="01-microphone.ogg", participant_id="p1", name="Olga", kind="audio",
        source="microphone", codec="opus", start=0.0, duration=1.0, frames=50,
    )  # fmt: skip
    return Manifest(
        recording_id=recording_id, meeting_id=MEETING, started_at=ended - timedelta(hours=1),
        ended_at=ended, expires_at=ended + timedelta(days=days), started_by="Olga",
        tracks=[track],
    )  # fmt: skip


async def test_retention_deletes_what_expired_and_logs_it(store: RecordingStore, caplog):
    now = datetime.now(UTC)
    old, fresh = "00000000000000aa", "00000000000000bb"
    for rid, ended in ((old, now - timedelta(days=31)), (fresh, now - timedelta(days=29))):
        await store.put_bytes(key(MEETING, rid, "01-microphone.ogg"), b"OggS")
        await store.put_bytes(key(MEETING, rid), manifest(rid, ended, 30).to_bytes())
    # A composed file kept beside the tracks (hub recordings compose --keep) expires with them.
    composed = ComposedEntry(file="composed-grid.webm", layout="grid", duration=1.0, made_at=now)
    old_manifest = manifest(old, now - timedelta(days=31), 30)
    await store.put_bytes(key(MEETING, old, composed.file), b"webm")
    kept = old_manifest.model_copy(update={"composed": composed})
    await store.put_bytes(key(MEETING, old), kept.to_bytes())
    await store.put_bytes(key(MEETING, "00000000000000cc"), b"not json")  # skipped, logged
    with caplog.at_level(logging.INFO, logger="hub.recording.retention"):
        assert await expire(store, now) == [old]
    assert await store.keys(f"{MEETING}/{old}") == []
    assert len(await store.keys(f"{MEETING}/{fresh}")) == 2
    lines = [r.getMessage() for r in caplog.records]
    assert any(f"recording {old} expired" in line for line in lines), lines
    assert any("00000000000000cc/manifest.json" in line for line in lines), lines
    assert await expire(store, now) == []  # nothing left to expire


def test_production_refuses_example_store_keys(tmp_path):
    path = production_example(tmp_path, {EXAMPLE_SECRET: GOOD_SECRET})
    environ = {
        "HUB_STORAGE__BACKEND": "s3", "HUB_STORAGE__ENDPOINT": "https://oos.example.org",
        "HUB_STORAGE__BUCKET": BUCKET, "HUB_STORAGE__ACCESS_KEY": "AKIAREAL0000",
        "HUB_STORAGE__SECRET_KEY": "change-me",
    }  # fmt: skip
    with pytest.raises(ConfigError, match=r"storage\.secret_key: is an example value"):
        load_config(path, environ=environ)
    del environ["HUB_STORAGE__SECRET_KEY"]
    with pytest.raises(ConfigError, match=r'backend = "s3" needs secret_key'):
        load_config(path, environ=environ)
    config = load_config(path, environ={**environ, "HUB_STORAGE__SECRET_KEY": "k" * 40})
    assert config.storage.bucket == BUCKET and config.recording.retention_days == 30
