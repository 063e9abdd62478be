"""The Markdown report of a run: machine, join rounds and the cascade hop."""

from __future__ import annotations

import os
import platform
from importlib.metadata import version

from bench.sfu.system import cpu_model, percentile

from .clip import FPS, HEIGHT, WIDTH
from .timing import COLD, DIRECT, WARM, Hop, Results

SHOWN_MARKS = (
    "link up", "welcome", "subscribe_offer", "answered", "connected", "first RTP", "decoded",
    "keyframe asked", "Anne's keyframe",
)  # fmt: skip


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def ms_fine(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


STEPS = ("link up (B's log)", "welcome", "subscribe_offer", "connected", "first RTP video")


def report(results: Results, command: str) -> str:
    lines = [
        f"# bench.federation — {results.started:%Y-%m-%d %H:%M} UTC",
        "",
        f"`{command}`",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, "
        f"aiortc {version('aiortc')}, client loop {results.loop}; load average at start "
        f"{' / '.join(f'{x:.2f}' for x in results.load)} (1 / 5 / 15 min). Two hubs, "
        "`python -m hub serve --dev`, on 127.0.0.1 (own folders, SQLite, keys; JSON logs), "
        "federating over loopback; SFU candidates 127.0.0.1. Anne publishes on A: Opus tone "
        f"and a {WIDTH}×{HEIGHT} {FPS} fps VP8 clip, {results.clip_bitrate / 1000:.0f} kbit/s, "
        f"{results.hop.sent / results.hop.window:.0f} packets/s.",
        "",
        *report_joins(results),
        "",
        *report_hop(results.hop),
    ]
    return "\n".join(lines) + "\n"


def report_joins(results: Results) -> list[str]:
    joins = results.joins
    direct = [r.latency for r in joins.of(DIRECT)]
    slowest = f" With {len(direct)} rounds, p99 is the slowest round." if len(direct) <= 50 else ""
    lines = [
        "## 1. Join → first decoded frame of Anne's video",
        "",
        "From sending `join` to the first frame aiortc decodes (the guest's page and WebSocket "
        f"are open before).{slowest}",
        "",
        "| path | rounds | p50 ms | p99 ms | max ms | min ms | p50 ÷ direct | p99 ÷ direct |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for path in (DIRECT, COLD, WARM):
        values = [r.latency for r in joins.of(path)]
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        lines.append(
            f"| {path} | {len(values)} | {ms(p50)} | {ms(p99)} | {ms(max(values))} | "
            f"{ms(min(values))} | {p50 / percentile(direct, 0.5):.2f} | "
            f"{p99 / percentile(direct, 0.99):.2f} |"
        )
    lines += [
        "",
        "The steps, p50 of ms after `join` was sent (the keyframe wait is connected → first "
        "RTP video: the SFUs forward video to a new receiver from a keyframe on):",
        "",
        f"| path | {' | '.join(STEPS)} | decoded |",
        f"|---|{'--:|' * (len(STEPS) + 1)}",
    ]
    for path in (DIRECT, COLD, WARM):
        cells = []
        for step in (*STEPS, "decoded"):
            values = [r.marks[step] for r in joins.of(path) if step in r.marks]
            cells.append(ms(percentile(values, 0.5)) if values else "–")
        lines.append(f"| {path} | {' | '.join(cells)} |")
    cold, warm = joins.of(COLD), joins.of(WARM)
    entries = {path: [r.entry for r in joins.of(path)] for path in (DIRECT, COLD)}
    lines += [
        "",
        f"- The cascade link: B logged `cascade link up` in {sum(r.links_opened > 0 for r in cold)}"
        f' of {len(cold)} "{COLD}" rounds (opened by the join, closed when the guest left) '
        f'and in {sum(r.links_opened > 0 for r in warm)} of {len(warm)} "{WARM}" rounds '
        "(RB, who stays on B, keeps it open).",
        f"- Not in the figures: the meeting's page before the WebSocket, p50 "
        f"{ms(percentile(entries[DIRECT], 0.5))} ms on A, "
        f"{ms(percentile(entries[COLD], 0.5))} ms for B's `/f/<A>/<id>` (it asks A about the "
        "meeting by a signed request and keeps B's mirror).",
        f"- Cores used during the direct and cold rounds: {results.cpu_joins.line()}; "
        f"during the warm rounds: {results.cpu_warm.line()}.",
        "",
        "Where the time went, ms after `join` was sent (each path's median and slowest round; "
        "#n: the keyframe requests Anne's sender got and the keyframes it sent):",
        "",
    ]
    for path in (DIRECT, COLD, WARM):
        ordered = sorted(joins.of(path), key=lambda r: r.latency)
        for one in (ordered[(len(ordered) - 1) // 2], ordered[-1]):
            steps = sorted(
                (at, what) for what, at in one.marks.items() if what.startswith(SHOWN_MARKS)
            )
            shown = ", ".join(f"+{ms(at)} {what}" for at, what in steps)
            lines.append(f"- {path}, {ms(one.latency)} ms: {shown}")
    return lines


def report_hop(hop: Hop) -> list[str]:
    lines = [
        "## 2. One cascade hop, per packet",
        "",
        f"Anne's video packets sent during a {hop.window:.1f} s window: {hop.sent}; RA (on A) "
        f"received {hop.at_a}, RB (through B) {hop.at_b}; {len(hop.hop)} reached both. "
        "Times are taken in this process: at Anne's DTLS transport before SRTP, and at each "
        "receiver's RTCRtpReceiver after SRTP and parsing.",
        "",
        "| figure | packets | p50 ms | p99 ms | max ms | min ms | mean ms |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for name, values in (
        ("**cascade hop**: t_RB − t_RA", hop.hop),
        ("one SFU: t_RA − t_sent (A)", hop.one_sfu),
        ("two SFUs: t_RB − t_sent (A, link, B)", hop.two_sfu),
    ):
        lines.append(
            f"| {name} | {len(values)} | {ms_fine(percentile(values, 0.5))} | "
            f"{ms_fine(percentile(values, 0.99))} | {ms_fine(max(values))} | "
            f"{ms_fine(min(values))} | {ms_fine(sum(values) / len(values))} |"
        )
    verdict = "met" if percentile(hop.hop, 0.5) < 0.005 else "NOT met"
    lines += [
        "",
        f"- Target (issue 6), hop p50 < 5 ms on loopback: {verdict}.",
        f"- Cores used during the window: {hop.cpu.line()}.",
    ]
    return lines
