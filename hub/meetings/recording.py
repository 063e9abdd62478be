"""Recording as the meeting sees it: whether it is on, and the switch the conference turns
(hub/web/recordings.py makes the SFU copy the tracks to the recorder and stores the result).

The rules live in `Conference` (hub/meetings/conference.py): only a moderator starts or stops
a recording, and everyone present or joining later is told; this module only names things.
"""

from __future__ import annotations

from typing import Protocol

from hub.ids import MeetingId

DISABLED = "L'enregistrement est désactivé sur ce hub / Recording is disabled on this hub"
ALREADY_ON = "L'enregistrement est déjà en cours / Recording is already on"
ALREADY_OFF = "Aucun enregistrement en cours / Recording is not on"


class RecordingSwitch(Protocol):
    """Starts and stops recording a meeting (absent: the operator disabled recording). Both
    return at once and never raise: writing and storing go on in the background."""

    def start(self, meeting_id: MeetingId, by: str) -> None: ...

    def stop(self, meeting_id: MeetingId, by: str | None) -> None: ...
