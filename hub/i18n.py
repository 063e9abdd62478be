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
