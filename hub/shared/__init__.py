"""State that hub nodes share: in this process's memory by default, in Redis with `[redis]
url` (docs/scale-out.md, step 3). `port` is the interface; `memory` and `redis_state` its
two implementations; `bus` delivers meeting messages locally; `lease` keeps a lease renewed.
"""

from __future__ import annotations

from hub.shared.memory import MemoryState
from hub.shared.port import SharedState
from hub.shared.redis_state import RedisState


def open_shared_state(url: str) -> SharedState:
    """The state for `[redis] url` (empty: memory), not yet started."""
    return RedisState(url) if url else MemoryState()
