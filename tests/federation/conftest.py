"""Hubs with federation on, served on real loopback ports in this process, and requests signed
by hand the way a partner (or an attacker) would make them."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from hub.config import HubConfig
from hub.federation.keys import InstanceKeys, system_clock
from hub.federation.signing import AuthorizationParams, format_authorization, signing_payload
from hub.ids import ServerName
from hub.web.app import create_app
from tests.conftest import make_config

PING = "/_hub/federation/v1/ping"


def partner_entry(name: str, port: int, **rules: object) -> dict[str, object]:
    return {"server_name": name, "base_url": f"http://127.0.0.1:{port}", **rules}


def hub_config(
    tmp_path: Path,
    name: str,
    port: int,
    partners: Sequence[dict[str, object]] = (),
    **federation: object,
) -> HubConfig:
    """A dev-mode hub named `name` (its data in tmp_path/name) listening on `port`."""
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    settings: dict[str, object] = {
        "server_name": name,
        "allow_private_networks": True,
        "partners": list(partners),
        **federation,
    }
    return make_config(folder, server={"port": port}, federation=settings)


@asynccontextmanager
async def serving(config: HubConfig) -> AsyncIterator[web.Application]:
    """The hub of `config` on 127.0.0.1:server.port until the block ends."""
    app = create_app(config)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", config.server.port).start()
        yield app
    finally:
        await runner.cleanup()


def signed(
    keys: InstanceKeys,
    *,
    origin: str = "hub-a.test",
    destination: str = "hub-b.test",
    method: str = "GET",
    path: str = PING,
    body: bytes = b"",
    ts: int | None = None,
    nonce: str | None = None,
    key_id: str | None = None,
) -> dict[str, str]:
    """An Authorization header signed with `keys`' current key over exactly these values."""
    timestamp = system_clock() if ts is None else ts
    nonce = nonce or secrets.token_urlsafe(18)
    payload = signing_payload(
        method, path, ServerName(origin), ServerName(destination), timestamp, nonce, body
    )
    params = AuthorizationParams(
        origin=ServerName(origin),
        destination=ServerName(destination),
        key_id=key_id or keys.key_id,
        timestamp_ms=timestamp,
        nonce=nonce,
        signature=keys.sign(payload),
    )
    return {"Authorization": format_authorization(params)}
