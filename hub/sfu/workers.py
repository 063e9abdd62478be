"""`sfu.workers = N`: the media of this hub's meetings forwarded by N `hub sfu-worker` processes
(and by those of `sfu.remote_workers`, on other machines).

`WorkerPool` is the `MediaRooms` (hub/sfu/port.py) of `hub serve` in that mode. It starts each
local worker as a child process on a Unix socket in a private directory, keeps one control
connection to it (hub/sfu/remote.py) and restarts it when it dies. A remote worker is dialled
over TCP + TLS (hub/sfu/tcp.py), and dialled again while it is away (systemd restarts it).
A new meeting goes to the least loaded worker (fewest forwarded packets per second in its last
report, then fewest meetings) and stays there while it fits; past the worker's ceiling its
newcomers go to a part of it on another worker (hub/sfu/span.py, hub/sfu/relay.py). A worker
is dead when its process ends, its connection breaks or its reports stop for `SILENCE`
seconds: its meetings' parts are placed at once on the others (or on its replacement,
started at once unless it keeps dying young) and their people reconnect their media there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from hub.config_sfu import RemoteWorkerConfig, SfuConfig
from hub.errors import StartupError, first_line
from hub.ids import MeetingId
from hub.sfu.audio_tap import AudioTap
from hub.sfu.recording_tap import RecordingTap
from hub.sfu.remote import Load, RemoteRoom, WorkerLink
from hub.sfu.span import SpanningRoom
from hub.sfu.tcp import DialError, client_context, dial

log = logging.getLogger(__name__)

SILENCE = 3.0  # seconds without a load report: the worker is hung, and killed
START_TIMEOUT = 30.0  # seconds for a worker to import aiortc and listen
RESTART_PAUSE = 1.0  # before replacing a worker that died young (doubling each time)
MAX_PAUSE = 30.0  # a worker that keeps dying at once is started less and less often
STEADY = 10.0  # seconds a worker must live for its next death to be a first one again
STOP_TIMEOUT = 5.0
AWAY_LOG_INTERVAL = 60.0
REDIAL_MAX_PAUSE = 5.0  # a remote worker away (restarting, unreachable) is dialled this often


@dataclass
class WorkerSlot:
    """One worker: its process (or its remote address), its connection and its last report;
    `restarts` counts deaths."""

    index: int
    path: Path | None  # of a local worker's control socket
    remote: RemoteWorkerConfig | None = None
    process: asyncio.subprocess.Process | None = None
    link: WorkerLink | None = None
    load: Load | None = None
    reported_at: float = 0.0
    restarts: int = 0
    reading: asyncio.Task[None] | None = None
    meetings: set[MeetingId] = field(default_factory=set)  # the parts of meetings it holds
    away_reason: str = ""
    away_logged: float = 0.0

    @property
    def up(self) -> bool:
        return self.link is not None and self.link.alive

    def heard(self, load: Load) -> None:
        self.load, self.reported_at = load, time.monotonic()

    def away(self, reason: str) -> None:
        """A remote worker not reached: logged when the reason changes, or once a minute."""
        now = time.monotonic()
        if reason != self.away_reason or now - self.away_logged > AWAY_LOG_INTERVAL:
            log.error("SFU worker %s cannot be reached: %s", self.name, reason)
            self.away_reason, self.away_logged = reason, now

    @property
    def name(self) -> str:
        return f"{self.index} ({self.remote.address})" if self.remote else str(self.index)


class WorkerPool:
    """Owns the worker processes and the meetings' `RemoteRoom`s; `open()` starts the workers
    (and returns once each is up), `close()` stops them."""

    def __init__(self, config: SfuConfig, *, log_level: str, log_format: str) -> None:
        self.config = config
        self._command = [sys.executable, "-m", "hub.sfu", "--exit-when-idle",
                         "--log-level", log_level, "--log-format", log_format]  # fmt: skip
        self._dir: Path | None = None
        self.slots: list[WorkerSlot] = []
        self.rooms: dict[MeetingId, SpanningRoom] = {}
        self.parts: dict[MeetingId, RemoteRoom] = {}  # every meeting's parts, by part key
        self._meeting_of: dict[MeetingId, MeetingId] = {}  # part key -> meeting
        self._users: dict[MeetingId, int] = {}
        self._audio_taps: dict[MeetingId, AudioTap] = {}  # meetings with subtitles on
        self._recording_taps: dict[MeetingId, RecordingTap] = {}  # meetings being recorded
        self._supervisors: list[asyncio.Task[None]] = []
        self.hub_id = secrets.token_hex(6)  # a worker replaces our old connection by it
        self._tls: ssl.SSLContext | None = None
        self._tried: set[int] = set()  # remote workers dialled at least once

    # -- MediaRooms -----------------------------------------------------------------------------

    def find(self, meeting_id: MeetingId) -> SpanningRoom | None:
        return self.rooms.get(meeting_id)

    def acquire(self, meeting_id: MeetingId) -> SpanningRoom:
        self._users[meeting_id] = self._users.get(meeting_id, 0) + 1
        room = self.rooms.get(meeting_id)
        if room is None:
            first = self._new_part(meeting_id, meeting_id)
            self._place(first)
            room = self.rooms[meeting_id] = SpanningRoom(meeting_id, self, first)
            if meeting_id in self._audio_taps or meeting_id in self._recording_taps:
                self._retap(meeting_id)
        return room

    async def release(self, meeting_id: MeetingId) -> None:
        users = self._users.get(meeting_id, 0) - 1
        if users > 0:
            self._users[meeting_id] = users
            return
        await self.close_room(meeting_id)

    async def close_room(self, meeting_id: MeetingId) -> None:
        self._users.pop(meeting_id, None)
        room = self.rooms.pop(meeting_id, None)
        if room is None:
            return
        for part in room.parts:
            self.forget_part(part)
        await room.close()

    def set_audio_tap(self, meeting_id: MeetingId, tap: AudioTap | None) -> None:
        """Feed the meeting's voiced microphone packets, tapped in its workers, into `tap`
        (None: stop), now and in a room it gets later; as `Sfu.set_audio_tap` does."""
        if tap is None:
            self._audio_taps.pop(meeting_id, None)
        else:
            self._audio_taps[meeting_id] = tap
        self._retap(meeting_id)

    def set_recording_tap(self, meeting_id: MeetingId, tap: RecordingTap | None) -> None:
        """Feed every packet of the meeting's tracks into `tap` (None: stop), likewise."""
        if tap is None:
            self._recording_taps.pop(meeting_id, None)
        else:
            self._recording_taps[meeting_id] = tap
        self._retap(meeting_id)

    def _retap(self, meeting_id: MeetingId) -> None:
        room = self.rooms.get(meeting_id)
        if room is not None:
            room.set_taps(self._audio_taps.get(meeting_id), self._recording_taps.get(meeting_id))

    def worker_of(self, meeting_id: MeetingId) -> int | None:
        """The index of the worker holding the meeting's (first part's) media (None: not
        placed now)."""
        return next((s.index for s in self.slots if meeting_id in s.meetings), None)

    def workers_of(self, meeting_id: MeetingId) -> list[int | None]:
        """The worker of each part of the meeting, in the order they opened."""
        room = self.rooms.get(meeting_id)
        parts = room.parts if room is not None else []
        return [slot.index if (slot := self._slot_of(part)) else None for part in parts]

    # -- placement ------------------------------------------------------------------------------

    def _slot_of(self, part: RemoteRoom) -> WorkerSlot | None:
        return next((s for s in self.slots if part.meeting_id in s.meetings), None)

    def _least_loaded(self, avoid: frozenset[int] = frozenset()) -> WorkerSlot | None:
        """The live worker forwarding least, preferring those not in `avoid`."""
        live = [slot for slot in self.slots if slot.up]
        if not live:
            return None
        return min(
            live,
            key=lambda s: (
                s.index in avoid,
                s.load.forwarded_per_second if s.load else 0.0,
                len(s.meetings),
            ),
        )

    def _new_part(self, meeting_id: MeetingId, key: MeetingId) -> RemoteRoom:
        part = self.parts[key] = RemoteRoom(key)
        self._meeting_of[key] = meeting_id
        return part

    def _held(self, meeting_id: MeetingId, *, but: RemoteRoom | None = None) -> frozenset[int]:
        """The workers holding the meeting's parts (but one)."""
        room = self.rooms.get(meeting_id)
        parts = [part for part in room.parts if part is not but] if room is not None else []
        return frozenset(slot.index for part in parts if (slot := self._slot_of(part)))

    def crowded(self, part: RemoteRoom, people: int) -> bool:
        """A part takes no more newcomers past `sfu.people_per_worker` of its meeting's people
        or once its worker forwards more than `sfu.worker_ceiling` packets/s."""
        limit, ceiling = self.config.people_per_worker, self.config.worker_ceiling
        if limit and people >= limit:
            return True
        slot = self._slot_of(part)
        load = slot.load if slot is not None else None
        return bool(ceiling and load is not None and load.forwarded_per_second >= ceiling)

    def forget_part(self, part: RemoteRoom) -> None:
        self.parts.pop(part.meeting_id, None)
        self._meeting_of.pop(part.meeting_id, None)
        for slot in self.slots:
            slot.meetings.discard(part.meeting_id)

    def open_part(self, meeting_id: MeetingId, key: MeetingId) -> RemoteRoom | None:
        taken = self._held(meeting_id)
        slot = self._least_loaded(taken)
        if slot is None or slot.index in taken or slot.link is None:
            return None
        part = self._new_part(meeting_id, key)
        slot.meetings.add(key)
        part.move_to(slot.link)
        log.info("meeting spreads to SFU worker %d (part %s)", slot.index, key,
                 extra={"meeting_id": meeting_id})  # fmt: skip
        return part

    def _place(self, room: RemoteRoom) -> None:
        meeting_id = self._meeting_of.get(room.meeting_id, room.meeting_id)
        slot = self._least_loaded(self._held(meeting_id, but=room))
        if slot is None or slot.link is None:
            log.warning("no SFU worker is up: meeting waits for one",
                        extra={"meeting_id": room.meeting_id})  # fmt: skip
            return
        slot.meetings.add(room.meeting_id)
        room.move_to(slot.link)
        log.info("meeting placed on SFU worker %d", slot.index,
                 extra={"meeting_id": room.meeting_id})  # fmt: skip

    def _place_waiting(self) -> None:
        for part in self.parts.values():
            if part.link is None:
                self._place(part)

    # -- the workers' lives ---------------------------------------------------------------------

    async def open(self) -> None:
        """Start the local workers and dial the remote ones; returns once every local worker
        is up and every remote one was dialled once (StartupError: a local one did not
        start; a remote one away is logged and dialled again)."""
        self._dir = Path(tempfile.mkdtemp(prefix="hub-sfu-"))  # 0700: ours alone
        local = self.config.workers
        self.slots = [WorkerSlot(i, self._dir / f"worker-{i}.sock") for i in range(local)]
        remotes = self.config.remote_workers
        self.slots += [WorkerSlot(local + i, None, remote) for i, remote in enumerate(remotes)]
        if self.config.remote_workers:
            try:
                self._tls = client_context(self.config.worker_ca_file)
            except (OSError, ValueError) as exc:
                raise StartupError(f"sfu.worker_ca_file: {first_line(exc)}") from None
        started = asyncio.get_running_loop().time()
        for slot in self.slots:
            self._supervisors.append(asyncio.create_task(self._supervise(slot)))

        def ready(slot: WorkerSlot) -> bool:
            return slot.up or (slot.remote is not None and slot.index in self._tried)

        while not all(ready(slot) for slot in self.slots):
            if asyncio.get_running_loop().time() - started > START_TIMEOUT:
                await self.close()
                raise StartupError(f"SFU workers did not start within {START_TIMEOUT:.0f} s")
            await asyncio.sleep(0.05)
        up = sum(1 for slot in self.slots if slot.up)
        log.info("%d of %d SFU workers up", up, len(self.slots))

    async def _supervise(self, slot: WorkerSlot) -> None:
        failures = 0  # deaths in a row of workers that lived less than STEADY seconds
        while True:
            started = time.monotonic()
            try:
                await self._start(slot)
                await self._watch(slot)
            except asyncio.CancelledError:
                raise
            except DialError as exc:  # one line: unreachable, refused, bad TLS
                slot.away(str(exc))
            except Exception:
                log.exception("SFU worker %s failed to start", slot.name)
            self._tried.add(slot.index)
            self._died(slot)
            # At once after a steady life; then 1, 2, 4 … s while it keeps dying at start.
            failures = failures + 1 if time.monotonic() - started < STEADY else 0
            if failures:
                longest = REDIAL_MAX_PAUSE if slot.remote is not None else MAX_PAUSE
                await asyncio.sleep(min(RESTART_PAUSE * 2 ** (failures - 1), longest))

    async def _start(self, slot: WorkerSlot) -> None:
        if slot.remote is not None:
            reader, writer = await self._dial(slot.remote)
        else:
            reader, writer = await self._spawn(slot)
        link = WorkerLink(slot.name, reader, writer, slot.heard)
        slot.reading = asyncio.create_task(link.run())
        remote = slot.remote
        candidates = remote.candidate_addresses if remote else self.config.candidate_addresses
        relays = remote.relay_addresses if remote else self.config.relay_addresses
        ice = [server.model_dump() for server in self.config.ice_servers]
        try:
            await link.request("configure", ice_servers=ice, candidate_addresses=list(candidates),
                               relay_addresses=list(relays or candidates))  # fmt: skip
        except RuntimeError as exc:  # its refusal, in one line: an address not its own
            link.close()
            raise DialError(f"our configuration is refused: {exc}") from None
        slot.link = link
        if remote is not None:
            log.info("SFU worker %s connected", slot.name)
            slot.away_reason = ""

    async def _dial(
        self, remote: RemoteWorkerConfig
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        assert self._tls is not None
        reader, writer, _pid = await dial(
            remote.host, remote.port, tls=self._tls, server_name=remote.tls_name,
            secret=self.config.worker_secret.get_secret_value(), hub=self.hub_id,
        )  # fmt: skip
        return reader, writer

    async def _spawn(self, slot: WorkerSlot) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        assert slot.path is not None
        with contextlib.suppress(FileNotFoundError):
            slot.path.unlink()
        process = slot.process = await asyncio.create_subprocess_exec(
            *self._command, "--control", str(slot.path), stdin=asyncio.subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"exited with status {process.returncode} while starting")
            try:
                return await asyncio.open_unix_connection(str(slot.path))
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise RuntimeError("did not listen in time") from None
                await asyncio.sleep(0.05)

    async def _watch(self, slot: WorkerSlot) -> None:
        """Until the worker dies: its process ends, its connection ends, or it stops talking."""
        assert slot.link is not None
        slot.reported_at = time.monotonic()
        self._place_waiting()
        reading = slot.reading
        assert reading is not None
        process = slot.process
        # A remote worker's process is not ours: its connection says when it ends.
        ending = asyncio.create_task(process.wait() if process else asyncio.Event().wait())
        try:
            while not reading.done() and not ending.done():
                asked = time.monotonic()
                await asyncio.wait({reading, ending}, timeout=0.5)
                # Our own loop was held up: the reports waiting for it are not the worker's
                # silence.
                slot.reported_at += max(0.0, time.monotonic() - asked - 1.0)
                silent = time.monotonic() - slot.reported_at
                if silent > SILENCE and not reading.done() and not ending.done():
                    log.error("SFU worker %s silent for %.1f s: given up", slot.name, silent)
                    break
        finally:
            reading.cancel()
            ending.cancel()

    def _died(self, slot: WorkerSlot) -> None:
        """Whatever killed it: end the process, place its meetings elsewhere."""
        process, link = slot.process, slot.link
        slot_pid = slot.load.pid if slot.load is not None else None
        slot.link, slot.load = None, None
        if slot.reading is not None:
            slot.reading.cancel()
            slot.reading = None
        if link is not None:
            link.alive = False
            link.close()
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        code = process.returncode if process is not None else None
        if link is None and process is None:
            return
        slot.restarts += 1
        moved = [self.parts[key] for key in slot.meetings if key in self.parts]
        slot.meetings.clear()
        pid = process.pid if process else slot_pid
        log.error("SFU worker %s (pid %s) died (status %s): %d meetings move",
                  slot.name, pid or "-", code, len(moved))  # fmt: skip
        for room in moved:
            room.unplace()
            self._place(room)

    async def close(self) -> None:
        for task in self._supervisors:
            task.cancel()
        for task in self._supervisors:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for slot in self.slots:
            if slot.link is not None:
                slot.link.close()  # the worker stops by itself once its hub is gone
        for slot in self.slots:
            process = slot.process
            if process is None or process.returncode is not None:
                continue
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                log.warning("SFU worker %d did not stop: killed", slot.index)
                process.kill()
                await process.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def health(self) -> list[dict[str, object]]:
        """Per worker, for /health/ready."""
        return [
            {
                "worker": slot.index,
                "up": slot.up,
                "pid": slot.process.pid if slot.process else slot.load.pid if slot.load else None,
                "address": slot.remote.address if slot.remote is not None else None,
                "meetings": len(slot.meetings),
                "forwarded_per_second": slot.load.forwarded_per_second if slot.load else 0.0,
                "cpu_seconds": slot.load.cpu_seconds if slot.load else 0.0,
                "relay_streams": slot.load.relay_streams if slot.load else 0,
                "restarts": slot.restarts,
            }
            for slot in self.slots
        ]
