"""`hub recordings compose ID`: one playable file from a stored recording (hub/recording/
compose.py), run offline, reading the store the configuration names."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.config import HubConfig
from hub.errors import NotFound
from hub.recording.manifest import MANIFEST, ComposedEntry, Manifest, is_recording_id, key
from hub.recording.storage import RecordingStore, open_store


def add_recordings_commands(
    commands: Any,
    config_options: Callable[[argparse.ArgumentParser], None],
    load: Callable[[argparse.Namespace], HubConfig],
) -> None:
    recordings = commands.add_parser("recordings", help="work on stored recordings")
    actions = recordings.add_subparsers(dest="recordings_command", metavar="ACTION", required=True)
    build = actions.add_parser(
        "compose",
        help="build one playable WebM (VP8 + Opus) from a recording's tracks, offline",
    )
    config_options(build)
    build.add_argument("recording_id", metavar="ID", help="the recording (its manifest's id)")
    build.add_argument("--layout", choices=("grid", "speaker"), default="grid")
    build.add_argument("--out", type=Path, help="output file (default: ID.webm)")
    build.add_argument(
        "--keep",
        action="store_true",
        help="also store it beside the tracks: the meeting's moderators then download it from "
        "the hub, and it expires with them",
    )

    def run(args: argparse.Namespace) -> int:
        if not is_recording_id(args.recording_id):
            print(f"error: {args.recording_id!r} is not a recording id", file=sys.stderr)
            return 2
        out = args.out or Path(f"{args.recording_id}.webm")
        try:
            duration = asyncio.run(
                _compose(load(args), args.recording_id, out, args.layout, keep=args.keep)
            )
        except (NotFound, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"{out}: {duration:.1f} s")
        return 0

    build.set_defaults(run=run)


async def _compose(
    config: HubConfig, recording_id: str, out: Path, layout: Any, *, keep: bool = False
) -> float:
    from hub.recording.compose import compose  # PyAV and numpy: only for this command

    store = open_store(config)
    await store.open()
    try:
        manifest = await _find(store, recording_id)
        with tempfile.TemporaryDirectory(prefix="hub-compose-") as folder:
            for track in manifest.tracks:
                name = key(manifest.meeting_id, recording_id, track.file)
                await _fetch(store, name, Path(folder) / track.file)
            duration = await asyncio.to_thread(compose, manifest, Path(folder), out, layout)
            if keep:
                await _keep(store, manifest, out, layout, duration, Path(folder))
            return duration
    finally:
        await store.close()


async def _keep(
    store: RecordingStore, manifest: Manifest, out: Path, layout: Any, duration: float, spare: Path
) -> None:
    """Store the composed file beside the tracks and name it in the manifest (written last, so
    a manifest never names a file that is not there yet); the one it named before, if another
    layout's, is deleted then (retention deletes only what the manifest names)."""
    name = f"composed-{layout}.webm"
    copy = spare / name  # the store may move what it is given; `out` stays where it was asked
    await asyncio.to_thread(shutil.copyfile, out, copy)
    await store.put_file(key(manifest.meeting_id, manifest.recording_id, name), copy)
    entry = ComposedEntry(
        file=name, layout=layout, duration=round(duration, 3), made_at=datetime.now(UTC)
    )
    kept = manifest.model_copy(update={"composed": entry})
    await store.put_bytes(key(manifest.meeting_id, manifest.recording_id), kept.to_bytes())
    replaced = manifest.composed
    if replaced is not None and replaced.file != name:
        await store.delete(key(manifest.meeting_id, manifest.recording_id, replaced.file))


async def _find(store: RecordingStore, recording_id: str) -> Manifest:
    for name in await store.keys(""):
        if name.endswith(f"/{recording_id}/{MANIFEST}"):
            return Manifest.parse(await store.read(name))
    raise NotFound(f"no recording {recording_id} in the store")


async def _fetch(store: RecordingStore, name: str, target: Path) -> None:
    with target.open("wb") as handle:
        async for chunk in store.chunks(name):
            handle.write(chunk)
