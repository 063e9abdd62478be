"""A live meeting's subtitles and recording: whether each is on, and the operator's switches
behind them (absent: disabled on this hub).

`Conference` (hub/meetings/conference.py) owns one `Switches`: it checks who asks and tells
everyone; this turns the switches and refuses what does not apply (Forbidden when disabled,
Conflict when already so). No other module changes its state.
"""

from __future__ import annotations

from hub.errors import Conflict, Forbidden
from hub.ids import MeetingId

from . import recording, subtitles
from .subtitles import SubtitleState, SubtitleSwitch


class Switches:
    """Made with its conference, with the switches the operator configured; `stop_all` when
    the meeting is left or ends."""

    def __init__(
        self,
        meeting_id: MeetingId,
        listener: SubtitleSwitch | None,
        recorder: recording.RecordingSwitch | None,
    ) -> None:
        self._meeting_id = meeting_id
        self._listener = listener
        self._recorder = recorder
        self.subtitles: SubtitleState = "off"
        self.recording = False

    @property
    def subtitles_allowed(self) -> bool:
        return self._listener is not None

    @property
    def recording_allowed(self) -> bool:
        return self._recorder is not None

    def set_subtitles(self, on: bool) -> None:
        if self._listener is None:
            raise Forbidden(text=subtitles.DISABLED)
        if on == (self.subtitles != "off"):
            raise Conflict(text=subtitles.ALREADY_ON if on else subtitles.ALREADY_OFF)
        if on:
            self._listener.start(self._meeting_id)
            self.subtitles = "on"
        else:
            self._stop_listening()

    def heard(self) -> bool:
        """Words were recognised: True if subtitles came back from `unavailable`."""
        if self.subtitles == "unavailable":
            self.subtitles = "on"
            return True
        return False

    def unavailable(self) -> bool:
        """The speech service is down or too slow: True if subtitles were on until now."""
        if self.subtitles == "on":
            self.subtitles = "unavailable"
            return True
        return False

    def set_recording(self, on: bool, by: str) -> None:
        if self._recorder is None:
            raise Forbidden(text=recording.DISABLED)
        if on == self.recording:
            raise Conflict(text=recording.ALREADY_ON if on else recording.ALREADY_OFF)
        (self._recorder.start if on else self._recorder.stop)(self._meeting_id, by)
        self.recording = on

    def _stop_listening(self) -> None:
        if self._listener is not None and self.subtitles != "off":
            self._listener.stop(self._meeting_id)
        self.subtitles = "off"

    def stop_all(self) -> None:
        """Nobody is left (or the meeting ended): subtitles and any recording stop."""
        self._stop_listening()
        if self._recorder is not None and self.recording:
            self._recorder.stop(self._meeting_id, None)
        self.recording = False
