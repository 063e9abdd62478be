"""Who enters a live meeting and who waits, for every way in: a page's socket, and a partner
hub vouching for one of its people (the bot and the pages decide about those waiting through
the conference).

`Admissions` gathers the facts about the person (invitation, power in a linked Matrix room,
an earlier removal, the live lock state) into a `Visitor`, applies the one pure rule
(hub/meetings/access.py `decide`), checks that the meeting has room, and opens the lobby for
those who must wait. Made once, with the stores it reads, by the app (hub/web/app.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from hub.db.models import Role
from hub.errors import Conflict
from hub.i18n import Text
from hub.ids import Identity, MatrixUserId, MeetingId
from hub.meetings.access import Admission, Visitor, decide
from hub.meetings.conference import Conference, Conferences
from hub.meetings.invitations import Invitations
from hub.meetings.presence import LobbyEntry
from hub.meetings.rooms import RoomLinks, RoomRosters
from hub.meetings.service import MeetingView

log = logging.getLogger(__name__)


class Admissions:
    """The one admission service of this hub (no state of its own)."""

    def __init__(
        self,
        conferences: Conferences,
        invitations: Invitations,
        room_links: RoomLinks,
        rosters: RoomRosters,
        *,
        max_participants: int,
    ) -> None:
        self._conferences = conferences
        self._invitations = invitations
        self._room_links = room_links
        self._rosters = rosters
        self.max_participants = max_participants

    async def visitor(
        self,
        meeting: MeetingView,
        identity: Identity,
        *,
        authenticated: bool,
        matrix_user: MatrixUserId | None,
        email: str | None = None,
        token_role: Role | None = None,
        rejoining: bool = False,
    ) -> Visitor:
        """What the hub knows about someone asking to join, whoever vouches for them.
        `matrix_user`: the Matrix account proven theirs, whose power in the meeting's
        linked rooms counts. In a meeting a partner hosts, its hub keeps the removals."""
        meeting_id = meeting.id
        live = self._conferences.get(meeting_id) if meeting.host_instance is None else None
        return Visitor(
            identity=identity,
            authenticated=authenticated,
            token_role=token_role,
            invited_role=await self._invitations.role_for(meeting_id, identity, email),
            room_power=await self._room_power(meeting_id, matrix_user),
            removed=live is not None and live.is_removed(identity),
            rejoining=rejoining,
        )

    async def _room_power(self, meeting_id: MeetingId, user: MatrixUserId | None) -> int | None:
        """A verified Matrix user's power in a room linked to the meeting (None: no member)."""
        if user is None:
            return None
        rooms = [link.room_id for link in await self._room_links.rooms_of(meeting_id)]
        return await self._rosters.power(rooms, user)

    def decide(self, meeting: MeetingView, visitor: Visitor, who: str, **extra: str) -> Admission:
        """Enter or wait (with the meeting's live lock state), logged as `who` with `extra`."""
        live = self._conferences.get(meeting.id)
        admission = decide(
            meeting, visitor, locked=live.locked if live is not None else meeting.locked
        )
        log.info(
            "%s %s: %s",
            who,
            "accepted" if admission.enter else "sent to the lobby",
            admission.reason,
            extra={"meeting_id": meeting.id, "role": admission.role.value, **extra},
        )
        return admission

    def check_room(self, meeting_id: MeetingId) -> None:
        """Refuse one more person when the meeting is full (a partner's people count)."""
        live = self._conferences.get(meeting_id)
        limit = self.max_participants
        if live is not None and len(live.presences) >= limit:
            raise Conflict(text=Text("error.meeting.full", {"limit": str(limit)}))

    def knock(
        self,
        meeting: MeetingView,
        identity: Identity,
        name: str,
        role: Role,
        message: str | None = None,
    ) -> tuple[Conference, LobbyEntry]:
        """Put someone in the lobby (the meeting goes live if it was not). The caller keeps
        the entry, to withdraw it if they go, then has the conference `announce_lobby`."""
        live = self._conferences.open(meeting.id, locked=meeting.locked)
        entry = live.knock(identity, name, role, since=datetime.now(UTC), message=message)
        return live, entry
