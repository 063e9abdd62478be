"""The results as JSON (everything) and as a Markdown summary (the figures that matter)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.sfu import profiling


def _num(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, int | float) and abs(value) >= 1000:
        return f"{value:,.0f}".replace(",", " ")
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _flag(case: dict[str, Any]) -> str:
    return " ⚠" if case.get("disturbed") else ""


def _ratio(hub: Any, janus: Any) -> float | None:
    if not isinstance(hub, int | float) or not isinstance(janus, int | float) or not janus:
        return None
    return round(hub / janus, 2)


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """hub ÷ Janus for each headline figure (CPU and latency: > 1 means the hub is worse)."""
    hub, janus = results.get("hub", {}), results.get("janus", {})
    out: dict[str, Any] = {}
    for count, case in hub.get("video", {}).items():
        other = janus.get("video", {}).get(count, {})
        for key in ("cpu_us_per_packet", "latency_p50_ms", "latency_p99_ms"):
            out[f"video_{count}_{key}"] = _ratio(case.get(key), other.get(key))
    best_hub = (hub.get("stress") or {}).get("best") or {}
    best_janus = (janus.get("stress") or {}).get("best") or {}
    for key in ("forwarded_pps", "forwarded_pps_per_core", "cpu_us_per_packet",
                "latency_p50_ms", "latency_p99_ms"):  # fmt: skip
        out[f"stress_{key}"] = _ratio(best_hub.get(key), best_janus.get(key))
    return out


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def markdown(data: dict[str, Any]) -> str:
    meta, ratio = data["meta"], data["ratios"]
    hub, janus = data.get("hub", {}), data.get("janus", {})
    lines = [
        f"### SFU benchmark, {meta['date']}{' (quick)' if meta['quick'] else ''}",
        "",
        f"{meta['cpu']} × {meta['cores']} cores, {meta['kernel']}; Python {meta['python']}, "
        f"aiortc {meta['aiortc']}; hub event loop: {meta.get('hub_event_loop', '?')}; "
        f"Janus {meta.get('janus_version', '–')}. Media over {meta['address']} (this machine). "
        f"Load average at start {meta['load_start']}, at end {meta['load_end']}; "
        f"other processes used at most {meta['max_other_cores']} cores during the windows.",
        "",
        f"Video: 1 publisher, pre-encoded VP8 {meta['clip']['width']}×{meta['clip']['height']} "
        f"30 fps, {meta['clip']['kbps']} kbit/s ({meta['clip']['pps']} packets/s), "
        f"{meta['plan']['window']} s windows. Stress: synthetic 1100-byte RTP to "
        f"{meta['plan']['stress_subscribers']} subscribers, rate stepped up until loss ≥ 0.5 %. "
        f"⚠: other processes used > {meta['plan']['max_other_cores']} cores in that window "
        f"even after {meta['plan']['retries']} retries.",
        "",
        "| case | metric | hub | Janus | hub ÷ Janus |",
        "|---|---|--:|--:|--:|",
    ]
    for count in (str(c) for c in meta["plan"]["video_subscribers"]):
        h, j = hub.get("video", {}).get(count, {}), janus.get("video", {}).get(count, {})
        case = f"video 1→{count}"
        lines += [
            f"| {case} | CPU µs per forwarded packet | {_num(h.get('cpu_us_per_packet'))}"
            f"{_flag(h)} | {_num(j.get('cpu_us_per_packet'))}{_flag(j)} | "
            f"{_num(ratio.get(f'video_{count}_cpu_us_per_packet'), 2)} |",
            f"| {case} | latency p50 / p99 (ms) | {_num(h.get('latency_p50_ms'), 2)} / "
            f"{_num(h.get('latency_p99_ms'), 2)} | {_num(j.get('latency_p50_ms'), 2)} / "
            f"{_num(j.get('latency_p99_ms'), 2)} | "
            f"{_num(ratio.get(f'video_{count}_latency_p50_ms'), 2)} / "
            f"{_num(ratio.get(f'video_{count}_latency_p99_ms'), 2)} |",
            f"| {case} | loss % (forwarded packets/s) | {_num(h.get('loss_pct'), 2)} "
            f"({_num(h.get('forwarded_pps'), 0)}) | {_num(j.get('loss_pct'), 2)} "
            f"({_num(j.get('forwarded_pps'), 0)}) | |",
        ]
    hs, js = hub.get("stress") or {}, janus.get("stress") or {}
    hb, jb = hs.get("best") or {}, js.get("best") or {}
    stress = f"stress 1→{meta['plan']['stress_subscribers']}"
    lines += [
        f"| {stress} | max forwarded packets/s at < 0.5 % loss | {_num(hb.get('forwarded_pps'))} "
        f"| {_num(jb.get('forwarded_pps'))} | {_num(ratio.get('stress_forwarded_pps'), 2)} |",
        f"| {stress} | … per core of SFU CPU | {_num(hb.get('forwarded_pps_per_core'))} | "
        f"{_num(jb.get('forwarded_pps_per_core'))} | "
        f"{_num(ratio.get('stress_forwarded_pps_per_core'), 2)} |",
        f"| {stress} | CPU µs per forwarded packet there | {_num(hb.get('cpu_us_per_packet'))} | "
        f"{_num(jb.get('cpu_us_per_packet'))} | {_num(ratio.get('stress_cpu_us_per_packet'), 2)} |",
        f"| {stress} | latency p50 / p99 there (ms) | {_num(hb.get('latency_p50_ms'), 2)} / "
        f"{_num(hb.get('latency_p99_ms'), 2)} | {_num(jb.get('latency_p50_ms'), 2)} / "
        f"{_num(jb.get('latency_p99_ms'), 2)} | {_num(ratio.get('stress_latency_p50_ms'), 2)} / "
        f"{_num(ratio.get('stress_latency_p99_ms'), 2)} |",
        f"| {stress} | SFU cores used there | {_num(hb.get('sfu_cores'), 2)} | "
        f"{_num(jb.get('sfu_cores'), 2)} | |",
        f"| {stress} | first failing inbound rate; limited by | "
        f"{_num(hs.get('first_failing_rate'))}; {hs.get('limited_by', '–')} | "
        f"{_num(js.get('first_failing_rate'))}; {js.get('limited_by', '–')} | |",
    ]
    join = hub.get("join", {})
    chromium, decoder = join.get("chromium", {}), join.get("aiortc", {})
    lines += [
        f"| join (hub only) | Chromium: click Join → first remote frame, median (ms) | "
        f"{_num(chromium.get('median_ms'), 0)} {_runs(chromium)} | | |",
        f"| join (hub only) | aiortc decoder: WebSocket join → first frame, median (ms) | "
        f"{_num(decoder.get('median_ms'), 0)} {_runs(decoder)} | | |",
        "",
    ]
    for name, section in (("hub", hs), ("Janus", js)):
        if not section.get("steps"):
            continue
        lines += [
            f"Stress ladder, {name}:",
            "",
            "| in pkt/s | forwarded/s | loss % | µs/pkt | SFU cores (kernel %) | client cores | "
            "other cores | p50 / p99 ms | socket drops SFU / client |",
            "|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for step in sorted(section["steps"], key=lambda s: s["rate"]):
            lines.append(
                f"| {_num(step['rate'])}{_flag(step)} | {_num(step['forwarded_pps'], 0)} | "
                f"{_num(step['loss_pct'], 2)} | {_num(step['cpu_us_per_packet'])} | "
                f"{step['sfu_cores']:.2f} ({_num(step.get('sfu_kernel_pct'), 0)}) | "
                f"{step['client_cores']:.2f} | "
                f"{step['other_cores']:.2f} | {_num(step['latency_p50_ms'], 2)} / "
                f"{_num(step['latency_p99_ms'], 2)} | {step['sfu_udp_drops']} / "
                f"{step['client_udp_drops']} |"
            )
        lines.append("")
    for key, title in (("video", "hub profile, video 1→10"), ("stress", "hub profile, stress")):
        summary = (hub.get("profile") or {}).get(key)
        if summary and "samples" in summary:
            lines.append(profiling.markdown(f"{title} ({summary['file']})", summary))
    for problem in data.get("problems", []):
        lines.append(f"- {problem}")
    return "\n".join(lines).rstrip() + "\n"


def _runs(join: dict[str, Any]) -> str:
    runs = join.get("runs_ms")
    text = f"({', '.join(_num(r, 0) for r in runs)})" if runs else ""
    if join.get("error"):
        text += f" ⚠ {join['error']}"
    return text


# -- the meeting -------------------------------------------------------------------------------


def _by_people(section: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {s["people"]: s for s in section.get("steps", []) if "loss_pct" in s}


def _pair(first: Any, second: Any, digits: int = 1) -> str:
    return f"{_num(first, digits)} / {_num(second, digits)}"


def _collapse(section: dict[str, Any], people: int) -> str | None:
    return "collapsed" if section.get("collapsed_at") == people else None


def _cell(step: dict[str, Any], section: dict[str, Any], people: int, text: str) -> str:
    if not step:
        return "collapsed" if _collapse(section, people) else "–"
    return text + _flag(step) + (" ✗" if _collapse(section, people) else "")


def meeting_markdown(data: dict[str, Any]) -> str:
    """The side-by-side table per meeting size, then each SFU's details."""
    meta = data["meta"]
    plan = meta["plan"]
    hub, janus = data.get("hub", {}), data.get("janus", {})
    hub_steps, janus_steps = _by_people(hub), _by_people(janus)
    lines = [
        f"### All-to-all meeting, {meta['date']}{' (quick)' if meta['quick'] else ''}",
        "",
        f"{meta['cpu']} × {meta['cores']} cores, {meta['kernel']}; Python {meta['python']}, "
        f"aiortc {meta['aiortc']}; hub event loop: {meta.get('hub_event_loop', '?')}; "
        f"Janus {meta.get('janus_version', '–')} (videoroom: one publisher handle per person, "
        f"one multistream subscriber handle per person). Media over {meta['address']}.",
        "",
        f"Each person publishes the pre-encoded VP8 clip ({meta['clip']['kbps']} kbit/s, "
        f"{meta['clip']['pps']} packets/s) and Opus-sized audio (50 packets/s of "
        f"100 bytes) and receives everyone else's. Load generator: {plan['workers']} worker "
        f"processes; {plan['window']} s windows. Machine load: load average "
        f"{meta['load_start']} at start, {meta.get('load_end')} at end; other processes used "
        f"{meta.get('mean_other_cores')} cores on average during the windows, at most "
        f"{meta.get('max_other_cores')} (⚠: more than {plan['max_other_cores']} even after "
        f"{plan['retries']} retries). ✗: the size where that SFU collapsed (loss > "
        f"{plan.get('loss_limit_pct', 5)} % or joins not done in time): its CPU includes "
        "packets forwarded too late to count, so its µs/pkt is no cost figure.",
        "",
        "| people | hub µs/pkt | Janus µs/pkt | ratio | hub loss % | Janus loss % | "
        "hub p50/p99 ms | Janus p50/p99 ms | hub cores | Janus cores |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for people in plan["people"]:
        h, j = hub_steps.get(people), janus_steps.get(people)
        if h is None and j is None and not (_collapse(hub, people) or _collapse(janus, people)):
            continue
        h, j = h or {}, j or {}

        lines.append(
            f"| {people} | {_cell(h, hub, people, _num(h.get('cpu_us_per_packet')))} | "
            f"{_cell(j, janus, people, _num(j.get('cpu_us_per_packet')))} | "
            f"{_num(_ratio(h.get('cpu_us_per_packet'), j.get('cpu_us_per_packet')), 2)} | "
            f"{_cell(h, hub, people, _num(h.get('loss_pct'), 2))} | "
            f"{_cell(j, janus, people, _num(j.get('loss_pct'), 2))} | "
            f"{_cell(h, hub, people, _pair(h.get('latency_p50_ms'), h.get('latency_p99_ms')))} | "
            f"{_cell(j, janus, people, _pair(j.get('latency_p50_ms'), j.get('latency_p99_ms')))} | "
            f"{_cell(h, hub, people, _num(h.get('sfu_cores'), 2))} | "
            f"{_cell(j, janus, people, _num(j.get('sfu_cores'), 2))} |"
        )
    lines.append("")
    for name, section in (("hub", hub), ("Janus", janus)):
        if not section:
            continue
        collapsed = section.get("collapsed_at")
        lines += [
            f"{name}: "
            + (
                f"collapsed at {collapsed} people ({section.get('collapse_reason')})."
                if collapsed
                else "did not collapse within the ladder."
            )
            + (
                f" Highest forwarding with < 0.5 % loss: {section['clean_forwarded_pps']:,.0f}"
                " packets/s".replace(",", " ")
                if section.get("clean_forwarded_pps")
                else ""
            ),
            "",
            "| people | forwarded pkt/s | loss % audio / video | worst pair loss % | "
            "everyone connected (s) | SFU cores (kernel %) | SFU / client waiting for a CPU | "
            "client cores (per worker) | other cores | socket drops SFU / client | "
            "p50 / p99 / max ms |",
            "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for step in section.get("steps", []):
            if "loss_pct" not in step:
                lines.append(f"| {step['people']} | {step.get('connect_error', '–')} ||||||||||")
                continue
            workers = ", ".join(f"{c:.2f}" for c in step.get("client_worker_cores", []))
            lines.append(
                f"| {step['people']}{_flag(step)} | {_num(step['forwarded_pps'], 0)} | "
                f"{_pair(step['audio_loss_pct'], step['video_loss_pct'], 2)} | "
                f"{_num(step['worst_pair_loss_pct'], 2)} | {_num(step['connect_s'])} | "
                f"{step['sfu_cores']:.2f} ({_num(step.get('sfu_kernel_pct'), 0)}) | "
                f"{_pair(step.get('sfu_wait_cores'), step.get('client_wait_cores'), 2)} | "
                f"{step['client_cores']:.2f} ({workers}) | {step['other_cores']:.2f} | "
                f"{step['sfu_udp_drops']} / {step['client_udp_drops']} | "
                f"{_num(step['latency_p50_ms'], 2)} / {_num(step['latency_p99_ms'], 2)} / "
                f"{_num(step['latency_max_ms'], 0)} |"
            )
        lines.append("")
    summary = hub.get("profile")
    if summary and "samples" in summary:
        title = f"hub profile, meeting of {summary.get('people')} people ({summary['file']})"
        lines.append(profiling.markdown(title, summary))
    for problem in data.get("problems", []):
        lines.append(f"- {problem}")
    return "\n".join(lines).rstrip() + "\n"
