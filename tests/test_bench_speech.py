"""The speech benchmark's scoring: which subtitle line shows which spoken phrase, and the
latencies and words found over them (bench/speech/score.py)."""

from __future__ import annotations

from bench.speech.score import Line, figures, match
from bench.speech.voice import Spoken


def test_lines_go_to_their_phrases_in_order_split_and_stray_lines_apart() -> None:
    spoken = [
        Spoken(0, "good morning everyone", 10.0, 11.0),
        Spoken(0, "can you hear me", 12.0, 13.0),
        Spoken(1, "see you next week", 10.5, 11.5),
        Spoken(1, "who is taking notes", 13.0, 14.0),  # never shown
    ]
    lines = [
        Line(0, "Good morning", 10.9),  # cut in two by the voice detector...
        Line(0, "everyone.", 12.2),  # ...the phrase is shown with this one
        Line(1, "See you next week.", 13.5),  # late, after speaker 1's next phrase began
        Line(0, "Can you hear me?", 14.0),
        Line(0, "Thank you.", 14.5),  # a breath heard as words: no phrase
    ]

    shown, stray = match(spoken, lines)

    assert [[line.text for line in s.lines] for s in shown] == [
        ["Good morning", "everyone."],
        ["Can you hear me?"],
        ["See you next week."],
        [],
    ]
    assert [line.text for line in stray] == ["Thank you."]
    scores = figures(shown, stray)
    assert (scores["utterances"], scores["shown"], scores["split"], scores["stray_lines"]) == (
        4, 3, 1, 1,
    )  # fmt: skip
    # From the end: 1.2, 1.0 and 2.0 s (nearest rank); from the start: 2.2, 2.0, 3.0 s.
    assert (scores["from_end_p50_s"], scores["from_end_p95_s"]) == (1.2, 2.0)
    assert (scores["from_start_p50_s"], scores["from_start_p95_s"]) == (2.2, 3.0)
    # Every word of the three shown phrases; none of the fourth.
    assert (scores["words_found"], scores["words"]) == (11, 15)


def test_a_line_is_never_given_to_a_phrase_not_yet_begun() -> None:
    spoken = [Spoken(0, "let us take a short break", 20.0, 21.5)]
    shown, stray = match(spoken, [Line(0, "Let us take a short break.", 19.0)])
    assert shown[0].lines == [] and len(stray) == 1
