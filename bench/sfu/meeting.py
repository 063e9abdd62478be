"""The all-to-all meeting: N people each publish a camera and a microphone and receive every
other person's, against the hub and against Janus with the same load generator.

The people live in a few worker processes (`crowd`), so the load generator is never one
event loop's worth of CPU; this process only signals the SFU, opens the measurement windows,
reads the CPU counters and merges what the workers counted. One growing meeting per SFU: the
ladder adds people up to each size, waits until every viewer got packets of both kinds from
every publisher, and measures. A size where joins do not complete in time or loss exceeds the
limit ends that SFU's ladder ("collapsed at N").
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time
from abc import ABC, abstractmethod
from array import array
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.sfu import hub as hubapi
from bench.sfu import janus as janusapi
from bench.sfu import profiling
from bench.sfu.crowd import Worker, WorkerError
from bench.sfu.media import CountingSubscriber, percentile
from bench.sfu.person import AUDIO, KINDS, MAX_PEOPLE, SLOTS, VIDEO, slot
from bench.sfu.system import (
    BenchError,
    CpuWindow,
    process_cpu_seconds,
    runqueue_wait_seconds,
    udp_drops,
)

MEETING_ROOM = 434343
# The forwarding rate compared between 1 and 2 SFU workers is the highest with less loss.
CLEAN_LOSS_PCT = 0.5


@dataclass(frozen=True)
class MeetingPlan:
    """Meeting sizes and durations; `quick()` for checking the machinery in a few minutes."""

    people: tuple[int, ...] = (4, 8, 12, 14, 16, 20, 24)
    window: float = 8.0  # seconds of a measurement window
    settle: float = 2.0  # seconds after everyone is connected, before measuring
    connect_timeout: float = 60.0  # adding people until every pair has packets of both kinds
    loss_limit_pct: float = 5.0  # above: the SFU collapsed at this size
    workers: int = 2  # load-generating processes
    # With --profile: py-spy on the hub at this size (or the one below), or where it collapsed.
    profile_people: int = 14
    profile_window: float = 8.0
    max_other_cores: float = 0.25  # a window where other processes used more is measured again
    retries: int = 1

    @classmethod
    def quick(cls, workers: int = 2) -> MeetingPlan:
        return cls(people=(4, 10, 16), window=4.0, settle=1.5, connect_timeout=45.0,
                   workers=workers, profile_window=5.0, retries=0)  # fmt: skip

    def profiled_size(self) -> int | None:
        below = [n for n in self.people if n <= self.profile_people]
        return max(below, default=None)


def say(name: str, text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {name}: {text}", flush=True)


# -- the SFUs ----------------------------------------------------------------------------------


class SfuTarget(ABC):
    """One SFU under measure (what `measure` reads of it): its process, and those forwarding
    for it; the large meeting's targets (bench/sfu/large.py) are ones too."""

    name: str
    pid: int
    groups = 1  # meetings held at once: person n is in meeting n mod groups
    sfu_worker_pids: tuple[int, ...] = ()  # processes forwarding for it, beside `pid`

    @abstractmethod
    async def close(self) -> None: ...

    async def extra(self) -> dict[str, Any]:
        return {}


async def hub_extra(http: aiohttp.ClientSession, base_url: str) -> dict[str, Any]:
    """The hub's /metrics, kept beside the measure (nothing if it does not answer)."""
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        return {"hub_metrics": await hubapi.metrics(http, base_url)}
    return {}


class MeetingTarget(SfuTarget):
    """One SFU hosting the all-to-all meeting: set it up, add people (through the workers),
    close."""

    @abstractmethod
    async def setup(self, largest: int) -> None: ...

    @abstractmethod
    async def add(self, assignment: dict[Worker, list[int]]) -> None:
        """Join `assignment`'s people (each worker its own) until everyone has offered and
        answered; packets flowing is checked apart."""


class HubMeeting(MeetingTarget):
    """A public meeting on the hub; every person joins over its own WebSocket, publishes
    camera + microphone, and answers the hub's subscribe offers (one connection each).
    With `meetings` > 1, that many such meetings side by side (one per SFU worker)."""

    name = "hub"

    def __init__(
        self, server: hubapi.HubServer, meetings: int = 1, *, moderator: bool = False,
        keeping: bool = False,
    ) -> None:  # fmt: skip
        """`moderator`: the meeting's owner is in it too, showing nobody (hearing everyone);
        `keeping`: and turns subtitles (with their transcript) and recording on."""
        self.server = server
        self.pid = server.pid
        self.groups = meetings
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.meeting_ids: list[str] = []
        self.keeping = keeping
        self.moderator = moderator or keeping
        self.owner: hubapi.HubParticipant | None = None
        self.owner_view: CountingSubscriber | None = None

    async def setup(self, largest: int) -> None:
        for _ in range(self.groups):
            self.meeting_ids.append(await hubapi.create_meeting(self.http, self.server.base_url))
        self.sfu_worker_pids = await self.server.sfu_worker_pids(self.http)
        if self.moderator:
            await self._owner_joins()

    async def _owner_joins(self) -> None:
        view = self.owner_view = CountingSubscriber(self.server.address, None)

        async def answer(offer: dict[str, Any]) -> str:
            return await view.answer(offer["sdp"])

        owner = self.owner = hubapi.HubParticipant(
            self.http, self.server.base_url, self.meeting_ids[0], "Organisatrice", answer,
            audio=False, video=False,
        )  # fmt: skip
        await owner.join()
        await owner.view([], visible=False)
        if self.keeping:
            for kind in ("subtitles", "recording"):
                state = owner.expect(f"{kind}_state")
                await owner.send({"type": kind, "on": True})
                await owner.wait(state, f"{kind}_state")

    async def add(self, assignment: dict[Worker, list[int]]) -> None:
        await asyncio.gather(
            *(
                w.call(
                    "hub_join",
                    base_url=self.server.base_url,
                    meeting=meeting_id,
                    people=[p for p in people if p % self.groups == group],
                )
                for w, people in assignment.items()
                for group, meeting_id in enumerate(self.meeting_ids)
                if any(p % self.groups == group for p in people)
            )
        )

    async def extra(self) -> dict[str, Any]:
        return await hub_extra(self.http, self.server.base_url)

    async def close(self) -> None:
        if self.owner is not None:
            await self.owner.close()
        if self.owner_view is not None:
            await self.owner_view.close()
        await self.http.close()


class JanusMeeting(MeetingTarget):
    """A videoroom: one publisher handle per person (camera + microphone in one connection)
    and one multistream subscriber handle per person, which gets every other feed in one
    connection and is updated (`subscribe` → new offer → `start`) when people join."""

    name = "janus"

    def __init__(self, server: janusapi.JanusServer) -> None:
        self.server = server
        self.pid = server.pid
        self.http = aiohttp.ClientSession()
        self.session = janusapi.JanusSession(self.http, server.base_url)
        self.room = 0
        self.feeds: dict[int, int] = {}  # person → feed id

    async def setup(self, largest: int) -> None:
        await self.session.create()
        admin = await self.session.attach()
        self.room = await janusapi.create_room(
            self.session, admin, publishers=max(largest, 4), room=MEETING_ROOM
        )

    async def add(self, assignment: dict[Worker, list[int]]) -> None:
        published = await asyncio.gather(
            *(
                w.call(
                    "janus_publish", base_url=self.server.base_url, room=self.room, people=people
                )
                for w, people in assignment.items()
                if people
            )
        )
        for feeds in published:
            self.feeds.update((int(p), int(f)) for p, f in feeds.items())
        feeds = {str(p): f for p, f in self.feeds.items()}
        await asyncio.gather(
            *(w.call("janus_subscribe", room=self.room, feeds=feeds) for w in assignment)
        )

    async def close(self) -> None:
        await self.session.close()
        await self.http.close()


# -- measuring -------------------------------------------------------------------------------


def spread(people: list[int], workers: list[Worker]) -> dict[Worker, list[int]]:
    """Deal `people` out to `workers` (person n to worker n mod count), noting who is where."""
    assignment: dict[Worker, list[int]] = {w: [] for w in workers}
    for person in people:
        worker = workers[person % len(workers)]
        assignment[worker].append(person)
        worker.people.append(person)
    return assignment


async def wait_connected(workers: list[Worker], everyone: list[int], groups: int = 1) -> None:
    """Until every viewer got packets of both kinds from every other person of its meeting
    (the caller bounds the wait)."""
    while True:
        missing = await asyncio.gather(
            *(w.call("missing", everyone=everyone, groups=groups) for w in workers)
        )
        if not any(missing):
            return
        await asyncio.sleep(0.25)


async def missing_pairs(workers: list[Worker], everyone: list[int], groups: int = 1) -> list[Any]:
    with contextlib.suppress(WorkerError, TimeoutError):
        found = await asyncio.gather(
            *(w.call("missing", within=10, everyone=everyone, groups=groups) for w in workers)
        )
        return [pair for part in found for pair in part]
    return []


def children(pid: int) -> list[int]:
    """The child processes of `pid` (Linux: /proc/PID/task/*/children)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


def tally(collected: list[dict[str, Any]]) -> tuple[list[int], dict[int, dict[int, int]]]:
    """What the workers counted in a window: packets sent per slot (publisher and kind), and
    per viewer the packets it received per slot."""
    sent = [0] * (SLOTS * MAX_PEOPLE)
    for part in collected:
        for index, count in part["sent"].items():
            sent[int(index)] += count
    counts: dict[int, dict[int, int]] = {}
    for part in collected:
        for viewer, row in part["counts"].items():
            counts[int(viewer)] = {int(i): n for i, n in row.items()}
    return sent, counts


def latencies(collected: list[dict[str, Any]], field: str = "latencies_us") -> list[int]:
    """The workers' latency samples (µs), in order."""
    found = array("i")
    for part in collected:
        found.frombytes(base64.b64decode(part.get(field, "")))
    return sorted(found)


def loss_pct(got: int, wanted: int) -> float | None:
    return round(100 * (1 - got / wanted), 3) if wanted else None


def latency_ms(ordered: list[int], prefix: str = "latency") -> dict[str, float | None]:
    """p50, p99 and the largest of ordered samples, in ms (None without samples)."""
    if not ordered:
        return {f"{prefix}_p50_ms": None, f"{prefix}_p99_ms": None, f"{prefix}_max_ms": None}
    return {
        f"{prefix}_p50_ms": round(percentile(ordered, 0.50) / 1e3, 3),
        f"{prefix}_p99_ms": round(percentile(ordered, 0.99) / 1e3, 3),
        f"{prefix}_max_ms": round(ordered[-1] / 1e3, 3),
    }


def client_figures(collected: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "foreign_packets": sum(p["foreign"] for p in collected),
        "client_loop_lag_max_ms": max((p["loop_lag_max_ms"] for p in collected), default=None),
    }


def merge(collected: list[dict[str, Any]], people: int, groups: int = 1) -> dict[str, Any]:
    """Loss, worst pair and latencies over every (viewer, publisher, kind) of the window
    (with `groups` meetings, the pairs within each)."""
    sent, counts = tally(collected)
    expected = [0, 0]
    received = [0, 0]
    worst = 0.0
    silent = 0
    odd: list[tuple[int, int, str, int, int]] = []  # pairs that lost > 1 % or got extra
    for viewer in range(people):
        row = counts.get(viewer, {})
        for publisher in range(people):
            if publisher == viewer or publisher % groups != viewer % groups:
                continue
            for kind in (AUDIO, VIDEO):
                index = slot(publisher, kind)
                got = row.get(index, 0)
                expected[kind] += sent[index]
                received[kind] += got
                if sent[index]:
                    worst = max(worst, 1 - got / sent[index])
                    silent += got == 0
                if got > sent[index] or got < 0.99 * sent[index]:
                    odd.append((viewer, publisher, KINDS[kind], sent[index], got))
    total_expected, total_received = sum(expected), sum(received)
    return {
        "sent": sum(sent),
        "forwarded": total_received,
        "expected": total_expected,
        "loss_pct": loss_pct(total_received, total_expected),
        "audio_loss_pct": loss_pct(received[AUDIO], expected[AUDIO]),
        "video_loss_pct": loss_pct(received[VIDEO], expected[VIDEO]),
        "audio_forwarded": received[AUDIO],
        "video_forwarded": received[VIDEO],
        "worst_pair_loss_pct": round(100 * worst, 3),
        "silent_pairs": silent,  # (viewer, publisher, kind) with nothing in the window
        # (viewer, publisher, kind, sent, got): more than sent means duplicates forwarded.
        "odd_pairs": len(odd),
        "odd_pair_examples": odd[:12],
        **latency_ms(latencies(collected)),
        **client_figures(collected),
    }


async def measure(
    target: SfuTarget,
    workers: list[Worker],
    people: int,
    window: float,
    drain: float = 0.6,
    merging: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One window, given to the workers as send times a little ahead; CPU of the SFU, of the
    client (this process + the workers) and of the machine over the same wall time. What
    the workers counted is merged as an all-to-all meeting's, unless `merging` is given."""
    start = time.perf_counter_ns() + 300_000_000
    end = start + int(window * 1e9)
    await asyncio.gather(*(w.call("open", start_ns=start, end_ns=end) for w in workers))
    pids = [w.pid for w in workers]
    sfu_pids = [target.pid, *target.sfu_worker_pids]
    cpu = CpuWindow(target.pid, client_pids=tuple(pids), sfu_worker_pids=target.sfu_worker_pids)
    await asyncio.sleep(max(0.0, (start - time.perf_counter_ns()) / 1e9))
    sfu_drops_before = sum(udp_drops(sfu_pids))
    drops_before = udp_drops([target.pid, os.getpid(), *pids])
    per_worker = [process_cpu_seconds(pid) for pid in pids]
    waited = sum(runqueue_wait_seconds(pid) for pid in pids)
    # The hub's own helper processes (speech worker, recorder), not SFU workers.
    helpers = [c for c in children(target.pid) if c not in target.sfu_worker_pids]
    helpers_before = [process_cpu_seconds(pid) for pid in helpers]
    cpu.begin()
    await asyncio.sleep(max(0.0, (end - time.perf_counter_ns()) / 1e9))
    cpu.end()
    per_worker = [process_cpu_seconds(p) - b for p, b in zip(pids, per_worker, strict=True)]
    helper_cpu = sum(
        process_cpu_seconds(p) - b for p, b in zip(helpers, helpers_before, strict=True)
    )
    waited = sum(runqueue_wait_seconds(pid) for pid in pids) - waited
    await asyncio.sleep(drain)  # packets sent before the window closed, still on their way
    drops_after = udp_drops([target.pid, os.getpid(), *pids])
    sfu_drops = sum(udp_drops(sfu_pids)) - sfu_drops_before
    collected = await asyncio.gather(*(w.call("collect") for w in workers))
    result = merging(collected) if merging is not None else merge(collected, people, target.groups)
    usage = cpu.summary()
    forwarded = result["forwarded"]
    return {
        "people": people,
        "sent_pps": round(result["sent"] / cpu.wall, 1),
        "forwarded_pps": round(forwarded / cpu.wall, 1),
        "cpu_us_per_packet": round(cpu.sfu / forwarded * 1e6, 2) if forwarded else None,
        **result,
        "meetings": target.groups,
        "sfu_udp_drops": sfu_drops,
        "client_udp_drops": sum(drops_after[1:]) - sum(drops_before[1:]),
        **usage,
        "client_worker_cores": [round(c / cpu.wall, 3) for c in per_worker],
        "client_wait_cores": round(waited / cpu.wall, 3),
        # Counted apart from "other": the hub's speech worker and recorder, if running.
        "hub_helper_cores": round(helper_cpu / cpu.wall, 3),
        "other_cores": round(max(0.0, (usage["other_cores"] or 0.0) - helper_cpu / cpu.wall), 3),
    }


async def measure_undisturbed(
    target: MeetingTarget, workers: list[Worker], people: int, plan: MeetingPlan
) -> dict[str, Any]:
    """`measure`, again if other processes (another test run...) took CPU meanwhile."""
    best: dict[str, Any] | None = None
    for attempt in range(1 + plan.retries):
        result = await measure(target, workers, people, plan.window)
        result["attempts"] = attempt + 1
        if best is None or result["other_cores"] < best["other_cores"]:
            best = result
        if result["other_cores"] <= plan.max_other_cores or attempt == plan.retries:
            break
        say(target.name, f"  other processes used {result['other_cores']:.2f} cores: again")
    assert best is not None
    best["disturbed"] = best["other_cores"] > plan.max_other_cores
    return best


async def _profile(
    target: MeetingTarget, folder: Path, people: int, plan: MeetingPlan
) -> dict[str, Any]:
    path = folder / f"profile-hub-meeting-{people}.txt"
    say(target.name, f"py-spy for {plan.profile_window:.0f} s at {people} people → {path}")
    try:  # non-blocking: ptrace stops would inflate every system call's share
        await profiling.record(target.pid, plan.profile_window, path, nonblocking=True)
    except RuntimeError as exc:
        return {"error": str(exc)}
    summary = profiling.summarise(path)
    summary["file"] = str(path)
    summary["people"] = people
    for row in summary["top_self"][:8]:
        say(target.name, f"  {row['pct']:5.1f} %  {row['function']}")
    return summary


def lost_where(step: dict[str, Any]) -> str:
    """Where a window's losses happened, from the socket drop counters."""
    sfu, client = step["sfu_udp_drops"], step["client_udp_drops"]
    lost = max(1, step["expected"] - step["forwarded"])
    if not sfu and not client:
        return "no socket overflow: packets queued in the SFU and arrived too late (> 0.6 s)"
    where = f"{sfu} datagrams dropped at the SFU's sockets and {client} at the client's"
    if client > sfu and client >= lost / 2:
        return f"{where}: mostly the load generator fell behind, not the SFU"
    return f"{where}, the rest queued too long"


def _line(step: dict[str, Any]) -> str:
    return (
        f"fwd {step['forwarded_pps']:.0f}/s loss {step['loss_pct']}% "
        f"(worst pair {step['worst_pair_loss_pct']}%) cpu {step['cpu_us_per_packet']} µs/pkt "
        f"(sfu {step['sfu_cores']:.2f} cores, waiting {step['sfu_wait_cores']:.2f}, "
        f"client {step['client_cores']:.2f}, "
        f"other {step['other_cores']:.2f}) lat p50 {step['latency_p50_ms']} "
        f"p99 {step['latency_p99_ms']} ms drops {step['sfu_udp_drops']}/{step['client_udp_drops']}"
    )


async def ladder(
    target: MeetingTarget,
    workers: list[Worker],
    result: dict[str, Any],
    *,
    plan: MeetingPlan,
    profile_dir: Path | None = None,
) -> None:
    """Grow the meeting through `plan.people`, measuring each size, into `result` as it goes
    (an interrupted run keeps what it measured)."""
    steps: list[dict[str, Any]] = result.setdefault("steps", [])
    result["collapsed_at"] = None
    await target.setup(max(plan.people))
    present = 0
    groups = target.groups  # sizes are per meeting
    for size in plan.people:
        newcomers = list(range(groups * present, groups * size))
        assignment = spread(newcomers, workers)
        everyone = list(range(groups * size))
        meetings = f"{groups} meetings of {size}" if groups > 1 else f"meeting of {size}"
        say(target.name, f"adding {len(newcomers)} people ({meetings})")
        started = time.monotonic()
        try:
            async with asyncio.timeout(plan.connect_timeout):
                await target.add(assignment)
                signalled = time.monotonic() - started
                await wait_connected(workers, everyone, groups)
        except (TimeoutError, WorkerError, BenchError) as exc:
            missing = await missing_pairs(workers, everyone, groups)
            reason = (
                f"joins did not complete within {plan.connect_timeout:.0f} s: "
                f"{len(missing)} of {groups * size * (size - 1) * 2} (viewer, publisher, kind) "
                "pairs without packets"
                if isinstance(exc, TimeoutError)
                else f"joins failed: {str(exc)[:500]}"
            )
            say(target.name, f"  collapsed at {size}: {reason}")
            steps.append(
                {"people": size, "connect_error": reason, "missing_examples": missing[:10]}
            )
            result["collapsed_at"], result["collapse_reason"] = size, reason
            return
        connect_s = round(time.monotonic() - started, 2)
        present = size
        say(target.name, f"  all connected in {connect_s:.1f} s (signalled {signalled:.1f} s)")
        await asyncio.sleep(plan.settle)
        step = await measure_undisturbed(target, workers, groups * size, plan)
        step["connect_s"] = connect_s
        step["signalled_s"] = round(signalled, 2)
        steps.append(step)
        say(target.name, f"  {size} people: {_line(step)}")
        if step["loss_pct"] is not None and step["loss_pct"] < CLEAN_LOSS_PCT:
            best = result.get("clean_forwarded_pps") or 0.0
            result["clean_forwarded_pps"] = max(best, step["forwarded_pps"])
        collapsed = step["loss_pct"] is not None and step["loss_pct"] > plan.loss_limit_pct
        # At the planned size, or where the SFU broke down before it.
        wanted = size == plan.profiled_size() or collapsed
        if profile_dir is not None and wanted and "profile" not in result:
            result["profile"] = await _profile(target, profile_dir, size, plan)
        if collapsed:
            reason = (
                f"loss {step['loss_pct']} % > {plan.loss_limit_pct} %, {lost_where(step)}; "
                f"the SFU used {step['sfu_cores']:.2f} cores and waited "
                f"{step['sfu_wait_cores']:.2f} for a CPU, the client used "
                f"{step['client_cores']:.2f} and waited {step['client_wait_cores']:.2f}, "
                f"other processes used {step['other_cores']:.2f}"
            )
            say(target.name, f"  collapsed at {size}: {reason}")
            result["collapsed_at"], result["collapse_reason"] = size, reason
            return


Scenario = Callable[[MeetingTarget, list[Worker], dict[str, Any]], Awaitable[None]]


async def run_meeting(
    target: MeetingTarget, workers: list[Worker], scenario: Scenario, result: dict[str, Any]
) -> None:
    """The scenario (the ladder, the join storm), then what the workers and the SFU saw; the
    target is closed on any exit."""
    try:
        await scenario(target, workers, result)
    finally:
        diagnostics: list[Any] = []
        for worker in workers:
            with contextlib.suppress(WorkerError, TimeoutError):
                diagnostics.append(await worker.call("diagnostics", within=10))
        result["diagnostics"] = {
            "keyframe_requests": sum(d["keyframe_requests"] for d in diagnostics),
            "signaling_errors": [e for d in diagnostics for e in d["signaling_errors"]][:10],
            "janus_events": _sum_counts(d["janus_events"] for d in diagnostics),
            "client_consent": _sum_counts(d["client_consent"] for d in diagnostics),
        }
        result.update(await target.extra())
        with contextlib.suppress(Exception):
            await target.close()


def _sum_counts(parts: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            total[key] = total.get(key, 0) + value
    return total


def plan_summary(plan: MeetingPlan) -> dict[str, Any]:
    return {**asdict(plan), "kinds": list(KINDS)}
