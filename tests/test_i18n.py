"""The one catalog: every sentence in both languages, with the same placeholders."""

from __future__ import annotations

from hub.i18n import CATALOG, LANGUAGES, Text, in_both, placeholders, say, translate


def test_every_key_is_in_every_language():
    for lang in LANGUAGES:
        assert CATALOG[lang].keys() == CATALOG["fr"].keys(), lang
        assert all(text.strip() for text in CATALOG[lang].values()), lang


def test_both_languages_fill_the_same_placeholders():
    differ = [key for key in CATALOG["fr"] if placeholders(key, "fr") != placeholders(key, "en")]
    assert differ == []


def test_lookup_falls_back_to_french_then_to_the_key():
    assert translate("de", "bot.locked") == translate("fr", "bot.locked")
    assert translate("en", "no.such.key") == "no.such.key"


def test_values_are_filled_once_and_not_formatted_themselves():
    text = Text("bot.muted", {"name": "{oops}"})
    assert say("en", text) == "{oops}'s microphone is muted."
    assert in_both(text) == f"{say('fr', text)} / {say('en', text)}"
