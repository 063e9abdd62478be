"""`python -m bench.matrix [--rounds N]`: how long a room waits for the bot's answer.

Starts a throw-away Synapse on loopback, then for each of two bots in turn — the hub's bot
(bridge/bot.py) and a minimal matrix-nio echo bot (the floor: Synapse plus one nio sync loop,
no parsing, no logic) — a user sends `!visio help` N times and measures, from the moment
the user sends it to the moment the user's own sync delivers the reply. Prints
p50/p99 for each and the ratio; stops Synapse by pid. Target (issue 5): p50 < 300 ms,
p99 < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from nio import AsyncClient, RoomMessageNotice, RoomMessageText

from bridge.bot import BotConfig, running
from tests.support.synapse import Synapse


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Sender:
    """The person in the room: sends a command, then waits on their own sync for the reply."""

    def __init__(self, server: Synapse, user_id: str, token: str, device: str) -> None:
        self.client = AsyncClient(server.url, user_id)
        self.client.restore_login(user_id, device, token)
        self.replies: dict[str, float] = {}
        self.client.add_event_callback(self._on_message, RoomMessageNotice)

    async def _on_message(self, _room: Any, event: Any) -> None:
        relates = event.source.get("content", {}).get("m.relates_to", {})
        target = relates.get("m.in_reply_to", {}).get("event_id")
        if target:
            self.replies.setdefault(target, time.perf_counter())

    async def start(self) -> None:
        await self.client.sync(timeout=0, full_state=True)
        self._task = asyncio.create_task(self.client.sync_forever(timeout=30_000))

    async def ask(self, room_id: str, body: str) -> float:
        began = time.perf_counter()
        sent = await self.client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": body}
        )
        event_id = getattr(sent, "event_id", None)
        if event_id is None:
            raise RuntimeError(f"sending failed: {sent}")
        deadline = began + 10
        while event_id not in self.replies:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no reply to {event_id} in 10 s")
            await asyncio.sleep(0.002)
        return self.replies[event_id] - began

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.client.close()


@contextlib.asynccontextmanager
async def echo_bot(server: Synapse, user_id: str, token: str, device: str) -> AsyncIterator[None]:
    """The reference: answers every text message with a notice replying to it, nothing else."""
    client = AsyncClient(server.url, user_id)
    client.restore_login(user_id, device, token)
    await client.sync(timeout=0, full_state=True)

    async def answer(room: Any, event: Any) -> None:
        if event.sender == user_id:
            return
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


async def measure(sender: Sender, room_id: str, rounds: int) -> list[float]:
    await sender.ask(room_id, "!visio help")  # warm-up: first sync, caches
    return [await sender.ask(room_id, "!visio help") for _ in range(rounds)]


async def run(rounds: int, workdir: Path) -> dict[str, list[float]]:
    (workdir / "synapse").mkdir()
    server = Synapse(root=workdir / "synapse").start()
    try:
        alice = server.register("alice")
        echo = server.register("echo")
        bot_account = server.register("visio")
        config = BotConfig(
            homeserver_url=server.url,
            user_id=bot_account.user_id,
            password=bot_account.password,
            data_dir=workdir / "bot",
            allowed_homeservers=(server.server_name,),
        )
        results: dict[str, list[float]] = {}
        for name, bot_user in (("hub bot", bot_account), ("echo bot (floor)", echo)):
            room = server.request("POST", "/_matrix/client/v3/createRoom", {}, alice.access_token)[
                "room_id"
            ]
            server.request(
                "POST", f"/_matrix/client/v3/rooms/{room}/invite",
                {"user_id": bot_user.user_id}, alice.access_token,
            )  # fmt: skip
            if bot_user is bot_account:
                context = running(config)  # the hub's bot accepts the invite itself
            else:
                server.request("POST", f"/_matrix/client/v3/join/{room}", {}, echo.access_token)
                context = echo_bot(server, echo.user_id, echo.access_token, echo.device_id)
            async with context:
                await asyncio.sleep(1.0)  # the bot joins (invite) and its sync settles
                sender = Sender(server, alice.user_id, alice.access_token, alice.device_id)
                await sender.start()
                try:
                    results[name] = await measure(sender, room, rounds)
                finally:
                    await sender.close()
        return results
    finally:
        server.stop()


def report(results: dict[str, list[float]]) -> str:
    lines = [
        "| bot | rounds | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|",
    ]
    for name, values in results.items():
        lines.append(
            f"| {name} | {len(values)} | {statistics.median(values) * 1000:.0f} | "
            f"{percentile(values, 0.99) * 1000:.0f} | {max(values) * 1000:.0f} |"
        )
    hub, floor = results["hub bot"], results["echo bot (floor)"]
    lines.append("")
    lines.append(
        f"hub/echo p50 ratio {statistics.median(hub) / statistics.median(floor):.2f}, "
        f"p99 ratio {percentile(hub, 0.99) / percentile(floor, 0.99):.2f}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.matrix",
        description="Latency from a `!visio help` message to the bot's reply, as the sender "
        "sees it, on a loopback Synapse; the hub's bot beside a minimal echo bot.",
    )
    parser.add_argument("--rounds", type=int, default=50, help="commands per bot (default 50)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-matrix-") as folder:
        results = asyncio.run(run(args.rounds, Path(folder)))
    print(report(results))


if __name__ == "__main__":
    main()
