"""`hub sfu-worker`: a process that forwards the media of the meetings placed on it.

It owns UDP sockets, aiortc connections and `SfuRoom`s (through one `Sfu`, as `hub serve`
does in process), and nothing else: no database, no HTTP. It listens on a Unix stream socket
(`--control PATH`, mode 0600) for the hub's requests (hub/sfu/control.py) and answers each;
the rooms' callbacks go back as events, and a `load` report goes out every second.

A control connection owns the meetings it opened: their events go to it, another connection
may not touch them, and they close when it closes. A refused frame is answered and logged in
one line; a frame over the size limit also ends its connection (the stream cannot be trusted
after it). Nothing refused changes any room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

from hub.bounded_json import loads
from hub.config_sfu import IceServerConfig, SfuConfig
from hub.errors import StartupError
from hub.ids import MeetingId, ParticipantId
from hub.pipes.frames import FrameError
from hub.sfu import control
from hub.sfu.control import REQUESTS, ControlError, Message
from hub.sfu.forwarder import is_relay
from hub.sfu.gate import Gate
from hub.sfu.liveness import PeerState
from hub.sfu.participant import Reception, StreamSource, Which
from hub.sfu.peer import RoomSettings
from hub.sfu.room import SfuRoom
from hub.sfu.sdp import SdpError
from hub.sfu.service import Sfu
from hub.sfu.worker_taps import BATCH_SECONDS, WorkerTaps
from hub.tasks import Tasks

log = logging.getLogger(__name__)

LOAD_INTERVAL = 1.0
ORPHAN_TIMEOUT = 60.0
LOGGED_REFUSALS = 20  # per connection: a peer sending garbage cannot flood the log
MAX_UNREAD = 8 << 20  # bytes of events the hub has not read yet before we give up on it
# Bytes of events unread past which the taps' batches are dropped (and counted), never queued:
# a hub slow to read loses subtitles or recording packets, not its control connection.
TAP_BACKLOG = 2 << 20
# Requests that open the meeting's room on this worker (the others only read or close it).
OPENING = frozenset(REQUESTS) - {"snapshot", "close_room", "remove_participant"}
# Handled at once, in arrival order; the others wait for the participant's earlier requests.
IMMEDIATE = frozenset(
    {
        "configure", "watch", "set_forwarding", "set_view", "set_owner_forwarding", "snapshot",
        "set_taps",
    }
)  # fmt: skip


class Worker:
    """Owns the `Sfu` and the control connections; `serve()` runs until cancelled."""

    def __init__(self, *, exit_when_idle: bool = False) -> None:
        self.sfu = Sfu(SfuConfig())
        self.owners: dict[MeetingId, Session] = {}
        self.sessions: set[Session] = set()
        self.configured = False  # by the first connection's `configure`, once
        self._exit_when_idle = exit_when_idle
        self._idle = asyncio.Event()

    async def serve(self, path: Path) -> None:
        """On a Unix socket at `path` (mode 0600: only our user may give orders)."""
        _remove(path)  # left by a worker killed before it could remove it
        mask = os.umask(0o177)
        try:
            server = await asyncio.start_unix_server(self.accept, path=str(path))
        finally:
            os.umask(mask)
        try:
            await self._serve(server, str(path))
        finally:
            _remove(path)

    async def serve_tcp(self, host: str, port: int, tls: ssl.SSLContext, secret: str) -> None:
        """On host:port for hubs on other machines: TLS, then the shared secret (gate.py)."""
        try:
            server = await Gate(self, tls, secret).start(host, port)
        except OSError as exc:
            where = f"{host}:{port}"
            raise StartupError(f"--listen: cannot listen on {where}: {exc.strerror}") from None
        await self._serve(server, f"{host}:{port} (TLS)")

    async def _serve(self, server: asyncio.Server, where: str) -> None:
        self.sfu.start()
        loop = asyncio.get_running_loop()
        reporter = loop.create_task(self._report_load())
        if self._exit_when_idle:  # a hub that died before connecting leaves no orphan behind
            loop.call_later(ORPHAN_TIMEOUT, self._stop_if_orphan)
        log.info("SFU worker listening on %s", where)
        try:
            async with server:
                await self._idle.wait()
        finally:
            reporter.cancel()
            for session in list(self.sessions):
                session.writer.close()
            await self.sfu.close()

    def _stop_if_orphan(self) -> None:
        if not self.sessions and not self.configured:
            log.warning("no hub connected within %.0f s: stopping", ORPHAN_TIMEOUT)
            self._idle.set()

    async def accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hub: str | None = None
    ) -> None:
        """Serve one control connection until it ends; `hub`: the id of the hub process on
        the other end, whose earlier connection (broken, not yet noticed here) it replaces."""
        if hub is not None:
            for old in [s for s in self.sessions if s.hub == hub]:
                log.warning("hub %s connected again: its previous connection is closed", hub)
                await old.end()
        session = Session(self, reader, writer, hub)
        self.sessions.add(session)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            for meeting_id in [m for m, owner in self.owners.items() if owner is session]:
                del self.owners[meeting_id]
                await self.sfu.close_room(meeting_id)
            writer.close()
            session.finished.set()
            if self._exit_when_idle and not self.sessions:
                log.info("the hub's control connection closed: stopping")
                self._idle.set()

    async def _report_load(self) -> None:
        counters = self.sfu.counters
        last_count, last_time = counters.packets_forwarded, time.monotonic()
        while True:
            await asyncio.sleep(LOAD_INTERVAL)
            now, count = time.monotonic(), counters.packets_forwarded
            rate = (count - last_count) / max(now - last_time, 1e-3)
            last_count, last_time = count, now
            members = [m for room in self.sfu.rooms.values() for m in room.participants.values()]
            legs = sum(len(member.legs) for member in members)
            relays = [m for m in members if is_relay(m.participant_id)]
            relay_legs = [leg for member in relays for leg in member.legs]
            for session in list(self.sessions):
                session.emit(
                    "load", pid=os.getpid(), forwarded_per_second=round(rate, 1),
                    packets_forwarded=count, cpu_seconds=round(time.process_time(), 3),
                    meetings=len(self.sfu.rooms), legs=legs,
                    relay_streams=sum(1 for leg in relay_legs if leg.source is not None),
                    relay_packets=sum(leg.packets for leg in relay_legs),
                )  # fmt: skip


class Session:
    """One control connection: reads requests, answers them, sends its rooms' events."""

    def __init__(
        self,
        worker: Worker,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        hub: str | None = None,
    ) -> None:
        self.worker = worker
        self.hub = hub
        self._ended = asyncio.Event()
        self.finished = asyncio.Event()  # its rooms are closed
        self.sfu = worker.sfu
        self.reader = reader
        self.writer = writer
        self._refused = 0
        self._queues: dict[tuple[MeetingId, ParticipantId], asyncio.Lock] = {}
        self._tasks = Tasks()
        self.taps = WorkerTaps(self.sfu, self.emit_batch)

    def emit(self, type_: str, id_: int | None = None, **fields: object) -> None:
        if self.writer.is_closing():
            return
        if self.writer.transport.get_write_buffer_size() > MAX_UNREAD:
            log.warning("control connection does not read its events: closed")
            self.writer.close()
            return
        self.writer.write(control.encode(type_, id_, **fields))

    def emit_batch(self, type_: str, *, force: bool = False, **fields: object) -> bool:
        """A tap's batch, unless the hub is behind on reading (then False: dropped)."""
        if self.writer.is_closing():
            return False
        if not force and self.writer.transport.get_write_buffer_size() > TAP_BACKLOG:
            return False
        self.emit(type_, None, **fields)
        return True

    async def _pump_taps(self) -> None:
        while True:
            await asyncio.sleep(BATCH_SECONDS)
            try:
                self.taps.pump()
            except Exception:  # the pump must outlive a bug: the taps suffer, media never
                log.exception("tap pump failed")

    async def run(self) -> None:
        self._tasks.spawn(self._pump_taps())
        reading = asyncio.create_task(self._read())
        ending = asyncio.create_task(self._ended.wait())
        try:
            await asyncio.wait({reading, ending}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            reading.cancel()
            ending.cancel()
            self._tasks.cancel()
            self.taps.close()

    async def end(self) -> None:
        """Stop reading this connection and close it; its rooms close with it."""
        self._ended.set()
        self.writer.close()
        await self.finished.wait()

    async def _read(self) -> None:
        try:
            while True:
                try:
                    body = await control.read_frame(self.reader)
                except FrameError as exc:
                    self._refuse(None, str(exc), "closing the connection")
                    return
                if body is None:
                    return
                try:
                    message = control.parse(body, REQUESTS, need_id=True)
                    self._check_owner(message)
                except ControlError as exc:
                    self._refuse(_id_of(body), str(exc))
                    continue
                self._dispatch(message)
        except (ConnectionError, ssl.SSLError):
            return

    def _refuse(self, id_: int | None, reason: str, then: str = "") -> None:
        self._refused += 1
        if self._refused <= LOGGED_REFUSALS:
            log.warning("control message refused: %s%s", reason, f"; {then}" if then else "")
        self.emit("reply", id_, ok=False, error=reason, kind="refused")

    def _check_owner(self, message: Message) -> None:
        meeting = message.fields.get("meeting")
        if meeting is None:
            return
        meeting_id = MeetingId(cast(str, meeting))
        if message.type in OPENING:
            owner = self.worker.owners.setdefault(meeting_id, self)
        else:
            owner = self.worker.owners.get(meeting_id, self)
        if owner is not self:
            raise ControlError(f"{message.type}: meeting held by another control connection")

    def _dispatch(self, message: Message) -> None:
        if message.type in IMMEDIATE:
            self._answer(message, self._immediate(message))
            return
        key = (message.meeting, ParticipantId(cast(str, message.fields.get("participant", ""))))
        queue = self._queues.setdefault(key, asyncio.Lock())

        async def in_turn() -> None:
            async with queue:  # FIFO: a participant's requests run in the order they came
                try:
                    result = await self._handle(message)
                except (ControlError, SdpError) as exc:
                    kind = "sdp" if isinstance(exc, SdpError) else "refused"
                    self.emit("reply", message.id, ok=False, error=str(exc), kind=kind)
                    return
                except Exception as exc:
                    log.exception("control request %s failed", message.type)
                    self.emit("reply", message.id, ok=False, error=str(exc)[:200], kind="internal")
                    return
                self.emit("reply", message.id, ok=True, result=result)

        self._tasks.spawn(in_turn())

    def _answer(self, message: Message, work: Callable[[], dict[str, object]]) -> None:
        try:
            result = work()
        except ControlError as exc:
            self._refuse(message.id, str(exc))
            return
        self.emit("reply", message.id, ok=True, result=result)

    def _room(self, meeting_id: MeetingId) -> SfuRoom:
        room = self.sfu.room(meeting_id)
        if room.on_speaker is None:
            room.on_speaker = self._speaker_reporter(meeting_id)
        return room

    def _speaker_reporter(
        self, meeting_id: MeetingId
    ) -> Callable[[ParticipantId | None], Awaitable[None]]:
        async def report(participant_id: ParticipantId | None) -> None:
            self.emit("speaker", meeting=meeting_id, participant=participant_id)

        return report

    def _immediate(self, message: Message) -> Callable[[], dict[str, object]]:
        def work() -> dict[str, object]:
            match message.type:
                case "configure":
                    self._configure(message)
                case "watch":
                    self._watch(message)
                case "set_forwarding":
                    self._room(message.meeting).set_forwarding(
                        message.participant, audio=message.flag("audio"),
                        video=message.flag("video"),
                    )  # fmt: skip
                case "set_view":
                    known = frozenset(map(ParticipantId, control.strings_of(message, "known")))
                    self._room(message.meeting).set_view(
                        message.participant, control.tiles_of(message),
                        visible=message.flag("visible"), known=known,
                    )  # fmt: skip
                case "set_owner_forwarding":
                    self._room(message.meeting).set_owner_forwarding(
                        ParticipantId(message.text("owner")), audio=message.flag("audio"),
                        video=message.flag("video"),
                    )  # fmt: skip
                case "set_taps":
                    self.taps.set(
                        message.meeting, audio=message.flag("audio"),
                        recording=message.flag("recording"),
                    )  # fmt: skip
                case "snapshot":
                    room = self.sfu.find(message.meeting)
                    return {"participants": room.snapshot() if room is not None else {}}
            return {}

        return work

    def _configure(self, message: Message) -> None:
        """The hub's ICE servers and addresses; again from a hub that reconnects (the same
        values, or any while no meeting is here)."""
        try:
            config = SfuConfig(
                ice_servers=tuple(
                    IceServerConfig.model_validate(s) for s in message.items("ice_servers")
                ),
                candidate_addresses=tuple(control.strings_of(message, "candidate_addresses")),
                relay_addresses=tuple(control.strings_of(message, "relay_addresses")),
            )
        except ValueError as exc:
            raise ControlError(f"configure: {str(exc).splitlines()[0][:120]}") from None
        settings = RoomSettings(
            ice_servers=config.ice_servers,
            candidate_addresses=config.candidate_addresses,
            relay_addresses=config.relay_addresses,
        )
        if self.worker.configured and settings != self.sfu.settings and self.sfu.rooms:
            raise ControlError("configure: this worker forwards meetings with other addresses")
        for address in (*config.candidate_addresses, *config.relay_addresses):
            _check_local(address)
        self.sfu.settings = settings
        self.worker.configured = True

    def _watch(self, message: Message) -> None:
        meeting, person = message.meeting, message.participant

        def on_state(which: Which, state: PeerState) -> None:
            self.emit("peer_state", meeting=meeting, participant=person, which=which, state=state)

        def on_reception(reception: Reception) -> None:
            videos = [[who, source, quality] for (who, source), quality in reception.items()]
            self.emit("reception", meeting=meeting, participant=person, videos=videos)

        def on_encodings(mid: str, rids: list[str]) -> None:
            self.emit("encodings", meeting=meeting, participant=person, mid=mid, rids=rids)

        self._room(meeting).watch(
            person,
            on_state,
            on_reception if message.flag("reception") else None,
            on_encodings if message.flag("encodings") else None,
        )

    async def _handle(self, message: Message) -> dict[str, object]:
        meeting = message.meeting
        if message.type == "close_room":
            self.worker.owners.pop(meeting, None)
            self._queues = {k: q for k, q in self._queues.items() if k[0] != meeting}
            self.taps.forget(meeting)
            await self.sfu.close_room(meeting)
            return {}
        person = message.participant
        match message.type:
            case "publish":
                sources, owners = control.sources_of(message), control.owners_of(message)
                room = self._room(meeting)
                return {"sdp": await room.publish(person, message.text("sdp"), sources, owners)}
            case "add_subscriber":
                await self._room(meeting).add_subscriber(
                    person, self._offer_sender(meeting, person), restart=message.flag("restart")
                )
            case "subscribe_answer":
                await self._room(meeting).subscribe_answer(person, message.text("sdp"))
            case "add_candidate":
                await self._room(meeting).add_candidate(
                    person, message.text("which"), message.text("candidate"),
                    message.maybe_text("sdp_mid"), message.maybe_integer("sdp_mline_index"),
                )  # fmt: skip
            case "restart_subscriber":
                await self._room(meeting).restart_subscriber(person)
            case "remove_participant":
                held = self.sfu.find(meeting)
                if held is not None:
                    await held.remove_participant(person)
                self._queues.pop((meeting, person), None)
        return {}

    def _offer_sender(
        self, meeting: MeetingId, person: ParticipantId
    ) -> Callable[[str, list[StreamSource], bool], Awaitable[None]]:
        async def send_offer(sdp: str, streams: list[StreamSource], restart: bool) -> None:
            self.emit(
                "offer", meeting=meeting, participant=person, sdp=sdp, restart=restart,
                streams=[[s.mid, s.participant_id, s.source, s.kind] for s in streams],
            )  # fmt: skip

        return send_offer


def _check_local(address: str) -> None:
    """An address to offer must be one of this machine's (aioice binds a socket on it)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError as exc:
            raise ControlError(
                f"configure: {address} is not an address of this machine ({exc.strerror})"
            ) from None


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)  # a socket's name: nothing to wait for


def _id_of(body: bytes) -> int | None:
    """The request id of a refused frame, when one can be read, so its sender hears."""
    try:
        value = loads(body)
    except ValueError:
        return None
    id_ = value.get("id") if isinstance(value, dict) else None
    return id_ if isinstance(id_, int) and not isinstance(id_, bool) and id_ >= 0 else None


async def run_worker(
    path: Path | None,
    *,
    exit_when_idle: bool,
    listen: tuple[str, int] | None = None,
    tls: ssl.SSLContext | None = None,
    secret: str = "",
) -> None:
    """Serve until SIGTERM or SIGINT (or, with `exit_when_idle`, the hub's connection ends):
    on the Unix socket `path`, or on `listen` with `tls` and `secret` for remote hubs."""
    main = asyncio.current_task()
    assert main is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, main.cancel)
    worker = Worker(exit_when_idle=exit_when_idle)
    with contextlib.suppress(asyncio.CancelledError):
        if listen is not None and tls is not None:
            await worker.serve_tcp(*listen, tls, secret)
        elif path is not None:
            await worker.serve(path)
