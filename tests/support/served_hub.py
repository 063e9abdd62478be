"""`hub serve` as an operator runs it, in a subprocess on a free loopback port: real logging
set-up, real runner, its log in a file the test reads."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hub.auth.session import CSRF_HEADER, SessionCodec
from tests.conftest import make_config
from tests.support import processes


@dataclass(frozen=True)
class ServedHub:
    url: str
    port: int
    log_path: Path
    codec: SessionCodec  # the hub's own, from the same secret key: CSRF tokens for its sessions
    process: subprocess.Popen[bytes]

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()

    def csrf_header(self, session_cookie: str) -> dict[str, str]:
        """The X-CSRF-Token header for the session cookie this hub gave."""
        session = self.codec.decode(session_cookie)
        assert session is not None, "no valid session cookie"
        return {CSRF_HEADER: self.codec.csrf_token(session)}


@contextmanager
def served_hub(folder: Path, **sections: dict[str, object]) -> Iterator[ServedHub]:
    """Start `hub serve` with a dev config in `folder` (`sections` as for make_config) and stop
    it by its pid on exit."""
    config = make_config(folder, **sections)
    port = processes.free_port()
    log_path = folder / "hub.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    process = processes.start(
        [sys.executable, "-m", "hub", "serve", "--config", str(folder / "config.toml"),
         "--port", str(port)],
        log_path=log_path,
        cwd=folder,
        env=env,
    )  # fmt: skip
    try:
        processes.wait_for_port("127.0.0.1", port, 60, process)
        codec = SessionCodec(config.security.secret_key.get_secret_value(), secure=False)
        yield ServedHub(f"http://127.0.0.1:{port}", port, log_path, codec, process)
    finally:
        processes.stop(process)
