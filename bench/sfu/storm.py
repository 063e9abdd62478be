"""The join storm: a meeting of a few people talking with cameras on, then 20 people entering
all at once (camera and microphone off, as people join a large meeting), against the hub and
against Janus with the same load generator (bench/sfu/crowd.py).

What it tells: whether the people already talking notice the storm (latency and loss of their
media in a quiet window, then in the window the storm falls in), and how long each newcomer
waits from the start of their join to the first packet of each kind from every speaker.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.sfu import profiling
from bench.sfu.crowd import Worker, WorkerError
from bench.sfu.media import percentile
from bench.sfu.meeting import (
    HubMeeting,
    JanusMeeting,
    MeetingTarget,
    measure,
    missing_pairs,
    say,
    spread,
    wait_connected,
)
from bench.sfu.system import BenchError


@dataclass(frozen=True)
class StormPlan:
    present: int = 4  # people with camera and microphone on before the storm
    newcomers: int = 20  # people who enter at once
    quiet_window: float = 4.0  # seconds measured before the storm
    window: float = 12.0  # seconds measured around the storm
    storm_after: float = 1.0  # seconds into the window when the newcomers start joining
    connect_timeout: float = 45.0
    # The speakers and the newcomers live in different worker processes, so that the
    # newcomers' own connection set-up (keys, DTLS) never delays the speakers' measured packets.
    workers: int = 2  # the speakers'
    newcomer_workers: int = 2
    profile_seconds: float = 5.0  # with --profile: py-spy on the hub from the storm's start


async def enter_all(target: MeetingTarget, assignment: dict[Worker, list[int]]) -> None:
    """The newcomers start joining together, on every worker at the same moment."""
    if isinstance(target, HubMeeting):
        calls = [
            w.call(
                "hub_join",
                base_url=target.server.base_url,
                meeting=target.meeting_ids[0],  # the storm is one meeting
                people=people,
                publish=False,
                at_once=True,
            )
            for w, people in assignment.items()
            if people
        ]
    elif isinstance(target, JanusMeeting):
        feeds = {str(p): f for p, f in target.feeds.items()}
        calls = [
            w.call("janus_listen", room=target.room, feeds=feeds, people=people)
            for w, people in assignment.items()
            if people
        ]
    else:
        raise BenchError(f"no join storm for {target.name}")
    await asyncio.gather(*calls)


def _summary(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    if not ordered:
        return {"p50": None, "p95": None, "max": None}
    return {
        "p50": round(percentile(ordered, 0.5), 1),
        "p95": round(percentile(ordered, 0.95), 1),
        "max": round(ordered[-1], 1),
    }


async def _storm(
    target: MeetingTarget,
    arriving: list[Worker],
    newcomers: list[int],
    speakers: list[int],
    plan: StormPlan,
    started: float,
    result: dict[str, Any],
) -> None:
    """The newcomers enter; how long it took, or why they did not all get in, into `result`."""
    try:
        async with asyncio.timeout(plan.connect_timeout):
            await enter_all(target, spread(newcomers, arriving))
            result["signalled_s"] = round(time.monotonic() - started, 2)
            await wait_connected(arriving, speakers)  # the arriving workers hold newcomers only
            result["all_in_s"] = round(time.monotonic() - started, 2)
    except (TimeoutError, WorkerError) as exc:
        missing = await missing_pairs(arriving, speakers)
        result["error"] = (
            f"the newcomers were not all in within {plan.connect_timeout:.0f} s: "
            f"{len(missing)} (newcomer, speaker, kind) pairs "
            f"without packets"
            if isinstance(exc, TimeoutError)
            else f"joins failed: {str(exc)[:500]}"
        )
        say(target.name, f"  {result['error']}")


async def storm(
    target: MeetingTarget,
    team: list[Worker],
    result: dict[str, Any],
    *,
    plan: StormPlan,
    profile_dir: Path | None = None,
) -> None:
    """The meeting of `plan.present`, a quiet window, then the storm inside the second one;
    into `result` as it goes. `team`: the speakers' workers, then the newcomers'."""
    if not isinstance(target, HubMeeting | JanusMeeting):
        raise BenchError(f"no join storm for {target.name}")
    workers, arriving = team[: plan.workers], team[plan.workers :]
    speakers = list(range(plan.present))
    newcomers = list(range(plan.present, plan.present + plan.newcomers))
    await target.setup(plan.present + plan.newcomers)
    say(target.name, f"{plan.present} people with camera and microphone")
    async with asyncio.timeout(plan.connect_timeout):
        await target.add(spread(speakers, workers))
        await wait_connected(workers, speakers)
    if isinstance(target, JanusMeeting):  # every worker needs its Janus session
        for worker in arriving:
            await worker.call("janus_session", base_url=target.server.base_url)
    await asyncio.sleep(1.5)
    result["quiet"] = await measure(target, workers, plan.present, plan.quiet_window)
    say(target.name, f"  quiet: p99 {result['quiet']['latency_p99_ms']} ms, "
         f"loss {result['quiet']['loss_pct']} %")  # fmt: skip
    window = asyncio.get_running_loop().create_task(
        measure(target, workers, plan.present, plan.window)
    )
    await asyncio.sleep(0.3 + plan.storm_after)  # measure() opens its window 0.3 s ahead
    say(target.name, f"{plan.newcomers} people enter at once")
    started = time.monotonic()
    profiler = None
    if profile_dir is not None:
        path = profile_dir / f"profile-{target.name}-join-storm.txt"
        profiler = asyncio.get_running_loop().create_task(
            profiling.record(target.pid, plan.profile_seconds, path, nonblocking=True)
        )
    try:
        await _storm(target, arriving, newcomers, speakers, plan, started, result)
    except BaseException:  # an unexpected failure leaves no measuring task behind
        for task in (window, profiler):
            if task is not None:
                task.cancel()
        raise
    result["storm"] = await window
    if profiler is not None:
        await profiler
        result["profile"] = profiling.summarise(path)
        for row in result["profile"]["top_self"][:10]:
            say(target.name, f"  {row['pct']:5.1f} %  {row['function']}")
    if result["storm"]["sent"] and "all_in_s" in result:
        in_window = plan.window - plan.storm_after
        result["storm_fits_window"] = result["all_in_s"] <= in_window
    times: dict[str, Any] = {}
    for part in await asyncio.gather(
        *(w.call("join_times", publishers=speakers) for w in arriving)
    ):
        times.update(part)
    media = [t["media_ms"] for n, t in times.items() if int(n) in newcomers and t["media_ms"]]
    signalled = [
        t["signalled_ms"] for n, t in times.items() if int(n) in newcomers and t["signalled_ms"]
    ]
    result["join_media_ms"] = _summary(media)
    result["join_signalled_ms"] = _summary(signalled)
    result["joined"] = len(media)
    storm_step = result["storm"]
    say(target.name, f"  storm: p99 {storm_step['latency_p99_ms']} ms (max "
         f"{storm_step['latency_max_ms']}), loss {storm_step['loss_pct']} %, sfu "
         f"{storm_step['sfu_cores']:.2f} cores; {len(media)} of {plan.newcomers} in, join → "
         f"media {result['join_media_ms']}")  # fmt: skip


def plan_summary(plan: StormPlan) -> dict[str, Any]:
    return asdict(plan)


def markdown(data: dict[str, Any]) -> str:
    """The side-by-side table of bench/results/storm.md."""
    meta = data["meta"]
    plan = meta["plan"]
    lines = [
        f"# Join storm — {meta['date']}",
        "",
        f"{plan['present']} people talking with camera and microphone (VP8 ~1 Mbit/s, Opus), "
        f"then {plan['newcomers']} people entering at once with camera and microphone off; "
        f"same load generator for both SFUs ({plan['workers']} processes for the speakers, "
        f"{plan['newcomer_workers']} for the newcomers). "
        f"Command: `{meta['command']}`.",
        "",
        "| | hub | Janus |",
        "|---|--:|--:|",
    ]

    def cell(name: str, pick: Any) -> str:
        part = data.get(name)
        if not part:
            return "–"
        try:
            value = pick(part)
        except (KeyError, TypeError):
            return "–"
        return "–" if value is None else str(value)

    rows = [
        ("speakers' media before: p50 / p99 / max ms",
         lambda d: f"{d['quiet']['latency_p50_ms']} / {d['quiet']['latency_p99_ms']} / "
                   f"{d['quiet']['latency_max_ms']}"),
        ("speakers' media during the storm: p50 / p99 / max ms",
         lambda d: f"{d['storm']['latency_p50_ms']} / {d['storm']['latency_p99_ms']} / "
                   f"{d['storm']['latency_max_ms']}"),
        ("speakers' media loss before / during", lambda d: f"{d['quiet']['loss_pct']} % / "
                                                         f"{d['storm']['loss_pct']} %"),
        ("SFU cores before / during", lambda d: f"{d['quiet']['sfu_cores']:.2f} / "
                                               f"{d['storm']['sfu_cores']:.2f}"),
        ("newcomers in (all media from every speaker)", lambda d: f"{d['joined']} of "
                                                                 f"{plan['newcomers']}"),
        ("join → answer: p50 / p95 / max ms",
         lambda d: "{p50} / {p95} / {max}".format(**d["join_signalled_ms"])),
        ("join → all media: p50 / p95 / max ms",
         lambda d: "{p50} / {p95} / {max}".format(**d["join_media_ms"])),
        ("the last newcomer in after", lambda d: f"{d['all_in_s']} s"),
        ("other processes (cores, storm window)", lambda d: f"{d['storm']['other_cores']:.2f}"),
    ]  # fmt: skip
    for label, pick in rows:
        lines.append(f"| {label} | {cell('hub', pick)} | {cell('janus', pick)} |")
    errors = [f"- {name}: {data[name]['error']}" for name in ("hub", "janus")
              if data.get(name, {}).get("error")]  # fmt: skip
    if errors:
        lines += ["", *errors]
    return "\n".join(lines) + "\n"
