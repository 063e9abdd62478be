"""Invitations to a meeting: by e-mail address (matched against what an identity provider
vouches for) or by identity (a Matrix user, a partner's user). An invited person enters a
restricted meeting without waiting, with the role the invitation gives."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Invitation, Role, utcnow
from hub.errors import BadRequest, Conflict, NotFound
from hub.i18n import Text
from hub.ids import Identity, MeetingId

MAX_INVITATIONS = 500
# Python's \s and ECMA-262's (JSON Schema's) differ: Python's alone has \x1c-\x1f and \x85,
# ECMA's alone \ufeff. Naming the difference makes these forms mean the same in both.
_SPACE = r"\s\x1c-\x1f\x85\ufeff"
_EMAIL_FORM = rf"[^@{_SPACE}:]{{1,64}}@[A-Za-z0-9.-]{{1,253}}\.[A-Za-z]{{2,63}}"
_MATRIX_FORM = r"@[a-z0-9._=/+-]{1,255}:[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?"
# A partner's person: their identity on their own hub (which may hold ':' and '@', e.g.
# local:proconnect:<sub> or matrix:@user:server), then @ and that hub's server name.
_PARTNER_FORM = rf"([^{_SPACE}]{{1,256}})@([A-Za-z0-9.-]{{1,253}}(?::[0-9]{{1,5}})?)"
_EMAIL = re.compile(f"^{_EMAIL_FORM}$")
_MATRIX_USER = re.compile(f"^{_MATRIX_FORM}$")
_PARTNER_USER = re.compile(f"^{_PARTNER_FORM}$")
# What parse_invitee accepts (but surrounding whitespace), from the same pieces, for the
# OpenAPI document; the same language in Python and in ECMA-262 (JSON Schema).
INVITEE_PATTERN = (
    f"^(?:(?:email:)?{_EMAIL_FORM}|(?:matrix:)?{_MATRIX_FORM}|partner:{_PARTNER_FORM})$"
)


@dataclass(frozen=True)
class InvitationView:
    id: int
    invitee: str
    role: Role
    created_at: datetime


def parse_invitee(text: str) -> str:
    """`email:<address>`, `matrix:@user:server` or `partner:user@instance` from what an
    organiser typed (an address, a Matrix id, or an already prefixed form); else BadRequest."""
    value = text.strip()
    if value.startswith("email:"):
        value = value[len("email:") :]
    if value.startswith("matrix:"):
        value = value[len("matrix:") :]
    if value.startswith("partner:"):
        found = _PARTNER_USER.match(value[len("partner:") :])
        if found:  # identities are case-sensitive; server names are not
            return f"partner:{found.group(1)}@{found.group(2).lower()}"
        raise BadRequest("invitee: not a partner user (partner:user@instance)")
    if value.startswith("@"):
        if _MATRIX_USER.match(value):
            return f"matrix:{value}"
        raise BadRequest("invitee: not a Matrix user id (@user:server)")
    if _EMAIL.match(value):
        return f"email:{value.lower()}"
    raise BadRequest("invitee: give an e-mail address or a Matrix user id (@user:server)")


def invitee_keys(identity: Identity, email: str | None) -> list[str]:
    """The invitation keys that match a person: their identity, and their verified e-mail."""
    keys: list[str] = [identity]
    if email:
        keys.append(f"email:{email.strip().lower()}")
    return keys


class Invitations:
    """Stores and looks up invitations; only organisers reach it (checked by the caller)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def invite(
        self, meeting_id: MeetingId, invitee: str, *, role: Role, by: Identity
    ) -> InvitationView:
        if role is Role.OWNER:
            raise BadRequest("role: an invitation cannot make someone the owner")
        key = parse_invitee(invitee)
        async with self._sessions.begin() as session:
            count = await session.scalar(
                select(func.count()).where(Invitation.meeting_id == meeting_id)
            )
            if (count or 0) >= MAX_INVITATIONS:
                raise Conflict(f"a meeting has at most {MAX_INVITATIONS} invitations")
            row = Invitation(
                meeting_id=meeting_id, invitee=key, role=role, invited_by=by, created_at=utcnow()
            )
            session.add(row)
            try:
                await session.flush()
            except IntegrityError:
                raise Conflict(f"{key} is already invited") from None
            return InvitationView(row.id, row.invitee, row.role, row.created_at)

    async def list_for(self, meeting_id: MeetingId) -> list[InvitationView]:
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(Invitation)
                    .where(Invitation.meeting_id == meeting_id)
                    .order_by(Invitation.id)
                )
            ).all()
        return [InvitationView(r.id, r.invitee, r.role, r.created_at) for r in rows]

    async def revoke(self, meeting_id: MeetingId, invitation_id: int) -> None:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(Invitation).where(
                    Invitation.meeting_id == meeting_id, Invitation.id == invitation_id
                )
            )
        if not getattr(result, "rowcount", 0):
            raise NotFound(text=Text("error.invitation.missing"))

    async def role_for(
        self, meeting_id: MeetingId, identity: Identity, email: str | None
    ) -> Role | None:
        """The strongest role an invitation gives this person, or None if not invited."""
        async with self._sessions() as session:
            roles = (
                await session.scalars(
                    select(Invitation.role).where(
                        Invitation.meeting_id == meeting_id,
                        Invitation.invitee.in_(invitee_keys(identity, email)),
                    )
                )
            ).all()
        if not roles:
            return None
        return Role.MODERATOR if Role.MODERATOR in roles else Role.PARTICIPANT
