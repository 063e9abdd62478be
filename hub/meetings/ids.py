"""Short unguessable meeting ids like `abc-defg-hij`: easy to read aloud, 47 bits of chance."""

from __future__ import annotations

import re
import secrets
import string

from hub.ids import MeetingId

_LETTERS = string.ascii_lowercase
_PATTERN = re.compile(r"^[a-z]{3}-[a-z]{4}-[a-z]{3}$")


def new_meeting_id() -> MeetingId:
    letters = "".join(secrets.choice(_LETTERS) for _ in range(10))
    return MeetingId(f"{letters[:3]}-{letters[3:7]}-{letters[7:]}")


def parse_meeting_id(value: str) -> MeetingId | None:
    """The id if `value` has the shape of one (case-insensitive), else None."""
    candidate = value.strip().lower()
    return MeetingId(candidate) if _PATTERN.match(candidate) else None
