"""A join storm against the real hub (`hub serve` in its own process): two people talk with
camera and microphone, then twenty people enter at once.

The load generator is the benchmark's own (bench/sfu/storm.py, real aiortc peers in worker
processes, every packet stamped with its send time): here it checks the promise, the benchmark
measures it beside Janus. Each newcomer must get every speaker's audio and video within a few
seconds, and the speakers must not notice: no loss and no stall in the window of the storm.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from bench.sfu import crowd, system
from bench.sfu.hub import HubServer
from bench.sfu.media import encode_clip
from bench.sfu.meeting import HubMeeting, run_meeting
from bench.sfu.storm import StormPlan, storm

NEWCOMERS = 20
JOIN_LIMIT_MS = 5000  # "a few seconds per join", first packet of each kind from every speaker
STALL_LIMIT_MS = 1000  # the speakers' slowest packet in the storm's window


async def test_twenty_people_entering_at_once_get_media_quickly_and_stall_nobody(tmp_path):
    address = "127.0.0.1"
    crowd.save_clip(tmp_path / "clip.json", encode_clip(seconds=2.0))
    plan = StormPlan(present=2, newcomers=NEWCOMERS, quiet_window=2.0, window=8.0,
                     workers=1, newcomer_workers=1)  # fmt: skip
    hub = HubServer(tmp_path / "hub", address)
    result: dict[str, Any] = {}
    team: list[crowd.Worker] = []
    try:
        await hub.start()
        team = await crowd.start_workers(2, address, tmp_path / "clip.json", tmp_path)
        await run_meeting(HubMeeting(hub), team, functools.partial(storm, plan=plan), result)
    finally:
        await asyncio.gather(*(w.close() for w in team), return_exceptions=True)
        for worker in team:
            system.stop_process(worker.managed)
        hub.stop()

    assert "error" not in result, result["error"]
    assert result["joined"] == NEWCOMERS, result["join_media_ms"]
    assert result["join_media_ms"]["max"] < JOIN_LIMIT_MS, result["join_media_ms"]
    during = result["storm"]
    assert during["sent"] > 0 and during["loss_pct"] < 1.0, during["loss_pct"]
    assert during["silent_pairs"] == 0
    assert during["latency_max_ms"] < STALL_LIMIT_MS, (
        during["latency_p99_ms"],
        during["latency_max_ms"],
    )
    assert not result["diagnostics"]["signaling_errors"], result["diagnostics"]
    log = (tmp_path / "hub" / "hub.log").read_text()
    assert "Traceback" not in log
