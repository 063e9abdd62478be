"""One meeting, its people on different `hub serve` nodes (separate processes on one Redis and
one PostgreSQL, all started for the test): Anne's socket on node 1, Bruno's on node 2.

The meeting is at home on the node where its first person arrived; the other node relays its
sockets there over Redis (hub/web/relay.py). The people decode each other's audio and video
(aiortc peers), and the lobby, chat, hands, mute, lock and end cross nodes; hostile messages
on a node's channel are refused in one line each. When the home node is SIGKILLed, both
people reconnect to the surviving node (as a load balancer would send them) with their
rejoin tickets and are back in the meeting within 5 s.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.hub_client import codec_csrf_header
from tests.support.hub_server import HubServer
from tests.support.nodes import Cluster, Person, counts, decoding, message, sees, two_nodes
from tests.support.peer import wait_until
from tests.support.processes import stop
from tests.support.redis import RedisServer


@pytest.fixture
async def cluster(
    tmp_path: Path, redis_server: RedisServer, postgres_url: str
) -> AsyncIterator[Cluster]:
    """Two hub nodes on one Redis and one PostgreSQL, behind one public URL (as behind a
    load balancer: join tokens and rejoin tickets name it)."""
    async with two_nodes(tmp_path, redis_server, postgres_url) as state:
        yield state


async def admitted_across(cluster: Cluster, access_level: str) -> tuple[str, Person, Person]:
    """Anne (the owner) in on node 1; Bruno (a guest) knocks on node 2 and Anne lets him in."""
    anne, bruno = await cluster.person("Anne"), await cluster.person("Bruno")
    meeting = await cluster.meeting(anne, access_level)
    node1, node2 = cluster.nodes
    await (await anne.connect(node1, meeting)).join()
    answer = await (await bruno.connect(node2, meeting)).knock(message="Bonjour")
    assert answer["type"] == "waiting", answer
    lobby = await anne.p.wait_for_any(("lobby",), after=0)
    while not lobby["entries"]:
        lobby = await anne.p.wait_for("lobby", after=anne.p.messages.index(lobby) + 1)
    assert [e["name"] for e in lobby["entries"]] == ["Bruno"]
    assert lobby["entries"][0]["message"] == "Bonjour"
    await anne.p.send({"type": "admit", "entry_id": lobby["entries"][0]["id"]})
    welcome = await bruno.p.admitted()
    bruno.rejoin = welcome["rejoin"]
    anne.rejoin = (await anne.p.wait_for("welcome"))["rejoin"]
    assert [p["name"] for p in welcome["participants"]] == ["Anne", "Bruno"]
    await anne.p.wait_for("participant_joined")
    for person in (anne, bruno):
        await person.p.publish()
    return meeting, anne, bruno


def relay_counts(node: HubServer) -> tuple[float, float, float]:
    """/metrics now: meetings at home, sessions hosted for other nodes, pages relayed."""
    metrics = node.metrics()
    return (
        metrics["hub_node_meetings_at_home"],
        metrics["hub_node_hosted_sessions"],
        metrics["hub_node_relayed_pages"],
    )


async def test_people_on_two_nodes_are_in_one_meeting(cluster: Cluster):
    node1, node2 = cluster.nodes
    meeting, anne, bruno = await admitted_across(cluster, "trusted")
    assert await cluster.home(meeting) == cluster.node_id(node1)
    await decoding(anne.p, bruno.p, 20, "Anne and Bruno do not decode each other")
    # Counted per node: node 1 holds the meeting and runs Bruno's session, node 2 relays it.
    assert relay_counts(node1) == (1, 1, 0) and relay_counts(node2) == (0, 0, 1)

    await bruno.p.send({"type": "chat", "text": "Salut depuis le nœud 2"})
    assert (await message(anne.p, "chat", name="Bruno"))["text"] == "Salut depuis le nœud 2"
    await anne.p.send({"type": "chat", "text": "Bien reçu"})
    assert (await message(bruno.p, "chat", name="Anne"))["text"] == "Bien reçu"

    await bruno.p.send({"type": "hand", "raised": True})
    await wait_until(
        lambda: any(
            m["type"] == "participant_updated" and m["participant"]["name"] == "Bruno"
            and m["participant"]["hand"] for m in anne.p.messages
        ),
        5, "Anne did not see Bruno's hand",
    )  # fmt: skip

    # Anne mutes Bruno: he is told, and his sound stops at the home's SFU.
    await anne.p.send({"type": "mute", "participant_id": bruno.p.participant_id, "kind": "audio"})
    assert (await message(bruno.p, "muted"))["by"] == "Anne"
    await asyncio.sleep(1.0)  # what was on the way is decoded by now
    muted_at = counts(anne.p, bruno.p)
    await asyncio.sleep(1.5)
    now = counts(anne.p, bruno.p)
    assert now["audio"] - muted_at["audio"] <= 2, (muted_at, now)
    assert now["video"] - muted_at["video"] >= 5, (muted_at, now)  # his camera still comes

    await anne.p.send({"type": "lock", "locked": True})
    await message(bruno.p, "meeting_state", locked=True)

    # Hostile messages on node 1's channel: one line each, and the meeting goes on.
    await cluster.publish(
        f"node:{cluster.node_id(node1)}",
        "not json at all",
        '{"type": "open", "session": "x"}',
        '{"type": "from_page", "session": "AAAAAAAAAAAAAAAA", "text": "{}"}',
        '{"type": "take_over", "meeting": "abc-defg-hij"}',
    )
    await bruno.p.send({"type": "chat", "text": "Toujours là"})
    await message(anne.p, "chat", text="Toujours là")
    log1 = node1.log_path.read_text()
    assert log1.count("node message refused: not JSON") == 1
    assert log1.count("node message refused: open: fields") == 1
    assert log1.count("node message for an unknown session: FromPage") == 1
    assert log1.count("node message refused: unknown type 'take_over'") == 1

    # Anne ends it from her meetings page, served by node 2: node 1, its home, ends it.
    url = aiohttp.client.URL(node2.base_url)
    csrf = codec_csrf_header(cluster.codec, anne.http.cookie_jar, url)
    ended = await anne.http.post(f"{url}/api/v1/meetings/{meeting}/end", headers=csrf)
    assert ended.status == 200, await ended.text()
    for person in (anne, bruno):
        await message(person.p, "ended")
        await wait_until(lambda p=person.p: p.ws.closed, 5, f"{person.name}'s socket stayed open")
        assert person.p.ws.close_code == 4001
    # Everything happened at the home: Bruno's connection ran on node 1, relayed by node 2.
    log2 = node2.log_path.read_text()
    assert log1.count("participant joined") == 2 and "participant joined" not in log2
    assert "Traceback" not in log1 + log2


async def test_when_the_home_node_dies_its_people_are_back_on_another_within_5_s(
    cluster: Cluster,
):
    node1, node2 = cluster.nodes
    meeting, anne, bruno = await admitted_across(cluster, "trusted")
    await decoding(anne.p, bruno.p, 20, "Anne and Bruno do not decode each other")
    assert node1.process is not None
    killed = time.monotonic()
    stop(node1.process, signal.SIGKILL)  # the meeting's home
    # Node 2 notices its relayed socket's home is gone and closes it so the page comes back.
    await wait_until(lambda: bruno.p.ws.closed, 3, "Bruno's socket stayed open on node 2")
    assert bruno.p.ws.close_code == 1012
    for person in (anne, bruno):
        await person.p.close()

    async def back(person: Person) -> None:
        # As the load balancer would: the surviving node, with the page's rejoin ticket.
        answer = await (await person.connect(node2, meeting)).knock(rejoin=person.rejoin)
        assert answer["type"] == "welcome", answer  # Bruno, a guest, skips the lobby

    await asyncio.gather(back(anne), back(bruno))
    await wait_until(
        lambda: sees(anne.p, "Bruno") and sees(bruno.p, "Anne"), 5, "not together again"
    )
    together = time.monotonic() - killed
    for person in (anne, bruno):
        await person.p.publish()
    await decoding(anne.p, bruno.p, 15, "no media on the new home")
    media = time.monotonic() - killed
    print(f"back in the meeting {together:.2f} s after the kill, media {media:.2f} s")
    assert together < 5, together
    assert await cluster.home(meeting) == cluster.node_id(node2)
    log2 = node2.log_path.read_text()
    assert "meeting taken over: 2 presence(s) of its last home closed" in log2, log2
    assert node2.metrics()["hub_node_takeovers_total"] == 1
    assert "Traceback" not in log2


async def test_when_a_relaying_node_dies_its_people_leave_the_meeting_at_home(cluster: Cluster):
    node1, node2 = cluster.nodes
    meeting, anne, bruno = await admitted_across(cluster, "trusted")
    assert node2.process is not None
    killed = time.monotonic()
    stop(node2.process, signal.SIGKILL)  # holds Bruno's socket, relayed to node 1
    left = await message(anne.p, "participant_left", 5, participant_id=bruno.p.participant_id)
    print(f"Bruno left the meeting at home {time.monotonic() - killed:.2f} s after the kill")
    assert left
    await bruno.p.close()
    answer = await (await bruno.connect(node1, meeting)).knock(rejoin=bruno.rejoin)
    assert answer["type"] == "welcome", answer
    await wait_until(lambda: sees(bruno.p, "Anne"), 5, "Bruno is not back with Anne")
    assert await cluster.home(meeting) == cluster.node_id(node1)
