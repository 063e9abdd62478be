"""Bot command parsing and help: every body parses, is ignored, or gives a precise usage error."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.commands import (
    DEFAULT_PREFIX,
    MAX_TEXT,
    PARIS,
    Argument,
    CommandCall,
    CommandContext,
    CommandRegistry,
    CommandSpec,
    UsageError,
    VisioCommands,
    command,
    parse_when,
)
from hub.i18n import CATALOG, say


class Recorder(VisioCommands):
    """Handlers that only record what they were called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[CommandContext, CommandCall]] = []

    async def _record(self, context: CommandContext, call: CommandCall) -> None:
        self.calls.append((context, call))

    start = end = status = link = invite = lock = unlock = _record
    admit = refuse = mute = language = schedule = help = transcribe = record = _record


REGISTRY = CommandRegistry.of(Recorder())
NAMES = [
    "start",
    "end",
    "status",
    "link",
    "invite",
    "lock",
    "unlock",
    "admit",
    "refuse",
    "mute",
    "language",
    "transcribe",
    "record",
    "schedule",
    "help",
]


def parse(body: str, now: dt.datetime | None = None) -> CommandCall:
    call = REGISTRY.parse(body, now)
    assert call is not None
    return call


def usage_error(body: str, now: dt.datetime | None = None) -> UsageError:
    with pytest.raises(UsageError) as caught:
        REGISTRY.parse(body, now)
    return caught.value


def test_every_command_is_declared_and_bound_to_the_implementation():
    assert sorted(spec.name for spec in REGISTRY.specs) == sorted(NAMES)
    recorder = Recorder()
    registry = CommandRegistry.of(recorder)
    spec = registry.find("status")
    assert spec is not None
    assert registry.handlers[spec].__self__ is recorder  # type: ignore[attr-defined]


async def test_bound_handler_receives_the_call():
    recorder = Recorder()
    registry = CommandRegistry.of(recorder)
    call = registry.parse("!visio start Point hebdo")
    assert call is not None
    context = CommandContext("!room:localhost", "@alice:localhost", "$event", 50)
    await registry.handlers[call.spec](context, call)
    assert recorder.calls == [(context, call)]


def test_abstract_handlers_must_be_implemented():
    class Incomplete(VisioCommands):
        pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]


@pytest.mark.parametrize(
    ("body", "name", "arguments"),
    [
        ("!visio start", "start", {}),
        ("!visio start   Point   hebdo  ", "start", {"title": "Point hebdo"}),
        ("!VISIO Start Comité\nde pilotage", "start", {"title": "Comité de pilotage"}),
        ("!visio démarrer Réunion", "start", {"title": "Réunion"}),
        ("  !visio end", "end", {}),
        ("!visio état", "status", {}),
        ("!visio lien", "link", {}),
        (
            "!visio invite @bob:agent.tchap.gouv.fr",
            "invite",
            {"target": "@bob:agent.tchap.gouv.fr"},
        ),
        ("!visio invite #equipe:localhost:8481", "invite", {"target": "#equipe:localhost:8481"}),
        ("!visio invite !abc:localhost", "invite", {"target": "!abc:localhost"}),
        ("!visio lock", "lock", {}),
        ("!visio déverrouiller", "unlock", {}),
        ("!visio admit 3", "admit", {"who": 3}),
        ("!visio admettre tous", "admit", {"who": "all"}),
        ("!visio admit ALL", "admit", {"who": "all"}),
        ("!visio refuse 2", "refuse", {"number": 2}),
        ("!visio refuser 2 pas invité", "refuse", {"number": 2, "reason": "pas invité"}),
        ("!visio langue en", "language", {"language": "en"}),
        ("!visio language Français", "language", {"language": "fr"}),
        ("!visio mute Jean", "mute", {"name": "Jean"}),
        ("!visio transcribe start", "transcribe", {"switch": "start"}),
        ("!visio transcrire Arrêter", "transcribe", {"switch": "stop"}),
        ("!visio record start", "record", {"switch": "start"}),
        ("!visio enregistrer arrêter", "record", {"switch": "stop"}),
        ("!visio", "help", {}),
        ("!visio aide", "help", {}),
        ("!visio help aide", "help", {"command": "help"}),
        ("!visio help Démarrer", "help", {"command": "start"}),
    ],
)
def test_valid_commands(body, name, arguments):
    call = parse(body)
    assert call.spec.name == name
    assert dict(call.arguments) == arguments


@pytest.mark.parametrize("body", ["", "bonjour", "!visioo start", "start", "!vis", " \n "])
def test_bodies_not_for_the_bot_are_ignored(body):
    assert REGISTRY.parse(body) is None


def test_schedule_parses_paris_time_and_title():
    call = parse("!visio schedule 2026-12-01 14:30 Comité de pilotage")
    assert call.when("when") == dt.datetime(2026, 12, 1, 14, 30, tzinfo=PARIS)
    assert call.when("when").utcoffset() == dt.timedelta(hours=1)  # type: ignore[union-attr]
    assert call.text("title") == "Comité de pilotage"
    summer = parse("!visio planifier 2026-07-01T09h05")
    assert summer.when("when") == dt.datetime(2026, 7, 1, 7, 5, tzinfo=dt.UTC)
    assert summer.text("title") is None


@pytest.mark.parametrize(
    ("body", "english", "usage"),
    [
        ("!visio frobnicate", "Unknown command “frobnicate”. Type “!visio help”", None),
        ("!visio invite", "<@user:server|#room:server> is missing.", "!visio invite <"),
        ("!visio invite bob", "“bob” is neither a user (@name:server) nor a room", "!visio inv"),
        ("!visio invite @bob:a/b", "is neither a user", "!visio invite"),
        ("!visio invite @a:b @c:d", "Too many arguments: “@c:d”.", "!visio invite"),
        ("!visio end maintenant", "Too many arguments: “maintenant”.", "!visio end"),
        ("!visio admit", "<number|all> is missing.", "!visio admit <numéro|tous>"),
        ("!visio refuse", "<number> is missing.", "!visio refuse <numéro> [raison]"),
        ("!visio schedule", "<YYYY-MM-DD HH:MM> is missing.", "!visio schedule"),
        ("!visio schedule demain 14h", "“demain 14h”: expected date YYYY-MM-DD HH:MM", "!vis"),
        ("!visio schedule 2026-02-30 10:00", "“2026-02-30 10:00” is not a date and time", "!v"),
        ("!visio schedule 2026-12-01 24:00", "is not a date and time that exist", "!visio"),
        ("!visio schedule 2026-03-29 02:30", "02:30 does not exist on 2026-03-29 in Paris", "!"),
        ("!visio schedule ٢٠٢٦-12-01 10:00", "expected date YYYY-MM-DD HH:MM", "!visio"),
        ("!visio help frobnicate", "Unknown command “frobnicate”.", "!visio help [commande]"),
        (
            "!visio start " + "x" * (MAX_TEXT + 1),
            "The title is longer than 200 characters.",
            "!visio start",
        ),
    ],
)
def test_usage_errors_are_precise(body, english, usage):
    error = usage_error(body)
    french_sentence, english_sentence = say("fr", error.text), say("en", error.text)
    assert english in english_sentence
    assert french_sentence != english_sentence
    if usage is None:
        assert error.usage() is None
        assert error.notice() == french_sentence and error.notice("en") == english_sentence
    else:
        assert error.usage() is not None and error.usage().startswith(usage)
        assert error.notice().splitlines() == [french_sentence, f"Usage : {error.usage()}"]
        assert error.notice("en").splitlines() == [english_sentence, f"Usage: {error.usage('en')}"]


@pytest.mark.parametrize(
    ("body", "french", "english"),
    [
        (
            "!visio admit bob",
            "« bob » n'est pas un numéro du hall : donnez celui du message d'état ou « tous ».",
            "“bob” is not a lobby number: give the one in the status message or “all”.",
        ),
        (
            "!visio refuse 0",
            "« 0 » n'est pas un numéro du hall : donnez celui du message d'état.",
            "“0” is not a lobby number: give the one in the status message.",
        ),
        ("!visio admit ٣", "« ٣ » n'est pas un numéro du hall", "“٣” is not a lobby number"),
        ("!visio langue de", "Langue inconnue « de » : fr ou en.", "Unknown language “de”"),
    ],
)
def test_lobby_numbers_and_languages_are_refused_in_one_line(body, french, english):
    error = usage_error(body)
    assert error.notice().startswith(french) and "\n" not in error.notice()
    assert error.notice("en").startswith(english) and "\n" not in error.notice("en")


def test_transcribe_takes_start_or_stop_and_shows_its_usage_otherwise():
    error = usage_error("!visio transcribe maybe")
    assert error.notice() == "« maybe » : start ou stop.\nUsage : !visio transcribe <start|stop>"
    assert error.notice("en").startswith("“maybe”: start or stop.\n")


def test_schedule_in_the_past_is_refused_given_the_time():
    now = dt.datetime(2026, 12, 1, 14, 0, tzinfo=PARIS)
    assert parse("!visio schedule 2026-12-01 14:01", now).when("when") is not None
    error = usage_error("!visio schedule 2026-12-01 13:59", now)
    assert say("en", error.text) == "“2026-12-01 13:59” is in the past."
    assert say("fr", error.text) == "« 2026-12-01 13:59 » est déjà passé."


def test_long_input_is_cut_in_notices():
    error = usage_error("!visio " + "z" * 5000)
    assert len(error.notice()) < 300


def test_ambiguous_autumn_hour_takes_the_first_occurrence():
    when = parse_when("2026-10-25 02:30")
    assert when.utcoffset() == dt.timedelta(hours=2)


def test_help_lists_every_command_in_the_room_language_only():
    french, english = REGISTRY.help_text(), REGISTRY.help_text(language="en")
    assert french.startswith("Commandes de la visio (préfixe !visio) :")
    assert english.startswith("Meeting commands (prefix !visio):")
    assert "Meeting" not in french and "Commandes" not in english
    for name in NAMES:
        assert f"• !visio {name}" in french
        assert f"• !visio {name}" in english
    assert "• !visio start [titre] — démarre une réunion" in french
    assert "(modérateurs)" in french.splitlines()[1]
    assert "• !visio admit <numéro|tous> — fait entrer" in french
    assert "• !visio language <fr|en> — choose the bot's language" in english
    assert "• !visio schedule <YYYY-MM-DD HH:MM> [title] — schedule" in english
    assert "moderators" not in next(line for line in english.splitlines() if "status" in line)


def test_help_for_one_command_shows_its_other_names():
    text = REGISTRY.help_text("start")
    assert "• !visio start [titre]" in text
    assert "Autres noms : demarrer" in text
    assert "!visio end" not in text
    assert "Other names: demarrer" in REGISTRY.help_text("start", "en")


def test_every_help_and_argument_name_is_in_the_catalog():
    for spec in REGISTRY.specs:
        keys = [spec.help.key, *(argument.name.key for argument in spec.arguments)]
        assert [key for key in keys if key not in CATALOG["fr"]] == [], spec.name


def test_moderator_power():
    start = REGISTRY.find("start")
    status = REGISTRY.find("status")
    assert start is not None and status is not None
    assert start.moderator and not start.permits(0) and start.permits(50) and start.permits(100)
    assert not status.moderator and status.permits(0)


def test_custom_prefix():
    registry = CommandRegistry.of(Recorder(), prefix="!meet")
    assert registry.parse("!visio start") is None
    call = registry.parse("!meet start")
    assert call is not None and call.spec.name == "start"
    assert "!visio" not in registry.help_text() and "(préfixe !meet)" in registry.help_text()
    with pytest.raises(ValueError, match="prefix"):
        CommandRegistry.of(Recorder(), prefix="! visio")


def test_declaration_mistakes_are_refused():
    with pytest.raises(ValueError, match="only the last argument"):
        CommandSpec("x", (Argument("a", "text"), Argument("b", "target")))
    with pytest.raises(ValueError, match="lower-case"):
        CommandSpec("Start", ())

    class Twice:
        @command("same")
        async def one(self, context: CommandContext, call: CommandCall) -> None: ...

        @command("other", aliases=("same",))
        async def two(self, context: CommandContext, call: CommandCall) -> None: ...

    with pytest.raises(ValueError, match="declared twice"):
        CommandRegistry.of(Twice())


# --- Properties ---------------------------------------------------------------------------


@given(st.text(max_size=400))
def test_any_body_parses_or_gives_a_usage_error(body):
    for candidate in (body, f"{DEFAULT_PREFIX} {body}", f"{DEFAULT_PREFIX} schedule {body}"):
        try:
            REGISTRY.parse(candidate)
        except UsageError as exc:
            assert exc.text.key in CATALOG["fr"]
            assert exc.notice("fr") and exc.notice("en")


_word = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Z", "C")), min_size=1, max_size=20
)
_titles = st.lists(_word, min_size=1, max_size=8).map(" ".join).filter(lambda t: len(t) <= MAX_TEXT)
_localpart = st.from_regex(r"[a-z0-9._=/-]{1,20}", fullmatch=True)
_host = st.from_regex(r"[a-z0-9]{1,10}(\.[a-z]{2,5}){0,2}(:[0-9]{1,5})?", fullmatch=True)
_targets = st.builds("{}{}:{}".format, st.sampled_from("@#!"), _localpart, _host)
_times = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=dt.UTC).astimezone(PARIS)
)
# The second 02:30 of an autumn night is written the same as the first: not a round trip.
_times = _times.filter(lambda d: d.fold == 0)


@st.composite
def calls(draw: st.DrawFn) -> CommandCall:
    spec = draw(st.sampled_from(REGISTRY.specs))
    arguments: dict[str, str | int | dt.datetime] = {}
    for argument in spec.arguments:
        if not argument.required and not draw(st.booleans()):
            continue
        if argument.kind == "text":
            arguments[argument.key] = draw(_titles)
        elif argument.kind == "target":
            arguments[argument.key] = draw(_targets)
        elif argument.kind == "when":
            arguments[argument.key] = draw(_times)
        elif argument.kind in ("lobby", "number"):
            everyone = argument.kind == "lobby" and draw(st.booleans())
            arguments[argument.key] = "all" if everyone else draw(st.integers(1, 2**31))
        elif argument.kind == "language":
            arguments[argument.key] = draw(st.sampled_from(["fr", "en"]))
        elif argument.kind == "switch":
            arguments[argument.key] = draw(st.sampled_from(["start", "stop"]))
        else:
            arguments[argument.key] = draw(st.sampled_from(NAMES))
    return CommandCall(spec, arguments)


@given(calls())
def test_valid_calls_round_trip(call):
    assert parse(call.to_body()) == call
