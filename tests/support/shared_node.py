"""A stand-in for a hub node's use of the shared state, as its own process, printing what
happens (one line each, flushed) so a test can read it from the process's log:

    python -m tests.support.shared_node URL lease NAME TTL   -> "held", later "lost"
    python -m tests.support.shared_node URL listen MEETING   -> "subscribed", then messages
    python -m tests.support.shared_node URL publish MEETING MESSAGE
"""

from __future__ import annotations

import asyncio
import sys

from hub.ids import MeetingId
from hub.shared.lease import Lease
from hub.shared.redis_state import RedisState


def say(line: str) -> None:
    print(line, flush=True)


async def main(url: str, action: str, *args: str) -> None:
    state = RedisState(url)
    await state.start()
    try:
        if action == "lease":
            name, ttl = args[0], float(args[1])
            lease = Lease(state, name, ttl=ttl, renew_every=ttl / 4, margin=ttl / 4)
            await lease.acquire(retry_every=0.1)
            say("held")
            await lease.lost.wait()
            say("lost")
        elif action == "listen":
            async with await state.subscribe(MeetingId(args[0])) as subscription:
                say("subscribed")
                async for message in subscription:
                    say(f"message {message}")
        elif action == "publish":
            await state.publish(MeetingId(args[0]), args[1])
        else:
            raise SystemExit(f"unknown action {action!r}")
    finally:
        await state.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
