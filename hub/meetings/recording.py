"""Recording as the meeting sees it: whether it is on, and the switch the conference turns
(hub/web/recordings.py makes the SFU copy the tracks to the recorder and stores the result).

The rules live in `Conference` (hub/meetings/conference.py): only a moderator starts or stops
a recording, and everyone present or joining later is told; this module only names things.
"""

from __future__ import annotations

from typing import Protocol

from hub.i18n import Text
from hub.ids import MeetingId

DISABLED = Text("error.recording.disabled")
ALREADY_ON = Text("error.recording.on")
ALREADY_OFF = Text("error.recording.off")


class RecordingSwitch(Protocol):
    """Starts and stops recording a meeting (absent: the operator disabled recording). Both
    return at once and never raise: writing and storing go on in the background."""

    def start(self, meeting_id: MeetingId, by: str) -> None: ...

    def stop(self, meeting_id: MeetingId, by: str | None) -> None: ...
