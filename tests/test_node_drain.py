"""`hub drain` on a node that is a meeting's home and relays a page of another meeting: two
`hub serve` nodes on one Redis and one PostgreSQL, aiortc people, the real `hub drain`.

Meeting A is at home on node 1 (Anne's socket there; Bruno's on node 2, relayed to node 1);
meeting B is at home on node 2 (Dan there; Chloé's socket on node 1, relayed to node 2). Node
1 is drained: it hands meeting A over (its home lease let go, then every page there told
`restarting` and closed with 1012), so Anne and Bruno, reconnecting
to node 2 with their rejoin tickets as the load balancer would send them, are in meeting A
again at their first attempt, node 2 its home; Chloé's relayed page is closed and she is back
in meeting B through node 2. Nobody joins on node 1 once its drain began; node 1 stops with
nothing left; the gap is printed.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.nodes import Cluster, come_back, decoding, logged, sees, two_nodes
from tests.support.peer import wait_until
from tests.support.redis import RedisServer
from tests.test_hub_node_meetings import admitted_across


@pytest.fixture
async def cluster(
    tmp_path: Path, redis_server: RedisServer, postgres_url: str
) -> AsyncIterator[Cluster]:
    async with two_nodes(tmp_path, redis_server, postgres_url) as state:
        yield state


async def test_a_drained_home_hands_its_meetings_over_and_its_relayed_pages_move(
    cluster: Cluster,
) -> None:
    node1, node2 = cluster.nodes
    meeting, anne, bruno = await admitted_across(cluster, "trusted")
    dan, chloe = await cluster.person("Dan"), await cluster.person("Chloé")
    other = await cluster.meeting(dan, "public")
    await (await dan.connect(node2, other)).join()
    welcome = await (await chloe.connect(node1, other)).knock()
    assert welcome["type"] == "welcome", welcome
    chloe.rejoin = welcome["rejoin"]
    assert await cluster.home(meeting) == cluster.node_id(node1)
    assert await cluster.home(other) == cluster.node_id(node2)
    await decoding(anne.p, bruno.p, 20, "Anne and Bruno do not decode each other")

    drain = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", "drain", "--dev", "--timeout", "20",
        cwd=node1.workdir, env={**os.environ, **node1.env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        # The pages reconnect, with their rejoin tickets, the moment node 1 has handed the
        # meeting over (a page is told `restarting` right after; the test's aiortc peers
        # may be busy answering a subscribe offer then, so the node's log is the signal).
        told = await logged(node1, "handed 1 meeting(s) over")
        # As the load balancer would: node 1 no longer ready, so node 2.
        attempts = await asyncio.gather(
            come_back(anne, node2, meeting), come_back(bruno, node2, meeting),
            come_back(chloe, node2, other),
        )  # fmt: skip
        await wait_until(
            lambda: sees(anne.p, "Bruno") and sees(bruno.p, "Anne"), 5, "not together again"
        )
        together = time.monotonic() - told
        for person in (anne, bruno):
            await person.p.publish()
        await decoding(anne.p, bruno.p, 15, "no media on the new home")
        media = time.monotonic() - told
        out, err = await asyncio.wait_for(drain.communicate(), 60)
    finally:
        if drain.returncode is None:
            drain.kill()
            await drain.wait()
    print(
        f"\nback in the meeting on node 2 {together:.2f} s after node 1 handed it over, "
        f"media {media:.2f} s (attempts {attempts}); "
        f"`hub drain`: {out.decode()!r}"
    )
    assert drain.returncode == 0, (out, err, node1.log())
    assert attempts == [1, 1, 1], attempts  # nobody sent back to the draining node
    assert await cluster.home(meeting) == cluster.node_id(node2)
    assert await cluster.home(other) == cluster.node_id(node2)
    assert sees(chloe.p, "Dan")
    assert node1.process.poll() == 0
    log1, log2 = node1.log_path.read_text(), node2.log_path.read_text()
    # Nobody joined a meeting on node 1 once its drain began.
    assert "participant joined" not in log1.partition("draining node")[2], log1
    assert "handed 1 meeting(s) over (2 socket(s) to tell)" in log1, log1
    assert "Traceback" not in log1 + log2
