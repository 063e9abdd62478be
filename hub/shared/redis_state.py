"""`RedisState`: the shared state of hub nodes in one Redis (`[redis] url`).

Windows are sorted sets trimmed and counted by one Lua script on Redis's own clock (so nodes'
clocks need not agree); claims are `SET NX PX`; leases are `SET NX PX` renewed and released
by scripts that first check the token (fencing); meeting messages go over pub/sub on
`meeting:{id}` and messages to one node on `node:{id}`, one subscriber connection per node
(bus.py delivers locally).

A Redis that does not answer: each command is retried once after a short pause, then the
caller gets `SharedStateUnavailable` (a 503 with a clear message); the outage is logged once
when it starts and once when it ends, never with the URL's password.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError, ResponseError

from hub.errors import SharedStateUnavailable, StartupError, first_line
from hub.shared.address import display_redis_url
from hub.shared.bus import LocalFanOut, Subscription
from hub.shared.port import Claim, ClaimVerdict, SharedState, StreamEntry

log = logging.getLogger(__name__)
T = TypeVar("T")

TIMEOUT = 1.0  # seconds to connect, and for one command to answer
RETRIES = 1
READ_WAIT = 1.0  # the subscriber wakes this often when nothing is published
# A blocking stream read must answer within TIMEOUT (the client's read timeout): at most this.
MAX_STREAM_WAIT_MS = 300
STREAM_BATCH = 100
MAX_READ_BACKOFF = 2.0

# KEYS[1] window; ARGV: limit, window ms, count (1/0), a member unique to this event.
_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
end
return 0
"""
# KEYS[1] lease; ARGV: token, ttl ms.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisState(SharedState):
    """Owns the client (a connection pool), the scripts, the node's one pub/sub connection
    and the task reading it. `start()` checks Redis answers; `close()` ends it all."""

    def __init__(self, url: str) -> None:
        self._display = display_redis_url(url)
        self._redis: Redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=TIMEOUT,
            socket_timeout=TIMEOUT,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.1), RETRIES),
        )
        self._window = self._redis.register_script(_WINDOW)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)
        self._members = (f"{secrets.token_hex(6)}:{n}" for n in itertools.count())
        self._answering = True
        self._fanout = LocalFanOut()
        self._pubsub: PubSub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._listening = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    def describe(self) -> str:
        return f"Redis at {self._display}"

    async def start(self) -> None:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            await self._redis.aclose()
            raise StartupError(
                f"redis.url: cannot reach {self._display}: {first_line(exc)}; start Redis or "
                "empty redis.url to keep this hub's state in memory"
            ) from None
        self._reader = asyncio.get_running_loop().create_task(self._read())
        log.info("shared state: %s", self.describe())

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._fanout.lose_all("the shared state was closed")
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._redis.aclose()

    async def _call(self, command: Awaitable[T]) -> T:
        """`command`'s answer; SharedStateUnavailable when Redis cannot give it."""
        try:
            answer = await command
        except (RedisError, OSError) as exc:
            self._failed(exc)
            raise SharedStateUnavailable() from None
        self._answered()
        return answer

    def _failed(self, exc: BaseException) -> None:
        if self._answering:
            self._answering = False
            log.warning(
                "shared state: %s does not answer (%s); refusing what needs it (503) until it does",
                self._display,
                first_line(exc),
            )

    def _answered(self) -> None:
        if not self._answering:
            self._answering = True
            log.info("shared state: %s answers again", self._display)

    async def window(self, key: str, limit: int, window_ms: int, *, count: bool) -> int:
        args: list[Any] = [limit, window_ms, 1 if count else 0, next(self._members)]
        wait = await self._call(self._window(keys=[f"window:{key}"], args=args))
        return int(wait)

    async def claim(self, key: str, ttl_ms: int) -> Claim:
        fresh = await self._call(self._redis.set(f"claim:{key}", "1", nx=True, px=ttl_ms))
        return Claim(ClaimVerdict.FRESH if fresh else ClaimVerdict.TAKEN)

    async def lease_acquire(self, name: str, token: str, ttl_ms: int) -> bool:
        taken = await self._call(self._redis.set(f"lease:{name}", token, nx=True, px=ttl_ms))
        return bool(taken)

    async def lease_renew(self, name: str, token: str, ttl_ms: int) -> bool:
        renewed = await self._call(self._renew(keys=[f"lease:{name}"], args=[token, ttl_ms]))
        return bool(renewed)

    async def lease_release(self, name: str, token: str) -> None:
        await self._call(self._release(keys=[f"lease:{name}"], args=[token]))

    async def lease_holder(self, name: str) -> str | None:
        token = await self._call(self._redis.get(f"lease:{name}"))
        return None if token is None else str(token)

    async def publish_on(self, channel: str, message: str) -> int:
        return int(await self._call(self._redis.publish(channel, message)))

    async def subscribe_to(self, channel: str) -> Subscription:
        subscription = Subscription(channel, self._unsubscribe)
        if self._fanout.add(subscription):
            try:
                await self._call(self._pubsub.subscribe(subscription.channel))
            except SharedStateUnavailable:
                self._fanout.remove(subscription)
                raise
            self._listening.set()
        return subscription

    async def stream_add(self, stream: str, text: str, max_length: int) -> None:
        await self._call(
            self._redis.xadd(stream, {"text": text}, maxlen=max_length, approximate=True)
        )

    async def stream_group(self, stream: str, group: str) -> None:
        try:
            await self._redis.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):  # BUSYGROUP: it exists, as wanted
                self._failed(exc)
                raise SharedStateUnavailable() from None
        except (RedisError, OSError) as exc:
            self._failed(exc)
            raise SharedStateUnavailable() from None

    async def stream_claim(self, stream: str, group: str, consumer: str) -> list[StreamEntry]:
        claimed: list[StreamEntry] = []
        start = "0-0"
        while True:  # XAUTOCLAIM pages through the pending list; "0-0" means it is done
            answer = await self._call(
                self._redis.xautoclaim(
                    stream, group, consumer, min_idle_time=0, start_id=start, count=STREAM_BATCH
                )
            )
            start, entries = answer[0], answer[1]
            claimed += _entries(entries)
            if start == "0-0":
                break
        await self._forget_idle_consumers(stream, group, consumer)
        return sorted(claimed, key=lambda entry: _entry_order(entry.id))

    async def _forget_idle_consumers(self, stream: str, group: str, consumer: str) -> None:
        """Every holder start adds a consumer (its node id) to the group: once their entries
        are claimed, the others with nothing pending are deleted, so they do not pile up."""
        consumers = await self._call(self._redis.xinfo_consumers(stream, group))
        for other in consumers:
            name = str(other["name"])
            if name != consumer and int(other["pending"]) == 0:
                await self._call(self._redis.xgroup_delconsumer(stream, group, name))

    async def stream_read(
        self, stream: str, group: str, consumer: str, wait_ms: int
    ) -> list[StreamEntry]:
        answer: Any = await self._call(
            self._redis.xreadgroup(
                group, consumer, {stream: ">"}, count=STREAM_BATCH,
                block=min(wait_ms, MAX_STREAM_WAIT_MS),
            )
        )  # fmt: skip
        # RESP2 (this client's protocol): [[stream, [[id, {field: value}], …]]], or None.
        return [entry for _, entries in answer or () for entry in _entries(entries)]

    async def stream_ack(self, stream: str, group: str, entry: str) -> None:
        await self._call(self._redis.xack(stream, group, entry))

    async def hash_replace(self, key: str, values: Mapping[str, str]) -> None:
        async with self._redis.pipeline(transaction=True) as replace:  # MULTI … EXEC
            replace.delete(key)
            if values:
                fields: Mapping[Any, Any] = values  # hset's mapping type is invariant in str
                replace.hset(key, mapping=fields)
            await self._call(replace.execute())

    async def hash_get(self, key: str, field: str) -> str | None:
        value = await self._call(self._redis.hget(key, field))
        return None if value is None else str(value)

    async def hash_fields(self, key: str) -> list[str]:
        return [str(field) for field in await self._call(self._redis.hkeys(key))]

    async def _unsubscribe(self, subscription: Subscription) -> None:
        if self._fanout.remove(subscription):
            with contextlib.suppress(SharedStateUnavailable):
                await self._call(self._pubsub.unsubscribe(subscription.channel))

    async def _read(self) -> None:
        """Hand each published message to this node's subscriptions, while any exist."""
        backoff = 0.1
        while True:
            if not self._pubsub.subscribed:
                self._listening.clear()
                await self._listening.wait()
                continue
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=READ_WAIT
                )
            except (RedisError, OSError) as exc:
                self._failed(exc)
                await self._drop_subscriptions()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_READ_BACKOFF)
                continue
            backoff = 0.1
            if message is not None and message["type"] == "message":
                self._fanout.deliver(message["channel"], message["data"])

    async def _drop_subscriptions(self) -> None:
        """The connection broke, so messages may have been missed: end every subscription
        (their owners subscribe again and ask for a snapshot) and start a clean connection."""
        self._fanout.lose_all(f"lost the connection to {self._display}")
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)


def _entries(entries: list[Any]) -> list[StreamEntry]:
    """Stream entries as Redis gives them ([id, {field: value}]); one trimmed away since it
    was delivered comes without fields and is skipped. One without `text` (not written by a
    hub) is given with an empty text: its reader refuses it and acknowledges it, rather than
    leaving it pending, claimed again at every start."""
    return [
        StreamEntry(str(entry_id), str(fields.get("text", "")))
        for entry_id, fields in entries
        if fields
    ]


def _entry_order(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)
