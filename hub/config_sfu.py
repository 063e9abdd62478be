"""The [sfu] section: ICE servers, the addresses media is offered on, the worker processes of
this machine and the workers on other machines (`[[sfu.remote_workers]]`).

Each model checks its own values and says precisely what is wrong, in one line; hub/config.py
refuses an example or short `worker_secret` outside dev mode.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator

from hub.config_sections import _Section


def _ip_addresses(value: tuple[str, ...]) -> tuple[str, ...]:
    for item in value:
        try:
            ipaddress.ip_address(item)
        except ValueError as exc:
            raise ValueError(f"{item!r} is not an IP address") from exc
    return value


def split_address(value: str) -> tuple[str, int]:
    """`host:port` (an IPv6 host in brackets) as (host, port); ValueError with one line."""
    host, colon, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]") if host.startswith("[") else host
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f'{value!r} is not host:port (e.g. "10.0.0.5:7710")')
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{value!r}: an IPv6 host goes in brackets, [::1]:7710") from None
    return host, int(port)


class IceServerConfig(_Section):
    """One STUN or TURN server the operator runs (coturn is the reference)."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    @field_validator("urls")
    @classmethod
    def _ice_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one URL")
        for url in value:
            if not url.startswith(("stun:", "turn:", "turns:")):
                raise ValueError(f"{url!r} is not a stun:, turn: or turns: URL")
        return value


class RemoteWorkerConfig(_Section):
    """A `hub sfu-worker --listen` on another machine: where the hub dials it (TCP + TLS), the
    name its certificate carries, and the addresses browsers and other workers reach it on."""

    # host:port of the worker's control listener (its --listen).
    address: str
    # The name its TLS certificate must carry; empty: the host part of `address`.
    server_name: str = ""
    # Host candidates it offers browsers: addresses of that machine they reach. Empty: all of
    # that machine's own addresses (loopback excluded).
    candidate_addresses: tuple[str, ...] = ()
    # Addresses of that machine the hub's other workers reach (the relay of a meeting spread
    # over two workers). Empty: its candidate_addresses.
    relay_addresses: tuple[str, ...] = ()

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        split_address(value)
        return value

    @field_validator("candidate_addresses", "relay_addresses")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _ip_addresses(value)

    @property
    def host(self) -> str:
        return split_address(self.address)[0]

    @property
    def port(self) -> int:
        return split_address(self.address)[1]

    @property
    def tls_name(self) -> str:
        return self.server_name or self.host


class SfuConfig(_Section):
    """Media forwarding: which ICE servers and candidate addresses are used, and by which
    processes (the hub's own, its workers, workers on other machines)."""

    # Empty by default: aiortc would otherwise contact a public Google STUN server.
    ice_servers: tuple[IceServerConfig, ...] = ()
    # Addresses offered as host candidates; empty means the machine's own addresses.
    candidate_addresses: tuple[str, ...] = ()
    # Addresses of this machine that workers on other machines reach (the relay of a meeting
    # spread over a worker here and one there); empty: candidate_addresses.
    relay_addresses: tuple[str, ...] = ()
    max_participants: int = Field(default=50, ge=2, le=500)
    # Ask browsers to send their camera as VP8 simulcast (three layers; docs/simulcast.md):
    # each viewer then gets the layer that fits its tile and its bandwidth, and layers nobody
    # watches are not encoded. Off: one layer, every viewer gets it (a weak viewer's video is
    # paused rather than lowered).
    simulcast: bool = True
    # Worker processes that forward media (`hub sfu-worker`, started and restarted by `hub
    # serve`; a meeting lives on one of them). 0: media is forwarded in the hub's own process.
    workers: int = Field(default=0, ge=0, le=64)
    # With workers: a meeting whose worker forwards more packets per second than this takes
    # its newcomers on a second worker, the two joined by a relay (each stream crosses once).
    # ~0.8 of the ~55,000 one core forwards (docs/scale-out.md); 0: a meeting never spreads.
    worker_ceiling: int = Field(default=44_000, ge=0, le=10_000_000)
    # With workers: at most this many people of one meeting on one worker (0: no limit, the
    # ceiling above decides alone).
    people_per_worker: int = Field(default=0, ge=0, le=500)
    # Workers on other machines, dialled by the hub over TCP + TLS; placed like local ones.
    remote_workers: tuple[RemoteWorkerConfig, ...] = ()
    # The secret remote workers require (their HUB_SFU__WORKER_SECRET or --secret-file).
    worker_secret: SecretStr = SecretStr("")
    # The CA certificates (PEM) that remote workers' certificates are checked against; empty:
    # the system's CAs.
    worker_ca_file: Path | None = None

    @field_validator("candidate_addresses", "relay_addresses")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _ip_addresses(value)

    @field_validator("worker_ca_file", mode="before")
    @classmethod
    def _ca_file(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _remote(self) -> SfuConfig:
        addresses = [worker.address for worker in self.remote_workers]
        twice = sorted({a for a in addresses if addresses.count(a) > 1})
        if twice:
            raise ValueError(f"remote_workers: {twice[0]} is listed twice")
        if self.remote_workers and not self.worker_secret.get_secret_value():
            raise ValueError(
                "worker_secret: required with remote_workers (the secret the workers "
                "were started with; `hub secret` prints a random one)"
            )
        if self.worker_ca_file is not None and not self.worker_ca_file.is_file():
            raise ValueError(f"worker_ca_file: {self.worker_ca_file} is not a file")
        return self

    @property
    def pooled(self) -> bool:
        """Media goes through worker processes (here or elsewhere), not the hub's own."""
        return self.workers > 0 or bool(self.remote_workers)
