"""Processes, CPU accounting and machine facts, with nothing left running behind.

Every process the benchmark starts is registered in `PROCESSES` and stopped by its own pid
(SIGTERM, then SIGKILL after a grace period) by `stop_all`, which `__main__` calls on every
exit path, Ctrl-C included.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.support.processes import start

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    """The value at `fraction` (0..1) of the sorted `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, *, within: float, interval: float
) -> None:
    """Poll `check()` every `interval` s until it is true; BenchError after `within` s."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise BenchError(f"{what}: not within {within:.0f} s")
        await asyncio.sleep(interval)


class BenchError(RuntimeError):
    """A failure the benchmark reports in one clear line (no traceback needed)."""


@dataclass
class Managed:
    """A process the benchmark started, with where its output goes."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


PROCESSES: list[Managed] = []


def start_process(
    name: str,
    args: Sequence[str],
    *,
    log_path: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Managed:
    """Start `args` in its own session (Ctrl-C in the terminal does not reach it: we stop it)."""
    process = start(args, log_path=log_path, cwd=cwd, env=env)
    managed = Managed(name, process, log_path)
    PROCESSES.append(managed)
    return managed


def start_piped(
    name: str,
    args: Sequence[str],
    *,
    log_path: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Managed:
    """Like `start_process`, with stdin and stdout as pipes to talk to it (stderr → the log)."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(args),
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
    managed = Managed(name, process, log_path)
    PROCESSES.append(managed)
    return managed


def stop_process(managed: Managed, grace: float = 10.0) -> None:
    """SIGTERM by pid, SIGKILL if it has not exited after `grace` seconds."""
    process = managed.process
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
    if managed in PROCESSES:
        PROCESSES.remove(managed)


def stop_all() -> None:
    """Stop every process still registered, newest first."""
    for managed in reversed(list(PROCESSES)):
        stop_process(managed)


def run_guarded(
    bench: Callable[[], Awaitable[int]], limit: float,
    runner: Callable[[Awaitable[int]], int] = asyncio.run,  # type: ignore[assignment]
) -> int:  # fmt: skip
    """Run a benchmark to its exit code: SIGINT and SIGTERM stop it (also when SIGINT came in
    ignored), `limit` seconds bound it, and every process it started is stopped whatever
    happens. 1 on BenchError (its message printed), 130 interrupted, 143 stopped."""

    async def guarded() -> int:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, task.cancel)
        try:
            async with asyncio.timeout(limit):
                return await bench()
        except TimeoutError:
            raise BenchError(f"the benchmark did not finish within {limit:.0f} s") from None

    try:
        return int(runner(guarded()))
    except KeyboardInterrupt:
        print("bench: interrupted; every process it started is stopped", file=sys.stderr)
        return 130
    except asyncio.CancelledError:
        print("bench: stopped by a signal; every process it started is stopped", file=sys.stderr)
        return 143
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_all()


# -- CPU -----------------------------------------------------------------------------------


def process_cpu_split(pid: int) -> tuple[float, float]:
    """(utime, stime) seconds of the whole process (all threads) from /proc/<pid>/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError as exc:
        raise BenchError(f"process {pid} is gone: {exc.strerror}") from None
    fields = text[text.rindex(")") + 2 :].split()
    # Fields after the command name start at field 3 (state): utime is 14, stime is 15.
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads)."""
    return sum(process_cpu_split(pid))


def runqueue_wait_seconds(pid: int) -> float:
    """Time the process's threads spent runnable but waiting for a CPU (/proc/.../schedstat):
    how much other work on the machine held it back."""
    total = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds over all cores since boot, from /proc/stat."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first[:8]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values)
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


@dataclass
class CpuWindow:
    """CPU used by the SFU, the benchmark client and the whole machine over one window.

    The client is this process plus `client_pids` (the meeting's load-generating workers); the
    SFU is `sfu_pid` plus `sfu_worker_pids` (the hub's `hub sfu-worker` processes, if any).
    """

    sfu_pid: int
    client_pids: tuple[int, ...] = ()
    sfu_worker_pids: tuple[int, ...] = ()
    wall_start: float = 0.0
    sfu_start: float = 0.0
    sfu_system_start: float = 0.0
    own_start: float = 0.0
    sfu_wait_start: float = 0.0
    machine_busy_start: float = 0.0
    machine_total_start: float = 0.0
    wall: float = 0.0
    sfu: float = 0.0
    sfu_system: float = 0.0
    own: float = 0.0
    sfu_wait: float = 0.0
    machine_busy: float = 0.0
    machine_total: float = 0.0

    def begin(self) -> None:
        self.wall_start = time.perf_counter()
        user, self.sfu_system_start = self._sfu_cpu()
        self.sfu_start = user + self.sfu_system_start
        self.own_start = self._client_cpu()
        self.sfu_wait_start = self._sfu_wait()
        self.machine_busy_start, self.machine_total_start = machine_cpu_seconds()

    def end(self) -> None:
        self.wall = time.perf_counter() - self.wall_start
        user, system = self._sfu_cpu()
        self.sfu = user + system - self.sfu_start
        self.sfu_system = system - self.sfu_system_start
        self.own = self._client_cpu() - self.own_start
        self.sfu_wait = self._sfu_wait() - self.sfu_wait_start
        busy, total = machine_cpu_seconds()
        self.machine_busy = busy - self.machine_busy_start
        self.machine_total = total - self.machine_total_start

    def _sfu_cpu(self) -> tuple[float, float]:
        splits = [process_cpu_split(pid) for pid in (self.sfu_pid, *self.sfu_worker_pids)]
        return sum(user for user, _ in splits), sum(system for _, system in splits)

    def _sfu_wait(self) -> float:
        return sum(runqueue_wait_seconds(p) for p in (self.sfu_pid, *self.sfu_worker_pids))

    def _client_cpu(self) -> float:
        return own_cpu_seconds() + sum(process_cpu_seconds(pid) for pid in self.client_pids)

    def summary(self) -> dict[str, float | None]:
        cores = os.cpu_count() or 1
        wall = max(self.wall, 1e-9)
        machine = self.machine_busy / max(self.machine_total, 1e-9) * cores
        return {
            "wall_s": round(self.wall, 3),
            "sfu_cpu_s": round(self.sfu, 3),
            "sfu_cores": round(self.sfu / wall, 3),
            # Share of the SFU's CPU spent in the kernel (sendto/recvfrom/epoll, loopback).
            "sfu_kernel_pct": round(100 * self.sfu_system / self.sfu, 1) if self.sfu else None,
            # Runnable but waiting for a CPU: 0.5 means half a core's worth of waiting.
            "sfu_wait_cores": round(self.sfu_wait / wall, 3),
            "client_cores": round(self.own / wall, 3),
            "machine_busy_cores": round(machine, 3),
            # Whatever else ran on the machine meanwhile (another test run, a browser...).
            "other_cores": round(max(0.0, machine - (self.sfu + self.own) / wall), 3),
        }


# -- UDP socket drops ------------------------------------------------------------------------


def _socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                link = str(fd.readlink())
                if link.startswith("socket:["):
                    inodes.add(int(link[8:-1]))
    return inodes


def udp_drops(pids: Sequence[int]) -> list[int]:
    """Datagrams each process's UDP sockets dropped (receive buffer full), from /proc/net/udp*.

    Counters live with the sockets: a closed socket's drops are gone, so compare snapshots
    taken while the same connections are up.
    """
    drops_by_inode: dict[int, int] = {}
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) >= 13:
                    drops_by_inode[int(fields[9])] = int(fields[-1])
    return [sum(drops_by_inode.get(i, 0) for i in _socket_inodes(pid)) for pid in pids]


# -- machine -------------------------------------------------------------------------------


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


def host_address() -> str:
    """The machine's first non-loopback IPv4 address (Janus never offers loopback)."""
    import ifaddr  # aioice's own dependency, so always installed with aiortc

    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if not ip.is_IPv4:
                continue
            address = ipaddress.ip_address(str(ip.ip))
            if not address.is_loopback and not address.is_link_local:
                return str(address)
    raise BenchError("no non-loopback IPv4 address on this machine; pass --address")


def check_local_address(address: str) -> None:
    """Refuse any address that is not this machine's own: the benchmark never leaves it."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((address, 0))
    except OSError as exc:
        raise BenchError(f"{address} is not an address of this machine ({exc.strerror})") from None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def wait_for_quiet(threshold: float, poll: float, limit: float) -> dict[str, object]:
    """Wait until the 1-minute load average is below `threshold` (at most `limit` seconds)."""
    started = time.monotonic()
    samples = [load_average()[0]]
    while samples[-1] >= threshold and time.monotonic() - started < limit:
        print(f"load average {samples[-1]:.2f} >= {threshold}: waiting {poll:.0f} s", flush=True)
        time.sleep(poll)
        samples.append(load_average()[0])
    return {
        "threshold": threshold,
        "waited_s": round(time.monotonic() - started, 1),
        "quiet": samples[-1] < threshold,
        "load_samples": samples,
    }


class ServerProcess:
    """A server the benchmark starts in `workdir` and stops by pid; subclasses launch it."""

    name = "server"

    def __init__(self, workdir: Path, address: str) -> None:
        self.workdir = workdir
        self.address = address
        self.port = free_port()
        self.process: Managed | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def wait_ready(
        self, probe: Callable[[aiohttp.ClientSession], Awaitable[bool]], within: float
    ) -> None:
        """Poll `probe` until it says yes; BenchError with the log's tail if the server died."""
        assert self.process is not None
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if not self.process.alive():
                    raise BenchError(f"{self.name} exited at start:\n{self.process.tail()}")
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    if await probe(session):
                        return
                await asyncio.sleep(0.2)
        raise BenchError(f"{self.name} was not ready within {within} s:\n{self.process.tail()}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
