"""Janus (Debian package `janus`) as the reference SFU: its own configuration folder, the HTTP
API on 127.0.0.1 only, and the videoroom plugin driven over that API.

Janus never offers loopback candidates, so its ICE is limited to the machine's own address
(`ice_enforce_list`), and the benchmark's aiortc peers offer that same address.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from bench.sfu.system import BenchError, ServerProcess, start_process

LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
STEP_TIMEOUT = 20.0
START_TIMEOUT = 30.0
POLL_TIMEOUT = 40.0  # Janus answers a long poll with a keepalive after 30 s
ROOM = 424242
OTHER_PLUGINS = ("audiobridge", "duktape", "echotest", "lua", "nosip", "recordplay", "sip",
                 "streaming", "textroom", "videocall", "voicemail")  # fmt: skip
OTHER_TRANSPORTS = ("mqtt", "nanomsg", "pfunix", "rabbitmq", "websockets")


def ensure_installed() -> str:
    """The path of `janus`, installing the Debian package if needed (clear error otherwise)."""
    found = shutil.which("janus")
    if found:
        return found
    print("janus not found: installing the Debian package (apt-get install janus)", flush=True)
    try:
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-q", "janus"]):
            subprocess.run(
                command,
                check=True,
                capture_output=True,
                timeout=600,
                env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise BenchError(
            f"Janus is not installed and `apt-get install janus` failed: {exc} "
            f"{detail.decode(errors='replace')[-400:]}"
        ) from None
    found = shutil.which("janus")
    if not found:
        raise BenchError("`apt-get install janus` succeeded but no janus binary is on PATH")
    return found


def janus_version(binary: str) -> str:
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    for line in out.splitlines():
        if line.startswith("Janus version"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def write_config(folder: Path, address: str, http_port: int) -> Path:
    """janus.jcfg + the HTTP transport + an empty videoroom config; everything else disabled."""
    folder.mkdir(parents=True, exist_ok=True)
    plugins = ",".join(f"libjanus_{name}.so" for name in OTHER_PLUGINS)
    transports = ",".join(f"libjanus_{name}.so" for name in OTHER_TRANSPORTS)
    (folder / "janus.jcfg").write_text(
        f"""general: {{
	configs_folder = "{folder}"
	plugins_folder = "{LIB}/plugins"
	transports_folder = "{LIB}/transports"
	events_folder = "{LIB}/events"
	loggers_folder = "{LIB}/loggers"
	debug_level = 4
	session_timeout = 60
	admin_secret = "{secrets.token_hex(16)}"
	protected_folders = ["/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sbin", "/sys", "/usr"]
}}
certificates: {{
}}
media: {{
	rtp_port_range = "20000-40000"
}}
nat: {{
	nice_debug = false
	ice_enforce_list = "{address}"
	ignore_mdns = true
}}
plugins: {{
	disable = "{plugins}"
}}
transports: {{
	disable = "{transports}"
}}
loggers: {{
	disable = "libjanus_jsonlog.so"
}}
events: {{
	broadcast = false
}}
"""
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{
	json = "plain"
	base_path = "/janus"
	http = true
	port = {http_port}
	https = false
	ip = "127.0.0.1"
}}
admin: {{
	admin_http = false
	admin_https = false
}}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
    return folder / "janus.jcfg"


class JanusServer(ServerProcess):
    """Janus started from its own config folder, HTTP API on 127.0.0.1:<free port>."""

    name = "Janus"

    def __init__(self, workdir: Path, address: str) -> None:
        super().__init__(workdir, address)
        self.binary = ""
        self.version = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/janus"

    async def start(self) -> None:
        timeout = START_TIMEOUT
        self.binary = ensure_installed()
        self.version = janus_version(self.binary)
        config = write_config(self.workdir / "config", self.address, self.port)
        self.process = start_process(
            "janus",
            [self.binary, "-C", str(config), "-F", str(config.parent)],
            log_path=self.workdir / "janus.log",
            cwd=self.workdir,
        )

        async def ready(session: aiohttp.ClientSession) -> bool:
            async with session.post(
                self.base_url,
                json={"janus": "info", "transaction": "ready"},
                timeout=aiohttp.ClientTimeout(total=2),
            ) as answer:
                return answer.status == 200

        await self.wait_ready(ready, timeout)


class JanusSession:
    """One Janus session over the HTTP API: requests, a long poll for events, keepalives."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http = http
        self.base_url = base_url
        self.session_id = 0
        self.events: Counter[str] = Counter()  # webrtcup, media, slowlink, hangup...
        self.trickles: dict[int, list[dict[str, Any]]] = {}
        self.up: set[int] = set()  # handles whose PeerConnection is up (webrtcup)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(
            f"{self.base_url}{path}", json=body, timeout=aiohttp.ClientTimeout(total=STEP_TIMEOUT)
        ) as answer:
            reply: dict[str, Any] = await answer.json(content_type=None)
        if reply.get("janus") == "error":
            raise BenchError(f"Janus refused {body.get('janus')}: {reply.get('error')}")
        return reply

    async def create(self) -> None:
        reply = await self._post("", {"janus": "create", "transaction": _tx()})
        self.session_id = reply["data"]["id"]
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._poll()), loop.create_task(self._keepalive())]

    async def attach(self) -> int:
        reply = await self._post(
            f"/{self.session_id}",
            {"janus": "attach", "plugin": "janus.plugin.videoroom", "transaction": _tx()},
        )
        handle: int = reply["data"]["id"]
        return handle

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, str] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Send a plugin request; returns its (data, jsep), waiting for the event if async."""
        transaction = _tx()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = future
        request: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            request["jsep"] = jsep
        try:
            reply = await self._post(f"/{self.session_id}/{handle}", request)
            if reply.get("janus") != "ack":
                event = reply
            else:
                async with asyncio.timeout(STEP_TIMEOUT):
                    event = await future
        except TimeoutError:
            raise BenchError(f"Janus: no answer to {body.get('request')} in time") from None
        finally:
            self._pending.pop(transaction, None)
        data: dict[str, Any] = event.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise BenchError(f"Janus videoroom refused {body.get('request')}: {data['error']}")
        return data, event.get("jsep")

    async def _poll(self) -> None:
        while True:
            try:
                async with self.http.get(
                    f"{self.base_url}/{self.session_id}?maxev=10",
                    timeout=aiohttp.ClientTimeout(total=POLL_TIMEOUT),
                ) as answer:
                    reply = await answer.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError):
                await asyncio.sleep(0.2)
                continue
            for event in reply if isinstance(reply, list) else [reply]:
                kind = event.get("janus", "")
                self.events[kind] += 1
                if kind == "trickle":
                    self.trickles.setdefault(event.get("sender", 0), []).append(event)
                elif kind == "webrtcup":
                    self.up.add(event.get("sender", 0))
                future = self._pending.get(event.get("transaction", ""))
                if future is not None and not future.done() and kind != "ack":
                    future.set_result(event)

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(20)
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, BenchError):
                await self._post(
                    f"/{self.session_id}", {"janus": "keepalive", "transaction": _tx()}
                )

    async def wait_up(self, handle: int) -> None:
        """Until Janus says the handle's PeerConnection is up (a feed exists only then)."""
        deadline = time.monotonic() + STEP_TIMEOUT
        while handle not in self.up:
            if time.monotonic() > deadline:
                raise BenchError(f"Janus: no webrtcup for handle {handle} in {STEP_TIMEOUT} s")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.session_id:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, BenchError):
                await self._post(f"/{self.session_id}", {"janus": "destroy", "transaction": _tx()})


def _tx() -> str:
    return secrets.token_hex(8)


async def create_room(
    session: JanusSession, handle: int, publishers: int = 4, room: int = ROOM
) -> int:
    """A room of our own (the demo room caps publishers at 128 kbit/s)."""
    await session.message(
        handle,
        {
            "request": "create",
            "room": room,
            "description": "benchmark",
            "publishers": publishers,
            "bitrate": 2_000_000,
            "fir_freq": 0,
            "videocodec": "vp8",
            "audiocodec": "opus",
            "notify_joining": False,
            "permanent": False,
        },
    )
    return room


async def publish(
    session: JanusSession, handle: int, room: int, offer: str, *, rid_order: str | None = None
) -> tuple[int, str]:
    """Join as publisher and configure in one request; returns (feed id, SDP answer).
    `rid_order` "lmh": the offer's simulcast RIDs are lowest first (Janus assumes "hml")."""
    jsep_out = {"type": "offer", "sdp": offer}
    if rid_order is not None:
        jsep_out["rid_order"] = rid_order
    data, jsep = await session.message(
        handle,
        {"request": "joinandconfigure", "ptype": "publisher", "room": room, "display": "pub"},
        jsep_out,
    )
    if jsep is None:
        raise BenchError(f"Janus answered the publisher without SDP: {data}")
    return int(data["id"]), jsep["sdp"]


async def subscribe_offer(session: JanusSession, handle: int, room: int, feed: int) -> str:
    return await subscribe_feeds(session, handle, room, [feed])


async def subscribe_feeds(
    session: JanusSession, handle: int, room: int, feeds: list[int], *, joined: bool = False
) -> str:
    """One multistream subscriber handle for every stream of `feeds`: `join` first, then
    `subscribe` to add feeds (either way Janus answers with an offer, then wants `start`)."""
    streams = [{"feed": feed} for feed in feeds]
    body: dict[str, Any] = (
        {"request": "subscribe", "streams": streams}
        if joined
        else {"request": "join", "ptype": "subscriber", "room": room, "streams": streams}
    )
    data, jsep = await session.message(handle, body)
    if jsep is None:
        raise BenchError(f"Janus subscribed without an offer: {data}")
    return str(jsep["sdp"])


async def subscribe_streams(
    session: JanusSession, handle: int, room: int, streams: list[dict[str, Any]]
) -> str:
    """`join` a subscriber handle to exactly `streams` ({feed, mid[, substream]}); Janus
    answers with its offer."""
    body = {"request": "join", "ptype": "subscriber", "room": room, "streams": streams}
    data, jsep = await session.message(handle, body)
    if jsep is None:
        raise BenchError(f"Janus subscribed without an offer: {data}")
    return str(jsep["sdp"])


async def subscribe_start(session: JanusSession, handle: int, room: int, answer: str) -> None:
    await session.message(
        handle, {"request": "start", "room": room}, {"type": "answer", "sdp": answer}
    )
