"""A child process (`python -m <module>`) the hub speaks to in frames over its stdin and stdout.

The speech worker and the recorder (hub/speech/worker_client.py, hub/recording/client.py) are
each one of these. The hub never waits on the child: a write that would leave more than
`pipe_limit` bytes queued is refused (the caller counts it), one task reads what the child
says, and a pump hands the child what the SFU's taps gathered every `batch_seconds`, so
nothing here runs per packet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from hub.pipes.frames import FrameError, read_frame

log = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")


async def _cancelled(task: asyncio.Task[Any] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class ChildProcess(Generic[In, Out]):
    """Owns one child process at a time and the pump that feeds it. `start` begins the pump;
    `spawn` starts the process when it is not running (the caller decides when it is needed);
    `close` ends both.

    A child that ends by itself, or sends a frame that is not one of its messages (then it is
    killed), is reported through `on_end`. When the hub stops it: with `hear_out`, its stdin
    is closed and what it still says is read before `on_end` (the recorder answers a Finish
    already sent); without, the hub stops listening first and nobody is told.
    """

    def __init__(
        self,
        module: str,
        name: str,
        *,
        encode: Callable[[In], bytes],
        decode: Callable[[bytes], Out],
        max_frame: int,
        on_message: Callable[[Out], Awaitable[None]],
        on_end: Callable[[], Awaitable[None]],
        pipe_limit: int,
        stop_timeout: float,
        batch_seconds: float = 0.04,
        hear_out: bool = False,
    ) -> None:
        self._module, self._name = module, name
        self._encode, self._decode, self._max_frame = encode, decode, max_frame
        self._on_message, self._on_end = on_message, on_end
        self._pipe_limit, self._stop_timeout = pipe_limit, stop_timeout
        self._batch_seconds, self._hear_out = batch_seconds, hear_out
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pump: asyncio.Task[None] | None = None

    def start(self, step: Callable[[], Awaitable[None]], what: str) -> None:
        """Run `step` every `batch_seconds` until `close`; a step that fails is logged as
        `what` and the next one runs (a bug costs a batch, never the media)."""
        self._pump = asyncio.get_running_loop().create_task(self._run_pump(step, what))

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def spawn(self) -> bool:
        """Start the process unless it runs; True if it was started now."""
        if self.running:
            return False
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", self._module,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        log.info("%s started (pid %d)", self._name, self._process.pid)
        self._reader = asyncio.get_running_loop().create_task(self._read(self._process))
        return True

    def write(self, message: In, *, force: bool = False) -> bool:
        """Queue the message for the child; False if it is not running or, unless `force`,
        does not keep up (dropped, never waited for)."""
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return False
        if not force and process.stdin.transport.get_write_buffer_size() > self._pipe_limit:
            return False
        process.stdin.write(self._encode(message))
        return True

    async def close(self) -> None:
        await _cancelled(self._pump)
        process, self._process = self._process, None
        if process is None:
            return
        if not self._hear_out:  # stopped on purpose: nobody is told it stopped
            await _cancelled(self._reader)
        if process.stdin is not None:
            process.stdin.close()  # the child finishes its work and exits
        try:
            async with asyncio.timeout(self._stop_timeout):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
        await _cancelled(self._reader)

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        try:
            while (body := await read_frame(process.stdout, self._max_frame)) is not None:
                await self._on_message(self._decode(body))
        except FrameError as exc:
            log.error("%s sent garbage: %s", self._name, exc)
            process.kill()
        await self._on_end()

    async def _run_pump(self, step: Callable[[], Awaitable[None]], what: str) -> None:
        while True:
            await asyncio.sleep(self._batch_seconds)
            try:
                await step()
            except Exception:
                log.exception("%s failed", what)
