"""The shared-state port's contract, run against both implementations: in memory (the
embedded default) and a real Redis started for the test. Then what only one of them does:
memory's bound, Redis going away and coming back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from hub.errors import SharedStateUnavailable, StartupError, TooManyRequests
from hub.federation.nonces import Nonces
from hub.ids import MeetingId, ServerName
from hub.shared import MemoryState, RedisState
from hub.shared.bus import MAX_PENDING, MessagesLost, Subscription
from hub.shared.lease import Lease
from hub.shared.port import ClaimVerdict, SharedState
from hub.web.limits import RateLimiter
from tests.support.processes import free_port
from tests.support.redis import RedisServer

MEETING = MeetingId("abc-defg-hij")
OTHER = MeetingId("xyz-wxyz-xyz")


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[SharedState]:
    shared: SharedState
    if request.param == "memory":
        shared = MemoryState()
    else:
        shared = RedisState(request.getfixturevalue("redis_server").url)
    await shared.start()
    try:
        yield shared
    finally:
        await shared.close()


async def next_message(subscription: Subscription, timeout: float = 2) -> str:
    return await asyncio.wait_for(anext(subscription), timeout)


# --- sliding windows (rate limits) ------------------------------------------------------------


async def test_a_window_allows_limit_events_then_says_how_long_to_wait(state: SharedState):
    for _ in range(3):
        assert await state.window("login:1.2.3.4", 3, 400, count=True) == 0
    wait = await state.window("login:1.2.3.4", 3, 400, count=True)
    assert 0 < wait <= 400
    assert await state.window("login:5.6.7.8", 3, 400, count=True) == 0  # per key
    await asyncio.sleep(0.45)
    assert await state.window("login:1.2.3.4", 3, 400, count=True) == 0  # the window slid


async def test_checks_and_refused_events_are_not_counted(state: SharedState):
    for _ in range(5):
        assert await state.window("lobby:a", 2, 60_000, count=False) == 0
    assert await state.window("lobby:a", 2, 60_000, count=True) == 0
    assert await state.window("lobby:a", 2, 60_000, count=True) == 0
    for _ in range(3):
        assert await state.window("lobby:a", 2, 60_000, count=True) > 0
    assert await state.window("lobby:a", 2, 60_000, count=False) > 0


async def test_the_rate_limiter_refuses_with_retry_after(state: SharedState):
    limiter = RateLimiter(state, "login", 2, 60)
    await limiter.hit("c")
    await limiter.check("c")
    await limiter.hit("c")
    with pytest.raises(TooManyRequests) as refused:
        await limiter.check("c")
    assert 59 <= refused.value.retry_after <= 60
    assert refused.value.said("en").startswith("Too many attempts (login)")


# --- claims (nonces, spent login states) ------------------------------------------------------


async def test_a_claim_is_fresh_once_until_it_expires(state: SharedState):
    assert (await state.claim("nonce:a:1", 200)).verdict is ClaimVerdict.FRESH
    assert (await state.claim("nonce:a:1", 200)).verdict is ClaimVerdict.TAKEN
    assert (await state.claim("nonce:b:1", 200)).verdict is ClaimVerdict.FRESH
    await asyncio.sleep(0.25)
    assert (await state.claim("nonce:a:1", 200)).verdict is ClaimVerdict.FRESH


async def test_nonces_are_per_origin(state: SharedState):
    nonces = Nonces(state)
    a, b = ServerName("hub-a.test"), ServerName("hub-b.test")
    assert (await nonces.admit(a, "n" * 22)).verdict is ClaimVerdict.FRESH
    assert (await nonces.admit(a, "n" * 22)).verdict is ClaimVerdict.TAKEN
    assert (await nonces.admit(b, "n" * 22)).verdict is ClaimVerdict.FRESH


async def test_a_full_memory_refuses_instead_of_forgetting():
    state = MemoryState(max_claims=3)
    nonces = Nonces(state, keep_ms=300)
    a = ServerName("hub-a.test")
    for index in range(3):
        assert (await nonces.admit(a, f"nonce{index}")).verdict is ClaimVerdict.FRESH
    full = await nonces.admit(a, "nonce3")
    assert full.verdict is ClaimVerdict.FULL and 0 < full.retry_after_ms <= 300
    assert (await nonces.admit(a, "nonce0")).verdict is ClaimVerdict.TAKEN  # none forgotten
    await asyncio.sleep(0.35)
    assert (await nonces.admit(a, "nonce3")).verdict is ClaimVerdict.FRESH  # room again


# --- leases -----------------------------------------------------------------------------------


async def test_a_lease_is_held_by_one_token_and_fenced(state: SharedState):
    assert await state.lease_acquire("bot", "A", 300)
    assert not await state.lease_acquire("bot", "B", 300)
    assert not await state.lease_renew("bot", "B", 300)
    await state.lease_release("bot", "B")  # not B's: nothing happens
    assert not await state.lease_acquire("bot", "B", 300)
    assert await state.lease_renew("bot", "A", 300)
    await state.lease_release("bot", "A")
    assert await state.lease_acquire("bot", "B", 300)
    await asyncio.sleep(0.35)  # B never renews: the lease expires
    assert await state.lease_acquire("bot", "A", 300)
    assert not await state.lease_renew("bot", "B", 300)  # B may not extend A's


async def test_a_lease_object_renews_until_released(state: SharedState):
    holder = Lease(state, "links", ttl=1.0, renew_every=0.2, margin=0.3)
    other = Lease(state, "links", ttl=1.0, renew_every=0.2, margin=0.3)
    assert await holder.try_acquire()
    await asyncio.sleep(1.5)  # well past the ttl: kept by renewals
    assert holder.held and not holder.lost.is_set()
    assert not await other.try_acquire()
    await holder.release()
    assert not holder.held
    assert await other.try_acquire()
    await other.release()


async def test_a_lease_taken_by_another_is_reported_lost(state: SharedState):
    losses: list[str] = []
    holder = Lease(
        state, "bot", ttl=0.6, renew_every=0.15, margin=0.2, on_lost=lambda: losses.append("lost")
    )
    assert await holder.try_acquire()
    # What a holder that stalled past its ttl finds: the key gone and another node's.
    await state.lease_release("bot", holder.token)
    assert await state.lease_acquire("bot", "other node", 5000)
    await asyncio.wait_for(holder.lost.wait(), 1)
    assert losses == ["lost"] and not holder.held
    assert not await state.lease_renew("bot", holder.token, 5000)


async def test_a_lease_says_which_node_holds_it(state: SharedState):
    assert await state.lease_holder("meeting:abc-defg-hij:home") is None
    lease = Lease(state, "meeting:abc-defg-hij:home", holder="0123456789ab")
    assert lease.token.startswith("0123456789ab.")
    assert await lease.try_acquire()
    assert await state.lease_holder("meeting:abc-defg-hij:home") == lease.token
    await lease.release()
    assert await state.lease_holder("meeting:abc-defg-hij:home") is None


async def test_a_publish_says_whether_anyone_listens_on_the_channel(state: SharedState):
    assert await state.publish_on("node:0123456789ab", "anyone?") == 0
    async with await state.subscribe_to("node:0123456789ab") as subscription:
        assert await state.publish_on("node:0123456789ab", "you") == 1
        assert await next_message(subscription) == "you"
    assert await state.publish_on("node:0123456789ab", "gone") == 0


# --- the meeting bus --------------------------------------------------------------------------


async def test_messages_reach_each_subscriber_of_their_meeting_in_order(state: SharedState):
    first = await state.subscribe(MEETING)
    second = await state.subscribe(MEETING)
    elsewhere = await state.subscribe(OTHER)
    for index in range(5):
        await state.publish(MEETING, f"message {index}")
    await state.publish(OTHER, "for the other meeting")
    for subscription in (first, second):
        assert [await next_message(subscription) for _ in range(5)] == [
            f"message {index}" for index in range(5)
        ]
    assert await next_message(elsewhere) == "for the other meeting"
    await first.close()
    await state.publish(MEETING, "after the first left")
    assert await next_message(second) == "after the first left"
    with pytest.raises(StopAsyncIteration):
        await next_message(first)
    await second.close()
    await elsewhere.close()
    await state.publish(MEETING, "nobody listens")  # no error


async def test_a_subscriber_that_falls_behind_is_told_it_lost_messages(state: SharedState):
    last = str(MAX_PENDING)
    async with (
        await state.subscribe(MEETING) as subscription,
        await state.subscribe(MEETING) as witness,
    ):

        async def read_along() -> None:  # keeps up, so it sees when all were handed out
            while await next_message(witness, timeout=30) != last:
                pass

        reader = asyncio.get_running_loop().create_task(read_along())
        for index in range(MAX_PENDING + 1):
            await state.publish(MEETING, str(index))
            await asyncio.sleep(0)  # the witness reads as they come (in memory too)
        # Under load Redis hands the messages over later than they were published: reading
        # the slow one before the last had come would let it keep up and never fall behind.
        await asyncio.wait_for(reader, 30)
        received = []
        with pytest.raises(MessagesLost):
            while True:
                received.append(await next_message(subscription))
        assert received == [str(index) for index in range(MAX_PENDING)]


# --- Redis only: refusing to start, going away, coming back -----------------------------------


# --- streams (the bot's events) and hashes (room rosters) --------------------------------------


async def test_a_stream_group_gets_each_entry_once_and_pending_ones_again(state: SharedState):
    await state.stream_add("events", "before the group", 100)
    await state.stream_group("events", "bot")
    await state.stream_group("events", "bot")  # already there: nothing changes
    await state.stream_add("events", "one", 100)
    read = await state.stream_read("events", "bot", "node-a", 100)
    assert [entry.text for entry in read] == ["before the group", "one"]
    assert await state.stream_read("events", "bot", "node-a", 50) == []  # each once
    await state.stream_ack("events", "bot", read[0].id)
    # node-a stopped with "one" unacknowledged: node-b claims it, then reads on.
    left = await state.stream_claim("events", "bot", "node-b")
    assert [entry.text for entry in left] == ["one"]
    await state.stream_ack("events", "bot", left[0].id)
    assert await state.stream_claim("events", "bot", "node-b") == []
    await state.stream_add("events", "two", 100)
    assert [e.text for e in await state.stream_read("events", "bot", "node-b", 100)] == ["two"]


async def test_a_waiting_stream_read_returns_what_arrives(state: SharedState):
    await state.stream_group("events", "bot")
    reading = asyncio.ensure_future(state.stream_read("events", "bot", "node-a", 2000))
    await asyncio.sleep(0.05)
    await state.stream_add("events", "late", 100)
    entries = await asyncio.wait_for(reading, 2)
    # Redis blocks at most 0.3 s per call (its read timeout): an empty answer is allowed.
    assert [entry.text for entry in entries] in (["late"], [])


async def test_a_hash_is_replaced_whole(state: SharedState):
    await state.hash_replace("room:!a:b:members", {"@anne:b": "100", "@bruno:b": "0"})
    await state.hash_replace("room:!a:b:members", {"@anne:b": "50"})
    assert await state.hash_get("room:!a:b:members", "@anne:b") == "50"
    assert await state.hash_get("room:!a:b:members", "@bruno:b") is None
    assert await state.hash_fields("room:!a:b:members") == ["@anne:b"]
    await state.hash_replace("room:!a:b:members", {})
    assert await state.hash_fields("room:!a:b:members") == []
    assert await state.hash_get("room:!nowhere:b:members", "@anne:b") is None


async def test_redis_down_at_start_is_one_clear_line_without_the_password():
    port = free_port()
    state = RedisState(f"redis://:hunter2-secret@127.0.0.1:{port}/0")
    with pytest.raises(StartupError) as refused:
        await state.start()
    message = str(refused.value)
    assert message.startswith(f"redis.url: cannot reach redis://***@127.0.0.1:{port}/0: ")
    assert "hunter2" not in message and "\n" not in message


async def test_redis_killed_then_back(redis_server: RedisServer, caplog):
    caplog.set_level(logging.INFO, logger="hub.shared.redis_state")
    state = RedisState(redis_server.url)
    await state.start()
    try:
        subscription = await state.subscribe(MEETING)
        await state.publish(MEETING, "before")
        assert await next_message(subscription) == "before"
        redis_server.kill()
        with pytest.raises(MessagesLost):  # it may have missed messages: resynchronise
            await next_message(subscription, timeout=5)
        for _ in range(3):
            with pytest.raises(SharedStateUnavailable) as refused:
                await state.window("login:x", 5, 60_000, count=True)
        assert (refused.value.status, refused.value.code) == (503, "shared_state_unavailable")
        with pytest.raises(SharedStateUnavailable):
            await state.subscribe(MEETING)
        down = [r for r in caplog.records if "does not answer" in r.getMessage()]
        assert len(down) == 1, [r.getMessage() for r in caplog.records]  # logged once
        redis_server.start()
        assert await state.window("login:x", 5, 60_000, count=True) == 0
        assert any("answers again" in r.getMessage() for r in caplog.records)
        async with await state.subscribe(MEETING) as again:
            await state.publish(MEETING, "after")
            assert await next_message(again) == "after"
    finally:
        await state.close()


async def test_a_lease_is_given_up_before_its_key_can_expire_when_redis_goes(
    redis_server: RedisServer,
):
    state = RedisState(redis_server.url)
    await state.start()
    try:
        holder = Lease(state, "bot", ttl=1.5, renew_every=0.3, margin=0.5)
        assert await holder.try_acquire()
        await asyncio.sleep(0.5)  # a renewal or two confirmed
        redis_server.kill()
        killed_at = asyncio.get_running_loop().time()
        await asyncio.wait_for(holder.lost.wait(), 3)
        # The last confirmed renewal was sent at most renew_every before the kill; the key
        # lives ttl after it: the loss must be reported before that, margin included.
        assert asyncio.get_running_loop().time() - killed_at < 1.5 - 0.5 + 0.1
    finally:
        await state.close()


async def test_forgetting_idle_clients_keeps_each_windows_own_length(monkeypatch):
    """Past MAX_KEYS, idle keys are dropped by their own window: a login's minute going by
    must not reset a meeting creation's hour."""
    monkeypatch.setattr("hub.shared.memory.MAX_KEYS", 2)
    now = [1000.0]
    state = MemoryState(clock=lambda: now[0])
    assert await state.window("create:a", 1, 3_600_000, count=True) == 0
    now[0] += 120  # two minutes: idle for a login's window, not for an hour's
    for client in ("b", "c", "d"):
        await state.window(f"login:{client}", 5, 60_000, count=True)
    assert await state.window("create:a", 1, 3_600_000, count=True) > 0  # still limited
