"""The one translation mechanism of the hub, its pages and the Matrix bot: French first,
English available.

The sentences live by area (site.py, meeting.py, errors.py, bot.py, kept.py: each a French and an
English dictionary); this module joins them into one catalog and looks them up. A page's
language comes from `?lang=`, then the `hub_lang` cookie (set by the visible switch), then
Accept-Language, and falls back to French; a Matrix room's is kept by the hub.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from string import Formatter
from typing import Final

from aiohttp import web

from hub.i18n import bot, errors, kept, meeting, site

LANGUAGES: Final = ("fr", "en")
DEFAULT_LANGUAGE: Final = "fr"
LANG_COOKIE: Final = "hub_lang"

_AREAS: Final = (site, meeting, errors, bot, kept)
CATALOG: Final[dict[str, dict[str, str]]] = {
    "fr": {key: text for area in _AREAS for key, text in area.FRENCH.items()},
    "en": {key: text for area in _AREAS for key, text in area.ENGLISH.items()},
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


def known_language(tag: str | None) -> str | None:
    """One of `LANGUAGES` for a language tag, whatever its region ("en-GB", "fr_FR"), or None."""
    primary = (tag or "").lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else None


def negotiate(request: web.Request) -> str:
    # ?lang= may carry a region: a Matrix client fills the widget URL's language with "en-GB".
    for candidate in (request.query.get("lang"), request.cookies.get(LANG_COOKIE)):
        if known := known_language(candidate):
            return known
    return _from_accept_language(request.headers.get("Accept-Language", "")) or DEFAULT_LANGUAGE


def translate(lang: str, key: str) -> str:
    """The string for `key` in `lang`, falling back to French, then to the key itself."""
    return CATALOG.get(lang, {}).get(key) or CATALOG[DEFAULT_LANGUAGE].get(key, key)


@dataclass(frozen=True)
class Text:
    """Something to tell a person, said in their language when it is shown: a catalog key and
    the values of its {placeholders} (an error carries one; the page or the room that shows it
    picks the language). A value that is itself a `Text` is said in the same language."""

    key: str
    values: Mapping[str, str | Text] = field(default_factory=dict)


def say(lang: str, text: Text) -> str:
    """`text` in `lang`, its placeholders filled (values are not themselves formatted)."""
    values = {
        name: say(lang, value) if isinstance(value, Text) else value
        for name, value in text.values.items()
    }
    return translate(lang, text.key).format_map(values)


def in_both(text: Text) -> str:
    """French, then English: a bot refusal's log line and wire form (bridge/), beside its key."""
    return f"{say('fr', text)} / {say('en', text)}"


def placeholders(key: str, lang: str = DEFAULT_LANGUAGE) -> frozenset[str]:
    """The names of the {placeholders} of `key`'s sentence in `lang`."""
    return frozenset(name for _, name, _, _ in Formatter().parse(translate(lang, key)) if name)
