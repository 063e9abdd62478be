"""Who a cascade link speaks for, and under which name: the pure rules both sides apply to
the people it carries (hub/federation/link.py).

A partner vouches only for its own people (their identity is wrapped `partner:…@partner`); a
host may relay a third hub's people, already wrapped. Everyone carried is shown "Name
(Label)", the label never cut.
"""

from __future__ import annotations

from hub.ids import Identity, IdentityKind, ParticipantId, ServerName
from hub.meetings.presence import Presence
from hub.sfu.forwarder import LINK_PREFIX

from . import messages as m


def link_participant(partner: ServerName) -> ParticipantId:
    """The SFU participant that stands for a partner instance in a meeting's room."""
    return ParticipantId(f"{LINK_PREFIX}{partner}")


def remote_identity(identity: str, partner: ServerName, *, hosting: bool) -> Identity:
    """The identity of someone a link brings: a host may relay its partners' people, already
    named `partner:…`; a partner speaks only for its own people, so theirs is always wrapped
    (else it could pass someone off as a third hub's person, or as nobody's)."""
    if not hosting and _relayed(identity):
        return Identity(identity)
    return Identity.vouched_by(identity, partner)


def _relayed(identity: str) -> bool:
    """Whether a host names this person as a third hub's (`partner:…`)."""
    said = Identity.read(identity)
    return said is not None and said.kind is IdentityKind.PARTNER


def labelled(name: str, label: str, identity: str, *, hosting: bool) -> str:
    """'Name (Label)'; people the host relays already carry their own hub's label. The name
    is cut, never the label."""
    if not hosting and _relayed(identity):
        return name
    suffix = f" ({label})"
    return name[: max(1, m.MAX_NAME_LENGTH - len(suffix))].rstrip() + suffix


def presence_info(presence: Presence) -> m.PresenceInfo:
    return m.PresenceInfo(
        participant_id=presence.participant_id,
        identity=presence.identity,
        name=presence.name,
        role=presence.role.value,
        audio=presence.audio,
        video=presence.video,
        screen=presence.screen,
        hand=presence.hand,
    )
