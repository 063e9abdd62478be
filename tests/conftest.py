"""Shared fixtures: configs on temp folders, a real PostgreSQL cluster started on demand, a
real Redis per test, and real Synapse homeservers (one, or a pair federating over loopback
TLS)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.config import HubConfig, load_config
from tests.support.postgres import PostgresCluster, find_bindir
from tests.support.redis import RedisServer, redis_binary
from tests.support.synapse import Synapse, ensure_federation, synapse_available

REPO = Path(__file__).resolve().parent.parent
# CI sets this so that a missing PostgreSQL fails the run instead of skipping its tests.
REQUIRE_SERVICES = os.environ.get("HUB_TEST_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (HUB_TEST_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def make_config(tmp_path: Path, **sections: dict[str, object]) -> HubConfig:
    """A dev-mode config whose data lives in tmp_path; `sections` override keys per section."""
    data: dict[str, dict[str, object]] = {
        "server": {"dev": True, "data_dir": str(tmp_path / "data")},
        "security": {"secret_key": secrets.token_urlsafe(40)},
        "logging": {"format": "text"},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    path = tmp_path / "config.toml"
    path.write_text(_to_toml(data), encoding="utf-8")
    return load_config(path, environ={})


def _to_toml(data: dict[str, dict[str, object]]) -> str:
    lines: list[str] = []
    for section, values in data.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items())
            + "}"
        )
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


@pytest.fixture
def config(tmp_path: Path) -> HubConfig:
    return make_config(tmp_path)


@pytest.fixture(scope="session")
def postgres_bindir() -> Path:
    """Where initdb and postgres live; skipped (failed in CI) when PostgreSQL is missing."""
    bindir = find_bindir()
    if bindir is None:
        skip_or_fail("PostgreSQL server binaries not found (apt package postgresql)")
    assert bindir is not None
    return bindir


@pytest.fixture(scope="session")
def postgres_cluster(postgres_bindir: Path) -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the session; each test gets its own database in it."""
    cluster = PostgresCluster(postgres_bindir).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    name = f"hub_test_{secrets.token_hex(4)}"
    postgres_cluster.psql(f"CREATE DATABASE {name}")
    try:
        yield postgres_cluster.url(name)
    finally:
        postgres_cluster.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis of this test's own (never the machine's), stopped after it."""
    binary = redis_binary()
    if binary is None:
        skip_or_fail("redis-server not found (apt package redis-server)")
    assert binary is not None
    server = RedisServer(binary, tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


# Real Synapse homeservers: one alone, and a pair federating over loopback TLS. Session-scoped
# (each test registers its own users, so tests stay independent); shared by the bridge and
# browser tests.
def _require_synapse() -> None:
    if not synapse_available():
        skip_or_fail("matrix-synapse is not installed (pip install -e '.[test]')")


@pytest.fixture(scope="session")
def synapse() -> Iterator[Synapse]:
    """One homeserver, `localhost:<port>`, on a plain loopback listener."""
    _require_synapse()
    server = Synapse().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def synapse_pair() -> Iterator[tuple[Synapse, Synapse]]:
    """Two homeservers that federate with each other over loopback HTTPS."""
    _require_synapse()
    first, second = Synapse(tls=True), Synapse(tls=True)
    try:
        first.launch()
        second.launch()
        first.wait_ready()
        second.wait_ready()
        ensure_federation(first, second)
        yield first, second
    finally:
        first.stop()
        second.stop()
