"""The recorder: a process of its own (`python -m hub.recording.recorder`, started by
hub/recording/client.py) so that reassembling frames and writing files never take the hub's
event loop from the packet path.

It reads the hub's messages on stdin (hub/recording/wire.py) and writes each track of each
recording with a `TrackWriter` (hub/recording/writer.py) into the folder the hub named; on
Finish it closes them and says what was written. Logs go to stderr.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import BinaryIO

from hub.recording.wire import (
    Begin,
    Finish,
    Finished,
    Message,
    Packets,
    Track,
    WireError,
    Written,
    decode,
    encode,
    frame_length,
)
from hub.recording.writer import TrackWriter

log = logging.getLogger("hub.recording.recorder")


class Recorder:
    """Every recording in progress: its folder and its tracks' writers."""

    def __init__(self) -> None:
        self._folders: dict[str, Path] = {}
        self._writers: dict[str, dict[str, TrackWriter]] = {}

    def handle(self, message: Message) -> Finished | None:
        match message:
            case Begin(recording=rid, folder=name):
                self._folders[rid] = Path(name)
                self._writers[rid] = {}
            case Track(recording=rid, key=key, file=file, mime=mime, clock_rate=rate):
                folder = self._folders.get(rid)
                if folder is None or os.sep in file or file.startswith("."):
                    raise WireError(f"track {key!r}: unknown recording or bad file name")
                try:
                    self._writers[rid][key] = TrackWriter(folder / file, mime, rate)
                except ValueError as exc:
                    log.warning("track %s not recorded: %s", key, exc)
            case Packets(recording=rid, packets=packets):
                writers = self._writers.get(rid, {})
                for key, seq, timestamp, marker, payload, arrival in packets:
                    writer = writers.get(key)
                    if writer is not None:
                        writer.packet(seq, timestamp, marker, payload, arrival)
            case Finish(recording=rid):
                self._folders.pop(rid, None)
                return Finished(rid, tuple(self._close(self._writers.pop(rid, {}))))
        return None

    @staticmethod
    def _close(writers: dict[str, TrackWriter]) -> list[Written]:
        written = []
        for key, writer in writers.items():
            writer.close()
            written.append(
                Written(
                    key, writer.frames, writer.width, writer.height, writer.first_arrival,
                    writer.duration, writer.error,
                )
            )  # fmt: skip
        return written

    def close(self) -> None:
        for rid in list(self._writers):
            self._close(self._writers.pop(rid))


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Handle messages until stdin closes; a recording left open is closed (files playable)."""
    recorder = Recorder()
    try:
        while len(head := stdin.read(4)) == 4:
            body = stdin.read(frame_length(head))
            try:
                reply = recorder.handle(decode(body))
            except Exception as exc:  # one bad message costs itself, never the others' files
                log.warning("message refused: %s", str(exc)[:300])
                continue
            if reply is not None:
                stdout.write(encode(reply))
                stdout.flush()
    finally:
        recorder.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="recorder: %(levelname)s %(message)s")
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer)
    except WireError as error:
        log.error("stopped: %s", error)
        sys.exit(2)
    except KeyboardInterrupt:
        pass
