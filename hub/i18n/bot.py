"""What the Matrix bot writes in rooms (bridge/texts.py lays these out), its command help and
its refusals: French, then English."""

from __future__ import annotations

from typing import Final

FRENCH: Final[dict[str, str]] = {
    "bot.kind.agent": "agent",
    "bot.kind.guest": "invité",
    "bot.kind.matrix": "Matrix",
    "bot.kind.partner": "partenaire",
    "bot.status.on": "Réunion « {title} » en cours",
    "bot.status.locked": "Réunion « {title} » en cours — verrouillée",
    "bot.status.link": "Lien : {url}",
    "bot.status.present": "Présents ({count}) : {names}",
    "bot.status.waiting": ("En attente ({count}) — « {prefix} admit N », « {prefix} refuse N » :"),
    "bot.status.message": "{line} — « {message} »",
    "bot.partner_link": "Agents {label} : {url}",
    "bot.ended": "Réunion « {title} » terminée",
    "bot.duration.nobody": "personne n'est venu",
    "bot.duration.under_a_minute": "moins d'une minute",
    "bot.summary.duration": "Durée : {duration}",
    "bot.summary.participants": "Participants : {count}",
    "bot.summary.names": "Noms : {names}",
    "bot.link": "Réunion « {title} » : {url}",
    "bot.scheduled": (
        "Réunion planifiée le {when} (heure de Paris) : le lien sera publié ici à l'heure."
    ),
    "bot.scheduled_titled": (
        "Réunion « {title} » planifiée le {when} (heure de Paris) : le lien sera publié "
        "ici à l'heure."
    ),
    "bot.reminder": "C'est l'heure de la réunion « {title} » : {url}",
    "bot.moderators_only": "Cette commande est réservée aux modérateurs du salon.",
    "bot.internal_error": "Erreur interne, référence {reference}.",
    "bot.make_me_moderator": (
        "Pour afficher la réunion dans le salon, donnez-moi le rôle de modérateur."
    ),
    "bot.already_on": "Une réunion est déjà en cours dans ce salon : {url}",
    "bot.invited": "{user} peut entrer sans attendre : {url}",
    "bot.not_in_room": "Je ne suis pas dans le salon {target} : invitez-moi d'abord.",
    "bot.link_sent": "Lien envoyé dans {target}.",
    "bot.locked": "Réunion verrouillée : les nouveaux arrivants attendent dans le hall.",
    "bot.unlocked": "Réunion déverrouillée.",
    "bot.admitted.nobody": "Personne n'attendait plus.",
    "bot.admitted.one": "{names} est entré(e).",
    "bot.admitted.many": "Entrés : {names}.",
    "bot.refused": "{name} n'est pas admis(e).",
    "bot.refused_because": "{name} n'est pas admis(e) ({reason}).",
    "bot.muted": "Micro de {name} coupé.",
    "bot.language_set": "Je parlerai français dans ce salon.",
}

ENGLISH: Final[dict[str, str]] = {
    "bot.kind.agent": "agent",
    "bot.kind.guest": "guest",
    "bot.kind.matrix": "Matrix",
    "bot.kind.partner": "partner",
    "bot.status.on": "Meeting “{title}” on",
    "bot.status.locked": "Meeting “{title}” on — locked",
    "bot.status.link": "Link: {url}",
    "bot.status.present": "In the call ({count}): {names}",
    "bot.status.waiting": "Waiting ({count}) — “{prefix} admit N”, “{prefix} refuse N”:",
    "bot.status.message": "{line} — “{message}”",
    "bot.partner_link": "{label} staff: {url}",
    "bot.ended": "Meeting “{title}” ended",
    "bot.duration.nobody": "nobody came",
    "bot.duration.under_a_minute": "under a minute",
    "bot.summary.duration": "Duration: {duration}",
    "bot.summary.participants": "Participants: {count}",
    "bot.summary.names": "Names: {names}",
    "bot.link": "Meeting “{title}”: {url}",
    "bot.scheduled": (
        "Meeting scheduled for {when} (Paris time): the link will be posted here when it starts."
    ),
    "bot.scheduled_titled": (
        "Meeting “{title}” scheduled for {when} (Paris time): the link will be posted here "
        "when it starts."
    ),
    "bot.reminder": "The meeting “{title}” starts now: {url}",
    "bot.moderators_only": "This command is for the room's moderators.",
    "bot.internal_error": "Internal error, reference {reference}.",
    "bot.make_me_moderator": "To show the meeting in the room, make me a moderator.",
    "bot.already_on": "A meeting is already on in this room: {url}",
    "bot.invited": "{user} may join without waiting: {url}",
    "bot.not_in_room": "I am not in the room {target}: invite me there first.",
    "bot.link_sent": "Link sent to {target}.",
    "bot.locked": "Meeting locked: newcomers wait in the lobby.",
    "bot.unlocked": "Meeting unlocked.",
    "bot.admitted.nobody": "Nobody was waiting any more.",
    "bot.admitted.one": "{names} was let in.",
    "bot.admitted.many": "Let in: {names}.",
    "bot.refused": "{name} was turned away.",
    "bot.refused_because": "{name} was turned away ({reason}).",
    "bot.muted": "{name}'s microphone is muted.",
    "bot.language_set": "I will write in English in this room.",
}
