"""The `hub sfu-worker` command line, also run as `python -m hub.sfu` (what `hub serve`
starts: it imports only the SFU, so a worker that died is replaced sooner)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Coroutine
from pathlib import Path

from hub.config_sections import LoggingConfig
from hub.errors import StartupError
from hub.log import setup_logging

SECRET_VARIABLE = "HUB_SFU__WORKER_SECRET"  # noqa: S105 (a name) the hub's sfu.worker_secret, by the same name
MIN_SECRET_LENGTH = 32

worker_description = (
    "Run one SFU worker: it forwards the media of the meetings its hub places on it (UDP "
    "sockets, WebRTC connections) and nothing else (no database, no HTTP). With --control it "
    "takes the hub's orders on a Unix socket it creates at PATH (mode 0600): `hub serve` "
    "starts and restarts such workers itself when sfu.workers > 0. With --listen it waits for "
    "hubs on other machines (sfu.remote_workers): TLS with --tls-certificate and --tls-key, "
    f"then the shared secret, read from ${SECRET_VARIABLE} or --secret-file. It reports its "
    "load to its hubs every second. Stops on SIGINT or SIGTERM."
)


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--control", type=Path, metavar="PATH",
        help="the Unix socket to create and listen on for the hub's control connection",
    )  # fmt: skip
    where.add_argument(
        "--listen", metavar="HOST:PORT",
        help="listen for hubs on other machines on this address (TCP, TLS)",
    )  # fmt: skip
    parser.add_argument("--tls-certificate", type=Path, metavar="FILE",
                        help="with --listen: this worker's certificate chain (PEM)")  # fmt: skip
    parser.add_argument("--tls-key", type=Path, metavar="FILE",
                        help="with --listen: its private key (PEM)")  # fmt: skip
    parser.add_argument(
        "--secret-file", type=Path, metavar="FILE",
        help=f"with --listen: the file holding the hubs' shared secret (else ${SECRET_VARIABLE})",
    )  # fmt: skip
    parser.add_argument(
        "--dev", action="store_true",
        help="accept a short or example secret (tests and a developer's machine only)",
    )  # fmt: skip
    parser.add_argument(
        "--exit-when-idle", action="store_true",
        help="stop once the hub's control connection has closed (how `hub serve` starts it)",
    )  # fmt: skip
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="info"
    )
    parser.add_argument("--log-format", choices=("text", "json"), default="json")


class UsageError(ValueError):
    """A flag or file the worker cannot start with; one line."""


def read_secret(args: argparse.Namespace, environ: dict[str, str]) -> str:
    """The shared secret, from --secret-file or the environment; refused outside --dev when
    empty, short or an example value. Never printed."""
    from hub.config import is_example_secret

    path: Path | None = args.secret_file
    if path is not None:
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--secret-file: cannot read {args.secret_file}: {exc}") from None
    else:
        secret = environ.get(SECRET_VARIABLE, "").strip()
    if not secret:
        raise UsageError(f"no secret: set ${SECRET_VARIABLE} or --secret-file")
    if not args.dev and is_example_secret(secret):
        raise UsageError("the secret is an example value; use a random one (`hub secret`)")
    if not args.dev and len(secret) < MIN_SECRET_LENGTH:
        raise UsageError(f"the secret is shorter than {MIN_SECRET_LENGTH} characters")
    return secret


def listening(args: argparse.Namespace, environ: dict[str, str]) -> tuple[tuple[str, int], str]:
    """--listen's address and the secret, checked (UsageError)."""
    from hub.config_sfu import split_address

    try:
        address = split_address(args.listen)
    except ValueError as exc:
        raise UsageError(f"--listen: {exc}") from None
    if args.tls_certificate is None or args.tls_key is None:
        raise UsageError("--listen needs --tls-certificate and --tls-key")
    return address, read_secret(args, environ)


def run_worker_command(args: argparse.Namespace) -> int:
    from hub.sfu.tcp import server_context
    from hub.sfu.worker import run_worker  # aiortc: only for this command

    setup_logging(LoggingConfig(level=args.log_level, format=args.log_format), dev=False)
    listen, tls, secret = None, None, ""
    if args.listen is not None:
        try:
            listen, secret = listening(args, dict(os.environ))
            tls = server_context(args.tls_certificate, args.tls_key)
        except UsageError as exc:
            print(f"hub sfu-worker: {exc}", file=sys.stderr)
            return 2
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            print(f"hub sfu-worker: TLS certificate or key: {exc}", file=sys.stderr)
            return 2
    main = run_worker(args.control, exit_when_idle=args.exit_when_idle, listen=listen,
                      tls=tls, secret=secret)  # fmt: skip
    try:
        _run(main)
    except StartupError as exc:
        print(f"hub sfu-worker: {exc}", file=sys.stderr)
        return 1
    return 0


def _run(main: Coroutine[None, None, None]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)  # as `hub serve`: half the receive cost per packet


def main() -> int:
    parser = argparse.ArgumentParser(prog="hub sfu-worker", description=worker_description)
    add_worker_arguments(parser)
    return run_worker_command(parser.parse_args())
