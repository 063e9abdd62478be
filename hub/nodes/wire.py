"""The messages hub nodes send each other on their `node:{id}` channels (pure: no I/O).

A page whose socket landed on one node while its meeting's home is another is relayed: the
node holding the socket opens a session on the home node (`Open`), hands it each frame the
page sends (`FromPage`) and says when the socket is gone (`PageGone`); the home node answers
with the frames for the page (`ToPage`) and closes it (`ClosePage`). A meeting ended on a
node that is not its home (from the meetings page, by the bot) is ended at home
(`MeetingOver`). `Ping` only tells the
sender whether anyone still listens on a channel (Redis counts the receivers). Frames inside
are the page protocol's text, parsed and checked by the home node (hub/web/signaling.py)
exactly as a socket of its own; here only the envelope is checked. Anything else raises
`WireError` with a precise message.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from hub.ids import MeetingId
from hub.meetings.ids import parse_meeting_id

MAX_MESSAGE = 1024 * 1024  # a subscribe answer is up to ~400 KB of SDP
MAX_COOKIE = 8 * 1024
MAX_REMOTE = 100
MAX_REASON = 123  # what a WebSocket close frame can carry
NODE_ID = re.compile(r"^[0-9a-f]{12}$")  # secrets.token_hex(6), made at each start
_SESSION = re.compile(r"^[A-Za-z0-9_-]{16,32}$")


class WireError(ValueError):
    """A message between nodes that is not one: said in one line, nothing else happens."""


@dataclass(frozen=True)
class Open:
    """A page's socket on node `node` wants to be in meeting `meeting` (whose home we are)."""

    session: str
    node: str
    meeting: MeetingId
    remote: str  # the client's address, for rate limits and logs
    cookie: str | None  # the page's session cookie, signed: the home node checks it again


@dataclass(frozen=True)
class FromPage:
    session: str
    text: str


@dataclass(frozen=True)
class PageGone:
    session: str


@dataclass(frozen=True)
class ToPage:
    session: str
    text: str


@dataclass(frozen=True)
class ClosePage:
    session: str
    code: int
    reason: str


@dataclass(frozen=True)
class Ping:
    node: str


@dataclass(frozen=True)
class MeetingOver:
    """The meeting was ended on another node (its owner's page, the bot): the home ends it."""

    meeting: MeetingId


NodeMessage = Open | FromPage | PageGone | ToPage | ClosePage | Ping | MeetingOver
_TYPES: dict[str, type[NodeMessage]] = {
    "open": Open,
    "from_page": FromPage,
    "page_gone": PageGone,
    "to_page": ToPage,
    "close_page": ClosePage,
    "ping": Ping,
    "meeting_over": MeetingOver,
}
_NAMES = {kind: name for name, kind in _TYPES.items()}


def printable(text: str, limit: int = 200) -> str:
    """`text` cut to `limit` characters, as it is when printable, else quoted with its
    escapes: an error quoting hostile input (a parser's message) cannot forge a log line."""
    cut = text[:limit]
    return cut if cut.isprintable() else repr(cut)


def to_json(message: NodeMessage) -> str:
    return json.dumps({"type": _NAMES[type(message)], **asdict(message)}, separators=(",", ":"))


def opening(text: str) -> dict[str, Any]:
    """The JSON object a message between nodes is (this module's and the bot's orders');
    WireError when it is too long, not JSON, too deep or not an object."""
    if len(text) > MAX_MESSAGE:
        raise WireError(f"message of {len(text)} characters, more than {MAX_MESSAGE}")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise WireError("not JSON") from None
    if not isinstance(data, dict):
        raise WireError("not a JSON object")
    return data


def parse(text: str) -> NodeMessage:
    """The message in `text`; WireError saying what is wrong with it."""
    data = opening(text)
    kind = _TYPES.get(data.get("type"))  # type: ignore[arg-type]
    if kind is None:
        raise WireError(f"unknown type {str(data.get('type'))[:40]!r}")
    fields = {key: value for key, value in data.items() if key != "type"}
    expected = set(kind.__dataclass_fields__)
    if set(fields) != expected:
        raise WireError(f"{_NAMES[kind]}: fields {sorted(fields)[:8]}, expected {sorted(expected)}")
    return _checked(kind, fields)


def _text(
    fields: dict[str, Any], name: str, limit: int, pattern: re.Pattern[str] | None = None
) -> str:
    value = fields[name]
    if not isinstance(value, str):
        raise WireError(f"{name}: not a string")
    if len(value) > limit:
        raise WireError(f"{name}: longer than {limit} characters")
    if pattern is not None and not pattern.match(value):
        raise WireError(f"{name}: malformed")
    return value


def _meeting(fields: dict[str, Any]) -> MeetingId:
    meeting = parse_meeting_id(_text(fields, "meeting", 20))
    if meeting is None:
        raise WireError("meeting: not a meeting id")
    return meeting


def _checked(kind: type[NodeMessage], fields: dict[str, Any]) -> NodeMessage:
    if kind is Ping:
        return Ping(_text(fields, "node", 12, NODE_ID))
    if kind is MeetingOver:
        return MeetingOver(_meeting(fields))
    session = _text(fields, "session", 32, _SESSION)
    if kind is Open:
        meeting = _meeting(fields)
        cookie = fields["cookie"]
        return Open(
            session=session,
            node=_text(fields, "node", 12, NODE_ID),
            meeting=meeting,
            remote=_text(fields, "remote", MAX_REMOTE),
            cookie=None if cookie is None else _text(fields, "cookie", MAX_COOKIE),
        )
    if kind is FromPage:
        return FromPage(session, _text(fields, "text", MAX_MESSAGE))
    if kind is ToPage:
        return ToPage(session, _text(fields, "text", MAX_MESSAGE))
    if kind is PageGone:
        return PageGone(session)
    code = fields["code"]
    if not isinstance(code, int) or isinstance(code, bool) or not 1000 <= code <= 4999:
        raise WireError("code: not a WebSocket close code")
    return ClosePage(session, code, _text(fields, "reason", MAX_REASON))
