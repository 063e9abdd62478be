"""Background tasks owned by an object.

asyncio keeps only weak references to tasks: a task nobody holds may be collected before it
ends. Every object that starts work it does not await (a socket reacting to an SFU event, a
link closing itself, the guard handing SRTCP to aiortc) keeps it here, and cancels what is
left when it goes away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any


class Tasks:
    __slots__ = ("_running",)

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()

    def spawn(
        self, coroutine: Coroutine[Any, Any, Any], *, name: str | None = None
    ) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    def cancel(self) -> None:
        """Cancel every task still running, except the one calling (which may be one of them)."""
        current = asyncio.current_task()
        for task in list(self._running):
            if task is not current:
                task.cancel()

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(list(self._running))

    def __len__(self) -> int:
        return len(self._running)
