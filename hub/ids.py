"""Typed identifiers shared across modules (NewType: free at run time, checked by mypy)."""

from __future__ import annotations

from typing import NewType

MeetingId = NewType("MeetingId", str)
ParticipantId = NewType("ParticipantId", str)
Identity = NewType("Identity", str)
ServerName = NewType("ServerName", str)
MatrixUserId = NewType("MatrixUserId", str)
MatrixRoomId = NewType("MatrixRoomId", str)
