"""Who a page's join message says is asking: a join token for this meeting, else the
session; and the rejoin ticket that lets someone who was inside back in for an hour.

A page in a Matrix client's iframe has no cookie (third-party context): its join token,
which may prove the identity only (no role), is all it has.
"""

from __future__ import annotations

import logging

from hub.auth.session import Session
from hub.auth.tokens import MAX_LIFETIME, JoinTokens
from hub.db.models import Role
from hub.errors import Unauthorized
from hub.i18n import Text
from hub.ids import Identity
from hub.meetings.access import Visitor
from hub.meetings.admission import Admissions
from hub.meetings.service import MAX_NAME, MeetingView, clean_text
from hub.web import signaling as sig

log = logging.getLogger(__name__)


async def visitor_of(
    message: sig.Join,
    session: Session | None,
    meeting: MeetingView,
    tokens: JoinTokens,
    admissions: Admissions,
) -> tuple[Visitor, str]:
    """Who is asking, with what the hub knows about them, and the name they will show."""
    token_role: Role | None = None
    if message.token is not None:
        grant = tokens.verify(message.token, meeting_id=meeting.id)
        if grant.rejoin:  # it proves only that its holder's session was inside
            raise Unauthorized(text=Text("error.token_is_rejoin"))
        identity, email, token_role = grant.identity, None, grant.role
        name = grant.display_name or message.name
        authenticated = grant.identity.authenticates()
    elif session is not None:
        identity, email, name = session.identity, session.email, message.name
        authenticated = not session.is_guest
    else:
        raise Unauthorized(text=Text("error.session_or_token"))
    visitor = await admissions.visitor(
        meeting, identity, authenticated=authenticated, matrix_user=identity.matrix_user,
        email=email, token_role=token_role,
        rejoining=_rejoining(message, identity, meeting, tokens),
    )  # fmt: skip
    return visitor, clean_text(name, field="name", limit=MAX_NAME)


def _rejoining(
    message: sig.Join, identity: Identity, meeting: MeetingView, tokens: JoinTokens
) -> bool:
    """Whether the join shows a valid rejoin ticket of this very identity. A stale or
    foreign ticket is not an error: the person goes through the usual rules."""
    if message.rejoin is None:
        return False
    where = {"meeting_id": meeting.id}
    try:
        grant = tokens.verify(message.rejoin, meeting_id=meeting.id)
    except Unauthorized as exc:
        log.info("rejoin ticket not taken: %s", exc.detail, extra=where)
        return False
    if not grant.rejoin or grant.identity != identity:
        log.info("rejoin ticket not taken: not this person's", extra=where)
        return False
    return True


def rejoin_ticket(
    meeting: MeetingView, identity: Identity, name: str, tokens: JoinTokens
) -> str | None:
    """For a meeting of ours: the ticket that lets this person back in for an hour."""
    if meeting.host_instance is not None:
        return None
    return tokens.issue(
        meeting_id=meeting.id, identity=identity, display_name=name, role=None,
        lifetime=MAX_LIFETIME, rejoin=True,
    )  # fmt: skip
