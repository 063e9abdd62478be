"""The two hub processes: their folders, signing keys, partner configuration and start."""

from __future__ import annotations

import asyncio
import contextlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiohttp

from bench.sfu.hub import metrics
from bench.sfu.system import BenchError
from tests.browser.support import HubServer

HOST = "127.0.0.1"
LABEL_A, LABEL_B = "Intérieur", "Finances"


@dataclass
class Hubs:
    """A hosts, B mirrors: two `hub serve --dev` processes that trust each other."""

    a: HubServer
    b: HubServer

    @property
    def a_name(self) -> str:
        return f"{HOST}:{self.a.port}"

    @property
    def b_name(self) -> str:
        return f"{HOST}:{self.b.port}"

    def log_lines(self, hub: HubServer, message: str) -> list[float]:
        """When (time.time()) `hub` logged `message`, from its JSON log."""
        times = []
        with contextlib.suppress(OSError):
            for line in hub.log_path.read_text(errors="replace").splitlines():
                if message not in line:
                    continue
                with contextlib.suppress(ValueError, KeyError):
                    record = json.loads(line)
                    if record["msg"] == message:
                        times.append(datetime.fromisoformat(record["ts"]).timestamp())
        return times

    async def participants(self, http: aiohttp.ClientSession) -> tuple[float, float]:
        """Participants with media in each SFU (the cascade link's stand-in included)."""
        a, b = await asyncio.gather(metrics(http, self.a.base_url), metrics(http, self.b.base_url))
        return a.get("hub_sfu_participants", 0.0), b.get("hub_sfu_participants", 0.0)


def partner(name: str, base_url: str, label: str) -> str:
    return (
        f'{{server_name = "{name}", base_url = "{base_url}", label = "{label}", '
        "inbound_trusted = true, outbound_allowed = true}"
    )


def configure(root: Path) -> Hubs:
    a, b = HubServer(root / "a"), HubServer(root / "b")
    hubs = Hubs(a, b)
    for hub, name, other in (
        (a, hubs.a_name, partner(hubs.b_name, b.base_url, LABEL_B)),
        (b, hubs.b_name, partner(hubs.a_name, a.base_url, LABEL_A)),
    ):
        hub.workdir.mkdir(parents=True)
        hub.env = {
            "HUB_SERVER__DATA_DIR": str(hub.workdir / "data"),
            "HUB_LOGGING__FORMAT": "json",  # timestamps to the millisecond, for the report
            "HUB_FEDERATION__SERVER_NAME": name,
            "HUB_FEDERATION__SIGNING_KEY_FILE": str(hub.workdir / "signing.key"),
            "HUB_FEDERATION__ALLOW_PRIVATE_NETWORKS": "true",
            "HUB_FEDERATION__PARTNERS": f"[{other}]",
        }
    return hubs


def generate_keys(hub: HubServer) -> None:
    result = hub.command("keys", "generate", "--dev")
    if result.returncode != 0:
        raise BenchError(f"hub keys generate --dev failed:\n{result.stderr}")


def start(hubs: Hubs) -> None:
    """Keys, then both hubs, two at a time; blocking, so that both threads are done (and each
    started hub is known to the caller, who stops it) before anything else happens."""
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(generate_keys, (hubs.a, hubs.b)))
        list(pool.map(HubServer.start, (hubs.a, hubs.b)))
