"""Live subtitles as the meeting sees them: their state, and the switch the conference turns
(the hub's wiring, hub/web/subtitles.py, makes the SFU copy the audio to the speech worker).

The rules live in `Conference` (hub/meetings/conference.py): only a moderator starts or stops
them, and everyone hears each change; this module only names things.
"""

from __future__ import annotations

from typing import Literal, Protocol

from hub.i18n import Text
from hub.ids import MeetingId

# off: nothing is listened to. on: speech is recognised and shown. unavailable: on, but the
# speech service is down or too slow (the meeting goes on; it comes back by itself).
SubtitleState = Literal["off", "on", "unavailable"]

DISABLED = Text("error.subtitles.disabled")
ALREADY_ON = Text("error.subtitles.on")
ALREADY_OFF = Text("error.subtitles.off")
NOT_PRESENT = Text("error.present_moderators_only")


class SubtitleSwitch(Protocol):
    """Starts and stops listening to a meeting's microphones (absent: the operator disabled
    subtitles). Both return at once and never raise: trouble shows as `unavailable`."""

    def start(self, meeting_id: MeetingId) -> None: ...

    def stop(self, meeting_id: MeetingId) -> None: ...
