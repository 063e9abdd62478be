"""Bot commands: their declaration, the parsing of a message body, and the generated help.

Pure and I/O-free. `VisioCommands` declares every command once, with the `@command` decorator
carrying its name, aliases, arguments, help (French, English) and whether it needs moderator
power; the bot subclasses it and implements the handlers. `CommandRegistry.of(handlers)` binds
the declared specs to an object's handlers (no module-level registry), parses bodies into a
`CommandCall` or a `UsageError` whose message, in the room's language, is ready to send as a
notice, and writes help in one language. Names in both languages are understood everywhere.
"""

from __future__ import annotations

import abc
import datetime as dt
import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

from bridge.hub_port import DEFAULT_LANGUAGE, LANGUAGES, Language

DEFAULT_PREFIX = "!visio"
MODERATOR_POWER = 50  # Matrix's usual "Moderator" level; also what widgets need by default
PARIS = ZoneInfo("Europe/Paris")
MAX_TEXT = 200  # characters of a title or a participant name
MAX_MATRIX_ID = 255

ArgumentKind = Literal["text", "target", "when", "command", "lobby", "number", "language"]
ArgumentValue = str | int | dt.datetime
LANGUAGE_NAMES: Mapping[str, Language] = {
    "fr": "fr", "francais": "fr", "french": "fr", "en": "en", "anglais": "en", "english": "en",
}  # fmt: skip
EVERYONE = "all"  # `admit all`: the value of a lobby argument naming every waiting person
_EVERYONE_WORDS = frozenset({"all", "tous", "toutes", "tout"})
MAX_LOBBY_NUMBER = 2**31

_SPEC_ATTRIBUTE = "__visio_command__"
_WHITESPACE = re.compile(r"\s+")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
# [0-9], not \d: int() would accept other scripts' digits too.
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_TIME = re.compile(r"^([0-9]{1,2})[:h]([0-9]{2})$")
_MATRIX_ID = re.compile(r"^[@!#][^\s:]+:[^\s:/@?#]+(?::[0-9]{1,5})?$")


class UsageError(ValueError):
    """A body addressed to the bot that is not a valid command: the message, in either
    language, is for the user; `usage` (French) and `usage_en` show the command's form."""

    def __init__(
        self, french: str, english: str, usage: str | None = None, usage_en: str | None = None
    ) -> None:
        super().__init__(english)
        self.french = french
        self.english = english
        self.usage = usage
        self.usage_en = usage_en or usage

    def notice(self, language: Language = "fr") -> str:
        """The whole answer in one language, with the command's usage when there is one."""
        if language == "fr":
            return self.french + (f"\nUsage : {self.usage}" if self.usage else "")
        return self.english + (f"\nUsage: {self.usage_en}" if self.usage_en else "")


@dataclass(frozen=True)
class Argument:
    """One argument: `key` names it in `CommandCall.arguments`. A text argument takes the rest
    of the line, a `when` one word or two (`2026-12-01T14:30`, `2026-12-01 14:30`), others one."""

    key: str
    kind: ArgumentKind
    name_fr: str
    name_en: str
    required: bool = True

    @property
    def takes_rest(self) -> bool:
        return self.kind == "text"

    def placeholder(self, language: Language) -> str:
        name = self.name_fr if language == "fr" else self.name_en
        return f"<{name}>" if self.required else f"[{name}]"


@dataclass(frozen=True)
class CommandSpec:
    """What a command is called, what it takes, who may use it and how it is explained."""

    name: str
    arguments: tuple[Argument, ...]
    help_fr: str
    help_en: str
    moderator: bool = False
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in (self.name, *self.aliases):
            if not _NAME.match(name):
                raise ValueError(f"command name {name!r} is not lower-case letters and dashes")
        rest = [argument for argument in self.arguments if argument.takes_rest]
        if len(rest) > 1 or (rest and self.arguments[-1] is not rest[0]):
            raise ValueError(f"command {self.name!r}: only the last argument may take the rest")

    def permits(self, power_level: int) -> bool:
        return not self.moderator or power_level >= MODERATOR_POWER

    def usage(self, prefix: str, language: Language = "fr") -> str:
        parts = [prefix, self.name, *(a.placeholder(language) for a in self.arguments)]
        return " ".join(parts)


@dataclass(frozen=True)
class CommandCall:
    """A parsed command: which one and its arguments (absent optional ones are missing)."""

    spec: CommandSpec
    arguments: Mapping[str, ArgumentValue] = field(default_factory=dict)

    def text(self, key: str) -> str | None:
        value = self.arguments.get(key)
        return value if isinstance(value, str) else None

    def number(self, key: str) -> int | None:
        value = self.arguments.get(key)
        return value if isinstance(value, int) else None

    def language(self, key: str) -> Language | None:
        value = self.arguments.get(key)
        return next((language for language in LANGUAGES if language == value), None)

    def when(self, key: str) -> dt.datetime | None:
        value = self.arguments.get(key)
        return value if isinstance(value, dt.datetime) else None

    def to_body(self, prefix: str = DEFAULT_PREFIX) -> str:
        """A body that parses back to this call (used by tests and help examples)."""
        parts = [prefix, self.spec.name]
        for argument in self.spec.arguments:
            value = self.arguments.get(argument.key)
            if isinstance(value, dt.datetime):
                parts.append(value.astimezone(PARIS).strftime("%Y-%m-%d %H:%M"))
            elif value is not None:
                parts.append(str(value))
        return " ".join(parts)


@dataclass(frozen=True)
class CommandContext:
    """Where a command came from: the room, who sent it (with their power there), which event."""

    room_id: str
    sender: str
    event_id: str
    power_level: int = 0
    language: Language = DEFAULT_LANGUAGE  # the room's: every answer is in it


Handler = Callable[[CommandContext, CommandCall], Awaitable[None]]
_F = TypeVar("_F", bound=Callable[..., Awaitable[None]])


def command(
    name: str,
    *arguments: Argument,
    help_fr: str,
    help_en: str,
    moderator: bool = False,
    aliases: tuple[str, ...] = (),
) -> Callable[[_F], _F]:
    """Declare a handler method as the command `name`; see `CommandRegistry.of`."""
    spec = CommandSpec(name, arguments, help_fr, help_en, moderator, aliases)

    def mark(handler: _F) -> _F:
        setattr(handler, _SPEC_ATTRIBUTE, spec)
        return handler

    return mark


def _parse_target(value: str) -> str:
    if len(value) > MAX_MATRIX_ID or not _MATRIX_ID.match(value):
        raise UsageError(
            f"« {_short(value)} » n'est ni une personne (@nom:serveur) ni un salon (#nom:serveur).",
            f"“{_short(value)}” is neither a user (@name:server) nor a room (#name:server).",
        )
    return value


def _parse_lobby_number(word: str, *, everyone: bool) -> str | int:
    """A number shown in the status message's lobby list (or, if `everyone`, « all »)."""
    if everyone and _fold(word) in _EVERYONE_WORDS:
        return EVERYONE
    if word.isascii() and word.isdigit() and 0 < int(word) <= MAX_LOBBY_NUMBER:
        return int(word)
    raise UsageError(
        f"« {_short(word)} » n'est pas un numéro du hall : donnez celui du message d'état"
        + (" ou « tous »." if everyone else "."),
        f"“{_short(word)}” is not a lobby number: give the one in the status message"
        + (" or “all”." if everyone else "."),
    )


def _parse_language(word: str) -> Language:
    language = LANGUAGE_NAMES.get(_fold(word))
    if language is None:
        raise UsageError(
            f"Langue inconnue « {_short(word)} » : fr ou en.",
            f"Unknown language “{_short(word)}”: fr or en.",
        )
    return language


def parse_when(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """`2026-12-01 14:30` (or `14h30`, or a `T` between) in Europe/Paris; aware datetime.

    Refuses times that do not exist (the spring DST gap) and, given `now`, times in the past.
    """
    parts = text.split()
    if len(parts) == 1:
        parts = parts[0].split("T", 1)
    expected_fr = "date attendue AAAA-MM-JJ HH:MM (heure de Paris), par exemple 2026-12-01 14:30"
    expected_en = "expected date YYYY-MM-DD HH:MM (Paris time), for example 2026-12-01 14:30"
    date_match = _DATE.match(parts[0]) if len(parts) == 2 else None
    time_match = _TIME.match(parts[1]) if len(parts) == 2 else None
    if date_match is None or time_match is None:
        raise UsageError(
            f"« {_short(text)} » : {expected_fr}.", f"“{_short(text)}”: {expected_en}."
        )
    year, month, day = (int(group) for group in date_match.groups())
    hour, minute = (int(group) for group in time_match.groups())
    try:
        naive = dt.datetime(year, month, day, hour, minute)
    except ValueError:
        raise UsageError(
            f"« {_short(text)} » n'est pas une date et une heure qui existent.",
            f"“{_short(text)}” is not a date and time that exist.",
        ) from None
    when = naive.replace(tzinfo=PARIS)
    if when.astimezone(dt.UTC).astimezone(PARIS).replace(tzinfo=None) != naive:
        raise UsageError(
            f"{parts[1]} n'existe pas le {parts[0]} à Paris (passage à l'heure d'été).",
            f"{parts[1]} does not exist on {parts[0]} in Paris (clocks go forward).",
        )
    if now is not None and when <= now:
        raise UsageError(
            f"« {_short(text)} » est déjà passé.",
            f"“{_short(text)}” is in the past.",
        )
    return when


class CommandRegistry:
    """The commands one handler object answers, under one prefix; parses and writes help."""

    def __init__(self, handlers: Mapping[CommandSpec, Handler], prefix: str = DEFAULT_PREFIX):
        if not prefix or _WHITESPACE.search(prefix):
            raise ValueError("command prefix must be non-empty and without spaces")
        self.prefix = prefix
        self.handlers = dict(handlers)
        self._by_name: dict[str, CommandSpec] = {}
        for spec in handlers:
            for name in (spec.name, *spec.aliases):
                if name in self._by_name:
                    raise ValueError(f"command name {name!r} is declared twice")
                self._by_name[name] = spec

    @classmethod
    def of(cls, handlers: object, prefix: str = DEFAULT_PREFIX) -> CommandRegistry:
        """Bind each `@command` method declared on `handlers`' class (or a base) to
        `handlers`' own implementation (a subclass overrides without repeating the spec)."""
        found: dict[CommandSpec, Handler] = {}
        seen: set[str] = set()
        for klass in type(handlers).__mro__:
            for attribute, member in vars(klass).items():
                spec = getattr(member, _SPEC_ATTRIBUTE, None)
                if isinstance(spec, CommandSpec) and attribute not in seen:
                    seen.add(attribute)
                    found[spec] = getattr(handlers, attribute)
        return cls(found, prefix)

    @property
    def specs(self) -> list[CommandSpec]:
        return list(self.handlers)

    def find(self, name: str) -> CommandSpec | None:
        """The command called `name`, ignoring case and accents (« démarrer », « état »)."""
        return self._by_name.get(_fold(name))

    def parse(self, body: str, now: dt.datetime | None = None) -> CommandCall | None:
        """None when the body is not for the bot; else a call, or `UsageError`."""
        words = body.split(maxsplit=1)
        if not words or words[0].lower() != self.prefix.lower():
            return None
        rest = words[1] if len(words) > 1 else ""
        name, _, tail = _split_first(rest)
        if not name:
            name = "help"
        spec = self.find(name)
        if spec is None:
            raise UsageError(
                f"Commande inconnue « {_short(name)} ». "
                f"Tapez « {self.prefix} aide » pour la liste.",
                f"Unknown command “{_short(name)}”. Type “{self.prefix} help” for the list.",
            )
        return CommandCall(spec, self._arguments(spec, tail, now))

    def _arguments(
        self, spec: CommandSpec, tail: str, now: dt.datetime | None
    ) -> dict[str, ArgumentValue]:
        values: dict[str, ArgumentValue] = {}
        usage = spec.usage(self.prefix)
        for argument in spec.arguments:
            if argument.takes_rest:
                word, tail = _WHITESPACE.sub(" ", tail).strip(), ""
            else:
                word, _, tail = _split_first(tail)
                if argument.kind == "when" and word and "T" not in word:
                    clock, _, tail = _split_first(tail)
                    word = f"{word} {clock}".strip()
            if not word:
                if argument.required:
                    raise UsageError(
                        f"Il manque {argument.placeholder('fr')}.",
                        f"{argument.placeholder('en')} is missing.",
                        usage,
                        spec.usage(self.prefix, "en"),
                    )
                continue
            try:
                values[argument.key] = self._value(argument, word, now)
            except UsageError as exc:
                if argument.kind in _ONE_LINE_KINDS:
                    raise  # the sentence says all; one line is what a busy room needs
                english_usage = spec.usage(self.prefix, "en")
                raise UsageError(exc.french, exc.english, usage, english_usage) from None

        if tail.strip():
            raise UsageError(
                f"Trop d'arguments : « {_short(tail.strip())} ».",
                f"Too many arguments: “{_short(tail.strip())}”.",
                usage,
                spec.usage(self.prefix, "en"),
            )
        return values

    def _value(self, argument: Argument, word: str, now: dt.datetime | None) -> ArgumentValue:
        if argument.kind == "target":
            return _parse_target(word)
        if argument.kind == "when":
            return parse_when(word, now)
        if argument.kind in ("lobby", "number"):
            return _parse_lobby_number(word, everyone=argument.kind == "lobby")
        if argument.kind == "language":
            return _parse_language(word)
        if argument.kind == "command":
            spec = self.find(word)
            if spec is None:
                raise UsageError(
                    f"Commande inconnue « {_short(word)} ».", f"Unknown command “{_short(word)}”."
                )
            return spec.name
        if len(word) > MAX_TEXT:
            raise UsageError(
                f"{argument.name_fr.capitalize()} : {MAX_TEXT} caractères au plus.",
                f"The {argument.name_en} is longer than {MAX_TEXT} characters.",
            )
        return word

    def help_text(self, name: str | None = None, language: Language = "fr") -> str:
        """Every command, or one command with its other names, in one language."""
        specs = self.specs if name is None else [spec for spec in self.specs if spec.name == name]
        french = language == "fr"
        lines = [
            f"Commandes de la visio (préfixe {self.prefix}) :"
            if french
            else f"Meeting commands (prefix {self.prefix}):"
        ]
        for spec in specs:
            moderator = (" (modérateurs)" if french else " (moderators)") if spec.moderator else ""
            explained = spec.help_fr if french else spec.help_en
            lines.append(f"• {spec.usage(self.prefix, language)} — {explained}{moderator}")
            if name is not None and spec.aliases:
                other = "Autres noms" if french else "Other names"
                lines.append(f"  {other} : {', '.join(spec.aliases)}" if french
                             else f"  {other}: {', '.join(spec.aliases)}")  # fmt: skip
        return "\n".join(lines)


def _short(text: str, limit: int = 50) -> str:
    """User input quoted back in a notice, cut so a long body cannot make a long notice."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _split_first(text: str) -> tuple[str, str, str]:
    """First whitespace-separated word, the separator, and the rest (any whitespace)."""
    parts = text.strip().split(maxsplit=1)
    if not parts:
        return "", "", ""
    return parts[0], " ", parts[1] if len(parts) > 1 else ""


_ONE_LINE_KINDS = frozenset({"lobby", "number", "language"})
_TITLE = Argument("title", "text", "titre", "title", required=False)
_NAME_ARG = Argument("name", "text", "nom", "name")


class VisioCommands(abc.ABC):
    """Every command of the meeting bot, declared once; the bot implements the handlers."""

    @command(
        "start",
        _TITLE,
        help_fr="démarre une réunion pour ce salon et y publie le lien",
        help_en="start a meeting for this room and post its link",
        moderator=True,
        aliases=("demarrer",),
    )
    @abc.abstractmethod
    async def start(self, context: CommandContext, call: CommandCall) -> None: ...

    @command(
        "end",
        help_fr="termine la réunion du salon pour tout le monde",
        help_en="end this room's meeting for everyone",
        moderator=True,
        aliases=("terminer",),
    )
    @abc.abstractmethod
    async def end(self, context: CommandContext, call: CommandCall) -> None: ...

    @command(
        "status",
        help_fr="indique si une réunion est en cours et qui y participe",
        help_en="tell whether a meeting is on and who is in it",
        aliases=("etat",),
    )
    @abc.abstractmethod
    async def status(self, context: CommandContext, call: CommandCall) -> None: ...

    @command(
        "link",
        help_fr="redonne le lien de la réunion du salon",
        help_en="post this room's meeting link again",
        aliases=("lien",),
    )
    @abc.abstractmethod
    async def link(self, context: CommandContext, call: CommandCall) -> None: ...

    @command(
        "invite",
        Argument(
            "target", "target", "@personne:serveur|#salon:serveur", "@user:server|#room:server"
        ),
        help_fr="invite une personne ou un salon à la réunion",
        help_en="invite a person or a room to the meeting",
        moderator=True,
        aliases=("inviter",),
    )
    @abc.abstractmethod
    async def invite(self, context: CommandContext, call: CommandCall) -> None: ...

    @command(
        "lock",
        help_fr="verrouille la réunion : les nouveaux arrivants attendent dans le hall",
        help_en="lock the meeting: newcomers wait in the lobby",
        moderator=True,
        aliases=("verrouiller",),
    )
    @abc.abstractmethod
    async def lock(self, context: CommandContext, call: CommandCall) -> None: ...

    @command(
        "unlock",
        help_fr="déverrouille la réunion",
        help_en="unlock the meeting",
        moderator=True,
        aliases=("deverrouiller",),
    )
    @abc.abstractmethod
    async def unlock(self, context: CommandContext, call: CommandCall) -> None: ...

    @command(
        "admit",
        Argument("who", "lobby", "numéro|tous", "number|all"),
        help_fr="fait entrer la personne de ce numéro dans le hall (voir le message d'état), "
        "ou tout le monde",
        help_en="let in the person of that number in the lobby (see the status message), "
        "or everyone",
        moderator=True,
        aliases=("admettre",),
    )
    @abc.abstractmethod
    async def admit(self, context: CommandContext, call: CommandCall) -> None: ...

    @command(
        "refuse",
        Argument("number", "number", "numéro", "number"),
        Argument("reason", "text", "raison", "reason", required=False),
        help_fr="refuse l'entrée à la personne de ce numéro dans le hall",
        help_en="turn away the person of that number in the lobby",
        moderator=True,
        aliases=("refuser",),
    )
    @abc.abstractmethod
    async def refuse(self, context: CommandContext, call: CommandCall) -> None: ...

    @command(
        "language",
        Argument("language", "language", "fr|en", "fr|en"),
        help_fr="choisit la langue du bot dans ce salon",
        help_en="choose the bot's language in this room",
        moderator=True,
        aliases=("langue",),
    )
    @abc.abstractmethod
    async def language(self, context: CommandContext, call: CommandCall) -> None: ...

    @command(
        "mute",
        _NAME_ARG,
        help_fr="coupe le micro d'une personne",
        help_en="mute a person's microphone",
        moderator=True,
        aliases=("couper",),
    )
    @abc.abstractmethod
    async def mute(self, context: CommandContext, call: CommandCall) -> None: ...

    @command(
        "schedule",
        Argument("when", "when", "AAAA-MM-JJ HH:MM", "YYYY-MM-DD HH:MM"),
        _TITLE,
        help_fr="planifie une réunion (heure de Paris) ; le titre suit la date",
        help_en="schedule a meeting (Paris time); the title follows the date",
        moderator=True,
        aliases=("planifier",),
    )
    @abc.abstractmethod
    async def schedule(self, context: CommandContext, call: CommandCall) -> None: ...

    @command(
        "help",
        Argument("command", "command", "commande", "command", required=False),
        help_fr="affiche cette aide, ou celle d'une commande",
        help_en="show this help, or a command's",
        aliases=("aide",),
    )
    @abc.abstractmethod
    async def help(self, context: CommandContext, call: CommandCall) -> None: ...
