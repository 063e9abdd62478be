"""Who the bot is and what it keeps between runs: its settings, its Matrix device and sync
position (`session.json`), and the random key that encrypts matrix-nio's crypto store.

Everything lives in `<data_dir>/matrix-bot` (or `store_dir`), readable by the owner only: the
session holds the access token, and a lost store means a new device that encrypted rooms must
trust again.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from bridge.commands import DEFAULT_PREFIX

SYNC_TIMEOUT_MS = 30_000


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
    # Instead of <data_dir>/matrix-bot: a folder several hub nodes share (matrix.bot_store_dir).
    store_dir: Path | None = None

    @property
    def store_path(self) -> Path:
        return self.store_dir if self.store_dir is not None else self.data_dir / "matrix-bot"


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


def secret_file(path: Path) -> str:
    """A random key kept in `path` (0600), created on first use: it encrypts nio's store."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key
