"""The site's pages around meetings (home, login, navigation): French, then English."""

from __future__ import annotations

from typing import Final

FRENCH: Final[dict[str, str]] = {
    "site.name": "Visio",
    "site.tagline": "Réunions souveraines de l'État, reliées à Tchap.",
    "nav.skip": "Aller au contenu",
    "lang.switch": "English",
    "lang.switch_label": "Read this page in English",
    "home.status": "Le service fonctionne.",
    "page.error_prefix": "Erreur",
    "nav.primary": "Navigation principale",
    "home.title": "Réunions en visio",
    "home.intro": (
        "Créez une réunion ou rejoignez-en une avec son code. Le son et l'image passent "
        "uniquement par les serveurs de l'État."
    ),
    "home.create.heading": "Créer une réunion",
    "home.create.title_label": "Titre de la réunion",
    "home.create.title_hint": "Par exemple : Point hebdomadaire. 200 caractères au plus.",
    "home.create.access_legend": "Qui peut entrer sans attendre ?",
    "home.access.public": "Publique",
    "home.access.public_hint": "Toute personne qui a le lien, même sans compte.",
    "home.access.trusted": "Personnes identifiées",
    "home.access.trusted_hint": (
        "Toute personne connectée avec un compte (ProConnect, Tchap ou hub partenaire) ; "
        "les invités sans compte attendent qu'on les fasse entrer."
    ),
    "home.access.restricted": "Restreinte (recommandé)",
    "home.access.restricted_hint": (
        "Seules les personnes invitées entrent directement ; les autres attendent qu'on "
        "les fasse entrer."
    ),
    "home.create.submit": "Créer la réunion",
    "home.join.heading": "Rejoindre une réunion",
    "home.join.label": "Code ou lien de la réunion",
    "home.join.hint": "Par exemple : abc-defg-hij",
    "home.join.submit": "Rejoindre",
    "home.mine.heading": "Vos réunions en cours",
    "home.error.summary": "Le formulaire contient une erreur :",
    "home.error.title_empty": "Indiquez un titre pour la réunion.",
    "home.error.title_long": "Le titre doit faire 200 caractères au plus.",
    "home.error.title_invalid": (
        "Le titre contient des caractères non autorisés (caractères de contrôle)."
    ),
    "home.error.access_invalid": (
        "Choisissez qui peut entrer : publique, personnes identifiées ou restreinte."
    ),
    "home.error.code_empty": "Indiquez le code ou le lien de la réunion.",
    "home.error.code_invalid": (
        "Ce code n'a pas le bon format : un code ressemble à abc-defg-hij."
    ),
    "home.error.code_unknown": (
        "Aucune réunion ne correspond à ce code. Vérifiez-le auprès de la personne qui "
        "vous a invité."
    ),
    "home.create.login_needed": "Connectez-vous pour créer une réunion.",
    "auth.account.heading": "Votre compte",
    "auth.login.heading": "Se connecter",
    "auth.login.intro": (
        "Connectez-vous avec votre compte professionnel pour créer des réunions et entrer "
        "sans attendre dans les réunions réservées aux personnes identifiées."
    ),
    "auth.meeting.intro": (
        "Vous avez un compte professionnel ? Connectez-vous pour entrer sans attendre si "
        "la réunion est réservée aux personnes identifiées."
    ),
    "auth.login_with": "Se connecter avec {label}",
    "auth.logged_in_as": "Connecté en tant que {name}",
    "auth.logout": "Se déconnecter",
    "auth.required.heading": "Connexion nécessaire",
    "auth.required.text": (
        "Seules les personnes connectées peuvent créer une réunion. Connectez-vous, puis "
        "recommencez."
    ),
    "auth.error.heading": "La connexion a échoué",
    "auth.error.expired": (
        "Cette connexion a expiré, a déjà servi ou n'a pas été commencée dans ce "
        "navigateur. Aucune session n'a été ouverte : recommencez la connexion."
    ),
    "auth.error.refused": (
        "Le fournisseur d'identité n'a pas pu confirmer votre identité. Aucune session n'a "
        "été ouverte : réessayez ; si le problème continue, contactez l'assistance."
    ),
    "auth.error.denied": (
        "La connexion a été annulée ou refusée chez le fournisseur d'identité. Aucune "
        "session n'a été ouverte."
    ),
    "auth.error.provider": (
        "Le fournisseur d'identité a signalé une erreur. Aucune session n'a été ouverte : "
        "réessayez."
    ),
    "auth.error.unavailable": (
        "Le fournisseur d'identité ne répond pas correctement. Aucune session n'a été "
        "ouverte : réessayez dans quelques minutes."
    ),
    "auth.error.unknown_provider": "Ce moyen de connexion n'existe pas sur ce service.",
    "auth.logging_out.heading": "Déconnexion en cours",
    "auth.logging_out.text": (
        "Votre session sur ce service est terminée. Nous vous emmenons chez votre "
        "fournisseur d'identité pour vous y déconnecter aussi."
    ),
    "auth.logging_out.continue": "Continuer la déconnexion",
    "auth.logged_out.heading": "Déconnexion effectuée",
    "auth.logged_out.text": "Votre session sur ce service est terminée.",
}

ENGLISH: Final[dict[str, str]] = {
    "site.name": "Visio",
    "site.tagline": "Sovereign meetings for the State, linked to Tchap.",
    "nav.skip": "Skip to content",
    "lang.switch": "Français",
    "lang.switch_label": "Lire cette page en français",
    "home.status": "The service is running.",
    "page.error_prefix": "Error",
    "nav.primary": "Main navigation",
    "home.title": "Video meetings",
    "home.intro": (
        "Create a meeting or join one with its code. Sound and video go only through the "
        "State's own servers."
    ),
    "home.create.heading": "Create a meeting",
    "home.create.title_label": "Meeting title",
    "home.create.title_hint": "For example: Weekly team meeting. 200 characters at most.",
    "home.create.access_legend": "Who can enter without waiting?",
    "home.access.public": "Public",
    "home.access.public_hint": "Anyone with the link, even without an account.",
    "home.access.trusted": "Signed-in people",
    "home.access.trusted_hint": (
        "Anyone signed in with an account (ProConnect, Tchap or a partner hub); guests "
        "without an account wait to be let in."
    ),
    "home.access.restricted": "Restricted (recommended)",
    "home.access.restricted_hint": (
        "Only invited people enter directly; the others wait to be let in."
    ),
    "home.create.submit": "Create the meeting",
    "home.join.heading": "Join a meeting",
    "home.join.label": "Meeting code or link",
    "home.join.hint": "For example: abc-defg-hij",
    "home.join.submit": "Join",
    "home.mine.heading": "Your open meetings",
    "home.error.summary": "The form has an error:",
    "home.error.title_empty": "Enter a title for the meeting.",
    "home.error.title_long": "The title must be 200 characters at most.",
    "home.error.title_invalid": "The title contains characters that are not allowed.",
    "home.error.access_invalid": "Choose who can enter: public, signed-in or restricted.",
    "home.error.code_empty": "Enter the meeting's code or link.",
    "home.error.code_invalid": "This code does not have the right shape: abc-defg-hij.",
    "home.error.code_unknown": (
        "No meeting has this code. Check it with the person who invited you."
    ),
    "home.create.login_needed": "Log in to create a meeting.",
    "auth.account.heading": "Your account",
    "auth.login.heading": "Log in",
    "auth.login.intro": (
        "Log in with your work account to create meetings and to enter meetings for "
        "signed-in people without waiting."
    ),
    "auth.meeting.intro": (
        "Do you have a work account? Log in to enter without waiting if the meeting is for "
        "signed-in people."
    ),
    "auth.login_with": "Log in with {label}",
    "auth.logged_in_as": "Logged in as {name}",
    "auth.logout": "Log out",
    "auth.required.heading": "Login required",
    "auth.required.text": "Only signed-in people can create a meeting. Log in, then try again.",
    "auth.error.heading": "Login failed",
    "auth.error.expired": (
        "This login expired, was already used or was not started in this browser. No "
        "session was opened: log in again."
    ),
    "auth.error.refused": (
        "The identity provider could not confirm who you are. No session was opened: try "
        "again; if the problem goes on, contact support."
    ),
    "auth.error.denied": (
        "The login was cancelled or refused at the identity provider. No session was opened."
    ),
    "auth.error.provider": (
        "The identity provider reported an error. No session was opened: try again."
    ),
    "auth.error.unavailable": (
        "The identity provider is not answering properly. No session was opened: try again "
        "in a few minutes."
    ),
    "auth.error.unknown_provider": "This login method does not exist on this service.",
    "auth.logging_out.heading": "Logging out",
    "auth.logging_out.text": (
        "Your session on this service has ended. You are being taken to your identity "
        "provider to log out there too."
    ),
    "auth.logging_out.continue": "Continue logging out",
    "auth.logged_out.heading": "You are logged out",
    "auth.logged_out.text": "Your session on this service has ended.",
}
