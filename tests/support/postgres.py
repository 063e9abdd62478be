"""A throw-away PostgreSQL cluster of our own: initdb in a temp dir, postgres on a free port.

Our own cluster (not the machine's service) lets a test stop the database under a running hub.
As root, PostgreSQL refuses to run, so the cluster runs as the `postgres` system user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import free_port, start, stop, wait_for_port


def find_bindir() -> Path | None:
    if configured := os.environ.get("HUB_TEST_PG_BINDIR"):
        return Path(configured)
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PostgresCluster:
    """One running cluster; `url(db)` gives an asyncpg URL, `stop()` ends it by pid."""

    bindir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hub-pg-")))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    user: str | None = None

    def start(self) -> PostgresCluster:
        data = self.root / "data"
        log = self.root / "postgres.log"
        if os.geteuid() == 0:
            self.user = "postgres"
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            check=True,
            capture_output=True,
            user=self.user,
            cwd=self.root,
        )
        self.process = start(
            [
                str(self.bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.root}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            log_path=log,
            user=self.user,
            cwd=self.root,
        )
        wait_for_port("127.0.0.1", self.port, 30, self.process)
        return self

    def psql(self, sql: str, database: str = "postgres", attempts: int = 5) -> None:
        """Run `sql`; a statement the server refuses for a passing reason (CREATE DATABASE
        while another session still holds template1, a connection refused on a loaded
        machine) is tried again; the last refusal is raised with the server's words."""
        command = [
            str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-d", database, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql,
        ]  # fmt: skip
        for attempt in range(attempts):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode == 0:
                return
            passing = "being accessed by other users" in done.stderr or (
                "could not connect" in done.stderr or "connection" in done.stderr.lower()
            )
            if not passing or attempt == attempts - 1:
                break
            time.sleep(0.3 * (attempt + 1))
        raise RuntimeError(f"psql {sql!r}: exit {done.returncode}: {done.stderr.strip()}")

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
        shutil.rmtree(self.root, ignore_errors=True)
