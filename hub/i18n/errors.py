"""Error sentences shown on pages and in problem answers: French, then English."""

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
