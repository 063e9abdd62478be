"""Real Synapse homeservers for the bridge tests: one alone, and a pair federating over
loopback TLS. Session-scoped: each test registers its own users, so tests stay independent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.web.bridge import LocalHub
from tests.conftest import make_config, skip_or_fail
from tests.support.hub_client import api_client
from tests.support.synapse import Synapse, ensure_federation, synapse_available


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


@pytest.fixture
async def local_hub(aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[LocalHub]:
    """A running hub (no bot of its own) and its in-process bridge interface, for a bot the
    test starts and stops itself."""
    (tmp_path / "hub").mkdir()
    client, _csrf = await api_client(aiohttp_client, make_config(tmp_path / "hub"))
    hub = LocalHub(client.app)
    yield hub
    await hub.close()
