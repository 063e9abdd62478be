"""A short message someone types for others — a knock's message for the moderators, a
refusal's reason for the person refused — and the one rule that says what may pass on: the
page, the bot and a partner hub's admission request all clean it here."""

from __future__ import annotations

import enum
import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

MAX_NOTE = 200  # a knock's message, a refusal's reason: a sentence or two, not a letter


class NoteFlaw(enum.Enum):
    TOO_LONG = "too_long"
    CONTROL = "control"
    MARKUP = "markup"


class NoteRefused(ValueError):
    """A short message someone typed that the hub will not pass on, and why."""

    def __init__(self, flaw: NoteFlaw) -> None:
        self.flaw = flaw
        super().__init__(
            {
                NoteFlaw.TOO_LONG: f"longer than {MAX_NOTE} characters",
                NoteFlaw.CONTROL: "contains control characters",
                NoteFlaw.MARKUP: "contains HTML markup (<...>): write plain text",
            }[flaw]
        )


_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?][^<>]*>")
_ZERO_WIDTH_JOINER = "\u200d"  # inside emoji sequences: harmless, unlike bidi controls


def clean_note(value: str) -> str:
    """A short message typed for others (a knock's, a refusal's reason) as they will read it:
    one line, runs of spaces and line breaks made one space ("" when nothing is left).
    Refused, never cut or rewritten: over `MAX_NOTE` characters, control characters, HTML."""
    text = " ".join(value.split()) if len(value) <= 4 * MAX_NOTE else value
    if len(text) > MAX_NOTE:
        raise NoteRefused(NoteFlaw.TOO_LONG)
    if any(
        unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co") and char != _ZERO_WIDTH_JOINER
        for char in text
    ):
        raise NoteRefused(NoteFlaw.CONTROL)
    if _MARKUP.search(text):
        raise NoteRefused(NoteFlaw.MARKUP)
    return text


Note = Annotated[str, AfterValidator(clean_note)]
