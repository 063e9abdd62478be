"""`hub drain`: move everyone off a running `hub serve` before maintenance, then stop it.

Talks to the node through its admin socket (hub/web/admin_socket.py), found from the same
configuration the node runs with; prints what happens and exits 0 once the node is empty and
stopped, 1 with what was left otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

from hub.config import HubConfig
from hub.web.admin_socket import MAX_DRAIN_TIMEOUT, admin_socket_path

DEFAULT_TIMEOUT = 60.0
STOP_MARGIN = 10.0  # seconds beyond server.shutdown_timeout for the stopped node to exit
EXIT_LEFT = 1

description = (
    "Drain a running `hub serve` (the one using this configuration's server.data_dir): it "
    'answers /health/ready with 503 "draining" so the load balancer sends nobody new, closes '
    'new meeting sockets with a "draining, reconnecting" close, tells every open meeting '
    "page to reconnect (it comes back through the load balancer to another node), waits until "
    "its sockets are gone (at most --timeout), then stops. Exit 0 when it stopped with no "
    "socket left, 1 otherwise (what was left is printed). Run as the hub's user or root."
)


def add_drain_command(
    commands: Any,
    config_options: Callable[[argparse.ArgumentParser], None],
    load: Callable[..., HubConfig],
) -> None:
    """`hub drain`, under the CLI's `commands` (its config options and loader given)."""
    drain = commands.add_parser(
        "drain", help="move everyone off a running hub, then stop it", description=description
    )
    config_options(drain)
    add_drain_arguments(drain)
    # No dev secrets: draining must create nothing in a folder where no hub runs.
    drain.set_defaults(
        run=lambda args: run_drain(load(args, need_keys=False, dev_secrets=False), args.timeout)
    )


def add_drain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long the sockets may take to leave (default {DEFAULT_TIMEOUT:.0f})",
    )


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= MAX_DRAIN_TIMEOUT:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_DRAIN_TIMEOUT:.0f}")
    return value


def run_drain(config: HubConfig, timeout: float) -> int:
    return asyncio.run(_drain(config, timeout))


def _fail(text: str) -> int:
    print(f"hub: {text}", file=sys.stderr)
    return EXIT_LEFT


async def _drain(config: HubConfig, within: float) -> int:
    path = admin_socket_path(config.server.data_dir)
    try:
        reader, writer = await asyncio.open_unix_connection(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        return _fail(f"no running hub answers at {path} (is `hub serve` running with this "
                     "configuration?)")  # fmt: skip
    except PermissionError:
        return _fail(f"{path}: permission denied (run as the hub's user or root)")
    try:
        writer.write(json.dumps({"command": "drain", "timeout": within}).encode() + b"\n")
        await writer.drain()
        return await _follow(reader, within + config.server.shutdown_timeout + STOP_MARGIN)
    except TimeoutError:
        return _fail("the hub did not finish in time; see its log")
    except ConnectionError as exc:
        return _fail(f"the hub's admin socket broke: {exc}")
    finally:
        writer.close()


async def _follow(reader: asyncio.StreamReader, within: float) -> int:
    """Print the node's answers until its process ends (the socket's end of file)."""
    report: dict[str, Any] | None = None
    async with asyncio.timeout(within):
        while line := await reader.readline():
            message = json.loads(line)
            if "error" in message:
                return _fail(f"refused: {message['error']}")
            if message.get("event") == "draining":
                print(f"draining node {message['node']} (pid {message['pid']}): "
                      f"{message['meeting_sockets']} meeting sockets open")  # fmt: skip
            elif message.get("event") == "drained":
                report = message
                left = "none left" if not message["sockets_left"] else (
                    f"{message['sockets_left']} still open")  # fmt: skip
                print(f"drained in {message['seconds']} s: {left}; stopping")
    if report is None:
        return _fail("the hub stopped before its drain ended; see its log")
    print(f"node {report['node']} stopped")
    return 0 if report["sockets_left"] == 0 else EXIT_LEFT
