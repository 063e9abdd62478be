"""The real hub as a subprocess (`python -m hub serve --dev`), for tests that need the whole
program: browsers, a reverse proxy in front, two hubs federating."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.processes import free_port, start, stop


@dataclass
class HubServer:
    """The real hub (`python -m hub serve --dev`) in its own folder, on a free port of `host`.

    Started by `start()`, stopped by pid with SIGTERM by `stop()`; `restart()` keeps the port
    and data, so a test can take the hub away under connected pages and bring it back. The
    SFU offers ICE candidates on `host` only (sfu.candidate_addresses), so media stays on that
    address too; `env` adds or overrides HUB_* variables.
    """

    workdir: Path
    host: str = "127.0.0.1"
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    process: Any = None

    def __post_init__(self) -> None:
        if not self.port:
            self.port = free_port(self.host)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "hub.log"

    def start(self, timeout: float = 30) -> HubServer:
        env = {
            **os.environ,
            "HUB_SERVER__PUBLIC_URL": self.base_url,
            "HUB_SFU__CANDIDATE_ADDRESSES": json.dumps([self.host]),
            "HUB_SERVER__NODE_URL": self.base_url,  # how the other nodes reach this one
            **self.env,
        }
        command = [sys.executable, "-m", "hub", "serve", "--dev"]
        self.process = start(
            [*command, "--host", self.host, "--port", str(self.port)],
            log_path=self.log_path,
            cwd=self.workdir,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the hub exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/health/ready", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        stop(self.process)
        raise TimeoutError(f"the hub was not ready within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Another `hub` command on this hub's folder and environment (e.g. `keys generate`)."""
        return subprocess.run(
            [sys.executable, "-m", "hub", *args],
            cwd=self.workdir,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def metrics(self) -> dict[str, float]:
        """The unlabelled samples of GET /metrics, by name (only answered to loopback)."""
        with urllib.request.urlopen(f"{self.base_url}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#") and "{" not in line:
                name, _, value = line.partition(" ")
                samples[name] = float(value)
        return samples
