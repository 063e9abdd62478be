"""A coturn TURN server of our own on free loopback ports, stopped by pid."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import free_port, start, stop, wait_for_port

TURN_USER, TURN_PASSWORD, TURN_REALM = "visio", "turn-test-password", "visio.test"


@dataclass
class TurnServer:
    """turnserver with long-term credentials, relaying on 127.0.0.1 only."""

    binary: str
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hub-turn-")))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def start(self) -> TurnServer:
        relay_min = free_port()
        self.process = start(
            [self.binary, "-n", "--no-cli", "--no-tls", "--no-dtls", "--fingerprint",
             "--lt-cred-mech", f"--user={TURN_USER}:{TURN_PASSWORD}", f"--realm={TURN_REALM}",
             "--listening-ip=127.0.0.1", f"--listening-port={self.port}",
             "--relay-ip=127.0.0.1", f"--min-port={relay_min}", f"--max-port={relay_min + 50}",
             # Everything here is on loopback, which coturn refuses to relay to by default.
             "--allow-loopback-peers", "--no-multicast-peers", "--log-file=stdout",
             "--simple-log", "-v", f"--userdb={self.root / 'turndb'}"],
            log_path=self.root / "turnserver.log", cwd=self.root,
        )  # fmt: skip
        wait_for_port("127.0.0.1", self.port, 15, self.process)  # it listens on TCP too
        return self

    def log(self) -> str:
        return (self.root / "turnserver.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
        shutil.rmtree(self.root, ignore_errors=True)


def find_turnserver() -> str | None:
    return shutil.which("turnserver")
