"""A real Redis (Debian's `redis-server`) on a free loopback port, saving nothing to disk,
stopped by its own pid; never the machine's own Redis."""

from __future__ import annotations

import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port, start, stop, wait_for_port


def redis_binary() -> Path | None:
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/sbin")
    return Path(found) if found else None


@dataclass
class RedisServer:
    """redis-server on 127.0.0.1:<free port> in `root`. `start()` runs it, `kill()` ends it
    with SIGKILL (a crash), `stop()` with SIGTERM; `start()` again keeps the port."""

    binary: Path
    root: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if not self.port:
            self.port = free_port()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> RedisServer:
        args = [
            str(self.binary),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.root),
            "--daemonize", "no",
        ]  # fmt: skip
        self.process = start(args, log_path=self.root / "redis.log")
        try:
            wait_for_port("127.0.0.1", self.port, timeout, self.process)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise RuntimeError(f"redis-server did not start: {exc}\n{self.log()}") from None
        return self

    def kill(self) -> None:
        if self.process is not None:
            stop(self.process, signal.SIGKILL)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def log(self) -> str:
        path = self.root / "redis.log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"
