"""`hub keys` and `hub federation`: this hub's federation signing keys, and its partner hubs
(added, removed, listed, pinged with a signed request). Each failure an operator can fix is a
ConfigError: one line from the CLI (hub/cli.py), exit code 2."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from hub.config import HubConfig
from hub.db import migrate
from hub.db.database import Database
from hub.errors import ConfigError, HubError
from hub.federation import keys as federation_keys
from hub.federation.client import FederationClient
from hub.federation.policy import Partner, PartnerPolicy, PolicyError
from hub.federation.service import instance_keys

ConfigOptions = Callable[[argparse.ArgumentParser], None]
Load = Callable[..., HubConfig]


def add_federation_commands(commands: Any, config_options: ConfigOptions, load: Load) -> None:
    """`hub keys` and `hub federation`, under the CLI's `commands` (its config options and
    loader given)."""
    _add_keys_commands(commands, config_options, load)
    _add_federation_commands(commands, config_options, load)


def _add_keys_commands(commands: Any, config_options: ConfigOptions, load: Load) -> None:
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
    config_options(generate)
    generate.set_defaults(run=partial(_cmd_keys_generate, load))
    show = actions.add_parser(
        "show",
        help="print the public keys partners verify our requests with",
        description="Print the key ids and public keys in the key file (current, then retired).",
    )
    config_options(show)
    show.set_defaults(run=partial(_cmd_keys_show, load))


def _add_federation_commands(commands: Any, config_options: ConfigOptions, load: Load) -> None:
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
    config_options(add)
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
    add.set_defaults(run=partial(_cmd_federation_add, load))
    remove = actions.add_parser(
        "remove",
        help="remove a partner hub added with `hub federation add`",
        description="Remove a partner hub from the database; its requests are refused from "
        "then on. Partners of the configuration file are removed by editing the file.",
    )
    config_options(remove)
    remove.add_argument("server_name", metavar="SERVER_NAME")
    remove.set_defaults(run=partial(_cmd_federation_remove, load))
    listing = actions.add_parser(
        "list",
        help="list partner hubs",
        description="List partner hubs, from the configuration file and the database. With "
        "--check, send each a signed ping (exit 1 if any does not answer it).",
    )
    config_options(listing)
    listing.add_argument(
        "--check", action="store_true", help="send each partner a signed ping and show the result"
    )
    listing.set_defaults(run=partial(_cmd_federation_list, load))


def _cmd_keys_generate(load: Load, args: argparse.Namespace) -> int:
    config = load(args, need_keys=False)
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


def _cmd_keys_show(load: Load, args: argparse.Namespace) -> int:
    config = load(args, need_keys=False)
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


def _cmd_federation_add(load: Load, args: argparse.Namespace) -> int:
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

    return asyncio.run(_with_policy(load(args, need_keys=False), action))


def _cmd_federation_remove(load: Load, args: argparse.Namespace) -> int:
    async def action(policy: PartnerPolicy) -> int:
        await policy.remove(args.server_name)
        print(f"partner {args.server_name} removed: its requests are refused from now on")
        return 0

    config = load(args, need_keys=False)
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


def _cmd_federation_list(load: Load, args: argparse.Namespace) -> int:
    config = load(args, need_keys=args.check)
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
