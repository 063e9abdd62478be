"""A network namespace joined to the host by a veth pair, for tests that give one program (a
browser) a network path of its own: cut it (`down()`), or make it a slow access link whose
download is shaped by tc (`throttle(kbit)`).

Each namespace takes its own /30 of 10.213.0.0/16 (host end .1, namespace end .2), claimed by
creating the host-side veth named after it: `ip link add` fails when another run holds it, so
parallel runs never share an address. Namespaces are named `hubtest-<pid>-<n>`; one whose pid
is gone was left by a crashed run and is removed before a new one is made (deleting a
namespace deletes its veth pair too). Needs root and iproute2: otherwise the test is skipped,
or fails under HUB_TEST_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import skip_or_fail
from tests.support.chromium import CHROMIUM

PREFIX = "hubtest-"
NETWORK = ipaddress.IPv4Network("10.213.0.0/16")
SLOTS = NETWORK.num_addresses // 4  # /30s
NS_VETH = "veth0"  # inside the namespace, where no other interface can clash with it
_counter = itertools.count()

# The download of a slow access link, as tc's token bucket (tbf) on the host end's egress.
# burst: two full-size frames. A real link serialises each packet at its rate; tbf needs at
# least one MTU, and the second leaves room for timer slop on a loaded machine, so the rate
# holds over tens of milliseconds, not only on average over a second.
# latency: 200 ms of queue before tail drop (7.5 kB at 300 kbit/s, about six video packets),
# what a DSL or mobile access link buffers at its bottleneck. A congestion controller then
# meets what it meets in the field: first a growing delay (the delay-based estimate Chromium
# sends as REMB reacts to that), then losses. A near-empty queue would test only loss, a queue
# of seconds an extreme bufferbloat.
TBF_BURST = "3028"
TBF_LATENCY = "200ms"


def _ip(*args: str) -> str:
    return _run("ip", *args)


def _run(*args: str) -> str:
    result = subprocess.run(list(args), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise OSError(f"{' '.join(args)}: {result.stderr.strip() or result.returncode}")
    return result.stdout


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> list[str]:
    """Delete the namespaces (and so their veth pairs) of test runs whose process is gone;
    returns their names. A live run's namespaces, ours or another's, are left alone."""
    removed = []
    with contextlib.suppress(OSError):
        for line in _ip("netns", "list").splitlines():
            name = line.split(" ", 1)[0]
            pid = name.removeprefix(PREFIX).split("-", 1)[0]
            if name.startswith(PREFIX) and pid.isdigit() and not _pid_alive(int(pid)):
                subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
                removed.append(name)
    return removed


def _addresses_in_use() -> set[ipaddress.IPv4Network]:
    """The IPv4 networks configured on this host's interfaces (another tool's, say)."""
    networks = set()
    for line in _ip("-4", "-o", "addr", "show").splitlines():
        fields = line.split()
        if "inet" in fields:
            networks.add(ipaddress.IPv4Interface(fields[fields.index("inet") + 1]).network)
    return networks


@dataclass
class NetNamespace:
    """A namespace whose only link is a veth pair to the host: host end `host_address`/30,
    namespace end `ns_address`/30, nothing else but its own loopback. `down()` / `up()`
    cut and restore the link, `throttle(kbit)` / `unthrottle()` shape its download."""

    name: str
    slot: int  # which /30 of NETWORK

    @property
    def host_veth(self) -> str:
        return f"hbv{self.slot}"

    @property
    def ns_veth(self) -> str:
        return NS_VETH

    @property
    def host_address(self) -> str:
        return str(NETWORK.network_address + 4 * self.slot + 1)

    @property
    def ns_address(self) -> str:
        return str(NETWORK.network_address + 4 * self.slot + 2)

    @classmethod
    def create(cls) -> NetNamespace:
        """A new namespace on the first free /30 from a random start; OSError if the system
        refuses (no permission, no netns support)."""
        name = f"{PREFIX}{os.getpid()}-{next(_counter)}"
        _ip("netns", "add", name)
        try:
            taken = _addresses_in_use()
            start = random.randrange(SLOTS)
            for offset in range(SLOTS):
                slot = (start + offset) % SLOTS
                network = ipaddress.IPv4Network((int(NETWORK.network_address) + 4 * slot, 30))
                if any(network.overlaps(other) for other in taken):
                    continue
                namespace = cls(name, slot)
                try:
                    _ip("link", "add", namespace.host_veth, "type", "veth",
                        "peer", "name", NS_VETH, "netns", name)  # fmt: skip
                except OSError as exc:
                    if "exists" in str(exc):
                        continue  # another run's /30
                    raise
                namespace._configure()
                return namespace
            raise OSError(f"no free /30 left in {NETWORK}")
        except BaseException:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
            raise

    def _configure(self) -> None:
        _ip("addr", "add", f"{self.host_address}/30", "dev", self.host_veth)
        _ip("link", "set", self.host_veth, "up")
        inside = ("netns", "exec", self.name, "ip")
        _ip(*inside, "addr", "add", f"{self.ns_address}/30", "dev", NS_VETH)
        _ip(*inside, "link", "set", NS_VETH, "up")
        _ip(*inside, "link", "set", "lo", "up")

    def remove(self) -> None:
        """Delete the namespace, and with it both veth ends; quiet if already gone."""
        subprocess.run(["ip", "link", "del", self.host_veth], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)

    def down(self) -> None:
        _ip("link", "set", self.host_veth, "down")

    def up(self) -> None:
        _ip("link", "set", self.host_veth, "up")

    def throttle(self, kbit: int) -> None:
        """Limit what the host sends into the namespace to `kbit` kbit/s from now on (the
        namespace's download; its upload stays free). May be called again to change it."""
        if shutil.which("tc") is None:
            skip_or_fail("the `tc` command is missing (apt package iproute2)")
        _run("tc", "qdisc", "replace", "dev", self.host_veth, "root", "tbf",
             "rate", f"{kbit}kbit", "burst", TBF_BURST, "latency", TBF_LATENCY)  # fmt: skip

    def unthrottle(self) -> None:
        """The link at full speed again (veth's own default: no queue at all); quiet if it
        was not throttled."""
        if " tbf " in self.shaping():
            _run("tc", "qdisc", "del", "dev", self.host_veth, "root")

    def shaping(self) -> str:
        """What tc says of the host end's root qdisc, with its counters (drops, backlog)."""
        return _run("tc", "-s", "qdisc", "show", "dev", self.host_veth, "root").strip()

    def chromium_wrapper(self, folder: Path) -> Path:
        """An executable that starts Debian's Chromium inside the namespace, for Playwright's
        `executable_path` (Playwright talks to it over a pipe, which crosses namespaces);
        `ip netns exec` execs, so the browser keeps the wrapper's pid."""
        wrapper = folder / f"chromium-in-{self.name}"
        wrapper.write_text(
            f'#!/bin/sh\nexec ip netns exec {self.name} {CHROMIUM} "$@"\n', encoding="utf-8"
        )
        wrapper.chmod(0o755)
        return wrapper


@contextmanager
def network_namespace() -> Iterator[NetNamespace]:
    """A fresh NetNamespace, deleted on exit whatever happened; stale ones of crashed runs
    are deleted first. Skipped (failed under HUB_TEST_REQUIRE_SERVICES=1) without root or
    iproute2, or where the system refuses network namespaces."""
    if shutil.which("ip") is None:
        skip_or_fail("the `ip` command is missing (apt package iproute2)")
    if os.geteuid() != 0:
        skip_or_fail("network namespaces need root (CAP_NET_ADMIN)")
    remove_stale()
    try:
        namespace = NetNamespace.create()
    except OSError as exc:
        skip_or_fail(f"cannot create a network namespace here: {exc}")
        raise  # unreachable: skip_or_fail raises
    try:
        yield namespace
    finally:
        namespace.remove()
