"""What owners and moderators do to a live meeting: the lobby, mute, remove, lock, roles, end.

Every action is checked here, on the server, against the actor's role in the live meeting;
the page only offers the buttons. A refused action raises Forbidden / NotFound, which the
socket answers with an `error` frame; the meeting goes on.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web

from hub.db.models import Role
from hub.errors import Forbidden, NotFound
from hub.ids import ParticipantId
from hub.meetings.access import MODERATING
from hub.meetings.live import LiveMeeting, Presence, Verdict
from hub.sfu.room import SfuRoom
from hub.web import signaling as sig
from hub.web.keys import MEETINGS

log = logging.getLogger(__name__)


def lobby_message(live: LiveMeeting) -> sig.Lobby:
    entries = sorted(live.lobby.values(), key=lambda entry: entry.since)
    return sig.Lobby(
        entries=[
            sig.LobbyEntryInfo(
                id=entry.entry_id,
                name=entry.name,
                kind=entry.kind.value,
                since=entry.since.isoformat(timespec="seconds"),
                message=entry.message,
            )
            for entry in entries
        ]
    )


async def announce_lobby(live: LiveMeeting) -> None:
    """Tell the moderators who is waiting now (only them: the lobby is nobody else's business),
    and the meeting's subscribers that the lobby changed (the Matrix rooms show it)."""
    await live.send_to_moderators(sig.to_json(lobby_message(live)))
    await live.lobby_changed(datetime.now(UTC))


def participant_info(
    presence: Presence, *, self_id: ParticipantId | None = None
) -> sig.ParticipantInfo:
    return sig.ParticipantInfo(
        id=presence.participant_id,
        name=presence.name,
        audio=presence.audio,
        video=presence.video,
        screen=presence.screen,
        hand=presence.hand,
        hand_order=presence.hand_order or None,
        role=presence.role.value,
        is_self=presence.participant_id == self_id,
        reconnecting=presence.reconnecting,
    )


async def update_presence(
    live: LiveMeeting, participant_id: ParticipantId, **changes: bool
) -> None:
    """Change a participant's visible state and tell everyone, if anything changed."""
    before = live.presences.get(participant_id)
    presence = live.update(participant_id, **changes)
    if presence is None or presence == before:
        return
    await live.broadcast(sig.ParticipantUpdated(participant=participant_info(presence)))


def _target(live: LiveMeeting, participant_id: str) -> Presence:
    presence = live.presences.get(ParticipantId(participant_id))
    if presence is None:
        raise NotFound("Ce participant n'est plus là / No such participant in the meeting")
    return presence


def may_act_on(actor: Presence, target: Presence, what: str) -> None:
    """Nobody acts on the owner; only the owner acts on another moderator."""
    if target.role is Role.OWNER:
        raise Forbidden(f"L'organisateur ne peut pas être {what} / The owner cannot be {what}")
    if target.role is Role.MODERATOR and actor.role is not Role.OWNER:
        raise Forbidden(
            "Seul l'organisateur agit sur un autre modérateur / "
            "Only the owner may act on another moderator"
        )


async def mute_here(live: LiveMeeting, room: SfuRoom, target: Presence, kind: str, by: str) -> None:
    """Turn one of our own people's microphone or camera off at our SFU, and tell them."""
    audio = False if kind == "audio" else target.audio
    video = False if kind == "video" else target.video
    room.set_forwarding(target.participant_id, audio=audio, video=video)
    muted = sig.Muted(kind="video" if kind == "video" else "audio", by=by)
    await live.send(target.participant_id, sig.to_json(muted))
    await update_presence(live, target.participant_id, audio=audio, video=video)


async def remove_here(live: LiveMeeting, room: SfuRoom, target: Presence) -> None:
    """Take one of our own people out: nothing more reaches them, then their socket closes."""
    live.removed.add(target.identity)
    room.set_forwarding(target.participant_id, audio=False, video=False)
    await live.send(target.participant_id, sig.to_json(sig.Denied(reason="removed")))
    closer = live.closers.get(target.participant_id)
    if closer is not None:
        await closer("removed")


async def handle(
    app: web.Application,
    live: LiveMeeting,
    room: SfuRoom,
    actor: Presence,
    message: sig.ClientMessage,
) -> None:
    """Carry out one moderation message from `actor`, or raise why it is refused."""
    if actor.role not in MODERATING:
        raise Forbidden(
            "Réservé aux organisateurs et modérateurs / Only the owner and moderators may do this"
        )
    extra = {"meeting_id": live.meeting_id, "participant_id": actor.participant_id}
    match message:
        case sig.Admit(entry_id=entry_id) | sig.Deny(entry_id=entry_id):
            verdict: Verdict = "admitted" if isinstance(message, sig.Admit) else "denied"
            refusal = message.message if isinstance(message, sig.Deny) else None
            if live.decide(entry_id, verdict, refusal) is None:
                raise NotFound("Personne n'attend sous ce numéro / Nobody waits with that id")
            log.info("lobby entry %s", verdict, extra=extra)
            await announce_lobby(live)
        case sig.Mute(participant_id=target_id, kind=kind):
            target = _target(live, target_id)
            if target.participant_id == actor.participant_id:
                raise Forbidden("Utilisez votre propre bouton micro / Use your own mute button")
            remote = live.remote.get(target.participant_id)
            if remote is not None:  # their own hub tells them; their media stops here at once
                await remote.mute(target, kind, actor)
            else:
                await mute_here(live, room, target, kind, actor.name)
            log.info("participant muted (%s) by a moderator", kind, extra=extra)
        case sig.Remove(participant_id=target_id):
            target = _target(live, target_id)
            may_act_on(actor, target, "retiré / removed")
            remote = live.remote.get(target.participant_id)
            if remote is not None:
                live.removed.add(target.identity)
                await remote.remove(target, actor)
            else:
                await remove_here(live, room, target)
            log.info("participant removed by a moderator", extra=extra)
        case sig.Lock(locked=locked):
            await app[MEETINGS].set_locked(live.meeting_id, locked)
            live.locked = locked
            await live.broadcast(sig.MeetingStateChanged(locked=locked))
            log.info("meeting %s", "locked" if locked else "unlocked", extra=extra)
        case sig.SetRole(participant_id=target_id, role=role_name):
            target = _target(live, target_id)
            may_act_on(actor, target, "changé de rôle / given another role")
            if target.participant_id in live.remote:
                raise Forbidden(
                    "Impossible de changer le rôle d'une personne connectée par une autre "
                    "instance / Cannot change the role of someone connected through another "
                    "instance"
                )
            role = Role(role_name)
            updated = live.set_role(target.participant_id, role)
            if updated is None or updated == target:
                return
            await app[MEETINGS].record_role(target.participant_id, role)
            await live.broadcast(sig.ParticipantUpdated(participant=participant_info(updated)))
            if role in MODERATING:
                await live.send(target.participant_id, sig.to_json(lobby_message(live)))
            log.info("participant role set to %s", role.value, extra=extra)
        case sig.LowerHands(participant_id=target_id):
            # Our own people's hands; a partner's people raise and lower theirs on their hub.
            targets = (
                [_target(live, target_id)] if target_id is not None
                else [p for p in live.presences.values() if p.hand]
            )  # fmt: skip
            for target in targets:
                if target.participant_id not in live.remote:
                    await update_presence(live, target.participant_id, hand=False)
            log.info("%d raised hand(s) lowered by a moderator", len(targets), extra=extra)
        case sig.EndMeeting():
            await app[MEETINGS].end(live.meeting_id, by=actor.identity, moderator=True)
        case _:
            raise NotFound(f"{message.type} is not a moderation message")
