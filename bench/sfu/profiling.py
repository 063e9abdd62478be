"""py-spy on the hub process, and a summary of where its CPU went.

The raw output (collapsed stacks, one `frame;frame;... count` per line, only samples where the
hub was on the CPU) is kept as it is: flamegraph.pl and speedscope read it directly.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

FRAME = re.compile(r"^(?P<name>.*?) \((?P<path>[^()]*?)(?::\d+)?\)$")

# Functions of the hub's forwarding path and the aiortc/aioice layers around it.
FORWARDING_PATH = (
    "Runner.run (asyncio/runners.py)",  # self: the event loop's own C code (epoll, recvfrom)
    "StunProtocol.datagram_received (aioice/ice.py)",
    "datagram_received (hub/sfu/ingress.py)",  # the fast receive path: decrypt + forward
    "parse_message (aioice/stun.py)",
    "Connection.data_received (aioice/ice.py)",
    "RTCDtlsTransport._recv_next (aiortc/rtcdtlstransport.py)",
    "Session.unprotect (pylibsrtp/__init__.py)",
    "bind_handlers.<locals>.on_rtp (hub/sfu/packets.py)",
    "receive_publisher_rtp (hub/sfu/packets.py)",
    "InboundStream.forward (hub/sfu/forwarder.py)",
    "InboundStream._account (hub/sfu/forwarder.py)",
    "StreamRewriter.rewrite (hub/sfu/rewrite.py)",
    "OutboundStream.build (hub/sfu/outbound.py)",
    "PacketHistory.put (hub/sfu/history.py)",
    "Egress.send (hub/sfu/internals.py)",  # the fast send path: protect + sendto
    "OutboundStream.send (hub/sfu/outbound.py)",
    "RTCDtlsTransport._send_rtp (aiortc/rtcdtlstransport.py)",
    "Session.protect (pylibsrtp/__init__.py)",
    "Connection.sendto (aioice/ice.py)",
    "StunProtocol.send_data (aioice/ice.py)",  # self: the sendto system call
    "SfuRoom.tick (hub/sfu/room.py)",
    "receive_subscriber_rtcp (hub/sfu/packets.py)",
    "receive_publisher_rtcp (hub/sfu/packets.py)",
)


def py_spy() -> str | None:
    candidate = Path(sys.executable).with_name("py-spy")
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


async def record(
    pid: int, seconds: float, output: Path, rate: int = 250, *, nonblocking: bool = False
) -> None:
    """Sample `pid` for `seconds` into `output` (collapsed stacks); raises on failure."""
    binary = py_spy()
    if binary is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    process = await asyncio.create_subprocess_exec(
        binary, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
        "--rate", str(rate), "--format", "raw", "--output", str(output),
        *(["--nonblocking"] if nonblocking else []),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with asyncio.timeout(seconds + 30):
            out, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError("py-spy did not finish in time") from None
    if process.returncode != 0 or not output.exists():  # noqa: ASYNC240 - once, at the end
        raise RuntimeError(f"py-spy failed ({process.returncode}): {out.decode()[-300:]}")


def _key(frame: str) -> str:
    """`name (path:line)` → `name (package/module.py)`, lines merged."""
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match.group("path")
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match.group('name')} ({path})"


def summarise(raw: Path, top: int = 15) -> dict[str, Any]:
    """Self and inclusive shares of the main thread's on-CPU samples, per function.

    Other threads (aiosqlite's worker) are counted apart: py-spy takes its blocking queue
    wait for activity, and the packet path runs only on the event loop's thread.
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = other_threads = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_key(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        if frames[0].startswith("Thread._bootstrap"):
            other_threads += count
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count

    def share(counter: Counter[str], name: str) -> float:
        return round(100 * counter[name] / total, 1) if total else 0.0

    return {
        "samples": total,
        "other_thread_samples": other_threads,
        "top_self": [{"function": n, "pct": share(own, n)} for n, _ in own.most_common(top)],
        "top_inclusive": [
            {"function": n, "pct": share(inclusive, n)}
            for n, _ in inclusive.most_common(top + 10)
            if not n.startswith(("<module>", "run (", "main ("))
        ][:top],
        "forwarding_path": [
            {"function": n, "inclusive_pct": share(inclusive, n), "self_pct": share(own, n)}
            for n in FORWARDING_PATH
            if inclusive[n]
        ],
    }


def markdown(title: str, summary: dict[str, Any]) -> str:
    lines = [f"#### {title}: {summary['samples']} on-CPU samples of the event loop thread", ""]
    lines += ["| self % | function |", "|---:|---|"]
    lines += [f"| {row['pct']} | `{row['function']}` |" for row in summary["top_self"]]
    lines += [
        "",
        "Inclusive shares are approximate: non-blocking sampling truncates some stacks.",
        "",
        "| inclusive % | self % | forwarding path |",
        "|---:|---:|---|",
    ]
    lines += [
        f"| {row['inclusive_pct']} | {row['self_pct']} | `{row['function']}` |"
        for row in summary["forwarding_path"]
    ]
    return "\n".join(lines) + "\n"
