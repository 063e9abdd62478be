"""`python -m bench.sfu [--quick] [--profile] [--out bench/results/latest.json]`

Starts the hub and Janus, runs the same load against each from this one aiortc client process,
stops both by pid, and writes JSON plus a Markdown table (printed too). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import shutil
import signal
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.sfu import browser, profiling, report, system
from bench.sfu.hub import HubServer
from bench.sfu.janus import JanusServer
from bench.sfu.media import Clip, InjectingPublisher, Meter, encode_clip
from bench.sfu.scenarios import (
    HubTarget,
    JanusTarget,
    Plan,
    Target,
    stress_ladder,
    video_cases,
)
from bench.sfu.system import BenchError, CpuWindow

DEFAULT_OUT = Path("bench/results/latest.json")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sfu",
        description="The hub's SFU and Janus under the same load, side by side.",
    )
    parser.add_argument("--quick", action="store_true", help="shorter windows (≈3 min)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results path "
                        "(the Markdown table goes next to it, same name, .md)")  # fmt: skip
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the hub in the 10-subscriber case and the stress")  # fmt: skip
    parser.add_argument("--address", help="this machine's non-loopback IPv4 address for media "
                        "(default: the first one found)")  # fmt: skip
    parser.add_argument("--skip-janus", action="store_true", help="measure the hub only")
    parser.add_argument("--skip-browser", action="store_true", help="no Chromium join timing")
    parser.add_argument("--wait-quiet", action="store_true",
                        help="first wait (≤ 15 min) for a 1-min load average < 0.8")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    return parser.parse_args(argv)


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
    meta: dict[str, Any] = {
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
        "plan": {k: v for k, v in vars(plan).items()},
    }  # fmt: skip
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
        if not ok:  # keep the last complete results; this run's part goes beside them
            out = out.with_name(f"{out.stem}.partial{out.suffix}")
        report.write_json(out, data)
        table = report.markdown(data)
        out.with_suffix(".md").write_text(table)
        print("\n" + table, flush=True)
        _log(f"results: {out} and {out.with_suffix('.md')} ({meta['duration_s']} s)")
        if args.keep or not ok:
            _log(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


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

    async def guarded() -> int:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):  # also when SIGINT came in ignored
            loop.add_signal_handler(number, task.cancel)
        limit = 420 if args.quick else 1200
        try:
            async with asyncio.timeout(limit):
                return await run(args, quiet)
        except TimeoutError:
            raise BenchError(f"the benchmark did not finish within {limit} s") from None

    try:
        return int(runner(guarded()))
    except KeyboardInterrupt:
        print("bench: interrupted; every process it started is stopped", file=sys.stderr)
        return 130
    except asyncio.CancelledError:
        print("bench: stopped by a signal; every process it started is stopped", file=sys.stderr)
        return 143
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    finally:
        system.stop_all()


if __name__ == "__main__":
    sys.exit(main())
