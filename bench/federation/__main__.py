"""`python -m bench.federation [--rounds N]`

Starts two federating hubs, runs the join rounds and the cascade hop against them from this one
aiortc client process, stops both by pid, and prints the Markdown report (also written to
bench/results/federation.md). See the package docstring and bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import shutil
import signal
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCRtpSender

from bench.sfu.hub import create_meeting
from bench.sfu.system import BenchError, load_average, wait_for_quiet
from tests.support.peer import Participant

from .clip import FPS, ClipTrack, encode_clip, publish_clip
from .hubs import configure, start
from .report import report
from .timing import (
    COLD,
    DIRECT,
    WARM,
    Cpu,
    Hop,
    Joins,
    Results,
    arrive,
    eventually,
    leave,
    measure_hop,
)

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "federation.md"


async def run(rounds: int, packets: int, root: Path) -> Results:
    started, load = datetime.now(UTC), load_average()
    loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
    frames = await asyncio.to_thread(encode_clip)
    hubs = configure(root)
    try:
        start(hubs)
        pids = (hubs.a.process.pid, hubs.b.process.pid)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            meeting_id = await create_meeting(http, hubs.a.base_url)
            ws_url = f"{hubs.a.base_url.replace('http', 'ws', 1)}/api/v1/meetings/{meeting_id}/ws"
            anne = Participant(await http.ws_connect(ws_url, max_msg_size=1 << 20), "Anne")
            try:
                await anne.join()
                camera = ClipTrack(frames)
                sender = await publish_clip(anne, camera)
                joins = Joins(hubs, http, meeting_id, anne.participant_id, camera)
                cpu_joins, cpu_warm = Cpu(pids), Cpu(pids)
                cpu_joins.begin()
                await joins.measure((DIRECT, COLD), rounds)
                cpu_joins.end()
                hop = await hop_then_warm(joins, sender, packets, Cpu(pids), cpu_warm, rounds)
            finally:
                await anne.close()
    except Exception:
        for hub in (hubs.a, hubs.b):
            print(f"--- {hub.log_path}, last lines but access lines", file=sys.stderr)
            with contextlib.suppress(OSError):
                lines = hub.log_path.read_text(errors="replace").splitlines()
                tail = [x for x in lines if "aiohttp.access" not in x][-25:]
                print("\n".join(tail), file=sys.stderr)
        raise
    finally:
        for hub in (hubs.a, hubs.b):
            hub.stop()  # by pid: SIGTERM, then SIGKILL if it does not go
    bitrate = sum(len(f) for f in frames) * 8 / (len(frames) / FPS)
    return Results(joins, hop, bitrate, cpu_joins, cpu_warm, started, load, loop)


async def hop_then_warm(
    joins: Joins, sender: RTCRtpSender, packets: int, cpu_hop: Cpu, cpu_warm: Cpu, rounds: int
) -> Hop:
    """RA on A and RB through B: the hop; then RA leaves and RB keeps the link up for the
    warm rounds."""
    hubs, http, meeting_id, anne_id = joins.hubs, joins.http, joins.meeting_id, joins.anne_id
    ra = await arrive(hubs.a.base_url, f"/m/{meeting_id}", meeting_id, "RA")
    try:
        rb = await arrive(hubs.b.base_url, f"/f/{hubs.a_name}/{meeting_id}", meeting_id, "RB")
    except BaseException:
        await leave(ra)
        raise
    try:
        for guest in (ra, rb):
            await guest.person.join(audio=False, video=False)

        async def flowing() -> bool:
            return all(g.person.received.count(anne_id, "video") >= 2 * FPS for g in (ra, rb))

        await eventually(flowing, "RA and RB decoding 2 s of Anne's video")
        hop = await measure_hop(sender, ra.person, rb.person, anne_id, packets, cpu_hop)
        await leave(ra)

        async def ra_gone() -> bool:
            return (await hubs.participants(http))[0] == 2  # Anne and B's link

        await eventually(ra_gone, "hub A letting RA go")
        cpu_warm.begin()
        await joins.measure((WARM,), rounds)
        cpu_warm.end()
    finally:
        await leave(ra)
        await leave(rb)
    return hop


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.federation",
        description="Two federated hubs on loopback: join → first remote frame directly on the "
        "host and through a partner hub, and the latency one cascade hop adds per packet.",
    )
    parser.add_argument("--rounds", type=int, default=20, help="joins per path (default 20)")
    parser.add_argument(
        "--packets", type=int, default=2000, help="video packets for the hop (default 2000)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"default {RESULTS}")
    parser.add_argument("--keep", action="store_true", help="keep the hubs' folders and logs")
    parser.add_argument(
        "--wait-quiet",
        action="store_true",
        help="first wait (at most 15 min) for a 1-minute load average below 0.8",
    )
    args = parser.parse_args()
    if args.wait_quiet:
        wait_for_quiet(0.8, 30, 900)
    command = shlex.join([".venv/bin/python", "-m", "bench.federation", *sys.argv[1:]])
    try:
        import uvloop
    except ImportError:
        runner: Any = asyncio.run
    else:
        runner = uvloop.run
    root = Path(tempfile.mkdtemp(prefix="bench-federation-"))

    async def guarded() -> Results:
        task = asyncio.current_task()
        assert task is not None
        for number in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(number, task.cancel)
        return await run(args.rounds, args.packets, root)

    try:
        results: Results = runner(guarded())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench: stopped; both hubs are stopped", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"bench: hubs' folders and logs kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    text = report(results, command)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
