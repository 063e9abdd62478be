"""Active speaker detection from the RFC 6464 audio levels publishers put in every packet.

Pure: feed `observe()` from the packet path (cheap: two float operations), call `tick()` a few
times a second. A speaker must be clearly louder than the current one for a moment before the
highlight moves, so a cough or a "hm" does not make the grid flicker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Key = TypeVar("Key")

SILENCE_LEVEL = 127  # -dBov: 127 is silence, 0 the loudest
HALF_LIFE = 0.3  # seconds: how fast a participant's loudness score follows their voice
# Score (127 - level, smoothed) above which someone is speaking: louder than -67 dBov, well
# above a quiet room (-70 to -80 dBov), below speech (-20 to -45 dBov).
SPEAKING_THRESHOLD = 60.0
SWITCH_MARGIN = 8.0  # a new speaker must be this much louder than the current one
MIN_HOLD = 1.0  # seconds a speaker keeps the highlight at least
SILENT_AFTER = 1.5  # seconds without speech before the highlight is cleared


@dataclass
class _Score:
    value: float = 0.0
    updated: float = 0.0
    last_voice: float = -math.inf


@dataclass
class SpeakerDetector(Generic[Key]):
    """Tracks one smoothed loudness per participant and decides who is speaking."""

    current: Key | None = None
    _since: float = 0.0
    _scores: dict[Key, _Score] = field(default_factory=dict)

    def observe(self, key: Key, level: int, voice: bool, now: float) -> None:
        """Record one packet's level. The RFC 6464 voice bit is not trusted: aiortc never sets
        it and browsers set it from their own VAD; the level alone decides, as in other SFUs."""
        score = self._scores.get(key)
        if score is None:
            score = self._scores[key] = _Score(updated=now)
        energy = float(SILENCE_LEVEL - min(max(level, 0), SILENCE_LEVEL))
        decay: float = 0.5 ** (max(now - score.updated, 0.0) / HALF_LIFE)
        score.value = score.value * decay + energy * (1.0 - decay)
        score.updated = now
        if energy >= SPEAKING_THRESHOLD:
            score.last_voice = now

    def forget(self, key: Key) -> None:
        self._scores.pop(key, None)
        if self.current == key:
            self.current = None

    def _score(self, key: Key, now: float) -> float:
        score = self._scores.get(key)
        if score is None:
            return 0.0
        decay: float = 0.5 ** (max(now - score.updated, 0.0) / HALF_LIFE)
        return score.value * decay

    def tick(self, now: float) -> bool:
        """Re-decide; True when `current` changed (then tell the participants)."""
        best, best_score = None, 0.0
        for key in self._scores:
            value = self._score(key, now)
            if value > best_score:
                best, best_score = key, value
        current_score = self._score(self.current, now) if self.current is not None else 0.0
        if self.current is not None:
            last_voice = self._scores[self.current].last_voice
            if now - last_voice > SILENT_AFTER and best_score < SPEAKING_THRESHOLD:
                self.current, self._since = None, now
                return True
        if best is None or best == self.current or best_score < SPEAKING_THRESHOLD:
            return False
        if self.current is not None and (
            now - self._since < MIN_HOLD or best_score < current_score + SWITCH_MARGIN
        ):
            return False
        self.current, self._since = best, now
        return True
