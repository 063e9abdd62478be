"""Active speaker: follows a clearly louder voice, holds through short noises, clears on silence."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.sfu.speaker import MIN_HOLD, SpeakerDetector


def feed(detector, key, level, start, seconds, voice=True, step=0.02):
    now = start
    while now < start + seconds:
        detector.observe(key, level, voice, now)
        now += step
    return now


def test_the_one_who_speaks_gets_the_highlight_then_loses_it_in_silence():
    detector: SpeakerDetector[str] = SpeakerDetector()
    end = feed(detector, "anne", 20, 0.0, 1.0)
    feed(detector, "bruno", 110, 0.0, 1.0)  # a quiet room: -110 dBov
    assert detector.tick(end) is True
    assert detector.current == "anne"
    end = feed(detector, "anne", 127, end, 3.0)
    assert detector.tick(end) is True
    assert detector.current is None


def test_a_short_noise_does_not_steal_the_highlight():
    detector: SpeakerDetector[str] = SpeakerDetector()
    end = feed(detector, "anne", 30, 0.0, 2.0)
    detector.tick(end)
    assert detector.current == "anne"
    feed(detector, "bruno", 10, end, 0.1)  # a cough
    feed(detector, "anne", 30, end, 0.1)
    assert detector.tick(end + 0.1) is False
    assert detector.current == "anne"


def test_a_clearly_louder_sustained_voice_takes_over_after_the_hold_time():
    detector: SpeakerDetector[str] = SpeakerDetector()
    end = feed(detector, "anne", 50, 0.0, 1.0)
    detector.tick(end)
    feed(detector, "anne", 50, end, MIN_HOLD + 1.0)
    end = feed(detector, "bruno", 5, end, MIN_HOLD + 1.0)
    assert detector.tick(end) is True
    assert detector.current == "bruno"


@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.integers(-5, 200), st.booleans(), st.floats(0, 0.5)),
        max_size=200,
    )
)
def test_any_sequence_keeps_the_detector_consistent(events):
    detector: SpeakerDetector[str] = SpeakerDetector()
    now = 0.0
    for key, level, voice, step in events:
        now += step
        detector.observe(key, level, voice, now)
        detector.tick(now)
        assert detector.current in (None, "a", "b", "c")
    detector.forget("a")
    assert detector.current != "a"
