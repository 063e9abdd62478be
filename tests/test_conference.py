"""The conference's rules and who hears what, through its public methods and fake endpoints
(the pages, partner hubs and the bot all reach it this way; tests/test_lobby.py and
tests/federation/test_cascade.py run the same rules through real sockets)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.db.models import Role
from hub.errors import Forbidden, NotFound
from hub.ids import Identity, MeetingId, ParticipantId
from hub.meetings.conference import Conference, Conferences
from hub.meetings.notices import (
    ChatSaid,
    Ended,
    LobbyNow,
    Notice,
    PersonJoined,
    PersonLeft,
    PersonUpdated,
)
from hub.meetings.presence import Presence, WaitingPerson
from tests.support.nowhere import Nowhere

MEETING = MeetingId("abc-defg-hij")


class Records:
    """The stored side of a meeting, remembered instead of stored."""

    def __init__(self) -> None:
        self.locked: list[bool] = []
        self.roles: list[tuple[ParticipantId, Role]] = []
        self.ended_by: list[Identity] = []

    async def set_locked(self, meeting_id: MeetingId, locked: bool) -> None:
        self.locked.append(locked)

    async def record_role(self, participant_id: ParticipantId, role: Role) -> None:
        self.roles.append((participant_id, role))

    async def end(self, meeting_id: str, *, by: Identity, moderator: bool = False) -> None:
        self.ended_by.append(by)


def person(pid: str, role: Role = Role.PARTICIPANT) -> Presence:
    return Presence(
        ParticipantId(pid), Identity(f"guest:{pid}"), pid.title(), True, True, role=role
    )


def kinds(heard: list[Notice]) -> list[str]:
    return [type(notice).__name__ for notice in heard]


@pytest.fixture
def records() -> Records:
    return Records()


@pytest.fixture
def conference(records: Records) -> Conference:
    return Conference(MEETING, locked=False, records=records)


async def test_each_endpoint_hears_a_notice_once_and_a_newcomer_not_its_own_arrival(
    conference: Conference,
) -> None:
    owner, guest, link = Nowhere(), Nowhere(), Nowhere()
    conference.listen("b.example", link)
    conference.enter(person("olga", Role.OWNER), owner)
    await conference.arrived(ParticipantId("olga"))
    await conference.enter_carried(person("bruno"), link)  # the link carries and listens
    conference.enter(person("gaston"), guest)
    await conference.arrived(ParticipantId("gaston"))
    assert kinds(guest.heard) == []
    assert kinds(owner.heard) == ["PersonJoined", "PersonJoined"]
    assert kinds(link.heard) == ["PersonJoined", "PersonJoined", "PersonJoined"]

    await conference.chat(ParticipantId("gaston"), "bonjour")
    for endpoint in (owner, guest, link):
        said = [n for n in endpoint.heard if isinstance(n, ChatSaid)]
        assert [(n.participant_id, n.name, n.text) for n in said] == [
            ("gaston", "Gaston", "bonjour")
        ]
    with pytest.raises(NotFound):
        await conference.chat(ParticipantId("nobody"), "hello")


async def test_only_moderators_hear_the_lobby_and_as_plain_data(conference: Conference) -> None:
    owner, guest = Nowhere(), Nowhere()
    conference.enter(person("olga", Role.OWNER), owner)
    conference.enter(person("gaston"), guest)
    entry = conference.knock(
        Identity("guest:zoe"), "Zoé", Role.PARTICIPANT, since=datetime.now(UTC), message=""
    )
    await conference.announce_lobby()
    assert guest.heard == []
    [lobby] = owner.heard
    assert isinstance(lobby, LobbyNow)
    [shown] = lobby.entries
    assert isinstance(shown, WaitingPerson)
    assert (shown.entry_id, shown.name, shown.number, shown.message) == (
        entry.entry_id,
        "Zoé",
        1,
        None,
    )


async def test_lobby_verdicts_are_for_moderators_and_each_entry_is_decided_once(
    conference: Conference,
) -> None:
    owner = person("olga", Role.OWNER)
    conference.enter(owner, Nowhere())
    conference.enter(person("gaston"), Nowhere())
    entry = conference.knock(
        Identity("guest:zoe"), "Zoé", Role.PARTICIPANT, since=datetime.now(UTC)
    )
    with pytest.raises(Forbidden):
        await conference.decide(
            conference.presences[ParticipantId("gaston")], entry.entry_id, "admitted"
        )
    await conference.decide(owner, entry.entry_id, "denied", "pas aujourd'hui")
    assert entry.decision.result() == "denied" and entry.refusal == "pas aujourd'hui"
    with pytest.raises(NotFound):
        await conference.decide(owner, entry.entry_id, "admitted")
    assert conference.lobby == {}


async def test_orders_go_to_the_endpoint_that_carries_the_target(conference: Conference) -> None:
    own, link = Nowhere(), Nowhere()
    moderator = person("mona", Role.MODERATOR)
    conference.enter(moderator, Nowhere())
    conference.enter(person("gaston"), own)
    await conference.enter_carried(person("bruno"), link)
    await conference.mute(moderator, "gaston", "video")
    await conference.mute(moderator, "bruno", "audio")
    assert own.muted == [("gaston", "video", "mona")]
    assert link.muted == [("bruno", "audio", "mona")]
    with pytest.raises(Forbidden, match="propre bouton micro"):
        await conference.mute(moderator, "mona", "audio")
    with pytest.raises(Forbidden, match="Réservé aux organisateurs et modérateurs"):
        await conference.mute(conference.presences[ParticipantId("gaston")], "bruno", "audio")
    with pytest.raises(NotFound):
        await conference.mute(moderator, "nobody", "audio")


async def test_a_removal_stands_until_the_person_is_let_in_again(conference: Conference) -> None:
    guest = Nowhere()
    owner, moderator = person("olga", Role.OWNER), person("mona", Role.MODERATOR)
    conference.enter(owner, Nowhere())
    conference.enter(moderator, Nowhere())
    conference.enter(person("gaston"), guest)
    with pytest.raises(Forbidden, match="L'organisateur ne peut pas être retiré"):
        await conference.remove(moderator, "olga")
    await conference.remove(moderator, "gaston")
    assert guest.removed == [("gaston", "mona")]
    assert conference.is_removed(Identity("guest:gaston"))
    await conference.leave(ParticipantId("gaston"))
    conference.enter(person("gaston"), Nowhere())
    assert not conference.is_removed(Identity("guest:gaston"))


async def test_roles_are_given_to_our_own_people_only_and_stored(
    conference: Conference, records: Records
) -> None:
    promoted = Nowhere()
    owner = person("olga", Role.OWNER)
    conference.enter(owner, Nowhere())
    conference.enter(person("gaston"), promoted)
    await conference.enter_carried(person("bruno"), Nowhere())
    with pytest.raises(Forbidden, match="connectée par une autre instance"):
        await conference.set_role(owner, "bruno", Role.MODERATOR)
    await conference.set_role(owner, "gaston", Role.MODERATOR)
    assert records.roles == [(ParticipantId("gaston"), Role.MODERATOR)]
    assert conference.presences[ParticipantId("gaston")].role is Role.MODERATOR
    assert kinds(promoted.heard) == ["PersonJoined", "PersonUpdated", "LobbyNow"]


async def test_hands_are_taken_in_turn_and_lowered_for_our_people_only(
    conference: Conference,
) -> None:
    owner = person("olga", Role.OWNER)
    conference.enter(owner, Nowhere())
    conference.enter(person("gaston"), Nowhere())
    conference.enter(person("marc"), Nowhere())
    await conference.enter_carried(person("bruno"), Nowhere())
    await conference.update(ParticipantId("marc"), hand=True)
    await conference.update(ParticipantId("gaston"), hand=True)
    await conference.restate(
        ParticipantId("bruno"), audio=True, video=True, screen=False, hand=True
    )
    orders = {pid: p.hand_order for pid, p in conference.presences.items() if p.hand}
    assert orders == {"marc": 1, "gaston": 2, "bruno": 0}  # a partner orders its own hands
    await conference.lower_hands(owner, None)
    assert [pid for pid, p in conference.presences.items() if p.hand] == ["bruno"]


async def test_lock_is_stored_then_told(conference: Conference, records: Records) -> None:
    owner, guest = person("olga", Role.OWNER), Nowhere()
    conference.enter(owner, Nowhere())
    conference.enter(person("gaston"), guest)
    await conference.lock(owner, True)
    assert records.locked == [True] and conference.locked
    assert kinds(guest.heard) == ["LockChanged"]


async def test_the_end_closes_our_endpoints_and_answers_the_lobby(conference: Conference) -> None:
    own, link = Nowhere(), Nowhere()
    conference.listen("b.example", link)
    conference.enter(person("gaston"), own)
    entry = conference.knock(
        Identity("guest:zoe"), "Zoé", Role.PARTICIPANT, since=datetime.now(UTC)
    )
    assert await conference.end_all(Ended("ended")) == 1
    assert own.closed == ["ended"] and link.closed == []  # the link is told; cascade.py closes it
    assert kinds(own.heard) == kinds(link.heard) == ["Ended"]
    assert entry.decision.result() == "ended"


async def test_a_meeting_nobody_is_in_waits_for_or_listens_to_is_let_go(records: Records) -> None:
    conferences = Conferences(records)
    conference = conferences.open(MEETING, locked=True)
    assert conference.locked
    endpoint = Nowhere()
    conference.enter(person("gaston"), endpoint)
    conference.enter(person("marc"), Nowhere())
    await conference.leave(ParticipantId("marc"))
    assert [type(n) for n in endpoint.heard] == [PersonLeft]
    assert conferences.get(MEETING) is conference
    await conference.leave(ParticipantId("gaston"))
    assert conferences.get(MEETING) is None
    assert await conferences.end_all(MEETING, Ended("ended")) == 0


async def test_an_unchanged_state_tells_nobody(conference: Conference) -> None:
    endpoint = Nowhere()
    conference.enter(person("gaston"), endpoint)
    conference.enter(person("marc"), Nowhere())
    await conference.update(ParticipantId("marc"), audio=True, video=True)
    await conference.update(ParticipantId("marc"), audio=False)
    assert [type(n) for n in endpoint.heard] == [PersonUpdated]
    assert PersonJoined not in [type(n) for n in endpoint.heard]
