"""Who enters a meeting directly, who waits in the lobby, and with which role; and, once in,
who may moderate and act on whom (`moderating`, `may_act_on`, applied by the conference).

Pure: the caller gathers the facts (session, join token, invitation, Matrix room membership,
live state) into a `Visitor` and a `MeetingView`, and `decide` applies the rules that
docs/signaling.md ("Who enters, who waits") and the README describe. Keeping them in one
function keeps them reviewable and lets the tests try every combination.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.db.models import AccessLevel, Role
from hub.errors import Forbidden
from hub.i18n import Text
from hub.ids import Identity
from hub.meetings.presence import Presence
from hub.meetings.service import MeetingView

# Roles that run the meeting: they enter even a locked meeting and may moderate.
MODERATING = frozenset({Role.OWNER, Role.MODERATOR})
ROOM_MODERATOR_POWER = 50  # Matrix's "Moderator" level


@dataclass(frozen=True)
class Visitor:
    """What the hub knows about someone asking to join, whatever proved it."""

    identity: Identity
    # Logged in through an identity provider, a verified Matrix user, or a person vouched for
    # by a partner instance this hub trusts; a guest (only a link) is not.
    authenticated: bool
    # Role granted by a valid join token for this very meeting, if any.
    token_role: Role | None = None
    # Role of a matching invitation (by e-mail or identity), if any.
    invited_role: Role | None = None
    # Power level in the Matrix room linked to the meeting, if a member (told by the bridge):
    # members pass the lobby, power >= 50 (a room moderator) moderates the call too.
    room_power: int | None = None
    # Removed by a moderator from this meeting earlier today: must be let in again.
    removed: bool = False
    # Showed a rejoin ticket of its own identity: was inside this meeting within the hour.
    rejoining: bool = False

    @property
    def room_member(self) -> bool:
        return self.room_power is not None

    @property
    def room_moderator(self) -> bool:
        return self.room_power is not None and self.room_power >= ROOM_MODERATOR_POWER


@dataclass(frozen=True)
class Admission:
    enter: bool  # False: wait in the lobby
    role: Role
    reason: str  # why, for the log line and the tests


def role_of(meeting: MeetingView, visitor: Visitor) -> Role:
    if visitor.identity == meeting.owner_identity:
        return Role.OWNER
    granted = {visitor.token_role, visitor.invited_role}
    if Role.MODERATOR in granted or Role.OWNER in granted or visitor.room_moderator:
        return Role.MODERATOR  # a token, invitation or room never makes someone the owner
    return Role.PARTICIPANT


def decide(meeting: MeetingView, visitor: Visitor, *, locked: bool) -> Admission:
    """Enter or wait, and the role the person will have once inside."""
    role = role_of(meeting, visitor)
    if role in MODERATING:
        return Admission(True, role, f"{role.value}")
    if visitor.removed:
        return Admission(False, role, "removed earlier")
    if visitor.rejoining:  # once let in, a reload or a restart does not lock them out
        return Admission(True, role, "rejoin ticket")
    if locked:
        return Admission(False, role, "meeting locked")
    if visitor.token_role is not None:
        return Admission(True, role, "join token")
    if visitor.invited_role is not None:
        return Admission(True, role, "invited")
    if visitor.room_member:
        return Admission(True, role, "member of the linked Matrix room")
    if meeting.access_level is AccessLevel.PUBLIC:
        return Admission(True, role, "public meeting")
    if meeting.access_level is AccessLevel.TRUSTED and visitor.authenticated:
        return Admission(True, role, "authenticated, trusted meeting")
    return Admission(False, role, f"{meeting.access_level.value} meeting")


# -- what people in a live meeting may do to each other (the conference applies it) -----


REMOVED = Text("error.action.removed")
GIVEN_A_ROLE = Text("error.action.role")


def may_act_on(actor: Presence, target: Presence, action: Text) -> None:
    """Nobody acts on the owner; only the owner acts on another moderator (`action`: what
    would be done to them, `REMOVED` or `GIVEN_A_ROLE`)."""
    if target.role is Role.OWNER:
        raise Forbidden(text=Text("error.owner_untouchable", {"action": action}))
    if target.role is Role.MODERATOR and actor.role is not Role.OWNER:
        raise Forbidden(text=Text("error.owner_acts_on_moderators"))


def moderating(actor: Presence) -> None:
    """Forbidden unless the actor runs the meeting."""
    if actor.role not in MODERATING:
        raise Forbidden(text=Text("error.moderators_only"))
