"""A recording's manifest: who recorded what, which file holds which track, when each track
starts in the meeting's time, and when it all expires. Kept as JSON beside the tracks (no
database table: it travels with the files, to any store)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MANIFEST = "manifest.json"
_FILE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,80}$")
_RECORDING = re.compile(r"^[0-9a-f]{16}$")


def is_recording_id(value: str) -> bool:
    return bool(_RECORDING.match(value))


class TrackEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(pattern=_FILE.pattern)
    participant_id: str
    name: str  # the person's display name when the track was first recorded
    kind: Literal["audio", "video"]
    source: str  # microphone, camera, screen
    codec: Literal["vp8", "opus"]
    start: float  # seconds from the recording's start to the track's first frame
    duration: float
    frames: int
    width: int = 0
    height: int = 0
    error: str | None = None  # why writing stopped early (disk full…), if it did


class ComposedEntry(BaseModel):
    """The one playable file `hub recordings compose --keep` made of the tracks and stored
    beside them (downloaded and expired with them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(pattern=_FILE.pattern)
    layout: Literal["grid", "speaker"]
    duration: float
    made_at: datetime


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    recording_id: str = Field(pattern=_RECORDING.pattern)
    meeting_id: str
    started_at: datetime
    ended_at: datetime
    expires_at: datetime
    started_by: str
    stopped_by: str | None = None
    tracks: list[TrackEntry]
    packets_dropped: int = 0  # the tap's queue was full (the recorder did not keep up)
    composed: ComposedEntry | None = None

    def to_bytes(self) -> bytes:
        return self.model_dump_json(indent=2).encode()

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        """ValueError naming the first thing wrong."""
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "top level"
            raise ValueError(f"manifest: {where}: {first['msg']}") from None

    def files(self) -> list[str]:
        """Every file the recording has in the store besides this manifest."""
        tracks = [track.file for track in self.tracks]
        return [*tracks, self.composed.file] if self.composed is not None else tracks


def key(meeting_id: str, recording_id: str, file: str = MANIFEST) -> str:
    return f"{meeting_id}/{recording_id}/{file}"
