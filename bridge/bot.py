"""The Matrix bot: one matrix-nio client that joins rooms it is invited to and answers commands.

Groundwork for issue 5: help, usage errors and the permission check work end to end; meeting
commands answer that they are not available yet. Rooms are unencrypted for now (the store path
is already where nio's crypto store will live once encryption is switched on).

Delivery is at most once: the sync token is saved before a batch is handled, so a restart never
answers a command twice (a crash mid-batch loses that batch's commands instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    InviteMemberEvent,
    LoginResponse,
    RoomMemberEvent,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

from bridge.commands import (
    DEFAULT_PREFIX,
    CommandCall,
    CommandContext,
    CommandRegistry,
    UsageError,
    VisioCommands,
)
from bridge.power import RoomPowers

log = logging.getLogger(__name__)

SESSION_FILE = "session.json"
SYNC_TIMEOUT_MS = 30_000
MAX_BACKOFF = 60.0


class BotError(RuntimeError):
    """The bot cannot go on (bad credentials, a session file for another account)."""


@dataclass(frozen=True)
class BotConfig:
    """Who the bot is and where it keeps its session; `password` serves the first login only."""

    homeserver_url: str
    user_id: str
    password: str
    data_dir: Path
    prefix: str = DEFAULT_PREFIX
    # Server names whose users may invite the bot; empty: nobody may.
    allowed_homeservers: tuple[str, ...] = ()
    device_name: str = "Visio"
    sync_timeout_ms: int = SYNC_TIMEOUT_MS

    @property
    def store_path(self) -> Path:
        return self.data_dir / "matrix"


@dataclass
class Session:
    """What survives a restart: the device (never log in twice) and the sync position."""

    homeserver_url: str
    user_id: str
    device_id: str
    access_token: str
    next_batch: str | None = None

    @classmethod
    def load(cls, path: Path) -> Session | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise BotError(f"{path}: unreadable session file ({type(exc).__name__})") from None
        fields = ("homeserver_url", "user_id", "device_id", "access_token")
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in fields):
            raise BotError(f"{path}: incomplete session file")
        next_batch = data.get("next_batch")
        return cls(
            data["homeserver_url"],
            data["user_id"],
            data["device_id"],
            data["access_token"],
            next_batch if isinstance(next_batch, str) and next_batch else None,
        )

    def save(self, path: Path) -> None:
        """Atomically, readable by the owner only (it holds the access token)."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle)
        temporary.replace(path)


def _source(event: Any) -> dict[str, Any]:
    source = getattr(event, "source", None)
    return source if isinstance(source, dict) else {}


def server_of(user_id: str) -> str:
    """`@alice:example.org:8448` → `example.org:8448`."""
    return user_id.partition(":")[2]


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


class MatrixBot(VisioCommands):
    """Owns one nio client and its session file. `open()` logs in (first start) or restores the
    saved device; `run()` syncs until cancelled; `close()` ends the HTTP session."""

    def __init__(self, config: BotConfig) -> None:
        self.config = config
        self.registry = CommandRegistry.of(self, config.prefix)
        self.session: Session | None = None
        self._powers: dict[str, RoomPowers] = {}
        self._synced = False
        self.client = AsyncClient(
            config.homeserver_url,
            config.user_id,
            store_path=str(config.store_path),
            config=AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False),
        )

    @property
    def session_path(self) -> Path:
        return self.config.store_path / SESSION_FILE

    async def open(self) -> None:
        session = Session.load(self.session_path)
        if session is not None:
            if (session.user_id, session.homeserver_url) != (
                self.config.user_id,
                self.config.homeserver_url,
            ):
                raise BotError(f"{self.session_path}: session of another account or homeserver")
            self.client.restore_login(session.user_id, session.device_id, session.access_token)
            log.info("matrix bot: restored device %s of %s", session.device_id, session.user_id)
        else:
            response = await self.client.login(
                self.config.password, device_name=self.config.device_name
            )
            if not isinstance(response, LoginResponse):
                raise BotError(f"login of {self.config.user_id} failed: {response.message}")
            session = Session(
                self.config.homeserver_url,
                str(response.user_id),
                str(response.device_id),
                str(response.access_token),
            )
            session.save(self.session_path)
            log.info("matrix bot: logged in as %s, device %s", session.user_id, session.device_id)
        self.session = session

    async def close(self) -> None:
        await self.client.close()

    async def run(self) -> None:
        """Sync and answer until cancelled; transient errors back off, a dead token stops."""
        backoff = 1.0
        while True:
            # Full state on the first sync of each process: room power levels live in memory.
            response = await self.client.sync(
                timeout=self.config.sync_timeout_ms,
                since=self._next_batch,
                full_state=not self._synced,
            )
            if not isinstance(response, SyncResponse):
                if response.status_code == "M_UNKNOWN_TOKEN":
                    raise BotError(f"access token of {self.config.user_id} was revoked")
                log.warning(
                    "matrix bot: sync failed (%s), retry in %.0f s", response.message, backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 1.0
            await self.handle_sync(response)
            self._synced = True

    @property
    def _next_batch(self) -> str | None:
        return self.session.next_batch if self.session else None

    async def handle_sync(self, response: SyncResponse) -> None:
        assert self.session is not None, "open() first"
        first = self.session.next_batch is None
        self.session.next_batch = str(response.next_batch)
        self.session.save(self.session_path)  # before answering: at most once
        for room_id, invite in response.rooms.invite.items():
            await self._answer_invite(str(room_id), invite.invite_state)
        for room_id, room in response.rooms.join.items():
            powers = self._powers.setdefault(str(room_id), RoomPowers())
            for event in room.state:
                powers.apply(_source(event))
            events = room.timeline.events
            # A room just joined shows some history: its old commands are not for the bot.
            joined_at = max(
                (index for index, event in enumerate(events) if self._is_own_join(event)),
                default=-1,
            )
            for index, event in enumerate(events):
                powers.apply(_source(event))  # in order: a command after a promotion counts
                if first or index <= joined_at:
                    continue  # nothing said before the bot's first start is for it
                if isinstance(event, RoomMessageText) and event.sender != self.client.user_id:
                    await self.handle_message(str(room_id), event, powers.level(event.sender))

    def _is_own_join(self, event: Any) -> bool:
        """The bot's join, not a later change of its display name (also a "join")."""
        return (
            isinstance(event, RoomMemberEvent)
            and event.state_key == self.client.user_id
            and event.membership == "join"
            and event.prev_membership != "join"
        )

    async def _answer_invite(self, room_id: str, invite_state: list[Any]) -> None:
        inviter = next(
            (
                str(event.sender)
                for event in invite_state
                if isinstance(event, InviteMemberEvent)
                and event.state_key == self.client.user_id
                and event.membership == "invite"
            ),
            None,
        )
        allowed = self.config.allowed_homeservers
        if inviter is not None and server_of(inviter) in allowed:
            log.info("matrix bot: joining %s (invited by %s)", room_id, inviter)
            answer: Any = await self.client.join(room_id)
        else:
            log.info("matrix bot: declining %s (invited by %s)", room_id, inviter)
            answer = await self.client.room_leave(room_id)
        if isinstance(answer, ErrorResponse):  # logged once; the next invite is tried afresh
            log.warning("matrix bot: answering the invite to %s failed: %s", room_id, answer)

    async def handle_message(self, room_id: str, event: Any, power: int) -> None:
        event_id, sender = str(event.event_id), str(event.sender)
        try:
            call = self.registry.parse(command_text(str(event.body)), dt.datetime.now(dt.UTC))
        except UsageError as exc:
            await self.notice(room_id, exc.notice, event_id)
            return
        if call is None:
            return
        context = CommandContext(room_id, sender, event_id, power)
        if not call.spec.permits(power):
            await self.notice(
                room_id,
                "Cette commande est réservée aux modérateurs du salon.\n"
                "This command is for the room's moderators.",
                event_id,
            )
            return
        try:
            await self.registry.handlers[call.spec](context, call)
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("matrix bot: command %s failed [ref %s]", call.spec.name, reference)
            await self.notice(
                room_id,
                f"Erreur interne, référence {reference}.\nInternal error, reference {reference}.",
                event_id,
            )

    async def notice(self, room_id: str, text: str, reply_to: str | None = None) -> None:
        content: dict[str, Any] = {"msgtype": "m.notice", "body": text}
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        response = await self.client.room_send(room_id, "m.room.message", content)
        if not isinstance(response, RoomSendResponse):
            log.warning("matrix bot: notice to %s failed: %s", room_id, response.message)

    # --- Handlers ---------------------------------------------------------------------------

    async def help(self, context: CommandContext, call: CommandCall) -> None:
        await self.notice(
            context.room_id, self.registry.help_text(call.text("command")), context.event_id
        )

    async def _not_yet(self, context: CommandContext, call: CommandCall) -> None:
        await self.notice(
            context.room_id,
            f"« {call.spec.name} » n'est pas encore disponible.\n"
            f"“{call.spec.name}” is not available yet.",
            context.event_id,
        )

    start = end = status = link = invite = lock = unlock = _not_yet
    admit = mute = schedule = _not_yet


@contextlib.asynccontextmanager
async def running(config: BotConfig) -> AsyncIterator[MatrixBot]:
    """A bot logged in and syncing for the duration of the block; stopped cleanly after."""
    bot = MatrixBot(config)
    try:
        await bot.open()
        task = asyncio.create_task(bot.run(), name="matrix-bot-sync")
        try:
            yield bot
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await bot.close()
