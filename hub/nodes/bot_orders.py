"""What the Matrix bot's node asks of a meeting's home node, and the answers (pure: no I/O).

The bot runs on one node (the lease `bot`); a live meeting runs at its home
(hub/nodes/homes.py), the only node with its conference. So the bot's reads of a live meeting
(who is in, who waits, locked) and its orders (lock, subtitles, recording, admit, refuse,
mute, a room's chat line) travel to the home on its `node:{id}:bot` channel as an `Ask`, and
the home's `Reply` comes back on the asker's: a value, or the refusal the room reads (a
`bot.refusal.*` sentence, as over the bridge's HTTP API). Anything else raises `WireError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, TypeAdapter, ValidationError

from bridge.hub_port import Waiting
from bridge.wire import MAX_TEXT, Name, UserId, validation_message
from hub.nodes.wire import WireError, opening, printable

MAX_NUMBERS = 100
NodeId = Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]
RequestId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{16,32}$")]
MeetingText = Annotated[str, Field(min_length=1, max_length=20)]
LobbyNumber = Annotated[int, Field(ge=1, le=2**31, strict=True)]


@dataclass(frozen=True)
class Look:
    """Who is in the meeting and who waits, and whether it is locked."""

    kind: Literal["look"] = "look"


@dataclass(frozen=True)
class Lock:
    locked: StrictBool
    by: UserId
    kind: Literal["lock"] = "lock"


@dataclass(frozen=True)
class Subtitles:
    on: StrictBool
    by: UserId
    kind: Literal["subtitles"] = "subtitles"


@dataclass(frozen=True)
class Recording:
    on: StrictBool
    by: UserId
    kind: Literal["recording"] = "recording"


@dataclass(frozen=True)
class Admit:
    numbers: Annotated[tuple[LobbyNumber, ...], Field(min_length=1, max_length=MAX_NUMBERS)] | None
    by: UserId
    kind: Literal["admit"] = "admit"


@dataclass(frozen=True)
class Refuse:
    number: LobbyNumber
    reason: Annotated[str, Field(max_length=MAX_TEXT)] | None
    by: UserId
    kind: Literal["refuse"] = "refuse"


@dataclass(frozen=True)
class Mute:
    name: Name
    by: UserId
    kind: Literal["mute"] = "mute"


@dataclass(frozen=True)
class Chat:
    sender: UserId
    name: Name
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    kind: Literal["chat"] = "chat"


Order = Look | Lock | Subtitles | Recording | Admit | Refuse | Mute | Chat


@dataclass(frozen=True)
class LiveView:
    """A live meeting as its home sees it (`Look`'s answer)."""

    present: tuple[str, ...]
    waiting: tuple[Waiting, ...]
    locked: StrictBool


# What an order answers: Look a view (None: not live here), Admit names, Refuse and Mute a
# name, Lock and Chat whether the meeting was live here, Subtitles and Recording nothing.
Answer = LiveView | tuple[str, ...] | str | bool | None


@dataclass(frozen=True)
class Ask:
    request: RequestId
    node: NodeId  # where the reply goes
    meeting: MeetingText
    order: Annotated[Order, Field(discriminator="kind")]
    type: Literal["ask"] = "ask"


@dataclass(frozen=True)
class Reply:
    request: RequestId
    answer: Answer = None
    # The refusal the room reads, in bridge/wire.py's shape (`refusal_to_json`).
    refusal: dict[str, Any] | None = None
    failed: StrictBool = False  # the home could not carry it out (its log says why)
    type: Literal["reply"] = "reply"


Message = Ask | Reply
_MESSAGE: TypeAdapter[Message] = TypeAdapter(Annotated[Message, Field(discriminator="type")])


def to_json(message: Message) -> str:
    return _MESSAGE.dump_json(message).decode()


def parse(text: str) -> Message:
    """The message in `text`; WireError saying what is wrong with it."""
    data = opening(text)
    try:
        return _MESSAGE.validate_python(data)
    except ValidationError as exc:
        raise WireError(printable(f"bot order: {validation_message(exc)}")) from None
