"""`python -m bench.nodes [--rounds N] [--out bench/results/nodes.md]`

Join latency through any hub node against the embedded default (issue 14, "Benchmark"). Three
ways into a meeting, timed alike and taken in turn, round after round:

- *embedded*: one `hub serve --dev` alone, SQLite, no Redis (the default);
- *home node*: node 1 of two `hub serve` nodes on one PostgreSQL and one Redis, where the
  meeting is at home (its owner entered there first);
- *relaying node*: node 2 of the same two, which relays the guest's socket to node 1 over
  Redis (hub/web/relay.py); the media go straight to node 1's SFU.

In each meeting Anne publishes a 640×480 VP8 clip and a tone (bench/federation/clip.py). Each
round a new guest (own session, from the meeting's page) joins with camera and microphone off
and is timed from sending `join`: the hub's answer (`welcome`), its subscribe offer, the
subscribe connection up, the first RTP packet of Anne's audio and video, and the first frame
of her video aiortc decodes (the media). Then the guest leaves, and the next round waits
until the SFU has let them go. Writes the Markdown report to bench/results/nodes.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import aiohttp

from bench.federation.clip import FPS, HEIGHT, WIDTH, ClipTrack, encode_clip, publish_clip
from bench.federation.timing import arrive, eventually, leave
from bench.sfu.hub import create_meeting, metrics
from bench.sfu.system import (
    BenchError,
    cpu_model,
    load_average,
    machine_cpu_seconds,
    own_cpu_seconds,
    percentile,
)
from tests.support.hub_nodes import hub_nodes, start_nodes
from tests.support.hub_server import HubServer
from tests.support.peer import Participant
from tests.support.postgres import PostgresCluster, find_bindir
from tests.support.redis import RedisServer, redis_binary

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "nodes.md"
EMBEDDED, HOME, RELAY = "embedded (SQLite, no Redis)", "home node", "relaying node"
PATHS = (EMBEDDED, HOME, RELAY)
PAUSE = 0.5  # seconds between two joins (one round's keyframe requests must not help the next)
STEPS = ("welcome", "subscribe_offer", "connected", "first RTP audio", "first RTP video")


@dataclass
class Way:
    """A way into a meeting: the node the guest's page and socket go to, and the hub whose
    SFU holds the meeting (where the guest's departure is awaited)."""

    entry: HubServer
    home: HubServer
    meeting: str = ""


@dataclass
class Round:
    path: str
    marks: dict[str, float]  # seconds after `join` was sent; "decoded": the first frame


@dataclass
class Run:
    started: datetime
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rounds: list[Round] = field(default_factory=list)
    machine_cores: float = 0.0  # busy cores of the whole machine during the rounds
    bench_cores: float = 0.0  # of which this process (every aiortc peer)

    def of(self, path: str) -> list[Round]:
        return [r for r in self.rounds if r.path == path]


async def join_once(way: Way, http: aiohttp.ClientSession, path: str, number: int) -> Round:
    """One guest joins through `way`, decodes Anne's video, leaves; back to Anne alone."""
    guest = await arrive(way.entry.base_url, f"/m/{way.meeting}", way.meeting, f"Invité {number}")
    person = guest.person
    try:
        began = time.monotonic()
        await person.join(audio=False, video=False)

        async def decoded() -> bool:
            return any(kind == "video" for _, kind in person.received.first)

        await eventually(decoded, f"{path}: the first frame of Anne's video")
    finally:
        await leave(guest)

    async def alone() -> bool:
        return (await metrics(http, way.home.base_url)).get("hub_sfu_participants") == 1.0

    await eventually(alone, f"{path}: the SFU letting the guest go")
    marks = {what: at - began for what, at in person.marks.items()}
    marks["decoded"] = min(at for (_, k), at in person.received.first.items() if k == "video")
    marks["decoded"] -= began
    return Round(path, marks)


async def measure(ways: dict[str, Way], rounds: int, run: Run) -> None:
    """Anne publishing in each meeting; one unmeasured round of each way, then `rounds`."""
    frames = await asyncio.to_thread(encode_clip)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        annes: list[Participant] = []
        try:
            for way in (ways[EMBEDDED], ways[HOME]):  # the relaying way shares HOME's meeting
                way.meeting = await create_meeting(http, way.home.base_url)
                ws = way.home.base_url.replace("http", "ws", 1)
                url = f"{ws}/api/v1/meetings/{way.meeting}/ws"
                anne = Participant(await http.ws_connect(url, max_msg_size=1 << 20), "Anne")
                annes.append(anne)
                await anne.join()
                await publish_clip(anne, ClipTrack(frames))
            ways[RELAY].meeting = ways[HOME].meeting
            number = 0
            for path in PATHS:
                number += 1
                await join_once(ways[path], http, path, number)
                await asyncio.sleep(PAUSE)
            busy, total = machine_cpu_seconds()
            own, wall = own_cpu_seconds(), time.monotonic()
            for _ in range(rounds):
                for path in PATHS:
                    number += 1
                    run.rounds.append(await join_once(ways[path], http, path, number))
                    await asyncio.sleep(PAUSE)
            busy_end, total_end = machine_cpu_seconds()
            run.machine_cores = (busy_end - busy) / (total_end - total) * (os.cpu_count() or 1)
            run.bench_cores = (own_cpu_seconds() - own) / (time.monotonic() - wall)
        finally:
            for anne in annes:
                await anne.close()


def start_all(root: Path, stack: list[object]) -> dict[str, Way]:
    """The embedded hub, PostgreSQL, Redis and the two nodes; each started one is put on
    `stack` for the caller to stop, even if a later one fails."""
    bindir, redis = find_bindir(), redis_binary()
    if bindir is None or redis is None:
        raise BenchError("needs PostgreSQL (apt postgresql) and Redis (apt redis-server)")
    (root / "embedded").mkdir(parents=True)
    embedded = HubServer(root / "embedded")
    stack.append(embedded)
    embedded.start()
    postgres = PostgresCluster(bindir)
    stack.append(postgres)
    postgres.start()
    postgres.psql("CREATE DATABASE bench_nodes")
    (root / "redis").mkdir()
    redis_server = RedisServer(redis, root / "redis")
    stack.append(redis_server)
    redis_server.start()
    nodes = hub_nodes(
        root, 2, redis_url=redis_server.url, postgres_url=postgres.url("bench_nodes"),
        secret=secrets.token_urlsafe(40),
    )  # fmt: skip
    stack.extend(nodes)
    start_nodes(nodes)
    return {
        EMBEDDED: Way(embedded, embedded),
        HOME: Way(nodes[0], nodes[0]),
        RELAY: Way(nodes[1], nodes[0]),
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def report(run: Run, rounds: int, command: str) -> str:
    loads = [" / ".join(f"{x:.2f}" for x in load) for load in (run.load_before, run.load_after)]
    lines = [
        f"# bench.nodes — {run.started:%Y-%m-%d %H:%M} UTC",
        "",
        f"`{command}`",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, "
        f"aiortc {version('aiortc')}. Load average (1 / 5 / 15 min) {loads[0]} at the start, "
        f"{loads[1]} at the end; during the rounds the machine was busy "
        f"{run.machine_cores:.2f} cores, of which this benchmark's own aiortc peers "
        f"{run.bench_cores:.2f}: other sessions' work shared the machine. Every hub is "
        "`python -m hub serve --dev` on 127.0.0.1; the two nodes share one PostgreSQL and one "
        f"Redis, both on this machine. Anne publishes a {WIDTH}×{HEIGHT} {FPS} fps VP8 clip and "
        "a tone; each guest joins with camera and microphone off.",
        "",
        f"Join → answer (`welcome`) and join → media (the first decoded frame of Anne's "
        f"video), ms after `join` was sent; {rounds} rounds each, taken in turn:",
        "",
        "| way in | answer p50 | answer p95 | media p50 | media p95 | media max "
        "| media p50 ÷ embedded |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    reference = percentile([r.marks["decoded"] for r in run.of(EMBEDDED)], 0.5)
    for path in PATHS:
        answer = [r.marks["welcome"] for r in run.of(path)]
        media = [r.marks["decoded"] for r in run.of(path)]
        lines.append(
            f"| {path} | {ms(percentile(answer, 0.5))} | {ms(percentile(answer, 0.95))} | "
            f"{ms(percentile(media, 0.5))} | {ms(percentile(media, 0.95))} | {ms(max(media))} | "
            f"{percentile(media, 0.5) / reference:.2f} |"
        )
    lines += [
        "",
        "The steps, p50 of ms after `join`:",
        "",
        f"| way in | {' | '.join(STEPS)} | decoded |",
        f"|---|{'--:|' * (len(STEPS) + 1)}",
    ]
    for path in PATHS:
        cells = []
        for step in (*STEPS, "decoded"):
            values = [r.marks[step] for r in run.of(path) if step in r.marks]
            cells.append(ms(percentile(values, 0.5)) if values else "–")
        lines.append(f"| {path} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def stop_all(stack: list[object]) -> None:
    for started in reversed(stack):
        if isinstance(started, HubServer | RedisServer | PostgresCluster):
            started.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.nodes",
        description="Join latency through a hub node (the meeting's home, or a node relaying "
        "to it over Redis) against one embedded hub.",
    )
    parser.add_argument("--rounds", type=int, default=20, help="joins per way in (default 20)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"default {RESULTS}")
    parser.add_argument("--keep", action="store_true", help="keep the hubs' folders and logs")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    command = shlex.join([".venv/bin/python", "-m", "bench.nodes", *sys.argv[1:]])
    root = Path(tempfile.mkdtemp(prefix="bench-nodes-"))
    stack: list[object] = []
    run = Run(datetime.now(UTC), load_average())

    async def guarded() -> None:
        task = asyncio.current_task()
        assert task is not None
        for number in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(number, task.cancel)
        ways = await asyncio.to_thread(start_all, root, stack)
        await measure(ways, args.rounds, run)

    try:
        asyncio.run(guarded())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench: stopped", file=sys.stderr)
        return 130
    except (BenchError, RuntimeError, TimeoutError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_all(stack)
        if args.keep:
            print(f"bench: folders and logs kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    run.load_after = load_average()
    text = report(run, args.rounds, command)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
