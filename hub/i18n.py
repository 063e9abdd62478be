"""Language choice and interface strings: French first, English available.

The choice comes from `?lang=`, then the `hub_lang` cookie (set by the visible switch), then
Accept-Language, and falls back to French.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

LANGUAGES: Final = ("fr", "en")
DEFAULT_LANGUAGE: Final = "fr"
LANG_COOKIE: Final = "hub_lang"

CATALOG: Final[dict[str, dict[str, str]]] = {
    "fr": {
        "site.name": "Visio",
        "site.tagline": "Réunions souveraines de l'État, reliées à Tchap.",
        "nav.skip": "Aller au contenu",
        "lang.switch": "English",
        "lang.switch_label": "Read this page in English",
        "error.back": "Retour à l'accueil",
        "error.reference": "Référence de l'erreur",
        "home.status": "Le service fonctionne.",
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
        "federation.refused.unreachable": (
            "L'instance {partner}, qui accueille cette réunion, ne répond pas correctement. "
            "Réessayez dans quelques minutes."
        ),
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
        "meeting.code_label": "Code de la réunion",
        "meeting.copy_link": "Copier le lien",
        "meeting.link_copied": "Lien de la réunion copié.",
        "meeting.link_copy_failed": "Copie impossible ; le lien est : {url}",
        "meeting.prejoin.heading": "Prêt à rejoindre ?",
        "meeting.prejoin.settings": "Vos réglages",
        "meeting.name_label": "Votre nom",
        "meeting.name_hint": "Les autres participants le voient.",
        "meeting.name_required": "Indiquez votre nom pour rejoindre.",
        "meeting.knock_label": "Message pour les organisateurs (facultatif)",
        "meeting.knock_hint": (
            "Ils le lisent si vous devez attendre qu'on vous fasse entrer : qui vous êtes, "
            "pourquoi vous venez. 200 caractères au plus, en texte simple."
        ),
        "meeting.note.markup": "Écrivez du texte simple, sans balises HTML (<…>).",
        "meeting.note.control": (
            "Ce texte contient des caractères de contrôle invisibles : retapez-le."
        ),
        "meeting.note.too_long": "200 caractères au plus.",
        "meeting.preview_label": "Aperçu de votre caméra",
        "meeting.preview_off": "Caméra coupée",
        "meeting.camera_select": "Caméra",
        "meeting.microphone_select": "Micro",
        "meeting.device_unnamed": "Appareil {n}",
        "meeting.device_none": "Aucun appareil",
        "meeting.level": "Niveau du micro",
        "meeting.reaction.button": "Réagir",
        "meeting.reaction.send": "Réagir : {emoji}",
        "meeting.reaction.from": "{name} réagit : {emoji}",
        "meeting.settings": "Paramètres",
        "meeting.settings.heading": "Paramètres audio et vidéo",
        "meeting.speaker_select": "Haut-parleur",
        "meeting.speaker.unsupported": "Ce navigateur ne permet pas de choisir le haut-parleur.",
        "meeting.start_muted": "Entrer micro coupé",
        "meeting.start_camera_off": "Entrer caméra coupée",
        "meeting.join": "Rejoindre la réunion",
        "meeting.devices.asking": (
            "Autorisez l'accès à la caméra et au micro dans la fenêtre de votre navigateur."
        ),
        "meeting.devices.ready": "Caméra et micro prêts.",
        "meeting.devices.denied": (
            "L'accès à la caméra et au micro est bloqué. Pour l'autoriser, cliquez sur "
            "l'icône à gauche de l'adresse de la page, autorisez la caméra et le micro, puis "
            "rechargez la page. Vous pouvez aussi rejoindre sans caméra ni micro."
        ),
        "meeting.devices.none": (
            "Aucune caméra ni aucun micro n'a été trouvé. Branchez-en un puis rechargez la "
            "page, ou rejoignez sans."
        ),
        "meeting.devices.busy": (
            "La caméra ou le micro est peut-être utilisé par une autre application. Fermez-la "
            "puis rechargez la page, ou rejoignez sans."
        ),
        "meeting.devices.unsupported": (
            "Ce navigateur ne donne pas accès à la caméra et au micro sur cette page (une "
            "adresse en https est nécessaire). Vous pouvez rejoindre sans."
        ),
        "meeting.joining": "Connexion à la réunion…",
        "meeting.failed": (
            "Impossible de rejoindre la réunion. Vérifiez votre connexion à internet puis "
            "réessayez ; si le problème continue, contactez l'assistance de votre ministère."
        ),
        "meeting.retry": "Réessayer",
        "meeting.state_label": "État de la connexion",
        "meeting.state.idle": "Pas encore connecté",
        "meeting.state.connecting": "Connexion…",
        "meeting.state.connected": "Connecté",
        "meeting.state.reconnecting": "Reconnexion…",
        "meeting.state.disconnected": "Déconnecté",
        "meeting.state.failed": "Échec de la connexion",
        "meeting.state.ended": "Réunion terminée",
        "meeting.toolbar_label": "Commandes de la réunion",
        "meeting.mic": "Couper le micro",
        "meeting.mic_unmute": "Activer le micro",
        "meeting.camera_on": "Activer la caméra",
        "meeting.screen_stop": "Arrêter le partage d'écran",
        "meeting.hand_lower": "Baisser la main",
        "meeting.unlock": "Déverrouiller la réunion",
        "meeting.more": "Plus d'actions",
        "meeting.layout.speaker": "Vue intervenant",
        "meeting.layout.grid": "Vue mosaïque",
        "meeting.page.prev": "Page précédente des participants",
        "meeting.page.next": "Page suivante des participants",
        "meeting.page.status": "Page {page} sur {pages}",
        "meeting.pin": "Afficher {name} en grand",
        "meeting.unpin": "Ne plus afficher {name} en grand",
        "meeting.camera": "Couper la caméra",
        "meeting.screen": "Partager l'écran",
        "meeting.hand": "Lever la main",
        "meeting.participants": "Participants",
        "meeting.chat": "Discussion",
        "meeting.leave": "Quitter",
        "meeting.end_for_all": "Terminer pour tous",
        "meeting.end_confirm": "Terminer la réunion pour tous les participants ?",
        "meeting.grid_label": "Vidéos des participants",
        "meeting.you": "{name} (vous)",
        "meeting.video_paused": "Vidéo en pause : connexion faible",
        "meeting.quality.low": "Qualité reçue : basse",
        "meeting.quality.medium": "Qualité reçue : moyenne",
        "meeting.quality.high": "Qualité reçue : haute",
        "meeting.screen_of": "Écran de {name}",
        "meeting.status.muted": "micro coupé",
        "meeting.status.camera_off": "caméra coupée",
        "meeting.status.hand": "main levée",
        "meeting.status.hand_turn": "main levée n° {turn}",
        "meeting.moderation.lower_hand": "Baisser sa main",
        "meeting.moderation.lower_hands": "Baisser toutes les mains",
        "meeting.status.reconnecting": "reconnexion…",
        "meeting.status.screen": "partage son écran",
        "meeting.status.speaking": "parle",
        "meeting.participants.heading": "Participants ({count})",
        "meeting.chat.heading": "Discussion",
        "meeting.chat.input": "Votre message",
        "meeting.chat.send": "Envoyer",
        "meeting.chat.empty": "Aucun message pour l'instant.",
        "meeting.chat.new": "Nouveau message de {name}",
        "meeting.close_panel": "Fermer le panneau",
        "meeting.notice.joined": "{name} a rejoint la réunion.",
        "meeting.notice.left": "{name} a quitté la réunion.",
        "meeting.notice.hand": "{name} lève la main.",
        "meeting.notice.error": "Action refusée par le serveur : {message}",
        "meeting.notice.reconnected": "Connexion rétablie.",
        "meeting.notice.restarting": "Le service redémarre : reconnexion…",
        "meeting.screen.failed": "Le partage d'écran n'a pas pu démarrer.",
        "meeting.camera.failed": "La caméra n'a pas pu être rallumée.",
        "meeting.end.failed": "La réunion n'a pas pu être terminée.",
        "meeting.ended.heading": "La réunion est terminée",
        "meeting.ended.text": (
            "Cette réunion a été terminée. Vous pouvez fermer cette page ou créer une "
            "nouvelle réunion depuis l'accueil."
        ),
        "meeting.partner_removed.heading": "Réunion fermée à notre ministère",
        "meeting.partner_removed.text": (
            "L'instance {instance}, qui accueille cette réunion, ne reconnaît plus la nôtre "
            "comme partenaire : la réunion vous est désormais fermée. Si c'est une erreur, "
            "prévenez ses organisateurs ou l'équipe d'exploitation de votre ministère."
        ),
        "meeting.left.heading": "Vous avez quitté la réunion",
        "meeting.left.text": "Vous pouvez la rejoindre à nouveau tant qu'elle n'est pas terminée.",
        "meeting.rejoin": "Rejoindre à nouveau",
        "meeting.state.waiting": "En salle d'attente",
        "meeting.state.denied": "Accès refusé",
        "meeting.waiting.heading": "Salle d'attente",
        "meeting.waiting.who": "Réunion « {title} » : vous attendez sous le nom « {name} ».",
        "meeting.waiting.status": "En attente de l'accord d'un organisateur…",
        "meeting.waiting.hint": (
            "Vous entrerez dans la réunion dès qu'un organisateur vous aura admis. Gardez "
            "cette page ouverte."
        ),
        "meeting.waiting.admitted": "Un organisateur vous a admis. Entrée dans la réunion…",
        "meeting.waiting.reconnecting": "Connexion perdue, reconnexion à la salle d'attente…",
        "meeting.waiting.disconnected": "La connexion à la salle d'attente est perdue.",
        "meeting.denied.heading": "Accès refusé",
        "meeting.denied.text": (
            "Un organisateur n'a pas accepté votre demande d'accès à cette réunion."
        ),
        "meeting.denied.reason": "Motif donné par l'organisateur : « {reason} »",
        "meeting.removed.heading": "Vous avez été retiré de la réunion",
        "meeting.removed.text": "Un organisateur vous a retiré de la réunion.",
        "meeting.rate_limited": "Trop de tentatives, réessayez dans {seconds} s.",
        "meeting.widget.checking": "Vérification de votre identité Matrix…",
        "meeting.widget.verified": (
            "Identité vérifiée par votre serveur Matrix : vous rejoindrez la réunion en tant "
            "que {name} ({id})."
        ),
        "meeting.widget.blocked": (
            "Votre client Matrix n'a pas confirmé votre identité. Pour rejoindre la réunion, "
            "autorisez ce widget à vérifier votre identité quand Tchap vous le demande, puis "
            "réessayez."
        ),
        "meeting.widget.failed": (
            "Votre identité Matrix n'a pas pu être vérifiée. Réessayez ; si le problème "
            "continue, contactez l'assistance de votre ministère."
        ),
        "meeting.widget.partner": (
            "Votre compte Tchap relève de l'instance {instance} : rejoignez cette réunion par "
            "elle, vous y serez reconnu et vos images passeront par ses serveurs."
        ),
        "meeting.widget.partner_link": "Rejoindre par l'instance {instance} (nouvel onglet)",
        "meeting.lobby.button": "Salle d'attente",
        "meeting.lobby.heading": "Salle d'attente ({count})",
        "meeting.lobby.empty": "Personne n'attend.",
        "meeting.lobby.knock": "{name} demande à entrer dans la réunion.",
        "meeting.lobby.admit": "Admettre",
        "meeting.lobby.deny": "Refuser",
        "meeting.lobby.admit_all": "Tout admettre",
        "meeting.lobby.entry": "{name}, {kind}",
        "meeting.lobby.kind.guest": "invité",
        "meeting.lobby.kind.local": "agent connecté",
        "meeting.lobby.kind.matrix": "Matrix",
        "meeting.lobby.kind.partner": "partenaire",
        "meeting.lobby.message": "Son message : « {message} »",
        "meeting.lobby.reason_label": "Motif si vous refusez (facultatif, la personne le lit)",
        "meeting.role.owner": "organisateur",
        "meeting.role.moderator": "modérateur",
        "meeting.moderation.actions": "Actions",
        "meeting.moderation.actions_for": "Actions pour {name}",
        "meeting.moderation.mute_audio": "Couper le micro",
        "meeting.moderation.mute_video": "Couper la caméra",
        "meeting.moderation.remove": "Retirer",
        "meeting.moderation.remove_confirm": "Retirer {name} de la réunion ?",
        "meeting.moderation.make_moderator": "Nommer modérateur",
        "meeting.moderation.revoke_moderator": "Retirer le rôle de modérateur",
        "meeting.moderation.not_sent": "Action impossible : la connexion est interrompue.",
        "meeting.lock": "Verrouiller la réunion",
        "meeting.locked": "Réunion verrouillée",
        "meeting.notice.locked": (
            "La réunion est verrouillée : les nouveaux arrivants attendent en salle d'attente."
        ),
        "meeting.notice.unlocked": "La réunion est déverrouillée.",
        "meeting.notice.muted_audio": "{name} a coupé votre micro.",
        "meeting.notice.muted_video": "{name} a coupé votre caméra.",
        "meeting.partners.heading": "Agent d'un autre ministère ?",
        "meeting.partners.intro": (
            "Rejoignez cette réunion par l'instance de votre ministère : vous y êtes connu, et "
            "vos images passent par ses serveurs."
        ),
        "meeting.notice.cascade_lost": (
            "Liaison avec l'instance {instance} interrompue : ses participants ne sont plus "
            "visibles. Reconnexion en cours…"
        ),
        "meeting.notice.cascade_restored": "Liaison avec l'instance {instance} rétablie.",
        "meeting.notice.cascade_restarting": (
            "L'instance {instance} redémarre : ses participants reviennent dans un instant…"
        ),
        "meeting.notice.now_moderator": "Vous êtes maintenant modérateur de la réunion.",
        "meeting.notice.no_longer_moderator": "Vous n'êtes plus modérateur de la réunion.",
        "meeting.noscript": (
            "Les réunions ont besoin de JavaScript pour la caméra et le micro. Activez "
            "JavaScript dans votre navigateur puis rechargez la page."
        ),
        # --- the Matrix bot (bridge/texts.py lays these out) ---
        "bot.kind.agent": "agent",
        "bot.kind.guest": "invité",
        "bot.kind.matrix": "Matrix",
        "bot.kind.partner": "partenaire",
        "bot.status.on": "Réunion « {title} » en cours",
        "bot.status.locked": "Réunion « {title} » en cours — verrouillée",
        "bot.status.link": "Lien : {url}",
        "bot.status.present": "Présents ({count}) : {names}",
        "bot.status.waiting": (
            "En attente ({count}) — « {prefix} admit N », « {prefix} refuse N » :"
        ),
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
    },
    "en": {
        "site.name": "Visio",
        "site.tagline": "Sovereign meetings for the State, linked to Tchap.",
        "nav.skip": "Skip to content",
        "lang.switch": "Français",
        "lang.switch_label": "Lire cette page en français",
        "error.back": "Back to the home page",
        "error.reference": "Error reference",
        "home.status": "The service is running.",
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
        "federation.refused.unreachable": (
            "The {partner} instance, which hosts this meeting, is not answering properly. Try "
            "again in a few minutes."
        ),
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
        "meeting.code_label": "Meeting code",
        "meeting.copy_link": "Copy the link",
        "meeting.link_copied": "Meeting link copied.",
        "meeting.link_copy_failed": "Could not copy; the link is: {url}",
        "meeting.prejoin.heading": "Ready to join?",
        "meeting.prejoin.settings": "Your settings",
        "meeting.name_label": "Your name",
        "meeting.name_hint": "Other participants see it.",
        "meeting.name_required": "Enter your name to join.",
        "meeting.knock_label": "Message for the organisers (optional)",
        "meeting.knock_hint": (
            "They read it if you must wait to be let in: who you are, why you come. 200 "
            "characters at most, plain text."
        ),
        "meeting.note.markup": "Write plain text, without HTML tags (<…>).",
        "meeting.note.control": "This text contains invisible control characters: type it again.",
        "meeting.note.too_long": "200 characters at most.",
        "meeting.preview_label": "Your camera preview",
        "meeting.preview_off": "Camera off",
        "meeting.camera_select": "Camera",
        "meeting.microphone_select": "Microphone",
        "meeting.device_unnamed": "Device {n}",
        "meeting.device_none": "No device",
        "meeting.level": "Microphone level",
        "meeting.reaction.button": "React",
        "meeting.reaction.send": "React: {emoji}",
        "meeting.reaction.from": "{name} reacts: {emoji}",
        "meeting.settings": "Settings",
        "meeting.settings.heading": "Audio and video settings",
        "meeting.speaker_select": "Speaker",
        "meeting.speaker.unsupported": "This browser cannot choose the speaker.",
        "meeting.start_muted": "Join with microphone off",
        "meeting.start_camera_off": "Join with camera off",
        "meeting.join": "Join the meeting",
        "meeting.devices.asking": (
            "Allow access to your camera and microphone in your browser's prompt."
        ),
        "meeting.devices.ready": "Camera and microphone ready.",
        "meeting.devices.denied": (
            "Access to the camera and microphone is blocked. To allow it, click the icon left "
            "of the page address, allow the camera and microphone, then reload the page. You "
            "can also join without camera or microphone."
        ),
        "meeting.devices.none": (
            "No camera or microphone was found. Plug one in and reload the page, or join without."
        ),
        "meeting.devices.busy": (
            "The camera or microphone may be in use by another application. Close it and "
            "reload the page, or join without."
        ),
        "meeting.devices.unsupported": (
            "This browser gives no access to camera and microphone on this page (an https "
            "address is needed). You can join without."
        ),
        "meeting.joining": "Joining the meeting…",
        "meeting.failed": (
            "Could not join the meeting. Check your internet connection and try again; if the "
            "problem goes on, contact your ministry's support."
        ),
        "meeting.retry": "Try again",
        "meeting.state_label": "Connection state",
        "meeting.state.idle": "Not connected yet",
        "meeting.state.connecting": "Connecting…",
        "meeting.state.connected": "Connected",
        "meeting.state.reconnecting": "Reconnecting…",
        "meeting.state.disconnected": "Disconnected",
        "meeting.state.failed": "Connection failed",
        "meeting.state.ended": "Meeting ended",
        "meeting.toolbar_label": "Meeting controls",
        "meeting.mic": "Mute microphone",
        "meeting.mic_unmute": "Unmute microphone",
        "meeting.camera_on": "Turn camera on",
        "meeting.screen_stop": "Stop sharing the screen",
        "meeting.hand_lower": "Lower hand",
        "meeting.unlock": "Unlock the meeting",
        "meeting.more": "More actions",
        "meeting.layout.speaker": "Speaker view",
        "meeting.layout.grid": "Grid view",
        "meeting.page.prev": "Previous page of participants",
        "meeting.page.next": "Next page of participants",
        "meeting.page.status": "Page {page} of {pages}",
        "meeting.pin": "Show {name} large",
        "meeting.unpin": "Stop showing {name} large",
        "meeting.camera": "Turn camera off",
        "meeting.screen": "Share screen",
        "meeting.hand": "Raise hand",
        "meeting.participants": "Participants",
        "meeting.chat": "Chat",
        "meeting.leave": "Leave",
        "meeting.end_for_all": "End for everyone",
        "meeting.end_confirm": "End the meeting for every participant?",
        "meeting.grid_label": "Participants' videos",
        "meeting.you": "{name} (you)",
        "meeting.video_paused": "Video paused: poor connection",
        "meeting.quality.low": "Received quality: low",
        "meeting.quality.medium": "Received quality: medium",
        "meeting.quality.high": "Received quality: high",
        "meeting.screen_of": "{name}'s screen",
        "meeting.status.muted": "microphone off",
        "meeting.status.camera_off": "camera off",
        "meeting.status.hand": "hand raised",
        "meeting.status.hand_turn": "hand raised, #{turn}",
        "meeting.moderation.lower_hand": "Lower their hand",
        "meeting.moderation.lower_hands": "Lower all hands",
        "meeting.status.reconnecting": "reconnecting…",
        "meeting.status.screen": "sharing screen",
        "meeting.status.speaking": "speaking",
        "meeting.participants.heading": "Participants ({count})",
        "meeting.chat.heading": "Chat",
        "meeting.chat.input": "Your message",
        "meeting.chat.send": "Send",
        "meeting.chat.empty": "No messages yet.",
        "meeting.chat.new": "New message from {name}",
        "meeting.close_panel": "Close the panel",
        "meeting.notice.joined": "{name} joined the meeting.",
        "meeting.notice.left": "{name} left the meeting.",
        "meeting.notice.hand": "{name} raises a hand.",
        "meeting.notice.error": "The server refused an action: {message}",
        "meeting.notice.reconnected": "Connection restored.",
        "meeting.notice.restarting": "The service is restarting: reconnecting…",
        "meeting.screen.failed": "Screen sharing could not start.",
        "meeting.camera.failed": "The camera could not be turned back on.",
        "meeting.end.failed": "The meeting could not be ended.",
        "meeting.ended.heading": "The meeting has ended",
        "meeting.ended.text": (
            "This meeting has ended. You can close this page or create a new meeting from the "
            "home page."
        ),
        "meeting.partner_removed.heading": "Meeting closed to our ministry",
        "meeting.partner_removed.text": (
            "The {instance} instance, which hosts this meeting, no longer accepts ours as a "
            "partner: the meeting is now closed to you. If this is a mistake, tell its "
            "organisers or your ministry's operations team."
        ),
        "meeting.left.heading": "You left the meeting",
        "meeting.left.text": "You can join again as long as it has not ended.",
        "meeting.rejoin": "Join again",
        "meeting.state.waiting": "In the waiting room",
        "meeting.state.denied": "Access refused",
        "meeting.waiting.heading": "Waiting room",
        "meeting.waiting.who": "Meeting “{title}”: you are waiting as “{name}”.",
        "meeting.waiting.status": "Waiting for an organiser to let you in…",
        "meeting.waiting.hint": (
            "You will enter the meeting as soon as an organiser lets you in. Keep this page open."
        ),
        "meeting.waiting.admitted": "An organiser let you in. Entering the meeting…",
        "meeting.waiting.reconnecting": "Connection lost, reconnecting to the waiting room…",
        "meeting.waiting.disconnected": "The connection to the waiting room is lost.",
        "meeting.denied.heading": "Access refused",
        "meeting.denied.text": "An organiser did not accept your request to join this meeting.",
        "meeting.denied.reason": "Reason given by the organiser: “{reason}”",
        "meeting.removed.heading": "You were removed from the meeting",
        "meeting.removed.text": "An organiser removed you from the meeting.",
        "meeting.rate_limited": "Too many attempts, try again in {seconds} s.",
        "meeting.widget.checking": "Checking your Matrix identity…",
        "meeting.widget.verified": (
            "Identity verified by your Matrix server: you will join the meeting as {name} ({id})."
        ),
        "meeting.widget.blocked": (
            "Your Matrix client did not confirm your identity. To join the meeting, allow this "
            "widget to verify your identity when Tchap asks you, then try again."
        ),
        "meeting.widget.failed": (
            "Your Matrix identity could not be verified. Try again; if the problem persists, "
            "contact your ministry's support."
        ),
        "meeting.widget.partner": (
            "Your Tchap account belongs to the {instance} instance: join this meeting through it, "
            "where you are known and your video goes through its servers."
        ),
        "meeting.widget.partner_link": "Join through the {instance} instance (new tab)",
        "meeting.lobby.button": "Waiting room",
        "meeting.lobby.heading": "Waiting room ({count})",
        "meeting.lobby.empty": "Nobody is waiting.",
        "meeting.lobby.knock": "{name} asks to join the meeting.",
        "meeting.lobby.admit": "Let in",
        "meeting.lobby.deny": "Refuse",
        "meeting.lobby.admit_all": "Let everyone in",
        "meeting.lobby.entry": "{name}, {kind}",
        "meeting.lobby.kind.guest": "guest",
        "meeting.lobby.kind.local": "signed-in agent",
        "meeting.lobby.kind.matrix": "Matrix",
        "meeting.lobby.kind.partner": "partner",
        "meeting.lobby.message": "Their message: “{message}”",
        "meeting.lobby.reason_label": "Reason if you refuse (optional, the person reads it)",
        "meeting.role.owner": "organiser",
        "meeting.role.moderator": "moderator",
        "meeting.moderation.actions": "Actions",
        "meeting.moderation.actions_for": "Actions for {name}",
        "meeting.moderation.mute_audio": "Mute microphone",
        "meeting.moderation.mute_video": "Turn camera off",
        "meeting.moderation.remove": "Remove",
        "meeting.moderation.remove_confirm": "Remove {name} from the meeting?",
        "meeting.moderation.make_moderator": "Make moderator",
        "meeting.moderation.revoke_moderator": "Remove moderator role",
        "meeting.moderation.not_sent": "Not possible: the connection is interrupted.",
        "meeting.lock": "Lock the meeting",
        "meeting.locked": "Meeting locked",
        "meeting.notice.locked": "The meeting is locked: newcomers wait in the waiting room.",
        "meeting.notice.unlocked": "The meeting is unlocked.",
        "meeting.notice.muted_audio": "{name} muted your microphone.",
        "meeting.notice.muted_video": "{name} turned your camera off.",
        "meeting.partners.heading": "From another ministry?",
        "meeting.partners.intro": (
            "Join this meeting through your own ministry's instance: you are known there, and "
            "your video goes through its servers."
        ),
        "meeting.notice.cascade_lost": (
            "Connection to the {instance} instance lost: its participants are out of view. "
            "Reconnecting…"
        ),
        "meeting.notice.cascade_restored": "Connection to the {instance} instance restored.",
        "meeting.notice.cascade_restarting": (
            "The {instance} instance is restarting: its participants will be back in a moment…"
        ),
        "meeting.notice.now_moderator": "You are now a moderator of the meeting.",
        "meeting.notice.no_longer_moderator": "You are no longer a moderator of the meeting.",
        "meeting.noscript": (
            "Meetings need JavaScript for the camera and microphone. Turn JavaScript on in your "
            "browser, then reload the page."
        ),
        # --- the Matrix bot (bridge/texts.py lays these out) ---
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
            "Meeting scheduled for {when} (Paris time): the link will be posted here when it "
            "starts."
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
    },
}


def _from_accept_language(header: str) -> str | None:
    ranked: list[tuple[float, str]] = []
    for item in header.split(","):
        parts = item.strip().split(";")
        tag = parts[0].strip().lower().split("-")[0]
        quality = 1.0
        for param in parts[1:]:
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag in LANGUAGES and quality > 0:
            ranked.append((quality, tag))
    if not ranked:
        return None
    ranked.sort(key=lambda pair: -pair[0])  # stable: equal weights keep the header's order
    return ranked[0][1]


def negotiate(request: web.Request) -> str:
    # ?lang= may carry a region: a Matrix client fills the widget URL's language with "en-GB".
    asked = request.query.get("lang", "").lower().replace("_", "-").split("-")[0]
    for candidate in (asked, request.cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return _from_accept_language(request.headers.get("Accept-Language", "")) or DEFAULT_LANGUAGE


def translate(lang: str, key: str) -> str:
    """The string for `key` in `lang`, falling back to French, then to the key itself."""
    return CATALOG.get(lang, {}).get(key) or CATALOG[DEFAULT_LANGUAGE].get(key, key)


@dataclass(frozen=True)
class Text:
    """Something to tell a person, said in their language when it is shown: a catalog key and
    the values of its {placeholders} (an error carries one; the page that shows it picks
    the language)."""

    key: str
    values: Mapping[str, str] = field(default_factory=dict)


def say(lang: str, text: Text) -> str:
    """`text` in `lang`, its placeholders filled (values are not themselves formatted)."""
    return translate(lang, text.key).format_map(text.values)


def in_both(text: Text) -> str:
    """French, then English: for answers no reader's language is known for (JSON, logs)."""
    return f"{say('fr', text)} / {say('en', text)}"
