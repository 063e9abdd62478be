"""The large meeting with simulcast: N people (50 by default) with cameras on, each sent as
three layers (320×180, 640×360, 1280×720); 3 of them speaking; every viewer shows 9 people
in tiles that want the middle layer and the main speaker in a tile that wants the top layer,
and hears the speakers. Against the hub and Janus (videoroom, simulcast, the same
subscriptions) with the same load generator (bench/sfu/crowd.py, bench/sfu/layered.py).

On the hub each viewer says what it shows (`view`: participant and tile size) and the hub
picks the layers; a publisher pauses the layers nobody watches when the hub says so
(`encodings`), as the page does. On Janus each viewer subscribes to exactly the shown
streams with the substream its tile wants. Nobody sends a bandwidth estimate, so the layers
follow the tiles only.

What it tells: loss and latency of what each viewer should get, the layer each (viewer,
person) pair really got, the SFU's cores, and the load generator's own cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
import time
from abc import abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.sfu import crowd, profiling, system
from bench.sfu import hub as hubapi
from bench.sfu import janus as janusapi
from bench.sfu.crowd import Worker, WorkerError
from bench.sfu.layered import RIDS
from bench.sfu.media import encode_clip
from bench.sfu.meeting import (
    SfuTarget,
    client_figures,
    hub_extra,
    latencies,
    latency_ms,
    loss_pct,
    measure,
    say,
    spread,
    tally,
)
from bench.sfu.person import AUDIO, MAX_PEOPLE, SLOTS, VIDEO, slot
from bench.sfu.system import BenchError

LAYERS = ((320, 180, 150_000), (640, 360, 500_000), (1280, 720, 1_500_000))  # w, h, bit/s
# One picture for the three layers, fine enough that the top layer needs ~1.5 Mbit/s.
PATTERN = (48, 27)
ROOM_BASE = 515_000
CAMERA_MID, MICROPHONE_MID = "0", "1"  # the publisher's offer: camera first


@dataclass(frozen=True)
class LargePlan:
    people: tuple[int, ...] = (50,)
    tiles: int = 9  # middle-layer tiles per viewer, besides the main speaker's
    speakers: int = 3  # people whose microphone sends
    tile: tuple[int, int] = (480, 270)  # device pixels: the middle layer fills it
    speaker_tile: tuple[int, int] = (1280, 720)  # the top layer fills it
    window: float = 10.0
    settle: float = 4.0  # seconds after every expected pair flows, before measuring
    connect_timeout: float = 120.0
    workers: int = 2
    profile_seconds: float = 8.0

    @classmethod
    def quick(cls, workers: int = 2) -> LargePlan:
        return cls(people=(20,), window=5.0, settle=3.0, connect_timeout=120.0, workers=workers)


@dataclass(frozen=True)
class Layout:
    """Who each viewer shows and hears: `video[v][p]` is the layer index v's tile of p
    wants; `audio[v]` the speakers v hears."""

    video: dict[int, dict[int, int]]
    audio: dict[int, list[int]]

    @classmethod
    def of(cls, people: int, plan: LargePlan) -> Layout:
        speakers = list(range(min(plan.speakers, people)))
        video: dict[int, dict[int, int]] = {}
        for viewer in range(people):
            main = 0 if viewer != 0 else 1  # the main speaker, or the next one for them
            others = [(viewer + k) % people for k in range(1, people)]
            middle = [p for p in others if p != main][: plan.tiles]
            video[viewer] = {main: len(LAYERS) - 1, **dict.fromkeys(middle, 1)}
        audio = {v: [s for s in speakers if s != v] for v in range(people)}
        return cls(video, audio)

    def expected(self, viewers: list[int]) -> dict[str, list[list[Any]]]:
        return {
            str(v): [[p, "video"] for p in self.video[v]] + [[s, "audio"] for s in self.audio[v]]
            for v in viewers
        }


def merge_large(collected: list[dict[str, Any]], layout: Layout) -> dict[str, Any]:
    """Loss and latency over what each viewer should get; for video, the layer it got most
    of in the window is the one whose sent packets it should have."""
    sent, counts = tally(collected)
    expected = {"audio": 0, "video": 0}
    received = {"audio": 0, "video": 0}
    got_layer = [0] * len(LAYERS)  # (viewer, person) pairs by the layer they got
    wrong_layer = switched = silent = 0
    worst = 0.0
    unexpected = 0  # packets of streams the viewer does not show or hear
    for viewer, shown in layout.video.items():
        row = counts.get(viewer, {})
        for publisher, wanted in shown.items():
            per_layer = [row.get(slot(publisher, VIDEO + i), 0) for i in range(len(LAYERS))]
            top = max(range(len(LAYERS)), key=lambda i: per_layer[i])
            want = sent[slot(publisher, VIDEO + top)]
            got = sum(per_layer)
            if not got:
                silent += 1
                want = sent[slot(publisher, VIDEO + wanted)]
            else:
                got_layer[top] += 1
                wrong_layer += top != wanted
                switched += sum(1 for n in per_layer if n) > 1
            expected["video"] += want
            received["video"] += min(got, want)
            if want:
                worst = max(worst, 1 - min(got, want) / want)
        for publisher in layout.audio[viewer]:
            want, got = sent[slot(publisher, AUDIO)], row.get(slot(publisher, AUDIO), 0)
            expected["audio"] += want
            received["audio"] += min(got, want)
            if want:
                worst = max(worst, 1 - min(got, want) / want)
                silent += got == 0
        heard = set(layout.audio[viewer])
        for index, count in row.items():
            publisher, kind = divmod(index, SLOTS)
            if (kind == AUDIO and publisher not in heard) or (
                kind != AUDIO and publisher not in shown
            ):
                unexpected += count
    requests = [row for part in collected for row in part.get("keyframe_requests", {}).values()]
    total_expected, total_received = sum(expected.values()), sum(received.values())
    return {
        "sent": sum(sent),
        "sent_per_layer": [
            sum(sent[slot(p, VIDEO + i)] for p in range(MAX_PEOPLE)) for i in range(len(LAYERS))
        ],
        "forwarded": total_received + unexpected,
        "expected": total_expected,
        "loss_pct": loss_pct(total_received, total_expected),
        "audio_loss_pct": loss_pct(received["audio"], expected["audio"]),
        "video_loss_pct": loss_pct(received["video"], expected["video"]),
        "worst_pair_loss_pct": round(100 * worst, 3),
        "silent_pairs": silent,
        "pairs_by_layer": got_layer,
        "pairs_on_another_layer": wrong_layer,
        "pairs_switching_in_window": switched,
        "unexpected_packets": unexpected,
        # Keyframe requests that reached the publishers in the window, per layer (lowest
        # first), and the most any one publisher got for one layer.
        "window_keyframe_requests": [sum(r[i] for r in requests) for i in range(len(LAYERS))],
        "max_keyframe_requests_per_layer": max((max(r) for r in requests), default=0),
        **latency_ms(latencies(collected)),
        **latency_ms(latencies(collected, "audio_latencies_us"), "audio_latency"),
        **client_figures(collected),
    }


# -- the two SFUs ------------------------------------------------------------------------------


class _Target(SfuTarget):
    """One SFU hosting the large meeting (one meeting: `groups` stays 1)."""

    @abstractmethod
    async def enter(self, team: list[Worker], people: int, layout: Layout) -> None: ...


class HubLarge(_Target):
    name = "hub"

    def __init__(self, server: hubapi.HubServer, plan: LargePlan) -> None:
        self.server = server
        self.pid = server.pid
        self.plan = plan
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def enter(self, team: list[Worker], people: int, layout: Layout) -> None:
        """Everybody joins showing nothing (no video until a `view`), publishes, then says
        what it shows."""
        meeting = await hubapi.create_meeting(self.http, self.server.base_url)
        base = self.server.base_url
        await asyncio.gather(
            *(
                w.call(
                    "hub_join",
                    within=600,
                    base_url=base,
                    meeting=meeting,
                    people=ps,
                    hidden=True,
                    at_once=True,
                )
                for w, ps in spread(list(range(people)), team).items()
                if ps
            )
        )
        ids: dict[int, str] = {}
        for part in await asyncio.gather(*(w.call("participant_ids") for w in team)):
            ids.update((int(n), i) for n, i in part.items())
        sizes = {
            main: dict(zip(("width", "height"), tile, strict=True))
            for main, tile in ((True, self.plan.speaker_tile), (False, self.plan.tile))
        }
        for worker in team:
            views = {
                str(v): [
                    {"participant": ids[p], **sizes[layer == len(LAYERS) - 1]}
                    for p, layer in layout.video[v].items()
                ]
                for v in worker.people
            }
            await worker.call("view", views=views)

    async def extra(self) -> dict[str, Any]:
        return await hub_extra(self.http, self.server.base_url)

    async def close(self) -> None:
        await self.http.close()


class JanusLarge(_Target):
    name = "janus"

    def __init__(self, server: janusapi.JanusServer) -> None:
        self.server = server
        self.pid = server.pid
        self.http = aiohttp.ClientSession()
        self.session = janusapi.JanusSession(self.http, server.base_url)
        self.created = False

    async def enter(self, team: list[Worker], people: int, layout: Layout) -> None:
        if not self.created:
            await self.session.create()
            self.created = True
        admin = await self.session.attach()
        room = await janusapi.create_room(
            self.session, admin, publishers=people, room=ROOM_BASE + people
        )
        feeds: dict[int, int] = {}
        published = await asyncio.gather(
            *(
                w.call(
                    "janus_publish",
                    within=600,
                    base_url=self.server.base_url,
                    room=room,
                    people=ps,
                )
                for w, ps in spread(list(range(people)), team).items()
                if ps
            )
        )
        for part in published:
            feeds.update((int(p), int(f)) for p, f in part.items())
        for worker in team:
            streams = {
                str(v): [
                    {"feed": feeds[p], "mid": CAMERA_MID, "substream": layer, "temporal": 2}
                    for p, layer in layout.video[v].items()
                ]
                + [{"feed": feeds[s], "mid": MICROPHONE_MID} for s in layout.audio[v]]
                for v in worker.people
            }
            await worker.call("janus_subscribe_streams", within=600, room=room, streams=streams)

    async def close(self) -> None:
        await self.session.close()
        await self.http.close()


# -- one meeting -------------------------------------------------------------------------------


async def _missing(team: list[Worker], layout: Layout) -> list[Any]:
    found = await asyncio.gather(
        *(w.call("missing_expected", within=20, expected=layout.expected(w.people)) for w in team)
    )
    return [pair for part in found for pair in part]


async def one_meeting(
    target: _Target, team: list[Worker], people: int, plan: LargePlan, profile_dir: Path | None
) -> dict[str, Any]:
    layout = Layout.of(people, plan)
    result: dict[str, Any] = {"people": people}
    speakers = list(range(min(plan.speakers, people)))
    await asyncio.gather(*(w.call("speakers", people=speakers) for w in team))
    say(target.name, f"{people} people join with simulcast cameras")
    started = time.monotonic()
    missing: list[Any] = []
    try:
        async with asyncio.timeout(plan.connect_timeout):
            await target.enter(team, people, layout)
            result["signalled_s"] = round(time.monotonic() - started, 1)
            while True:
                missing = await _missing(team, layout)
                if not missing:
                    break
                await asyncio.sleep(0.5)
    except TimeoutError:
        # Measured all the same: an SFU that sheds video under overload (the hub's relief)
        # never lets every pair flow, and what people still get is the figure that matters.
        with contextlib.suppress(WorkerError, TimeoutError):
            missing = await _missing(team, layout)
        result["not_flowing_pairs"] = len(missing)
        say(target.name, f"  {len(missing)} (viewer, person, kind) pairs still without packets "
             f"after {plan.connect_timeout:.0f} s: measured as they are")  # fmt: skip
    except (WorkerError, BenchError) as exc:
        reason = f"joins failed: {str(exc)[:500]}"
        say(target.name, f"  {reason}")
        result.update(error=reason)
        return result
    result["connect_s"] = round(time.monotonic() - started, 1)
    say(target.name, f"  every pair flowing after {result['connect_s']} s; settling")
    await asyncio.sleep(plan.settle)

    def merging(collected: list[dict[str, Any]]) -> dict[str, Any]:
        return merge_large(collected, layout)

    step = await measure(target, team, people, plan.window, merging=merging)
    result.update(step)
    say(target.name, "  " + line(result))
    if profile_dir is not None:
        path = profile_dir / f"profile-{target.name}-large-{people}.txt"
        say(target.name, f"  py-spy {plan.profile_seconds:.0f} s → {path}")
        try:
            await profiling.record(target.pid, plan.profile_seconds, path, nonblocking=True)
        except RuntimeError as exc:
            result["profile"] = {"error": str(exc)}
        else:
            result["profile"] = profiling.summarise(path)
            for row in result["profile"]["top_self"][:8]:
                say(target.name, f"    {row['pct']:5.1f} %  {row['function']}")
    diagnostics = await asyncio.gather(*(w.call("diagnostics", within=20) for w in team))
    result["layers_sending"] = [sum(d["layers_sending"][i] for d in diagnostics) for i in range(3)]
    result["layer_keyframe_requests"] = [
        sum(d["layer_keyframe_requests"][i] for d in diagnostics) for i in range(3)
    ]
    result["signaling_errors"] = [e for d in diagnostics for e in d["signaling_errors"]][:10]
    result.update(await target.extra())
    return result


def line(step: dict[str, Any]) -> str:
    return (
        f"loss {step['loss_pct']} % (audio {step['audio_loss_pct']}, video "
        f"{step['video_loss_pct']}), p50/p99/max {step['latency_p50_ms']}/"
        f"{step['latency_p99_ms']}/{step['latency_max_ms']} ms (audio p50/p99 "
        f"{step['audio_latency_p50_ms']}/{step['audio_latency_p99_ms']}), "
        f"sfu {step['sfu_cores']:.2f} cores, client {step['client_cores']:.2f}, "
        f"other {step['other_cores']:.2f}; "
        f"in {step['sent_pps']:.0f}/s out {step['forwarded_pps']:.0f}/s; pairs by layer "
        f"{step['pairs_by_layer']} ({step['pairs_on_another_layer']} not the tile's); "
        f"keyframe requests in the window {step['window_keyframe_requests']} (most for one "
        f"layer of one publisher: {step['max_keyframe_requests_per_layer']})"
    )


# -- the benchmark -----------------------------------------------------------------------------


async def run_large(
    plan: LargePlan, address: str, out: Path, *, skip_janus: bool, profile: bool, keep: bool,
    command: str,
) -> int:  # fmt: skip
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="bench-large-"))
    out.parent.mkdir(parents=True, exist_ok=True)
    say("bench", f"work folder {work}; media address {address}; load {system.load_average()}")
    clip_paths: list[Path] = []
    clips_meta = []
    for index, (width, height, bitrate) in enumerate(LAYERS):
        clip = encode_clip(width=width, height=height, bitrate=bitrate, pattern=PATTERN)
        path = work / f"clip-{RIDS[index]}.json"
        crowd.save_clip(path, clip)
        clip_paths.append(path)
        clips_meta.append(
            {
                "rid": RIDS[index],
                "width": width,
                "height": height,
                "bitrate": round(clip.bitrate),
                "pps": round(clip.packets_per_second, 1),
            }
        )
        say("bench", f"layer {RIDS[index]}: {width}×{height}, {clip.bitrate / 1e3:.0f} kbit/s, "
             f"{clip.packets_per_second:.0f} packets/s")  # fmt: skip
    data: dict[str, Any] = {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "command": command,
            "plan": asdict(plan),
            "layers": clips_meta,
            "cpu": system.cpu_model(),
            "load_start": system.load_average(),
        }
    }
    hub = hubapi.HubServer(work / "hub", address)
    janus = janusapi.JanusServer(work / "janus", address)

    async def run_on(target: _Target, with_profile: bool) -> None:
        data[target.name] = []
        for people in plan.people:
            team = await crowd.start_workers(plan.workers, address, clip_paths, work)
            try:
                data[target.name].append(
                    await one_meeting(target, team, people, plan, work if with_profile else None)
                )
            finally:
                await asyncio.gather(*(w.close() for w in team), return_exceptions=True)
                for worker in team:
                    system.stop_process(worker.managed)
            _write(out, data)

    ok = False
    try:
        await hub.start()
        target: _Target = HubLarge(hub, plan)
        try:
            await run_on(target, profile)
        finally:
            await target.close()
        hub.stop()
        if not skip_janus:
            await janus.start()
            data["meta"]["janus_version"] = janus.version
            target = JanusLarge(janus)
            try:
                await run_on(target, False)
            finally:
                await target.close()
            janus.stop()
        ok = True
    finally:
        hub.stop()
        janus.stop()
        data["meta"]["duration_s"] = round(time.monotonic() - started)
        data["meta"]["load_end"] = system.load_average()
        data["complete"] = ok
        _write(out, data)
        say("bench", f"results: {out} and {out.with_suffix('.md')}")
        if keep or not ok:
            say("bench", f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _write(out: Path, data: dict[str, Any]) -> None:
    out.write_text(json.dumps(data, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(data))


def markdown(data: dict[str, Any]) -> str:
    meta = data["meta"]
    plan = meta["plan"]
    layers = ", ".join(
        f"{c['rid']} {c['width']}×{c['height']} {c['bitrate'] / 1e3:.0f} kbit/s"
        for c in meta["layers"]
    )
    lines = [
        f"# Large meeting with simulcast — {meta['date']}",
        "",
        f"Cameras in three layers ({layers}), {plan['speakers']} people speaking; every viewer "
        f"shows {plan['tiles']} people in tiles of {plan['tile'][0]}×{plan['tile'][1]} (middle "
        f"layer) and the main speaker at {plan['speaker_tile'][0]}×{plan['speaker_tile'][1]} "
        f"(top layer). Same load generator for both SFUs ({plan['workers']} processes). "
        f"Command: `{meta['command']}`.",
        "",
        "| people | SFU | loss | p50 / p99 / max ms | SFU cores | µs / forwarded packet "
        "| in / out packets/s | pairs on q / h / f | layers sent (q/h/f publishers) "
        "| keyframe requests / s, most to one layer | load generator cores | all flowing after |",
        "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name in ("hub", "janus"):
        for step in data.get(name, []):
            if "error" in step:
                lines.append(f"| {step['people']} | {name} | {step['error']} |" + " |" * 9)
                continue
            lines.append(
                f"| {step['people']} | {name} | {step['loss_pct']} % | "
                f"{step['latency_p50_ms']} / {step['latency_p99_ms']} / {step['latency_max_ms']} | "
                f"{step['sfu_cores']:.2f} | {step['cpu_us_per_packet']} | "
                f"{step['sent_pps']:.0f} / {step['forwarded_pps']:.0f} | "
                f"{' / '.join(map(str, step['pairs_by_layer']))} | "
                f"{' / '.join(map(str, step.get('layers_sending', [])))} | "
                f"{step['max_keyframe_requests_per_layer'] / step['wall_s']:.1f} | "
                f"{step['client_cores']:.2f} | {step['connect_s']} s |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - run through python -m bench.sfu --large
    sys.exit("run: python -m bench.sfu --large")
