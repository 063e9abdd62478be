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
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
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
from hub.errors import ConfigError, HubError, StartupError
from hub.federation import keys as federation_keys
from hub.federation.client import FederationClient
from hub.federation.policy import Partner, PartnerPolicy, PolicyError
from hub.federation.service import instance_keys
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
    _add_keys_commands(commands)
    _add_federation_commands(commands)
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


def _add_keys_commands(commands: Any) -> None:
    keys = commands.add_parser(
        "keys",
        help="manage this hub's federation signing keys",
        description="Manage the ed25519 keys this hub signs its requests to partner hubs with "
        "(federation.signing_key_file, default <server.data_dir>/federation/signing.key).",
    )
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    generate = actions.add_parser(
        "generate",
        help="create the signing key, or rotate it",
        description="Create the key file, or rotate: a new key signs from now on; the previous "
        "one is kept, retired, so partners still verify requests signed before now (retired "
        "keys are dropped after 30 days). Restart the hub to use the new key. The private key "
        "is never printed.",
    )
    _config_options(generate)
    generate.set_defaults(run=_cmd_keys_generate)
    show = actions.add_parser(
        "show",
        help="print the public keys partners verify our requests with",
        description="Print the key ids and public keys in the key file (current, then retired).",
    )
    _config_options(show)
    show.set_defaults(run=_cmd_keys_show)


def _add_federation_commands(commands: Any) -> None:
    federation = commands.add_parser(
        "federation",
        help="manage partner hubs",
        description="Manage partner hubs. Nobody is a partner unless listed: in the "
        "configuration file ([[federation.partners]], changed only there) or in the database "
        "(these commands; a running hub sees changes at its next request).",
    )
    actions = federation.add_subparsers(dest="federation_command", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add",
        help="add a partner hub (or replace what the database says of it)",
        description="Add a partner hub to the database, or replace its entry.",
    )
    _config_options(add)
    add.add_argument("server_name", metavar="SERVER_NAME", help="the name it signs with")
    add.add_argument(
        "base_url", metavar="BASE_URL", help="where it is reached: https://host[:port]"
    )
    add.add_argument("--label", help="shown after its people's names, e.g. Finances")
    add.add_argument(
        "--inbound-trusted",
        action="store_true",
        help="its authenticated people join our trusted meetings without waiting",
    )
    add.add_argument(
        "--outbound-allowed", action="store_true", help="our people may join meetings it hosts"
    )
    add.add_argument(
        "--matrix-homeserver",
        dest="matrix_homeservers",
        metavar="HS",
        action="extend",
        nargs="+",
        default=[],
        help="a Matrix homeserver whose users belong to that hub (repeatable)",
    )
    add.set_defaults(run=_cmd_federation_add)
    remove = actions.add_parser(
        "remove",
        help="remove a partner hub added with `hub federation add`",
        description="Remove a partner hub from the database; its requests are refused from "
        "then on. Partners of the configuration file are removed by editing the file.",
    )
    _config_options(remove)
    remove.add_argument("server_name", metavar="SERVER_NAME")
    remove.set_defaults(run=_cmd_federation_remove)
    listing = actions.add_parser(
        "list",
        help="list partner hubs",
        description="List partner hubs, from the configuration file and the database. With "
        "--check, send each a signed ping (exit 1 if any does not answer it).",
    )
    _config_options(listing)
    listing.add_argument(
        "--check", action="store_true", help="send each partner a signed ping and show the result"
    )
    listing.set_defaults(run=_cmd_federation_list)


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


def _cmd_keys_generate(args: argparse.Namespace) -> int:
    config = _load(args, need_keys=False)
    path = config.federation_key_file
    try:
        keys = federation_keys.generate(path, federation_keys.system_clock())
    except federation_keys.KeyFileError as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror}") from None
    print(f"generated key {keys.key_id} in {path}")
    if keys.retired:
        print(
            f"retired {keys.retired[0].key_id}: partners still verify what it signed before "
            "now; restart the hub to sign with the new key"
        )
    return 0


def _cmd_keys_show(args: argparse.Namespace) -> int:
    config = _load(args, need_keys=False)
    try:
        keys = federation_keys.load(config.federation_key_file)
    except federation_keys.KeyFileError as exc:
        raise ConfigError(str(exc)) from None
    print(f"{keys.key_id} {keys.current.verify_key.public_base64} current")
    for key in keys.retired:
        when = datetime.fromtimestamp((key.expired_ts or 0) / 1000, UTC)
        print(f"{key.key_id} {key.verify_key.public_base64} retired {when:%Y-%m-%dT%H:%M:%SZ}")
    return 0


async def _with_policy(config: HubConfig, action: Callable[[PartnerPolicy], Awaitable[int]]) -> int:
    """Run `action` on the partner policy of this configuration's database (schema at head)."""
    database = Database(config)
    await database.open()
    try:
        await migrate.prepare_schema(
            database.engine, database.display_url, auto_migrate=config.database.auto_migrate
        )
        try:
            return await action(PartnerPolicy(config, database.sessions))
        except PolicyError as exc:
            raise ConfigError(str(exc)) from None
    finally:
        await database.close()


def _cmd_federation_add(args: argparse.Namespace) -> int:
    async def action(policy: PartnerPolicy) -> int:
        partner = await policy.add(
            args.server_name,
            args.base_url,
            label=args.label,
            inbound_trusted=args.inbound_trusted,
            outbound_allowed=args.outbound_allowed,
            matrix_homeservers=args.matrix_homeservers,
        )
        print(f"partner {partner.server_name} added: {_describe_partner(partner)}")
        return 0

    return asyncio.run(_with_policy(_load(args, need_keys=False), action))


def _cmd_federation_remove(args: argparse.Namespace) -> int:
    async def action(policy: PartnerPolicy) -> int:
        await policy.remove(args.server_name)
        print(f"partner {args.server_name} removed: its requests are refused from now on")
        return 0

    config = _load(args, need_keys=False)
    try:
        return asyncio.run(_with_policy(config, action))
    except ConfigError as exc:
        if args.config is not None and "configuration file" in str(exc):
            raise ConfigError(f"{exc} ({args.config})") from None
        raise


def _describe_partner(partner: Partner) -> str:
    homeservers = ",".join(partner.matrix_homeservers) or "-"
    return (
        f"{partner.base_url} label={partner.label!r} "
        f"inbound_trusted={'yes' if partner.inbound_trusted else 'no'} "
        f"outbound_allowed={'yes' if partner.outbound_allowed else 'no'} "
        f"matrix={homeservers} ({partner.source})"
    )


async def _ping(client: FederationClient, partner: Partner) -> tuple[bool, str]:
    started = time.perf_counter()
    try:
        status, body = await client.request(
            partner.server_name, "GET", "/_hub/federation/v1/ping", None
        )
    except HubError as exc:
        return False, f"unreachable: {exc.detail}"
    elapsed = (time.perf_counter() - started) * 1000
    if status != 200:
        return False, f"refused: {status} {body.get('code', '')}: {body.get('detail', '')}"
    if body.get("server_name") != partner.server_name or body.get("origin") != client.server_name:
        return False, "answered as another hub (check its server_name and base_url)"
    return True, f"ok ({elapsed:.0f} ms)"


def _cmd_federation_list(args: argparse.Namespace) -> int:
    config = _load(args, need_keys=args.check)
    server_name = config.federation.server_name
    if args.check and server_name is None:
        raise ConfigError("federation.server_name: is empty; set it to check partners")

    async def action(policy: PartnerPolicy) -> int:
        partners = await policy.all()
        if not partners:
            print("no partner: nobody's requests are accepted (federation is closed)")
            return 0
        if not args.check:
            for partner in partners:
                print(f"{partner.server_name} {_describe_partner(partner)}")
            return 0
        assert server_name is not None
        keys = instance_keys(config, federation_keys.system_clock())
        client = FederationClient(
            server_name,
            keys,
            policy,
            allow_private_networks=config.federation.allow_private_networks,
        )
        failures = 0
        try:
            for partner in partners:
                ok, result = await _ping(client, partner)
                failures += not ok
                print(f"{partner.server_name} {_describe_partner(partner)} ping: {result}")
        finally:
            await client.close()
        return 1 if failures else 0

    return asyncio.run(_with_policy(config, action))


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
