"""The speech benchmark's Markdown table (printed and written beside the JSON)."""

from __future__ import annotations

from typing import Any


def _pair(a: Any, b: Any, unit: str = "") -> str:
    if a is None or b is None:
        return "–"
    return f"{a:.2f} / {b:.2f}{unit}"


def markdown(data: dict[str, Any]) -> str:
    meta = data["meta"]
    lines = [
        "# Live subtitles, end to end (embedded engine, Whisper tiny.en)",
        "",
        f"`{meta['command']}`, {meta['date']} UTC, {meta['cores']} cores ({meta['cpu']}), "
        f"load average {meta['load_start']} at start, {meta.get('load_end')} at the end; "
        f"other processes used {meta.get('other_cores_min')}–{meta.get('other_cores_max')} "
        "core during the rounds.",
        "",
        "Latency: from the end (and the start) of a phrase's speech leaving the speaker's "
        "microphone track to its final line arriving on the owner's WebSocket. Words: the "
        "phrase's words found in its line(s). CPU: cores used over the round (CPU s ÷ wall s), "
        "the speech worker process and the hub process apart.",
        "",
        "| speakers at once | phrases shown | from end p50 / p95 | from start p50 / p95 "
        "| words found | speech worker, cores (per speaker) | worker CPU s per s of speech "
        "| hub cores, subtitles on / off | other processes, cores, on / off "
        "| worker waiting for a CPU, cores |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for load in data.get("loads", []):
        on, off = load.get("on", {}), load.get("off", {})
        n = load["speakers"]
        worker = on.get("worker_cores")
        per = f"{worker:.2f} ({worker / n:.2f})" if worker is not None else "–"
        words = (
            f"{on['words_found']}/{on['words']} ({on['word_accuracy_pct']} %)"
            if on.get("words")
            else "–"
        )
        lines.append(
            f"| {n} | {on.get('shown', '–')}/{on.get('utterances', '–')} "
            f"| {_pair(on.get('from_end_p50_s'), on.get('from_end_p95_s'), ' s')} "
            f"| {_pair(on.get('from_start_p50_s'), on.get('from_start_p95_s'), ' s')} "
            f"| {words} | {per} | {on.get('worker_cpu_per_speech_s', '–')} "
            f"| {_pair(on.get('hub_cores'), off.get('hub_cores'))} "
            f"| {_pair(on.get('other_cores'), off.get('other_cores'))} "
            f"| {on.get('worker_waiting_cores', '–')} |"
        )
    warm = data.get("warm_up")
    if warm:
        lines += ["", f"Warm-up phrase {warm['phrase']!r} → {warm['text']!r} "
                  f"({warm['from_end_s']} s after it ended)."]  # fmt: skip
    if data.get("problems"):
        lines += ["", "Problems:", *(f"- {p}" for p in data["problems"])]
    return "\n".join(lines) + "\n"
