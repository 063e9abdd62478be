"""The README's "two hubs on one machine" steps, run as written: its a.toml block (and b.toml
made from it as the README says), then each of its commands, on free ports in a temp folder."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

from tests.conftest import REPO
from tests.support.processes import free_port, start, stop

SECTION = "### Trying it: two hubs on one machine"


def readme_blocks() -> tuple[str, str]:
    """The section's TOML file and its shell commands."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(SECTION) :].split("\n### ", 1)[0]
    toml, shell = (
        textwrap.dedent(re.search(rf"```{kind}\n(.*?)```", section, re.S).group(1))  # type: ignore[union-attr]
        for kind in ("toml", "sh")
    )
    return toml, shell


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2),
        ):
            return
        time.sleep(0.1)
    raise TimeoutError(log.read_text())


def test_the_readme_two_hub_lab_works_as_written(tmp_path: Path) -> None:
    toml, shell = readme_blocks()
    port_a, port_b = free_port(), free_port()

    def on_our_ports(text: str) -> str:
        return text.replace("8081", str(port_a)).replace("8082", str(port_b))

    assert toml.startswith("# a.toml") and "data-a" in toml and "8081" in toml
    (tmp_path / "a.toml").write_text(on_our_ports(toml), encoding="utf-8")
    b_toml = toml.replace("8081", "8082").replace("data-a", "data-b")
    (tmp_path / "b.toml").write_text(on_our_ports(b_toml), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    servers: list[subprocess.Popen[bytes]] = []
    last = None
    try:
        for line in on_our_ports(shell).splitlines():
            args = shlex.split(line)
            assert args[0] == "hub", line
            command = [sys.executable, "-m", "hub", *args[1:]]
            if args[-1] == "&":
                log = tmp_path / f"serve-{len(servers)}.log"
                process = start(command[:-1], log_path=log, cwd=tmp_path, env=env)
                servers.append(process)
                config = (tmp_path / args[-2]).read_text(encoding="utf-8")
                port = int(re.search(r"^port = (\d+)$", config, re.M).group(1))  # type: ignore[union-attr]
                wait_ready(port, process, log)
                continue
            last = subprocess.run(
                command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
            )
            assert last.returncode == 0, (line, last.stdout, last.stderr)
    finally:
        for process in servers:
            stop(process)
    assert len(servers) == 2
    assert last is not None  # the README's last step: A pings B
    assert last.args[3:] == ["federation", "list", "--check", "--config", "a.toml"]
    assert f"127.0.0.1:{port_b} http://127.0.0.1:{port_b}" in last.stdout, last.stdout
    assert "ping: ok" in last.stdout, last.stdout
    for folder in ("data-a", "data-b"):
        assert (tmp_path / folder / "federation" / "signing.key").is_file()
        assert (tmp_path / folder / "hub.sqlite3").is_file()
