"""`python -m bench.matrix [--rounds N]`: how long a room waits for the bot's answer.

Starts a throw-away Synapse on loopback and the hub's app in this process (dev config, SQLite
in the temp folder, no bot of its own), then the hub's bot (bridge/bot.py) on the hub's
in-process interface (`LocalHub`). A user sends `!visio help` N times, then `!visio start` N
times, and each time measures from sending the command to the moment the user's own sync
delivers the bot's reply (for start: the status notice, after the widget and layout state
events). Between two starts, outside the measured interval, the meeting is ended through the
hub and the bot's summary is awaited.

The floor is a minimal matrix-nio echo bot (Synapse plus one nio sync loop, no parsing, no
hub): it answers help with one notice, and start with the same two state events then one
notice, so each hub figure has a reference that costs Synapse the same work. Prints p50/p99
per command and bot with the hub ÷ floor ratios, then, for the median and the slowest round
of each, where the time went (the bots' syncs, state puts and sends, the hub calls; the echo
bot answers from inside nio's sync call); stops Synapse by pid. Target
(issue 5): start → reply p50 < 300 ms, p99 < 1 s. With 50 rounds, p99 is the slowest round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from nio import AsyncClient, RoomMessageNotice, RoomMessageText

from bench.sfu.system import eventually as poll
from bench.sfu.system import percentile
from bridge.bot import LAYOUT_EVENT, WIDGET_EVENT, running
from bridge.session import BotConfig
from hub.web.app import create_app
from hub.web.bridge import LocalHub, local_hub
from tests.conftest import make_config
from tests.support.synapse import MatrixUser, Synapse

HELP, START = "!visio help", "!visio start"
REPLY_TIMEOUT = 10.0  # seconds
BOT_CALLS = ("sync", "room_put_state", "room_send")  # traced on both bots


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    await poll(check, what, within=REPLY_TIMEOUT, interval=0.005)


@dataclass
class Trace:
    """Timestamps around the awaited calls that make up an answer, to explain slow rounds."""

    marks: list[tuple[float, str]] = field(default_factory=list)

    def wrap(self, owner: object, name: str, label: str) -> None:
        """Replace `owner.name` (a coroutine method) by one that marks its start and end."""
        original = getattr(owner, name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            self.marks.append((time.perf_counter(), f"{label} >"))
            try:
                return await original(*args, **kwargs)
            finally:
                self.marks.append((time.perf_counter(), f"{label} <"))

        setattr(owner, name, timed)

    def between(self, began: float, ended: float) -> str:
        inside = [(at, label) for at, label in self.marks if began <= at <= ended]
        return ", ".join(f"+{(at - began) * 1000:.0f} {label}" for at, label in inside)


@dataclass
class Round:
    began: float
    latency: float


class Sender:
    """The person in the room: sends a command, then waits on their own sync for the reply."""

    def __init__(self, server: Synapse, user: MatrixUser, trace: Trace) -> None:
        self.client = AsyncClient(server.url, user.user_id)
        self.client.restore_login(user.user_id, user.device_id, user.access_token)
        trace.wrap(self.client, "room_send", "sender room_send")
        self.replies: dict[str, float] = {}
        self.plain_notices = 0  # notices neither replies nor edits: the meeting summaries
        self.client.add_event_callback(self._on_notice, RoomMessageNotice)

    async def _on_notice(self, _room: Any, event: Any) -> None:
        relates = event.source.get("content", {}).get("m.relates_to")
        if relates is None:
            self.plain_notices += 1
            return
        target = relates.get("m.in_reply_to", {}).get("event_id")
        if target:
            self.replies.setdefault(target, time.perf_counter())

    async def start(self) -> None:
        await self.client.sync(timeout=0, full_state=True)
        self._task = asyncio.create_task(self.client.sync_forever(timeout=30_000))

    async def ask(self, room_id: str, body: str) -> Round:
        began = time.perf_counter()
        sent = await self.client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": body}
        )
        event_id = getattr(sent, "event_id", None)
        if event_id is None:
            raise RuntimeError(f"sending failed: {sent}")

        async def answered() -> bool:
            return event_id in self.replies

        await eventually(answered, f"reply to {body!r} ({event_id})")
        return Round(began, self.replies[event_id] - began)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.client.close()


@contextlib.asynccontextmanager
async def echo_bot(server: Synapse, user: MatrixUser, trace: Trace) -> AsyncIterator[None]:
    """The floor: answers every text message with a notice replying to it; before answering
    a start, it puts the same two state events as the hub's bot, for a new widget each time
    (Synapse drops a state event identical to the current one, which would make it free)."""
    client = AsyncClient(server.url, user.user_id)
    client.restore_login(user.user_id, user.device_id, user.access_token)
    for name in BOT_CALLS:
        trace.wrap(client, name, f"bot {name}")
    await client.sync(timeout=0, full_state=True)
    widgets = itertools.count()

    async def answer(room: Any, event: Any) -> None:
        if event.sender == user.user_id:
            return
        if event.body == START:
            widget_id = f"floor-{next(widgets)}"
            widget = {"type": "m.custom", "url": "http://127.0.0.1/", "id": widget_id}
            await client.room_put_state(room.room_id, WIDGET_EVENT, widget, state_key=widget_id)
            layout = {"widgets": {widget_id: {"container": "top", "index": 0}}}
            await client.room_put_state(room.room_id, LAYOUT_EVENT, layout, state_key="")
        await client.room_send(
            room.room_id,
            "m.room.message",
            {
                "msgtype": "m.notice",
                "body": "ok",
                "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}},
            },
        )

    client.add_event_callback(answer, RoomMessageText)
    task = asyncio.create_task(client.sync_forever(timeout=30_000))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()


@contextlib.asynccontextmanager
async def hub_running(workdir: Path) -> AsyncIterator[LocalHub]:
    """The hub's app with its cleanup contexts open (database, SFU), and no HTTP site: the
    bot reaches it in process, as when it runs inside `hub serve`."""
    runner = web.AppRunner(create_app(make_config(workdir)))
    await runner.setup()
    hub = local_hub(runner.app)
    try:
        yield hub
    finally:
        await hub.close()
        await runner.cleanup()


def create_room(server: Synapse, creator: MatrixUser, bot: MatrixUser) -> str:
    """A room with the bot invited and at power 50, enough for the widget's state events.
    (Room version 12 refuses the creator in `users`: its creators outrank every level.)"""
    answer = server.request(
        "POST",
        "/_matrix/client/v3/createRoom",
        {"invite": [bot.user_id], "power_level_content_override": {"users": {bot.user_id: 50}}},
        creator.access_token,
    )
    room_id: str = answer["room_id"]
    return room_id


async def joined(server: Synapse, room_id: str, member: MatrixUser, user_id: str) -> None:
    async def check() -> bool:
        path = f"/_matrix/client/v3/rooms/{room_id}/joined_members"
        return user_id in server.request("GET", path, None, member.access_token)["joined"]

    await eventually(check, f"{user_id} joining {room_id}")


async def measure(
    sender: Sender,
    room_id: str,
    body: str,
    rounds: int,
    between: Callable[[], Awaitable[None]] | None = None,
) -> list[Round]:
    """One unmeasured warm-up (first sync, caches, first meeting), then `rounds` commands;
    `between` runs after each, outside the measured interval."""
    results = []
    for _ in range(rounds + 1):
        results.append(await sender.ask(room_id, body))
        if between is not None:
            await between()
    return results[1:]


async def measure_hub(
    server: Synapse,
    workdir: Path,
    alice: MatrixUser,
    account: MatrixUser,
    rounds: int,
    trace: Trace,
) -> dict[str, list[Round]]:
    config = BotConfig(
        homeserver_url=server.url,
        user_id=account.user_id,
        password=account.password,
        data_dir=workdir / "bot",
        allowed_homeservers=(server.server_name,),
    )
    async with hub_running(workdir / "hub") as hub:
        room = create_room(server, alice, account)

        async with running(config, hub) as bot:  # the bot accepts the invite itself
            await joined(server, room, alice, account.user_id)
            for name in (*BOT_CALLS, "keys_query", "keys_claim"):
                trace.wrap(bot.matrix.client, name, f"bot {name}")
            for name in ("start_meeting", "remember_status", "update_room"):
                trace.wrap(hub, name, f"hub {name}")
            sender = Sender(server, alice, trace)

            async def end_meeting() -> None:
                summaries = sender.plain_notices
                await hub.end_meeting(room, by=alice.user_id)

                async def ended() -> bool:
                    return await hub.room_meeting(room) is None

                async def summarised() -> bool:
                    return sender.plain_notices > summaries

                await eventually(ended, "meeting ending")
                await eventually(summarised, "the bot's summary")

            await sender.start()
            try:
                results = {
                    HELP: await measure(sender, room, HELP, rounds),
                    START: await measure(sender, room, START, rounds, end_meeting),
                }
            finally:
                await sender.close()
    return results


async def measure_floor(
    server: Synapse, alice: MatrixUser, echo: MatrixUser, rounds: int, trace: Trace
) -> dict[str, list[Round]]:
    room = create_room(server, alice, echo)
    server.request("POST", f"/_matrix/client/v3/join/{room}", {}, echo.access_token)
    async with echo_bot(server, echo, trace):
        sender = Sender(server, alice, trace)
        await sender.start()
        try:
            return {
                HELP: await measure(sender, room, HELP, rounds),
                START: await measure(sender, room, START, rounds),
            }
        finally:
            await sender.close()


async def run(rounds: int, workdir: Path) -> str:
    server = Synapse(root=workdir / "synapse").start()
    try:
        alice, trace = server.register("alice"), Trace()
        hub = await measure_hub(server, workdir, alice, server.register("visio"), rounds, trace)
        floor = await measure_floor(server, alice, server.register("echo"), rounds, trace)
    finally:
        server.stop()
    return report(hub, floor, trace)


def report(
    hub: dict[str, list[Round]], floor: dict[str, list[Round]], trace: Trace | None = None
) -> str:
    def ms(values: list[float], fraction: float) -> float:
        return percentile(values, fraction) * 1000

    lines = [
        "| command | bot | rounds | p50 ms | p99 ms | max ms |",
        "|---|---|--:|--:|--:|--:|",
    ]
    ratios = []
    for command in (HELP, START):
        hub_values = [r.latency for r in hub[command]]
        floor_values = [r.latency for r in floor[command]]
        for name, values in (("hub bot", hub_values), ("echo bot (floor)", floor_values)):
            lines.append(
                f"| `{command}` | {name} | {len(values)} | {ms(values, 0.5):.0f} | "
                f"{ms(values, 0.99):.0f} | {max(values) * 1000:.0f} |"
            )
        ratios.append(
            f"`{command}` hub/echo p50 ratio {ms(hub_values, 0.5) / ms(floor_values, 0.5):.2f}, "
            f"p99 ratio {ms(hub_values, 0.99) / ms(floor_values, 0.99):.2f}"
        )
    lines += ["", *ratios]
    if trace is not None:
        lines += [
            "",
            "Where the time went, ms after the command was sent (median and slowest round):",
        ]
        for command in (HELP, START):
            for name, results in (("hub bot", hub[command]), ("echo bot", floor[command])):
                ordered = sorted(results, key=lambda r: r.latency)
                for one in (ordered[len(ordered) // 2], ordered[-1]):
                    window = trace.between(one.began, one.began + one.latency)
                    lines.append(f"- `{command}` {name} {one.latency * 1000:.0f} ms: {window}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.matrix",
        description="Latency from a `!visio help` or `!visio start` message to the bot's reply, "
        "as the sender sees it, on a loopback Synapse with the hub in process; the hub's bot "
        "beside a minimal echo bot.",
    )
    parser.add_argument(
        "--rounds", type=int, default=50, help="commands of each kind per bot (default 50)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-matrix-") as folder:
        for name in ("synapse", "hub"):
            (Path(folder) / name).mkdir()
        print(asyncio.run(run(args.rounds, Path(folder))))


if __name__ == "__main__":
    main()
