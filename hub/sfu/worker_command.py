"""The `hub sfu-worker` command line, also run as `python -m hub.sfu` (what `hub serve`
starts: it imports only the SFU, so a worker that died is replaced sooner)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from hub.config_sections import LoggingConfig
from hub.log import setup_logging

worker_description = (
    "Run one SFU worker: it forwards the media of the meetings its hub places on it (UDP "
    "sockets, WebRTC connections) and nothing else (no database, no HTTP). It takes the "
    "hub's orders on a Unix socket it creates at PATH (mode 0600) and reports its load there "
    "every second. `hub serve` starts and restarts its workers itself when sfu.workers > 0. "
    "Stops on SIGINT or SIGTERM."
)


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--control", type=Path, metavar="PATH", required=True,
        help="the Unix socket to create and listen on for the hub's control connection",
    )  # fmt: skip
    parser.add_argument(
        "--exit-when-idle", action="store_true",
        help="stop once the hub's control connection has closed (how `hub serve` starts it)",
    )  # fmt: skip
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="info"
    )
    parser.add_argument("--log-format", choices=("text", "json"), default="json")


def run_worker_command(args: argparse.Namespace) -> int:
    from hub.sfu.worker import run_worker  # aiortc: only for this command

    setup_logging(LoggingConfig(level=args.log_level, format=args.log_format), dev=False)
    main = run_worker(args.control, exit_when_idle=args.exit_when_idle)
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)  # as `hub serve`: half the receive cost per packet
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="hub sfu-worker", description=worker_description)
    add_worker_arguments(parser)
    return run_worker_command(parser.parse_args())
