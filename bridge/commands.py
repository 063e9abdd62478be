"""Bot commands: their declaration, the parsing of a message body, and the generated help.

Pure and I/O-free. `VisioCommands` declares every command once, with the `@command` decorator
carrying its name, aliases, arguments and whether it needs moderator power; the bot subclasses
it and implements the handlers. Every sentence is in the hub's one catalog (hub/i18n/bot.py):
a command's help is `bot.help.<name>`, an argument's name `bot.argument.<key>`, what is wrong
with a body `bot.usage_error.*`. `CommandRegistry.of(handlers)` binds the declared specs to an
object's handlers (no module-level registry), parses bodies into a `CommandCall` or a
`UsageError` whose notice is said in the room's language, and writes help in one language.
Names in both languages are understood everywhere.
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
from hub.i18n import Text, say

DEFAULT_PREFIX = "!visio"
MODERATOR_POWER = 50  # Matrix's usual "Moderator" level; also what widgets need by default
PARIS = ZoneInfo("Europe/Paris")
MAX_TEXT = 200  # characters of a title or a participant name
MAX_MATRIX_ID = 255

ArgumentKind = Literal["text", "target", "when", "command", "lobby", "number", "language", "switch"]
ArgumentValue = str | int | dt.datetime
LANGUAGE_NAMES: Mapping[str, Language] = {
    "fr": "fr", "francais": "fr", "french": "fr", "en": "en", "anglais": "en", "english": "en",
}  # fmt: skip
# `transcribe start|stop`: the words for each, folded (no accents, lower case), both languages.
SWITCH_WORDS: Mapping[str, str] = {
    "start": "start", "on": "start", "demarrer": "start", "activer": "start",
    "stop": "stop", "off": "stop", "arreter": "stop", "desactiver": "stop",
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
    """A body addressed to the bot that is not a valid command: `text` (a catalog sentence)
    says what is wrong; `spec`, when given, is the command whose form the notice shows."""

    def __init__(self, text: Text, spec: CommandSpec | None = None, prefix: str = "") -> None:
        super().__init__(say("en", text))
        self.text = text
        self.spec = spec
        self.prefix = prefix

    def with_usage(self, spec: CommandSpec, prefix: str) -> UsageError:
        return UsageError(self.text, spec, prefix)

    def usage(self, language: Language = DEFAULT_LANGUAGE) -> str | None:
        return self.spec.usage(self.prefix, language) if self.spec is not None else None

    def notice(self, language: Language = DEFAULT_LANGUAGE) -> str:
        """The whole answer in one language, with the command's usage when there is one."""
        usage = self.usage(language)
        lines = [say(language, self.text)]
        if usage is not None:
            lines.append(say(language, Text("bot.usage", {"usage": usage})))
        return "\n".join(lines)


@dataclass(frozen=True)
class Argument:
    """One argument: `key` names it in `CommandCall.arguments` and, as `bot.argument.<key>`,
    in help and notices. A text argument takes the rest of the line, a `when` one word or two
    (`2026-12-01T14:30`, `2026-12-01 14:30`), others one."""

    key: str
    kind: ArgumentKind
    required: bool = True

    @property
    def takes_rest(self) -> bool:
        return self.kind == "text"

    @property
    def name(self) -> Text:
        return Text(f"bot.argument.{self.key}")

    def placeholder(self, language: Language) -> str:
        name = say(language, self.name)
        return f"<{name}>" if self.required else f"[{name}]"


@dataclass(frozen=True)
class CommandSpec:
    """What a command is called, what it takes, who may use it and how it is explained."""

    name: str
    arguments: tuple[Argument, ...]
    moderator: bool = False
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in (self.name, *self.aliases):
            if not _NAME.match(name):
                raise ValueError(f"command name {name!r} is not lower-case letters and dashes")
        rest = [argument for argument in self.arguments if argument.takes_rest]
        if len(rest) > 1 or (rest and self.arguments[-1] is not rest[0]):
            raise ValueError(f"command {self.name!r}: only the last argument may take the rest")

    @property
    def help(self) -> Text:
        return Text(f"bot.help.{self.name}")

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
    name: str, *arguments: Argument, moderator: bool = False, aliases: tuple[str, ...] = ()
) -> Callable[[_F], _F]:
    """Declare a handler method as the command `name` (its help: `bot.help.<name>` in the
    catalog); see `CommandRegistry.of`."""
    spec = CommandSpec(name, arguments, moderator, aliases)

    def mark(handler: _F) -> _F:
        setattr(handler, _SPEC_ATTRIBUTE, spec)
        return handler

    return mark


def _parse_target(value: str) -> str:
    if len(value) > MAX_MATRIX_ID or not _MATRIX_ID.match(value):
        raise UsageError(Text("bot.usage_error.target", {"word": _short(value)}))
    return value


def _parse_lobby_number(word: str, *, everyone: bool) -> str | int:
    """A number shown in the status message's lobby list (or, if `everyone`, « all »)."""
    if everyone and _fold(word) in _EVERYONE_WORDS:
        return EVERYONE
    if word.isascii() and word.isdigit() and 0 < int(word) <= MAX_LOBBY_NUMBER:
        return int(word)
    key = "bot.usage_error.lobby_number_or_all" if everyone else "bot.usage_error.lobby_number"
    raise UsageError(Text(key, {"word": _short(word)}))


def _parse_language(word: str) -> Language:
    language = LANGUAGE_NAMES.get(_fold(word))
    if language is None:
        raise UsageError(Text("bot.usage_error.language", {"word": _short(word)}))
    return language


def _parse_switch(word: str) -> str:
    switch = SWITCH_WORDS.get(_fold(word))
    if switch is None:
        raise UsageError(Text("bot.usage_error.switch", {"word": _short(word)}))
    return switch


def parse_when(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """`2026-12-01 14:30` (or `14h30`, or a `T` between) in Europe/Paris; aware datetime.

    Refuses times that do not exist (the spring DST gap) and, given `now`, times in the past.
    """
    parts = text.split()
    if len(parts) == 1:
        parts = parts[0].split("T", 1)
    quoted = {"word": _short(text)}
    date_match = _DATE.match(parts[0]) if len(parts) == 2 else None
    time_match = _TIME.match(parts[1]) if len(parts) == 2 else None
    if date_match is None or time_match is None:
        raise UsageError(Text("bot.usage_error.date_form", quoted))
    year, month, day = (int(group) for group in date_match.groups())
    hour, minute = (int(group) for group in time_match.groups())
    try:
        naive = dt.datetime(year, month, day, hour, minute)
    except ValueError:
        raise UsageError(Text("bot.usage_error.date_unknown", quoted)) from None
    when = naive.replace(tzinfo=PARIS)
    if when.astimezone(dt.UTC).astimezone(PARIS).replace(tzinfo=None) != naive:
        skipped = {"time": parts[1], "date": parts[0]}
        raise UsageError(Text("bot.usage_error.date_skipped", skipped))
    if now is not None and when <= now:
        raise UsageError(Text("bot.usage_error.date_past", quoted))
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
            unknown = {"word": _short(name), "prefix": self.prefix}
            raise UsageError(Text("bot.usage_error.unknown_command", unknown))
        return CommandCall(spec, self._arguments(spec, tail, now))

    def _arguments(
        self, spec: CommandSpec, tail: str, now: dt.datetime | None
    ) -> dict[str, ArgumentValue]:
        values: dict[str, ArgumentValue] = {}
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
                    missing = Text("bot.usage_error.missing", {"argument": argument.name})
                    raise UsageError(missing, spec, self.prefix)
                continue
            try:
                values[argument.key] = self._value(argument, word, now)
            except UsageError as exc:
                if argument.kind in _ONE_LINE_KINDS:
                    raise  # the sentence says all; one line is what a busy room needs
                raise exc.with_usage(spec, self.prefix) from None

        if tail.strip():
            extra = Text("bot.usage_error.too_many", {"words": _short(tail.strip())})
            raise UsageError(extra, spec, self.prefix)
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
        if argument.kind == "switch":
            return _parse_switch(word)
        if argument.kind == "command":
            spec = self.find(word)
            if spec is None:
                raise UsageError(Text("bot.usage_error.no_such_command", {"word": _short(word)}))
            return spec.name
        if len(word) > MAX_TEXT:
            too_long: dict[str, str | Text] = {"argument": argument.name, "limit": str(MAX_TEXT)}
            raise UsageError(Text("bot.usage_error.too_long", too_long))
        return word

    def help_text(self, name: str | None = None, language: Language = "fr") -> str:
        """Every command, or one command with its other names, in one language."""
        specs = self.specs if name is None else [spec for spec in self.specs if spec.name == name]
        lines = [say(language, Text("bot.help.heading", {"prefix": self.prefix}))]
        moderators = say(language, Text("bot.help.moderators"))
        for spec in specs:
            line = f"• {spec.usage(self.prefix, language)} — {say(language, spec.help)}"
            lines.append(f"{line} {moderators}" if spec.moderator else line)
            if name is not None and spec.aliases:
                aliases = Text("bot.help.aliases", {"names": ", ".join(spec.aliases)})
                lines.append(f"  {say(language, aliases)}")
        return "\n".join(lines)


def command_text(body: str) -> str:
    """The body without the quoted reply fallback (`> <@user> …` lines and one blank line)."""
    lines = body.split("\n")
    if not lines[0].startswith("> "):
        return body
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    if lines and not lines[0].strip():
        lines.pop(0)
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
_TITLE = Argument("title", "text", required=False)


class VisioCommands(abc.ABC):
    """Every command of the meeting bot, declared once; the bot implements the handlers."""

    @command("start", _TITLE, moderator=True, aliases=("demarrer",))
    @abc.abstractmethod
    async def start(self, context: CommandContext, call: CommandCall) -> None: ...

    @command("end", moderator=True, aliases=("terminer",))
    @abc.abstractmethod
    async def end(self, context: CommandContext, call: CommandCall) -> None: ...

    @command("status", aliases=("etat",))
    @abc.abstractmethod
    async def status(self, context: CommandContext, call: CommandCall) -> None: ...

    @command("link", aliases=("lien",))
    @abc.abstractmethod
    async def link(self, context: CommandContext, call: CommandCall) -> None: ...

    @command("invite", Argument("target", "target"), moderator=True, aliases=("inviter",))
    @abc.abstractmethod
    async def invite(self, context: CommandContext, call: CommandCall) -> None: ...

    @command("lock", moderator=True, aliases=("verrouiller",))
    @abc.abstractmethod
    async def lock(self, context: CommandContext, call: CommandCall) -> None: ...

    @command("unlock", moderator=True, aliases=("deverrouiller",))
    @abc.abstractmethod
    async def unlock(self, context: CommandContext, call: CommandCall) -> None: ...

    @command("admit", Argument("who", "lobby"), moderator=True, aliases=("admettre",))
    @abc.abstractmethod
    async def admit(self, context: CommandContext, call: CommandCall) -> None: ...

    @command(
        "refuse",
        Argument("number", "number"),
        Argument("reason", "text", required=False),
        moderator=True,
        aliases=("refuser",),
    )
    @abc.abstractmethod
    async def refuse(self, context: CommandContext, call: CommandCall) -> None: ...

    @command("language", Argument("language", "language"), moderator=True, aliases=("langue",))
    @abc.abstractmethod
    async def language(self, context: CommandContext, call: CommandCall) -> None: ...

    @command("mute", Argument("name", "text"), moderator=True, aliases=("couper",))
    @abc.abstractmethod
    async def mute(self, context: CommandContext, call: CommandCall) -> None: ...

    @command("transcribe", Argument("switch", "switch"), moderator=True, aliases=("transcrire",))
    @abc.abstractmethod
    async def transcribe(self, context: CommandContext, call: CommandCall) -> None: ...

    @command("record", Argument("switch", "switch"), moderator=True, aliases=("enregistrer",))
    @abc.abstractmethod
    async def record(self, context: CommandContext, call: CommandCall) -> None: ...

    @command("schedule", Argument("when", "when"), _TITLE, moderator=True, aliases=("planifier",))
    @abc.abstractmethod
    async def schedule(self, context: CommandContext, call: CommandCall) -> None: ...

    @command("help", Argument("command", "command", required=False), aliases=("aide",))
    @abc.abstractmethod
    async def help(self, context: CommandContext, call: CommandCall) -> None: ...
