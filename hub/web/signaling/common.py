"""What both directions of the signaling protocol share: the message base, and the kinds of
source, role and media they name."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Source = Literal["microphone", "camera", "screen", "screen_audio"]
RoleName = Literal["owner", "moderator", "participant"]
MediaKind = Literal["audio", "video"]


class Message(BaseModel):
    """A signaling message: frozen, and refused with any field it does not name."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)
