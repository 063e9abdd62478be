"""The meeting page and its script (pages.py hands every `meeting.*` key to meeting.js):
French, then English."""

from __future__ import annotations

from typing import Final

FRENCH: Final[dict[str, str]] = {
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
    "meeting.waiting.note_send": "Envoyer le message",
    "meeting.waiting.note_sent": "Message transmis aux organisateurs.",
    "meeting.waiting.note_cleared": "Message retiré.",
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
    "meeting.subtitles.start": "Activer les sous-titres",
    "meeting.subtitles.stop": "Arrêter les sous-titres",
    "meeting.subtitles.on": "Sous-titres et transcription en cours",
    "meeting.subtitles.unavailable": "Sous-titres indisponibles",
    "meeting.subtitles.show": "Afficher les sous-titres",
    "meeting.subtitles.hide": "Masquer les sous-titres",
    "meeting.subtitles.region": "Sous-titres en direct",
    "meeting.subtitles.line": "{name} : {text}",
    "meeting.notice.subtitles_on": (
        "{name} a activé les sous-titres : ce qui est dit est transcrit en direct et conservé "
        "dans la transcription de la réunion."
    ),
    "meeting.notice.subtitles_off": "{name} a arrêté les sous-titres.",
    "meeting.notice.subtitles_unavailable": (
        "Sous-titres indisponibles pour le moment ; la réunion continue."
    ),
    "meeting.notice.subtitles_back": "Les sous-titres sont de retour.",
    "meeting.recording.start": "Démarrer l'enregistrement",
    "meeting.recording.stop": "Arrêter l'enregistrement",
    "meeting.recording.on": "Enregistrement en cours",
    "meeting.notice.recording_on": (
        "{name} a démarré l'enregistrement : l'image et le son de chacun sont enregistrés."
    ),
    "meeting.notice.recording_off": "{name} a arrêté l'enregistrement.",
    "meeting.notice.recording_failed": (
        "L'enregistrement n'a pas pu être stocké : ses fichiers restent sur le hub, "
        "l'exploitant peut les récupérer."
    ),
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
}

ENGLISH: Final[dict[str, str]] = {
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
    "meeting.waiting.note_send": "Send the message",
    "meeting.waiting.note_sent": "Message passed on to the organisers.",
    "meeting.waiting.note_cleared": "Message removed.",
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
    "meeting.subtitles.start": "Start subtitles",
    "meeting.subtitles.stop": "Stop subtitles",
    "meeting.subtitles.on": "Subtitles on, transcript being kept",
    "meeting.subtitles.unavailable": "Subtitles unavailable",
    "meeting.subtitles.show": "Show subtitles",
    "meeting.subtitles.hide": "Hide subtitles",
    "meeting.subtitles.region": "Live subtitles",
    "meeting.subtitles.line": "{name}: {text}",
    "meeting.notice.subtitles_on": (
        "{name} started subtitles: what is said is transcribed live and kept in the meeting's "
        "transcript."
    ),
    "meeting.notice.subtitles_off": "{name} stopped subtitles.",
    "meeting.notice.subtitles_unavailable": (
        "Subtitles are unavailable for now; the meeting goes on."
    ),
    "meeting.notice.subtitles_back": "Subtitles are back.",
    "meeting.recording.start": "Start recording",
    "meeting.recording.stop": "Stop recording",
    "meeting.recording.on": "Recording",
    "meeting.notice.recording_on": "{name} started recording: everyone's video and sound are kept.",
    "meeting.notice.recording_off": "{name} stopped recording.",
    "meeting.notice.recording_failed": (
        "The recording could not be stored: its files stay on the hub, where the operator "
        "can recover them."
    ),
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
}
