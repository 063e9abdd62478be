"""The page of what a meeting kept (transcript, summary, recordings) and the links to it:
French, then English."""

from __future__ import annotations

from typing import Final

# French typography: a no-break space (U+00A0) before ":" and ";" and inside « », so a line
# never starts with them.
FRENCH: Final[dict[str, str]] = {
    "kept.title": "Enregistrements et transcriptions",
    "kept.link": "Enregistrements et transcriptions",
    "kept.new_tab": "(s'ouvre dans un nouvel onglet)",
    "kept.link_of": "Enregistrements et transcriptions de « {title} »",
    "home.kept.hint": "Des réunions terminées, ou que vous avez modérées.",
    "kept.back": "Retour à la réunion « {title} »",
    "kept.private": (
        "Seuls l'organisateur et les modérateurs de la réunion voient cette page. Les fichiers "
        "ne se téléchargent qu'ici, avec votre session : aucun lien public n'existe."
    ),
    "kept.deleted_on": "Supprimé le",
    "kept.transcript.heading": "Transcription",
    "kept.transcript.lines": "Nombre de lignes",
    "kept.transcript.speakers": "Personnes qui ont parlé",
    "kept.transcript.retention": "({days} jours après la dernière ligne)",
    "kept.transcript.vtt": "Télécharger la transcription (WebVTT)",
    "kept.transcript.markdown": "Télécharger la transcription (Markdown)",
    "kept.transcript.none": (
        "Aucune transcription n'est conservée pour cette réunion : les sous-titres n'ont pas "
        "été activés, ou elle a été supprimée à son expiration."
    ),
    "kept.summary.heading": "Résumé",
    "kept.summary.automatic": "Rédigé automatiquement à partir de la transcription : à relire.",
    "kept.summary.download": "Télécharger le résumé (Markdown)",
    "kept.recordings.heading": "Enregistrements",
    "kept.recordings.none": (
        "Aucun enregistrement n'est conservé pour cette réunion : elle n'a pas été "
        "enregistrée, ou ses enregistrements ont été supprimés à leur expiration."
    ),
    "kept.recordings.unavailable": (
        "Les enregistrements ne peuvent pas être lus pour le moment (leur stockage ne répond "
        "pas). Réessayez dans quelques minutes ; l'exploitant du service en est informé."
    ),
    "kept.recordings.disabled": "L'enregistrement des réunions n'est pas activé sur ce service.",
    "kept.recordings.delay": (
        "Un enregistrement qui vient de s'arrêter apparaît ici après quelques secondes : "
        "rechargez la page."
    ),
    "kept.recording.heading": "Enregistrement du",
    "kept.recording.duration": "Durée",
    "kept.recording.size": "Taille",
    "kept.recording.by": "Démarré par",
    "kept.recording.retention": "({days} jours après la fin de l'enregistrement)",
    "kept.recording.composed": "Télécharger la vidéo assemblée (WebM)",
    "kept.recording.not_composed": (
        "Chaque piste est un fichier séparé ; l'exploitant du service peut en assembler "
        "une seule vidéo."
    ),
    "kept.recording.no_tracks": "Aucune piste lisible n'a été écrite pendant cet enregistrement.",
    "kept.tracks.caption": "Pistes enregistrées",
    "kept.tracks.person": "Personne",
    "kept.tracks.source": "Piste",
    "kept.tracks.file": "Fichier",
    "kept.tracks.download": "Télécharger",
    "kept.tracks.missing": "Fichier absent",
    "kept.source.microphone": "Micro",
    "kept.source.camera": "Caméra",
    "kept.source.screen": "Partage d'écran",
    "kept.source.screen_audio": "Son du partage d'écran",
}

ENGLISH: Final[dict[str, str]] = {
    "kept.title": "Recordings and transcripts",
    "kept.link": "Recordings and transcripts",
    "kept.new_tab": "(opens in a new tab)",
    "kept.link_of": "Recordings and transcripts of “{title}”",
    "home.kept.hint": "Meetings that ended, or that you moderated.",
    "kept.back": "Back to the meeting “{title}”",
    "kept.private": (
        "Only the meeting's owner and moderators see this page. The files are downloaded only "
        "here, with your session: there is no public link."
    ),
    "kept.deleted_on": "Deleted on",
    "kept.transcript.heading": "Transcript",
    "kept.transcript.lines": "Lines",
    "kept.transcript.speakers": "People who spoke",
    "kept.transcript.retention": "({days} days after the last line)",
    "kept.transcript.vtt": "Download the transcript (WebVTT)",
    "kept.transcript.markdown": "Download the transcript (Markdown)",
    "kept.transcript.none": (
        "No transcript is kept for this meeting: subtitles were never on, or it was deleted "
        "when it expired."
    ),
    "kept.summary.heading": "Summary",
    "kept.summary.automatic": "Written automatically from the transcript: check it.",
    "kept.summary.download": "Download the summary (Markdown)",
    "kept.recordings.heading": "Recordings",
    "kept.recordings.none": (
        "No recording is kept for this meeting: it was not recorded, or its recordings were "
        "deleted when they expired."
    ),
    "kept.recordings.unavailable": (
        "The recordings cannot be read just now (their storage is not answering). Try again "
        "in a few minutes; the service's operator is told."
    ),
    "kept.recordings.disabled": "Recording meetings is not enabled on this service.",
    "kept.recordings.delay": (
        "A recording that has just stopped shows here after a few seconds: reload the page."
    ),
    "kept.recording.heading": "Recording of",
    "kept.recording.duration": "Duration",
    "kept.recording.size": "Size",
    "kept.recording.by": "Started by",
    "kept.recording.retention": "({days} days after the recording ended)",
    "kept.recording.composed": "Download the composed video (WebM)",
    "kept.recording.not_composed": (
        "Each track is a separate file; the service's operator can compose them into one video."
    ),
    "kept.recording.no_tracks": "No playable track was written during this recording.",
    "kept.tracks.caption": "Recorded tracks",
    "kept.tracks.person": "Person",
    "kept.tracks.source": "Track",
    "kept.tracks.file": "File",
    "kept.tracks.download": "Download",
    "kept.tracks.missing": "File missing",
    "kept.source.microphone": "Microphone",
    "kept.source.camera": "Camera",
    "kept.source.screen": "Screen share",
    "kept.source.screen_audio": "Screen share's sound",
}
