"""Recordings expire: a periodic task deletes every recording whose manifest's `expires_at`
has passed (the tracks, then the manifest), one log line each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from hub.errors import NotFound
from hub.recording.manifest import MANIFEST, Manifest, key
from hub.recording.storage import RecordingStore

log = logging.getLogger(__name__)


async def manifests(store: RecordingStore, prefix: str = "") -> AsyncIterator[Manifest]:
    """Every readable manifest under `prefix`; an unreadable one is logged and skipped."""
    for name in await store.keys(prefix):
        if not name.endswith("/" + MANIFEST):
            continue
        try:
            yield Manifest.parse(await store.read(name))
        except NotFound:
            continue  # deleted meanwhile
        except ValueError as exc:
            log.warning("skipped %s: %s", name, exc)


async def expire(store: RecordingStore, now: datetime | None = None) -> list[str]:
    """Delete what expired; returns the recording ids deleted."""
    now = now or datetime.now(UTC)
    gone = []
    async for manifest in manifests(store):
        if manifest.expires_at > now:
            continue
        for file in manifest.files():
            await store.delete(key(manifest.meeting_id, manifest.recording_id, file))
        await store.delete(key(manifest.meeting_id, manifest.recording_id))
        log.info(
            "recording %s expired (ended %s): deleted %d files",
            manifest.recording_id, manifest.ended_at.isoformat(timespec="seconds"),
            len(manifest.files()) + 1, extra={"meeting_id": manifest.meeting_id},
        )  # fmt: skip
        gone.append(manifest.recording_id)
    return gone


async def expire_forever(
    store: RecordingStore, every: float, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> None:
    while True:
        try:
            await expire(store, clock())
        except Exception:  # a store that is down now may be back at the next round
            log.exception("recording retention failed")
        await asyncio.sleep(every)
