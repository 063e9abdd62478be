"""A long hostile-network soak: the suite's packet-level fuzz (tests/sfu/test_hostile_network.py)
for as long as asked, against a real hub with two honest aiortc participants.

    .venv/bin/python -m bench.hostile --seconds 600 [--seed N]

Prints the harness's figures (datagrams sent, drops counted by reason, memory growth) and
writes them to bench/results/hostile.md. Exit status is pytest's: non-zero if honest media
stopped, a drop went uncounted, memory grew, or anything was logged at ERROR.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/sfu/test_hostile_network.py::test_a_minute_of_hostile_datagrams"


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.hostile", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=600, help="fuzz duration (600)")
    parser.add_argument("--seed", type=int, default=12, help="random seed (12)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench/results/hostile.md", help="results file"
    )
    args = parser.parse_args()
    env = {
        **os.environ,
        "HUB_FUZZ_SECONDS": str(args.seconds),
        "HUB_FUZZ_SEED": str(args.seed),
    }
    command = [sys.executable, "-m", "pytest", "-s", "-q", "-p", "no:cacheprovider",
               "-o", f"timeout={int(args.seconds) + 300}", TEST]  # fmt: skip
    started = time.monotonic()
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    figures = [line for line in run.stdout.splitlines() if line.startswith("fuzz:")]
    print(run.stdout[-4000:])
    verdict = "passed" if run.returncode == 0 else f"FAILED (pytest exit {run.returncode})"
    args.out.write_text(
        "# Hostile datagrams against a live meeting\n\n"
        f"`python -m bench.hostile --seconds {args.seconds:g} --seed {args.seed}`: {verdict} "
        f"in {elapsed:.0f} s on {os.cpu_count()} cores.\n\n"
        + "\n".join(f"    {line}" for line in figures)
        + "\n",
        encoding="utf-8",
    )
    print(f"results in {args.out}")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
