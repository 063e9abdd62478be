"""Language choice and interface strings: French first, English available.

The choice comes from `?lang=`, then the `hub_lang` cookie (set by the visible switch), then
Accept-Language, and falls back to French.
"""

from __future__ import annotations

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
        "meeting.code_label": "Code de la réunion",
        "meeting.copy_link": "Copier le lien",
        "meeting.link_copied": "Lien de la réunion copié.",
        "meeting.link_copy_failed": "Copie impossible ; le lien est : {url}",
        "meeting.prejoin.heading": "Prêt à rejoindre ?",
        "meeting.prejoin.settings": "Vos réglages",
        "meeting.name_label": "Votre nom",
        "meeting.name_hint": "Les autres participants le voient.",
        "meeting.name_required": "Indiquez votre nom pour rejoindre.",
        "meeting.preview_label": "Aperçu de votre caméra",
        "meeting.preview_off": "Caméra coupée",
        "meeting.camera_select": "Caméra",
        "meeting.microphone_select": "Micro",
        "meeting.device_unnamed": "Appareil {n}",
        "meeting.device_none": "Aucun appareil",
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
        "meeting.screen_of": "Écran de {name}",
        "meeting.status.muted": "micro coupé",
        "meeting.status.camera_off": "caméra coupée",
        "meeting.status.hand": "main levée",
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
        "meeting.screen.failed": "Le partage d'écran n'a pas pu démarrer.",
        "meeting.camera.failed": "La caméra n'a pas pu être rallumée.",
        "meeting.end.failed": "La réunion n'a pas pu être terminée.",
        "meeting.ended.heading": "La réunion est terminée",
        "meeting.ended.text": (
            "Cette réunion a été terminée. Vous pouvez fermer cette page ou créer une "
            "nouvelle réunion depuis l'accueil."
        ),
        "meeting.left.heading": "Vous avez quitté la réunion",
        "meeting.left.text": "Vous pouvez la rejoindre à nouveau tant qu'elle n'est pas terminée.",
        "meeting.rejoin": "Rejoindre à nouveau",
        "meeting.noscript": (
            "Les réunions ont besoin de JavaScript pour la caméra et le micro. Activez "
            "JavaScript dans votre navigateur puis rechargez la page."
        ),
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
        "meeting.code_label": "Meeting code",
        "meeting.copy_link": "Copy the link",
        "meeting.link_copied": "Meeting link copied.",
        "meeting.link_copy_failed": "Could not copy; the link is: {url}",
        "meeting.prejoin.heading": "Ready to join?",
        "meeting.prejoin.settings": "Your settings",
        "meeting.name_label": "Your name",
        "meeting.name_hint": "Other participants see it.",
        "meeting.name_required": "Enter your name to join.",
        "meeting.preview_label": "Your camera preview",
        "meeting.preview_off": "Camera off",
        "meeting.camera_select": "Camera",
        "meeting.microphone_select": "Microphone",
        "meeting.device_unnamed": "Device {n}",
        "meeting.device_none": "No device",
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
        "meeting.screen_of": "{name}'s screen",
        "meeting.status.muted": "microphone off",
        "meeting.status.camera_off": "camera off",
        "meeting.status.hand": "hand raised",
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
        "meeting.screen.failed": "Screen sharing could not start.",
        "meeting.camera.failed": "The camera could not be turned back on.",
        "meeting.end.failed": "The meeting could not be ended.",
        "meeting.ended.heading": "The meeting has ended",
        "meeting.ended.text": (
            "This meeting has ended. You can close this page or create a new meeting from the "
            "home page."
        ),
        "meeting.left.heading": "You left the meeting",
        "meeting.left.text": "You can join again as long as it has not ended.",
        "meeting.rejoin": "Join again",
        "meeting.noscript": (
            "Meetings need JavaScript for the camera and microphone. Turn JavaScript on in your "
            "browser, then reload the page."
        ),
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
    for candidate in (request.query.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return _from_accept_language(request.headers.get("Accept-Language", "")) or DEFAULT_LANGUAGE


def translate(lang: str, key: str) -> str:
    """The string for `key` in `lang`, falling back to French, then to the key itself."""
    return CATALOG.get(lang, {}).get(key) or CATALOG[DEFAULT_LANGUAGE].get(key, key)
