"""Error sentences shown on pages, in problem answers and in a socket's error frames: French,
then English (each answer is in one of them: hub/web/errors.py picks which)."""

from __future__ import annotations

from typing import Final

FRENCH: Final[dict[str, str]] = {
    "error.back": "Retour à l'accueil",
    "error.reference": "Référence de l'erreur",
    "error.title.400": "Requête invalide",
    "error.title.401": "Authentification requise",
    "error.title.403": "Accès refusé",
    "error.title.404": "Introuvable",
    "error.title.409": "Conflit",
    "error.title.429": "Trop de requêtes",
    "error.title.500": "Erreur interne",
    "error.title.503": "Service indisponible",
    "error.logins_busy": "Trop de connexions en cours ; réessayez dans un instant",
    "error.too_many": "Trop de tentatives ({action}) ; réessayez dans {seconds} s",
    "error.token_is_rejoin": "Jeton refusé : ticket de retour, pas jeton d'accès",
    "error.meeting.full": "La réunion est complète ({limit} personnes)",
    "error.media_server_lost": (
        "Le serveur média de la réunion s'est arrêté ; reconnexion en cours"
    ),
    "error.federation.link_interrupted": (
        "La liaison avec l'instance hôte a été interrompue ; réessayez"
    ),
    "error.federation.link_closing": "La liaison avec l'instance hôte se ferme ; réessayez",
    "error.federation.host_ended": "Cette réunion est terminée chez l'instance qui l'accueille",
    "error.federation.host_refuses_us": (
        "L'instance qui accueille la réunion refuse désormais la nôtre"
    ),
    "error.federation.host_silent": (
        "L'instance qui accueille la réunion ne répond pas ; réessayez dans un instant"
    ),
    "error.title.405": "Méthode non permise",
    "error.title.413": "Requête trop volumineuse",
    "error.title.502": "Service tiers indisponible",
    "error.title.other": "Erreur {status}",
    "error.title.login_failed": "Connexion impossible",
    "error.title.provider_unavailable": "Fournisseur d'identité indisponible",
    "error.title.use_partner_hub": "Rejoindre par votre instance",
    "error.unexpected": (
        "Une erreur inattendue s'est produite ; donnez cette référence à l'équipe d'exploitation."
    ),
    "error.unexpected.reference": "Erreur inattendue, référence {reference}",
    "error.no_page": "Aucune page à l'adresse {path}",
    "error.csrf": "Jeton CSRF absent ou invalide",
    "error.session_required": "Session requise",
    "error.session_or_token": "Session ou jeton requis",
    "error.token_refused": "Jeton refusé : {reason}",
    "error.origin": "Origine refusée",
    "error.metrics": "Métriques réservées",
    "error.meeting.missing": "Réunion introuvable",
    "error.node.moved": "La réunion a changé de nœud ; réessayez",
    "error.node.no_address": "Le nœud {node} ne publie pas son adresse (server.node_url)",
    "error.node.silent": "Le nœud de la réunion ne répond pas ({failure}) ; réessayez",
    "error.node.no_answer": "Le nœud de la réunion n'a pas répondu ({failure})",
    "error.meeting.ended": "La réunion est terminée",
    "error.meeting.id_taken": "Identifiant de réunion déjà utilisé",
    "error.meeting.owner_ends": "Seul l'organisateur peut terminer la réunion",
    "error.meeting.log_in_to_create": "Connectez-vous pour créer une réunion",
    "error.owner_only": "Réservé à l'organisateur",
    "error.moderators_only": "Réservé aux organisateurs et modérateurs",
    "error.present_moderators_only": (
        "Seul un organisateur ou un modérateur présent dans la réunion peut faire cela"
    ),
    "error.owner_untouchable": "L'organisateur ne peut pas être {action}",
    "error.action.removed": "retiré",
    "error.action.role": "changé de rôle",
    "error.owner_acts_on_moderators": "Seul l'organisateur agit sur un autre modérateur",
    "error.role.remote": (
        "Impossible de changer le rôle d'une personne connectée par une autre instance"
    ),
    "error.participant.missing": "Ce participant n'est plus là",
    "error.participant.id_taken": "Identifiant de participant déjà utilisé",
    "error.lobby.missing": "Personne n'attend sous ce numéro",
    "error.mute.own": "Utilisez votre propre bouton micro",
    "error.invitation.missing": "Invitation introuvable",
    "error.file.missing": "Fichier introuvable",
    "error.subtitles.disabled": "Les sous-titres sont désactivés sur ce hub",
    "error.subtitles.on": "Les sous-titres sont déjà en cours",
    "error.subtitles.off": "Les sous-titres ne sont pas en cours",
    "error.recording.disabled": "L'enregistrement est désactivé sur ce hub",
    "error.recording.on": "L'enregistrement est déjà en cours",
    "error.recording.off": "Aucun enregistrement en cours",
    "error.recording.missing": "Enregistrement introuvable",
    "error.recording.not_theirs": (
        "Seuls l'organisateur et les modérateurs de la réunion accèdent à ses enregistrements"
    ),
    "error.transcript.moderators_only": "Réservé aux modérateurs de la réunion",
    "error.transcript.missing": (
        "Cette réunion n'a pas de transcription (jamais activée, ou expirée)"
    ),
    "error.summary.missing": (
        "Cette réunion n'a pas de résumé (aucun service de résumé, ou il a échoué)"
    ),
    "error.matrix.token_invalid": "Jeton Matrix OpenID invalide",
    "error.matrix.token_refused": "Jeton Matrix OpenID refusé ou expiré",
    "error.matrix.server_not_allowed": "Serveur Matrix non autorisé : {server}",
    "error.matrix.server_unreachable": "Serveur Matrix injoignable : {server}",
    "error.matrix.bad_answer": "Réponse invalide du serveur Matrix",
    "error.matrix.wrong_server": "Le jeton Matrix ne correspond pas au serveur",
    "error.federation.off": "La fédération est désactivée",
    "error.federation.former_partner": (
        "Cette réunion est accueillie par une instance qui n'est plus partenaire"
    ),
    "error.federation.host_unreachable": (
        "L'instance qui accueille la réunion ne répond pas correctement ; réessayez plus tard"
    ),
    "error.federation.host_refuses": "L'instance hôte refuse",
    "error.federation.cascade_first": (
        "Ouvrez d'abord le lien de cascade : le verdict de la salle d'attente passe par lui"
    ),
    "error.socket.not_joined": "Envoyez d'abord un message join",
    "error.socket.not_admitted": "Attendez qu'un modérateur vous fasse entrer",
    "error.socket.already_joined": "Cette connexion a déjà rejoint la réunion",
    "error.socket.reactions": "Une réaction par demi-seconde au plus",
    "error.knock.elsewhere": (
        "Le message ne peut pas être ajouté : la réunion est accueillie par une autre instance"
    ),
    "federation.refused.unknown": (
        "{partner} n'est pas une instance partenaire de la nôtre : nos agents ne peuvent "
        "pas rejoindre ses réunions. Si elle devrait l'être, demandez à l'équipe "
        "d'exploitation de votre ministère de l'ajouter."
    ),
    "federation.refused.outbound": (
        "Notre instance ne permet pas à ses agents de rejoindre les réunions de l'instance "
        "{partner}. Si c'est une erreur, prévenez l'équipe d'exploitation de votre ministère."
    ),
    "federation.refused.by_partner": (
        "L'instance {partner} refuse la nôtre : elle ne la compte pas (ou plus) parmi ses "
        "partenaires. Ses réunions nous restent fermées tant que son équipe d'exploitation "
        "ne nous a pas ajoutés."
    ),
    "federation.refused.no_meeting": (
        "L'instance {partner} n'a pas de réunion à ce code, ou elle est terminée. Vérifiez "
        "le lien auprès de la personne qui vous a invité."
    ),
    "shared.unavailable": (
        "Le service est momentanément indisponible (son état partagé ne répond pas). "
        "Réessayez dans quelques instants."
    ),
    "federation.refused.unreachable": (
        "L'instance {partner}, qui accueille cette réunion, ne répond pas correctement. "
        "Réessayez dans quelques minutes."
    ),
    "error.bridge.token_missing": (
        "Jeton du pont requis : Authorization: Bearer <matrix.bridge_token>"
    ),
    "error.bridge.token_wrong": "Jeton du pont refusé",
}

ENGLISH: Final[dict[str, str]] = {
    "error.back": "Back to the home page",
    "error.reference": "Error reference",
    "error.title.400": "Bad request",
    "error.title.401": "Authentication required",
    "error.title.403": "Access denied",
    "error.title.404": "Not found",
    "error.title.409": "Conflict",
    "error.title.429": "Too many requests",
    "error.title.500": "Internal error",
    "error.title.503": "Service unavailable",
    "error.logins_busy": "Too many logins in progress; try again in a moment",
    "error.too_many": "Too many attempts ({action}); try again in {seconds} s",
    "error.token_is_rejoin": "Join token refused: a rejoin ticket, not a join token",
    "error.meeting.full": "The meeting is full ({limit} participants)",
    "error.media_server_lost": "The meeting's media server stopped; reconnecting",
    "error.federation.link_interrupted": (
        "The link to the hosting instance was interrupted; try again"
    ),
    "error.federation.link_closing": "The link to the hosting instance is closing; try again",
    "error.federation.host_ended": "This meeting has ended on the instance hosting it",
    "error.federation.host_refuses_us": (
        "The instance hosting this meeting no longer accepts ours"
    ),
    "error.federation.host_silent": (
        "The instance hosting this meeting does not answer; try again in a moment"
    ),
    "error.title.405": "Method not allowed",
    "error.title.413": "Request too large",
    "error.title.502": "Upstream service unavailable",
    "error.title.other": "Error {status}",
    "error.title.login_failed": "Login failed",
    "error.title.provider_unavailable": "Identity provider unavailable",
    "error.title.use_partner_hub": "Join through your instance",
    "error.unexpected": "An unexpected error occurred; give this reference to the operators.",
    "error.unexpected.reference": "Unexpected error, reference {reference}",
    "error.no_page": "No page at {path}",
    "error.csrf": "Missing or invalid CSRF token",
    "error.session_required": "A session is required",
    "error.session_or_token": "A session or a join token is required",
    "error.token_refused": "Join token refused: {reason}",
    "error.origin": "Origin not allowed",
    "error.metrics": "Metrics are restricted",
    "error.meeting.missing": "No such meeting",
    "error.node.moved": "The meeting moved to another node; try again",
    "error.node.no_address": "Node {node} publishes no address (server.node_url)",
    "error.node.silent": "The meeting's node does not answer ({failure}); try again",
    "error.node.no_answer": "The meeting's node did not answer ({failure})",
    "error.meeting.ended": "The meeting has ended",
    "error.meeting.id_taken": "Meeting id already in use",
    "error.meeting.owner_ends": "Only the owner may end the meeting",
    "error.meeting.log_in_to_create": "Log in to create a meeting",
    "error.owner_only": "Only the meeting's owner may do this",
    "error.moderators_only": "Only the owner and moderators may do this",
    "error.present_moderators_only": "Only an owner or moderator who is in the meeting may do this",
    "error.owner_untouchable": "The owner cannot be {action}",
    "error.action.removed": "removed",
    "error.action.role": "given another role",
    "error.owner_acts_on_moderators": "Only the owner may act on another moderator",
    "error.role.remote": "Cannot change the role of someone connected through another instance",
    "error.participant.missing": "No such participant in the meeting",
    "error.participant.id_taken": "Participant id already in use",
    "error.lobby.missing": "Nobody waits with that id",
    "error.mute.own": "Use your own mute button",
    "error.invitation.missing": "No such invitation",
    "error.file.missing": "No such file",
    "error.subtitles.disabled": "Subtitles are disabled on this hub",
    "error.subtitles.on": "Subtitles are already on",
    "error.subtitles.off": "Subtitles are not on",
    "error.recording.disabled": "Recording is disabled on this hub",
    "error.recording.on": "Recording is already on",
    "error.recording.off": "Recording is not on",
    "error.recording.missing": "No such recording",
    "error.recording.not_theirs": (
        "Only the meeting's owner and moderators may access its recordings"
    ),
    "error.transcript.moderators_only": "Only the meeting's moderators may do this",
    "error.transcript.missing": "This meeting has no transcript (never on, or expired)",
    "error.summary.missing": "This meeting has no summary (no summary service, or it failed)",
    "error.matrix.token_invalid": "Invalid Matrix OpenID token",
    "error.matrix.token_refused": "Matrix OpenID token refused or expired",
    "error.matrix.server_not_allowed": "Matrix homeserver not allowed: {server}",
    "error.matrix.server_unreachable": "Matrix homeserver unreachable: {server}",
    "error.matrix.bad_answer": "Invalid answer from the Matrix homeserver",
    "error.matrix.wrong_server": "Matrix token does not match its server",
    "error.federation.off": "Federation is off",
    "error.federation.former_partner": (
        "This meeting is hosted by an instance that is no longer a partner"
    ),
    "error.federation.host_unreachable": (
        "The instance hosting this meeting did not answer properly; try again later"
    ),
    "error.federation.host_refuses": "The hosting instance refuses",
    "error.federation.cascade_first": (
        "Open the cascade link first: the lobby's verdict travels over it"
    ),
    "error.socket.not_joined": "Send a join message first",
    "error.socket.not_admitted": "Wait until a moderator lets you in",
    "error.socket.already_joined": "This connection has already joined the meeting",
    "error.socket.reactions": "One reaction every half second at most",
    "error.knock.elsewhere": (
        "The message cannot be added: the meeting is hosted by another instance"
    ),
    "federation.refused.unknown": (
        "{partner} is not a partner of our instance: our people cannot join its meetings. "
        "If it should be one, ask your ministry's operations team to add it."
    ),
    "federation.refused.outbound": (
        "Our instance does not let its people join the meetings of the {partner} "
        "instance. If this is a mistake, tell your ministry's operations team."
    ),
    "federation.refused.by_partner": (
        "The {partner} instance refuses ours: it does not (or no longer) count it among "
        "its partners. Its meetings stay closed to us until its operations team adds us."
    ),
    "federation.refused.no_meeting": (
        "The {partner} instance has no meeting with this code, or it has ended. Check the "
        "link with the person who invited you."
    ),
    "shared.unavailable": (
        "The service is briefly unavailable (its shared state is not answering). Try again "
        "in a few moments."
    ),
    "federation.refused.unreachable": (
        "The {partner} instance, which hosts this meeting, is not answering properly. Try "
        "again in a few minutes."
    ),
    "error.bridge.token_missing": "Authorization: Bearer <matrix.bridge_token> is required",
    "error.bridge.token_wrong": "Wrong bridge token",
}
