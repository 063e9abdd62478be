"""Fixtures for the bridge tests. The real Synapse homeservers (one alone, a pair federating
over loopback TLS) are session fixtures of tests/conftest.py, shared with the browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.web.bridge import LocalHub
from hub.web.bridge import local_hub as in_process_hub
from tests.conftest import make_config
from tests.support.hub_client import api_client


@pytest.fixture
async def local_hub(aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[LocalHub]:
    """A running hub (no bot of its own) and its in-process bridge interface, for a bot the
    test starts and stops itself."""
    (tmp_path / "hub").mkdir()
    client, _csrf = await api_client(aiohttp_client, make_config(tmp_path / "hub"))
    hub = in_process_hub(client.app)
    yield hub
    await hub.close()
