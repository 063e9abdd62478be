"""The `hub` command: serve, manage the database schema, check a config, print a secret.

Every failure the operator can fix ends in one line on stderr saying what and where, with
exit code 2 for configuration errors and 1 for anything that stopped the start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from bridge.bot import running
from bridge.http_port import HttpHub
from bridge.session import BotError
from hub import __version__
from hub.config import HubConfig, load_config, with_dev_secrets
from hub.db import migrate
from hub.db.database import Database
from hub.drain_command import add_drain_command
from hub.errors import ConfigError, StartupError
from hub.federation.command import add_federation_commands
from hub.log import setup_logging
from hub.recording.command import add_recordings_commands
from hub.sfu.worker_command import add_worker_arguments, run_worker_command, worker_description
from hub.stalls import freeze_startup_objects
from hub.web.access import AccessLogger
from hub.web.admin_socket import AdminSocket
from hub.web.app import create_app
from hub.web.bridge import bot_config_of
from hub.web.keys import NODE

log = logging.getLogger("hub.cli")

EXIT_STARTUP = 1
EXIT_CONFIG = 2


def _config_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        metavar="FILE",
        default=os.environ.get("HUB_CONFIG") or None,
        help="TOML configuration file (default: $HUB_CONFIG); see config.example.toml",
    )


def _config_options(parser: argparse.ArgumentParser) -> None:
    _config_file_option(parser)
    parser.add_argument(
        "--dev",
        action="store_true",
        help="development mode: works without a config file (SQLite and generated secrets "
        "under ./data, bound to 127.0.0.1)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hub",
        description="Sovereign meeting hub: meetings in the browser on our own SFU, "
        "linked to Tchap/Matrix rooms, federated between ministries.",
        epilog="Every configuration key can be overridden by HUB_<SECTION>__<KEY>, "
        "e.g. HUB_DATABASE__URL.",
    )
    parser.add_argument("--version", action="version", version=f"hub {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the hub (web, API, SFU)",
        description="Run the hub. The schema is brought to the latest revision first unless "
        "database.auto_migrate is false.",
    )
    _config_options(serve)
    serve.add_argument("--host", help="address to listen on (overrides server.host)")
    serve.add_argument("--port", type=int, help="port to listen on (overrides server.port)")
    serve.set_defaults(run=_cmd_serve)

    db = commands.add_parser(
        "db", help="manage the database schema", description="Manage the database schema."
    )
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_commands.add_parser("upgrade", help="migrate to a revision (default: the latest)")
    _config_options(upgrade)
    upgrade.add_argument("revision", nargs="?", default="head", help="target (default: head)")
    upgrade.set_defaults(run=_cmd_db_upgrade)
    downgrade = db_commands.add_parser("downgrade", help="migrate back to a revision")
    _config_options(downgrade)
    downgrade.add_argument("revision", help="target revision, e.g. 0001, -1 or base")
    downgrade.set_defaults(run=_cmd_db_downgrade)
    current = db_commands.add_parser("current", help="show the schema revision")
    _config_options(current)
    current.set_defaults(run=_cmd_db_current)

    bridge = commands.add_parser(
        "bridge",
        help="run the Matrix bot alone, talking to a hub over its bridge API",
        description="Run the Matrix bot in its own process. It calls the hub at matrix.hub_url "
        "(default: server.public_url) with matrix.bridge_token, which the hub's configuration "
        "must hold too; it needs matrix.bot_user_id and matrix.bot_homeserver_url. Stops on "
        "SIGINT or SIGTERM.",
    )
    _config_file_option(bridge)
    bridge.set_defaults(run=_cmd_bridge)

    check = commands.add_parser(
        "check-config",
        help="validate a configuration file without starting",
        description="Validate FILE (with HUB_* environment overrides applied) and exit 0 if "
        "the hub would start with it.",
    )
    check.add_argument("file", type=Path, metavar="FILE")
    check.set_defaults(run=_cmd_check_config)

    secret = commands.add_parser(
        "secret", help="print a random secret for the configuration (security.secret_key)"
    )
    secret.set_defaults(run=_cmd_secret)
    add_federation_commands(commands, _config_options, _load)  # hub/federation/command.py
    _add_worker_command(commands)
    add_drain_command(commands, _config_options, _load)  # hub/drain_command.py
    add_recordings_commands(commands, _config_options, _load)  # hub/recording/command.py
    return parser


def _add_worker_command(commands: Any) -> None:
    worker = commands.add_parser(
        "sfu-worker",
        help="forward media for a hub (started by `hub serve` when sfu.workers > 0)",
        description=worker_description,
    )
    add_worker_arguments(worker)
    worker.set_defaults(run=run_worker_command)


def _load(
    args: argparse.Namespace, *, need_keys: bool = True, dev_secrets: bool = True
) -> HubConfig:
    if args.config is None and not args.dev:
        raise ConfigError(
            "no configuration: pass --config FILE (start from config.example.toml) or --dev"
        )
    config = load_config(args.config, dev=args.dev, need_keys=need_keys)
    setup_logging(config.logging, dev=config.dev)
    return with_dev_secrets(config) if dev_secrets else config


def _bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket before anything else, so a busy port changes no data."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"{host}:{port} is already in use: stop the other process or choose "
                "another port with --port"
            ) from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def _serve(config: HubConfig) -> None:
    sock = _bind(config.server.host, config.server.port)
    app, stop = create_app(config), asyncio.Event()
    admin = AdminSocket(config.server.data_dir, app[NODE], stop)  # `hub drain` sets `stop`
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log_class=AccessLogger,
        access_log=logging.getLogger("aiohttp.access") if config.logging.access_log else None,
        shutdown_timeout=config.server.shutdown_timeout,
    )
    try:
        await runner.setup()
        await web.SockSite(runner, sock).start()
        await admin.open()
        frozen = freeze_startup_objects()
        log.info(
            "hub listening on http://%s:%d%s",
            config.server.host,
            config.server.port,
            " (dev mode)" if config.dev else "",
            extra={"gc_frozen_objects": frozen},
        )
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("stopping")
    finally:
        if runner.server is not None:
            await runner.cleanup()
        await admin.close()
        sock.close()


def _cmd_serve(args: argparse.Namespace) -> int:
    config = _load(args)
    overrides = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    if overrides:
        config = config.model_copy(update={"server": config.server.model_copy(update=overrides)})
    run_event_loop(_serve(config))
    return 0


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when installed: it halves the SFU's per-packet receive cost (measured in
    docs/sfu-aiortc-hooks.md), everything else behaves the same."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


async def _with_database(config: HubConfig, action: Callable[[Database], Awaitable[str]]) -> str:
    database = Database(config)
    await database.open()
    try:
        return await action(database)
    finally:
        await database.close()


def _describe(status: migrate.SchemaStatus) -> str:
    current = ", ".join(status.current) or "empty"
    state = "latest" if status.is_head else f"latest is {status.head}"
    return f"schema revision: {current} ({state})"


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    async def action(database: Database) -> str:
        status = await migrate.upgrade(database.engine, database.display_url, args.revision)
        return _describe(status)

    print(asyncio.run(_with_database(_load(args), action)))
    return 0


def _cmd_db_downgrade(args: argparse.Namespace) -> int:
    async def action(database: Database) -> str:
        status = await migrate.downgrade(database.engine, database.display_url, args.revision)
        return _describe(status)

    print(asyncio.run(_with_database(_load(args), action)))
    return 0


def _cmd_db_current(args: argparse.Namespace) -> int:
    async def action(database: Database) -> str:
        return _describe(await migrate.schema_status(database.engine))

    print(asyncio.run(_with_database(_load(args), action)))
    return 0


def _bridge_config(args: argparse.Namespace) -> HubConfig:
    """The configuration of a bot run alone; one line naming the key it still needs."""
    if args.config is None:
        raise ConfigError("no configuration: pass --config FILE (start from config.example.toml)")
    config = load_config(args.config, for_bridge=True)
    matrix = config.matrix
    needed = (
        ("bot_user_id", matrix.bot_user_id, "the bot's Matrix user id, @name:server"),
        ("bot_homeserver_url", matrix.bot_homeserver_url, "its homeserver's client API URL"),
        ("bridge_token", matrix.bridge_token.get_secret_value(), "the hub's bridge token"),
    )
    for key, value, what in needed:
        if not value:
            raise ConfigError(f"{args.config}: matrix.{key}: is empty; set it to {what}")
    setup_logging(config.logging, dev=config.dev)
    return config


async def _run_bridge(config: HubConfig) -> None:
    # A signal cancels everything, also a first login still retrying an unreachable homeserver.
    main = asyncio.current_task()
    assert main is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, main.cancel)
    hub = HttpHub(config.bridge_hub_url, config.matrix.bridge_token.get_secret_value())
    try:
        async with running(bot_config_of(config), hub):
            log.info(
                "bridge running as %s, hub at %s", config.matrix.bot_user_id, config.bridge_hub_url
            )
            await asyncio.Event().wait()
    except asyncio.CancelledError:
        log.info("stopping")
    except BotError as exc:
        raise StartupError(str(exc)) from None
    finally:
        await hub.close()


def _cmd_bridge(args: argparse.Namespace) -> int:
    run_event_loop(_run_bridge(_bridge_config(args)))
    return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    config = load_config(args.file)
    mode = "dev mode" if config.dev else "production mode"
    print(f"{args.file}: ok ({mode}, database {config.database_url.split(':', 1)[0]})")
    return 0


def _cmd_secret(args: argparse.Namespace) -> int:
    print(secrets.token_urlsafe(48))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except ConfigError as exc:
        print(f"hub: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StartupError as exc:
        print(f"hub: cannot start: {exc}", file=sys.stderr)
        return EXIT_STARTUP
    except KeyboardInterrupt:
        return 130
    finally:
        with contextlib.suppress(Exception):
            logging.shutdown()
