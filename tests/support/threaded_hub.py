"""The real hub app served from an event loop in a thread of the test process, for tests that
drive browsers with Playwright's sync API and must also read what the SFU itself counts
(`SfuRoom.snapshot()`, its counters), which `hub serve` in a subprocess does not expose per
leg. Playwright's sync API holds the main thread's event loop, so the hub, and any asyncio
helper the test drives, each get a `LoopThread` of their own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

from hub.config import HubConfig
from hub.ids import MeetingId
from hub.sfu.room import SfuRoom
from hub.sfu.service import Sfu
from hub.web.app import create_app
from hub.web.keys import SFU

T = TypeVar("T")


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed, as `hub serve` runs (hub.cli.run_event_loop)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class LoopThread:
    """An event loop running in a daemon thread; `run()` waits for a coroutine on it from
    another thread, `call()` runs a plain function on it (so it sees no half-made change).
    Started by the constructor, stopped by `close()`."""

    def __init__(self, name: str) -> None:
        self.loop = _new_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def call(self, function: Callable[..., T], *args: Any, timeout: float = 30) -> T:
        async def inside() -> T:
            return function(*args)

        return self.run(inside(), timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return

        async def cancel_the_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(cancel_the_rest(), timeout=15)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(15)
            if not self._thread.is_alive():
                self.loop.close()


class _LineFormatter(logging.Formatter):
    """One line per record, with the participant it concerns when the hub says."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        participant = getattr(record, "participant_id", None)
        return f"{line} [{participant}]" if participant else line


class ThreadedHub:
    """`create_app(config)` on 127.0.0.1:`config.server.port` in a `LoopThread`, with its
    cleanup contexts (database, SFU) as under `hub serve`, its INFO log lines in
    `<data_dir>/../hub.log`. `start()` / `stop()`."""

    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self.app = create_app(config)
        self.loop = LoopThread("hub")
        self._runner: web.AppRunner | None = None
        self.log_path = config.server.data_dir.parent / "hub.log"
        self._log_handler: logging.Handler | None = None
        self._logger = logging.getLogger("hub")
        self._logger_level = self._logger.level

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.config.server.port}"

    def start(self) -> ThreadedHub:
        async def start() -> web.AppRunner:
            runner = web.AppRunner(self.app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.config.server.port).start()
            return runner

        self._log_handler = logging.FileHandler(self.log_path, encoding="utf-8")
        self._log_handler.setFormatter(_LineFormatter())
        self._logger.addHandler(self._log_handler)
        self._logger.setLevel(logging.INFO)
        self._runner = self.loop.run(start(), timeout=60)
        return self

    def stop(self) -> None:
        try:
            if self._runner is not None:
                self.loop.run(self._runner.cleanup(), timeout=30)
                self._runner = None
        finally:
            self.loop.close()
            if self._log_handler is not None:
                self._logger.removeHandler(self._log_handler)
                self._logger.setLevel(self._logger_level)
                self._log_handler.close()
                self._log_handler = None

    def log(self, lines: int = 40) -> str:
        """The end of its log, for failure messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    @property
    def sfu(self) -> Sfu:
        """The hub's SFU (read it through `call`: it lives on the hub's loop)."""
        return self.app[SFU]

    def room(self, meeting_id: str) -> SfuRoom:
        return self.sfu.rooms[MeetingId(meeting_id)]

    def call(self, function: Callable[..., T], *args: Any) -> T:
        return self.loop.call(function, *args)
