"""The `hub` command as an operator meets it: help, a working dev start, and one-line failures."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.processes import free_port, wait_for_port
from tests.test_config import EXAMPLE_SECRET, GOOD_SECRET, production_example, run_hub


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "check-config"),
        (["serve"], "--port"),
        (["db"], "downgrade"),
        (["db", "upgrade"], "revision"),
        (["check-config"], "FILE"),
        (["sfu-worker"], "--control PATH"),
    ],
)
def test_help_describes_each_command(args, expected):
    result = run_hub(*args, "--help")
    assert result.returncode == 0
    assert expected in result.stdout


def test_no_config_and_no_dev_says_what_to_do(tmp_path):
    result = run_hub("serve", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "hub: configuration error: no configuration: pass --config FILE "
        "(start from config.example.toml) or --dev"
    )


def _serve_ready(
    port: int, cwd, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`hub serve ARGS` in `cwd`, once /health/ready answers ok on `port`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port("127.0.0.1", port, 30, process)  # type: ignore[arg-type]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready") as answer:
            assert json.load(answer)["status"] == "ok"
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process


def test_dev_serve_starts_out_of_the_box_and_stops_on_sigterm(tmp_path):
    port = free_port()
    process = _serve_ready(port, tmp_path, "--dev", "--port", str(port))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/?q=private-query-value") as page:
            assert page.status == 200
        assert (tmp_path / "data" / "hub.sqlite3").is_file()
        assert (tmp_path / "data" / "secrets.toml").is_file()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "listening on http://127.0.0.1:" in output
    assert "Traceback" not in output
    assert "GET /health/ready 200" in output  # the access log is on...
    assert "private-query-value" not in output  # ...and never shows query strings


def test_port_in_use_gives_one_line_and_touches_no_data(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_hub("serve", "--dev", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"hub: cannot start: 127.0.0.1:{port} is already in use: stop the other process "
        "or choose another port with --port"
    )
    assert not (tmp_path / "data" / "hub.sqlite3").exists()


def test_unreachable_database_gives_one_line(tmp_path):
    port = free_port()
    url = f"postgresql+asyncpg://visio:hunter2hunter2@127.0.0.1:{port}/visio"
    result = run_hub(
        "serve", "--dev", "--port", str(free_port()), cwd=tmp_path, env={"HUB_DATABASE__URL": url}
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"hub: cannot start: database postgresql+asyncpg://visio:***@127.0.0.1:{port}/visio "
        "is unreachable:"
    )
    assert "hunter2" not in result.stderr


def _sqlite(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    database = tmp_path / "hub.sqlite3"
    return database, {"HUB_DATABASE__URL": f"sqlite+aiosqlite:///{database}"}


def test_db_commands_upgrade_show_and_downgrade(tmp_path):
    database, env = _sqlite(tmp_path)
    result = run_hub("db", "upgrade", "--dev", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "(latest)" in result.stdout
    assert "latest" in run_hub("db", "current", "--dev", cwd=tmp_path, env=env).stdout
    result = run_hub("db", "downgrade", "base", "--dev", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "schema revision: empty" in result.stdout
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert "meetings" not in tables


def test_database_newer_than_the_code_is_refused_and_left_unchanged(tmp_path):
    database, env = _sqlite(tmp_path)
    assert run_hub("db", "upgrade", "--dev", cwd=tmp_path, env=env).returncode == 0
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dcafe9999'")
        connection.execute(
            "INSERT INTO meetings (id, title, access_level, state, owner_identity, locked, "
            "created_at) VALUES ('abc-defg-hij', 'Kept', 'public', 'created', 'guest:x', 0, "
            "'2026-01-01 00:00:00')"
        )
    before = _dump(database)
    for args in (
        ("serve", "--dev", "--port", str(free_port())),
        ("db", "upgrade", "--dev"),
        ("db", "downgrade", "base", "--dev"),
    ):
        result = run_hub(*args, cwd=tmp_path, env=env)
        assert result.returncode == 1, args
        assert result.stderr.count("\n") == 1
        assert "f00dcafe9999, which this hub does not know" in result.stderr
        assert "upgrade the hub" in result.stderr
    assert _dump(database) == before
    assert "'Kept'" in "\n".join(before)


def _dump(database: Path) -> list[str]:
    """The database's full logical content (schema and rows), independent of file layout."""
    with sqlite3.connect(database) as connection:
        return list(connection.iterdump())


def _production_config(tmp_path: Path, data_dir: Path, port: int) -> Path:
    return production_example(
        tmp_path,
        {
            EXAMPLE_SECRET: GOOD_SECRET,
            'data_dir = "data"': f"data_dir = {json.dumps(str(data_dir))}",
            "port = 8080": f"port = {port}",
        },
    )


def test_production_start_creates_a_missing_data_dir_private(tmp_path):
    data_dir = tmp_path / "var" / "lib" / "visio"
    port = free_port()
    config = _production_config(tmp_path, data_dir, port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    process = _serve_ready(port, tmp_path, "--config", str(config), env=env)
    try:
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert (data_dir / "hub.sqlite3").is_file()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output


def test_a_data_dir_that_cannot_be_created_gives_one_line(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    config = _production_config(tmp_path, blocker / "visio", free_port())
    result = run_hub("serve", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"hub: cannot start: server.data_dir: cannot create {blocker / 'visio'}: Not a "
        "directory; create it for the hub's user (mode 0700) or set server.data_dir to a "
        "folder it may write\n"
    )
