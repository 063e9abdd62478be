"""What a moderator's message on the meeting socket asks of the conference.

Kept apart from the socket (hub/web/ws.py), which only reads and answers frames: here a
parsed moderation message becomes one call of the conference, whose rules refuse what the
person may not do.
"""

from __future__ import annotations

from hub.db.models import Role
from hub.errors import NotFound
from hub.meetings.conference import Conference
from hub.meetings.presence import Presence
from hub.web import signaling as sig


async def carry_out(live: Conference, actor: Presence, message: sig.ClientMessage) -> None:
    """One moderation message (`sig.MODERATION_TYPES`) from `actor`, as the conference's call."""
    match message:
        case sig.Admit(entry_id=entry_id):
            await live.decide(actor, entry_id, "admitted")
        case sig.Deny(entry_id=entry_id, message=refusal):
            await live.decide(actor, entry_id, "denied", refusal)
        case sig.Mute(participant_id=target, kind=kind):
            await live.mute(actor, target, kind)
        case sig.Remove(participant_id=target):
            await live.remove(actor, target)
        case sig.Lock(locked=locked):
            await live.lock(actor, locked)
        case sig.SetRole(participant_id=target, role=role):
            await live.set_role(actor, target, Role(role))
        case sig.LowerHands(participant_id=target):
            await live.lower_hands(actor, target)
        case sig.EndMeeting():
            await live.end(actor)
        case sig.SetSubtitles(type="recording", on=on):
            await live.set_recording(actor, on)
        case sig.SetSubtitles(on=on):
            await live.set_subtitles(actor, on)
        case _:
            raise NotFound(f"{message.type} is not a moderation message")
