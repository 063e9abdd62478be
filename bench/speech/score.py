"""Which subtitle line shows which spoken phrase, and the figures over them. Pure.

Each speaker's final lines come in the order they spoke (one stream per speaker, decoded in
turn), so a line is matched to that speaker's phrase, not yet passed, that began before the
line arrived and shares the most words with it (the earliest on a tie). A phrase the voice
detector cut in two gets two lines (the second must be mostly its words): it is shown when its
last line arrives, and its words found are those of both. A line that shares no word with any
is counted apart (Whisper hearing words in a breath or a click).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from bench.sfu.system import percentile
from bench.speech.voice import Spoken


@dataclass(frozen=True)
class Line:
    """A final subtitle line as the viewer got it (`arrived`: time.perf_counter)."""

    speaker: int
    text: str
    arrived: float


@dataclass
class Shown:
    """One phrase and the lines that showed it."""

    spoken: Spoken
    lines: list[Line] = field(default_factory=list)

    @property
    def arrived(self) -> float | None:
        return self.lines[-1].arrived if self.lines else None

    def words_found(self) -> int:
        heard = Counter(w for line in self.lines for w in words_of(line.text))
        wanted = Counter(words_of(self.spoken.phrase))
        return sum((wanted & heard).values())


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def match(spoken: list[Spoken], lines: list[Line]) -> tuple[list[Shown], list[Line]]:
    """Each phrase with its lines, and the lines that showed no phrase."""
    shown = [Shown(s) for s in spoken]
    stray: list[Line] = []
    for speaker in {s.speaker for s in spoken} | {line.speaker for line in lines}:
        own = [x for x in shown if x.spoken.speaker == speaker]
        own.sort(key=lambda x: x.spoken.start)
        at = 0  # phrases before this one are passed
        for line in sorted((x for x in lines if x.speaker == speaker), key=lambda x: x.arrived):
            words = Counter(words_of(line.text))
            best, best_score = -1, 0
            for index in range(at, len(own)):
                if own[index].spoken.start > line.arrived:
                    break
                score = sum((Counter(words_of(own[index].spoken.phrase)) & words).values())
                if own[index].lines and 2 * score <= len(words_of(line.text)):
                    continue  # another piece of a shown phrase is mostly its words
                if score > best_score:
                    best, best_score = index, score
            if best < 0:
                stray.append(line)
                continue
            own[best].lines.append(line)
            at = best
    return shown, stray


def figures(shown: list[Shown], stray: list[Line]) -> dict[str, float | int | None]:
    """Latencies (seconds, from the end and from the start of speech to the line shown), p50
    and p95 over the phrases shown; word accuracy over every phrase (a phrase never shown
    found none of its words)."""
    seen = [x for x in shown if x.arrived is not None]
    from_end = [x.arrived - x.spoken.end for x in seen if x.arrived is not None]
    from_start = [x.arrived - x.spoken.start for x in seen if x.arrived is not None]
    words = sum(len(words_of(x.spoken.phrase)) for x in shown)
    found = sum(x.words_found() for x in shown)

    def at(values: list[float], fraction: float) -> float | None:
        return round(percentile(values, fraction), 3) if values else None

    return {
        "utterances": len(shown),
        "shown": len(seen),
        "split": sum(len(x.lines) > 1 for x in seen),
        "stray_lines": len(stray),
        "speech_s": round(sum(x.spoken.seconds for x in shown), 2),
        "from_end_p50_s": at(from_end, 0.50),
        "from_end_p95_s": at(from_end, 0.95),
        "from_end_max_s": round(max(from_end), 3) if from_end else None,
        "from_start_p50_s": at(from_start, 0.50),
        "from_start_p95_s": at(from_start, 0.95),
        "words": words,
        "words_found": found,
        "word_accuracy_pct": round(100 * found / words, 1) if words else None,
    }
