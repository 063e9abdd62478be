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
    "bot.transcript.posted": "Transcription disponible : le fichier {name} ci-dessous",
    "bot.transcript.not_posted": (
        "Transcription disponible, mais le salon n'a pas pu recevoir le fichier : "
        "les modérateurs la téléchargent sur le hub"
    ),
    "bot.digest.title": "Résumé de la transcription, rédigé automatiquement (à vérifier) :",
    "bot.digest.failed": (
        "Le résumé de la transcription n'a pas pu être rédigé : la transcription reste disponible"
    ),
    "bot.default_title": "Réunion du salon",
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
    "bot.chat_line": "{name} : {text}",
    "bot.language_set": "Je parlerai français dans ce salon.",
    # --- commands: their help, their arguments, and what is wrong with a command ---
    "bot.help.heading": "Commandes de la visio (préfixe {prefix}) :",
    "bot.help.moderators": "(modérateurs)",
    "bot.help.aliases": "Autres noms : {names}",
    "bot.help.start": "démarre une réunion pour ce salon et y publie le lien",
    "bot.help.end": "termine la réunion du salon pour tout le monde",
    "bot.help.status": "indique si une réunion est en cours et qui y participe",
    "bot.help.link": "redonne le lien de la réunion du salon",
    "bot.help.invite": "invite une personne ou un salon à la réunion",
    "bot.help.lock": "verrouille la réunion : les nouveaux arrivants attendent dans le hall",
    "bot.help.unlock": "déverrouille la réunion",
    "bot.help.transcribe": (
        "active ou arrête les sous-titres en direct (tous les participants en sont avertis)"
    ),
    "bot.subtitles.start": "Sous-titres en direct activés : tous les participants le voient.",
    "bot.subtitles.stop": "Sous-titres en direct arrêtés.",
    "bot.help.record": "démarre ou arrête l'enregistrement (tous les participants le voient)",
    "bot.recording.start": "Enregistrement démarré : tous les participants le voient.",
    "bot.recording.stop": "Enregistrement arrêté ; les modérateurs le téléchargent depuis le hub.",
    "bot.help.admit": (
        "fait entrer la personne de ce numéro dans le hall (voir le message d'état), ou tout "
        "le monde"
    ),
    "bot.help.refuse": "refuse l'entrée à la personne de ce numéro dans le hall",
    "bot.help.language": "choisit la langue du bot dans ce salon",
    "bot.help.mute": "coupe le micro d'une personne",
    "bot.help.schedule": "planifie une réunion (heure de Paris) ; le titre suit la date",
    "bot.help.help": "affiche cette aide, ou celle d'une commande",
    "bot.argument.title": "titre",
    "bot.argument.name": "nom",
    "bot.argument.target": "@personne:serveur|#salon:serveur",
    "bot.argument.who": "numéro|tous",
    "bot.argument.number": "numéro",
    "bot.argument.reason": "raison",
    "bot.argument.language": "fr|en",
    "bot.argument.when": "AAAA-MM-JJ HH:MM",
    "bot.argument.command": "commande",
    "bot.argument.switch": "start|stop",
    "bot.usage": "Usage : {usage}",
    "bot.usage_error.unknown_command": (
        "Commande inconnue « {word} ». Tapez « {prefix} aide » pour la liste."
    ),
    "bot.usage_error.no_such_command": "Commande inconnue « {word} ».",
    "bot.usage_error.missing": "Il manque <{argument}>.",
    "bot.usage_error.too_many": "Trop d'arguments : « {words} ».",
    "bot.usage_error.too_long": "Trop long ({argument}) : {limit} caractères au plus.",
    "bot.usage_error.target": (
        "« {word} » n'est ni une personne (@nom:serveur) ni un salon (#nom:serveur)."
    ),
    "bot.usage_error.lobby_number": (
        "« {word} » n'est pas un numéro du hall : donnez celui du message d'état."
    ),
    "bot.usage_error.lobby_number_or_all": (
        "« {word} » n'est pas un numéro du hall : donnez celui du message d'état ou « tous »."
    ),
    "bot.usage_error.language": "Langue inconnue « {word} » : fr ou en.",
    "bot.usage_error.switch": "« {word} » : start ou stop.",
    "bot.usage_error.date_form": (
        "« {word} » : date attendue AAAA-MM-JJ HH:MM (heure de Paris), par exemple "
        "2026-12-01 14:30."
    ),
    "bot.usage_error.date_unknown": "« {word} » n'est pas une date et une heure qui existent.",
    "bot.usage_error.date_skipped": (
        "{time} n'existe pas le {date} à Paris (passage à l'heure d'été)."
    ),
    "bot.usage_error.date_past": "« {word} » est déjà passé.",
    # --- the hub's refusals (bridge/hub_port.py HubRefusal) ---
    "bot.refusal.title": "Refusé",
    "bot.refusal.no_meeting": (
        "Aucune réunion n'est en cours dans ce salon. « {prefix} start » en démarre une."
    ),
    "bot.refusal.schedule_full": "Ce salon a déjà trop de réunions planifiées.",
    "bot.refusal.nobody_called": "Personne ne s'appelle « {name} » dans la réunion.",
    "bot.refusal.several_called": (
        "Plusieurs personnes s'appellent « {name} » dans la réunion : utilisez la page de la "
        "réunion."
    ),
    "bot.refusal.lobby_empty": "Personne n'attend dans le hall.",
    "bot.refusal.nobody_in_call": "Personne n'est dans la réunion pour l'instant.",
    "bot.refusal.subtitles_disabled": "Les sous-titres sont désactivés sur ce hub.",
    "bot.refusal.subtitles_already_on": "Les sous-titres sont déjà en cours.",
    "bot.refusal.subtitles_already_off": "Les sous-titres ne sont pas en cours.",
    "bot.refusal.recording_disabled": "L'enregistrement est désactivé sur ce hub.",
    "bot.refusal.recording_already_on": "L'enregistrement est déjà en cours.",
    "bot.refusal.recording_already_off": "Aucun enregistrement en cours.",
    "bot.refusal.no_such_number": (
        "Personne n'attend sous le numéro {number} : voyez le message d'état."
    ),
    "bot.refusal.no_longer_waiting": "{name} n'attend plus.",
    "bot.refusal.reason_too_long": (
        "Motif trop long : {limit} caractères au plus. Personne n'a été refusé."
    ),
    "bot.refusal.reason_control": (
        "Le motif contient des caractères de contrôle. Personne n'a été refusé."
    ),
    "bot.refusal.reason_markup": (
        "Le motif contient du HTML (<…>) : écrivez du texte simple. Personne n'a été refusé."
    ),
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
    "bot.transcript.posted": "A transcript is available: the file {name} below",
    "bot.transcript.not_posted": (
        "A transcript is available, but the room could not receive the file: "
        "moderators download it from the hub"
    ),
    "bot.digest.title": "Summary of the transcript, written automatically (to be checked):",
    "bot.digest.failed": "The transcript's summary could not be written: the transcript stands",
    "bot.default_title": "Room meeting",
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
    "bot.chat_line": "{name}: {text}",
    "bot.language_set": "I will write in English in this room.",
    # --- commands: their help, their arguments, and what is wrong with a command ---
    "bot.help.heading": "Meeting commands (prefix {prefix}):",
    "bot.help.moderators": "(moderators)",
    "bot.help.aliases": "Other names: {names}",
    "bot.help.start": "start a meeting for this room and post its link",
    "bot.help.end": "end this room's meeting for everyone",
    "bot.help.status": "tell whether a meeting is on and who is in it",
    "bot.help.link": "post this room's meeting link again",
    "bot.help.invite": "invite a person or a room to the meeting",
    "bot.help.lock": "lock the meeting: newcomers wait in the lobby",
    "bot.help.unlock": "unlock the meeting",
    "bot.help.transcribe": "start or stop live subtitles (everyone in the call is told)",
    "bot.subtitles.start": "Live subtitles started: everyone in the call sees it.",
    "bot.subtitles.stop": "Live subtitles stopped.",
    "bot.help.record": "start or stop recording the meeting (everyone in the call sees it)",
    "bot.recording.start": "Recording started: everyone in the call sees it.",
    "bot.recording.stop": "Recording stopped; moderators download it from the hub.",
    "bot.help.admit": (
        "let in the person of that number in the lobby (see the status message), or everyone"
    ),
    "bot.help.refuse": "turn away the person of that number in the lobby",
    "bot.help.language": "choose the bot's language in this room",
    "bot.help.mute": "mute a person's microphone",
    "bot.help.schedule": "schedule a meeting (Paris time); the title follows the date",
    "bot.help.help": "show this help, or a command's",
    "bot.argument.title": "title",
    "bot.argument.name": "name",
    "bot.argument.target": "@user:server|#room:server",
    "bot.argument.who": "number|all",
    "bot.argument.number": "number",
    "bot.argument.reason": "reason",
    "bot.argument.language": "fr|en",
    "bot.argument.when": "YYYY-MM-DD HH:MM",
    "bot.argument.command": "command",
    "bot.argument.switch": "start|stop",
    "bot.usage": "Usage: {usage}",
    "bot.usage_error.unknown_command": (
        "Unknown command “{word}”. Type “{prefix} help” for the list."
    ),
    "bot.usage_error.no_such_command": "Unknown command “{word}”.",
    "bot.usage_error.missing": "<{argument}> is missing.",
    "bot.usage_error.too_many": "Too many arguments: “{words}”.",
    "bot.usage_error.too_long": "The {argument} is longer than {limit} characters.",
    "bot.usage_error.target": (
        "“{word}” is neither a user (@name:server) nor a room (#name:server)."
    ),
    "bot.usage_error.lobby_number": (
        "“{word}” is not a lobby number: give the one in the status message."
    ),
    "bot.usage_error.lobby_number_or_all": (
        "“{word}” is not a lobby number: give the one in the status message or “all”."
    ),
    "bot.usage_error.language": "Unknown language “{word}”: fr or en.",
    "bot.usage_error.switch": "“{word}”: start or stop.",
    "bot.usage_error.date_form": (
        "“{word}”: expected date YYYY-MM-DD HH:MM (Paris time), for example 2026-12-01 14:30."
    ),
    "bot.usage_error.date_unknown": "“{word}” is not a date and time that exist.",
    "bot.usage_error.date_skipped": (
        "{time} does not exist on {date} in Paris (clocks go forward)."
    ),
    "bot.usage_error.date_past": "“{word}” is in the past.",
    # --- the hub's refusals (bridge/hub_port.py HubRefusal) ---
    "bot.refusal.title": "Refused",
    "bot.refusal.no_meeting": "No meeting is on in this room. “{prefix} start” starts one.",
    "bot.refusal.schedule_full": "This room already has too many scheduled meetings.",
    "bot.refusal.nobody_called": "Nobody called “{name}” in the meeting.",
    "bot.refusal.several_called": (
        "Several people are called “{name}” in the meeting: use the meeting page."
    ),
    "bot.refusal.lobby_empty": "Nobody is waiting in the lobby.",
    "bot.refusal.nobody_in_call": "Nobody is in the meeting yet.",
    "bot.refusal.subtitles_disabled": "Subtitles are disabled on this hub.",
    "bot.refusal.subtitles_already_on": "Subtitles are already on.",
    "bot.refusal.subtitles_already_off": "Subtitles are not on.",
    "bot.refusal.recording_disabled": "Recording is disabled on this hub.",
    "bot.refusal.recording_already_on": "Recording is already on.",
    "bot.refusal.recording_already_off": "Recording is not on.",
    "bot.refusal.no_such_number": "Nobody waits as number {number}: see the status message.",
    "bot.refusal.no_longer_waiting": "{name} is no longer waiting.",
    "bot.refusal.reason_too_long": (
        "Reason too long: {limit} characters at most. Nobody was turned away."
    ),
    "bot.refusal.reason_control": (
        "The reason contains control characters. Nobody was turned away."
    ),
    "bot.refusal.reason_markup": (
        "The reason contains HTML (<…>): write plain text. Nobody was turned away."
    ),
}
