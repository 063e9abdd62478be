"""Which taps a published stream copies its packets into: the subtitles' audio tap
(hub/sfu/audio_tap.py) and the recording tap (hub/sfu/recording_tap.py).

Only our own people's streams: a partner's people (through a cascade link) do not see the
indicators yet, so they are never listened to nor recorded.
"""

from __future__ import annotations

from hub.sfu.audio_tap import AudioTap
from hub.sfu.forwarder import LINK_PREFIX, InboundStream
from hub.sfu.recording_tap import RecordingTap


def tap_stream(
    stream: InboundStream, audio: AudioTap | None, recording: RecordingTap | None
) -> None:
    """Point the stream at the meeting's taps now; a video stream newly recorded is asked
    for a keyframe, so its recording starts with a picture at once."""
    own = not stream.publisher.startswith(LINK_PREFIX)
    # Decided here once per stream, not per packet: only a microphone is listened to.
    stream.tap = audio if own and stream.source == "microphone" else None
    wanted = recording if own else None
    if wanted is not None and stream.recording is not wanted:
        wanted.attach(stream)
        if stream.kind == "video":
            stream.spawn(stream.request_keyframe(force=True))
    stream.recording = wanted
