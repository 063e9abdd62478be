"""The words both sides of the SFU use for media: kinds of track, what a track shows, and
the RTP header extensions the hub reads or writes (RFC 8285 URIs)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

Kind = Literal["audio", "video"]
Source = Literal["microphone", "camera", "screen", "screen_audio"]

URI_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
URI_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
URI_AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"


def extension_ids(extensions: Iterable[Any]) -> dict[str, int]:
    """The negotiated id of each header extension (aiortc's parameters), by URI."""
    return {ext.uri: ext.id for ext in extensions}
