"""The hub's side of an SFU worker: `WorkerLink`, one control connection (requests with ids,
replies, events), and `RemoteRoom`, a meeting's room on a worker behind the `MediaRoom`
interface (hub/sfu/port.py).

A `RemoteRoom` remembers what its callers told it (callbacks, forwarding, views), so that when
its worker dies it is placed on another (`move_to`) and told again; each of its people is then
told its connections failed, and their pages restart them as after a network change.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast

from hub.errors import ServiceUnavailable
from hub.i18n import Text
from hub.ids import MeetingId, ParticipantId
from hub.pipes import frames
from hub.pipes.frames import FrameError
from hub.sfu import control, tap_wire
from hub.sfu.audio_tap import AudioTap
from hub.sfu.control import EVENTS, ControlError, Message
from hub.sfu.liveness import PeerState
from hub.sfu.media import Kind, Source
from hub.sfu.participant import (
    EncodingsChanged,
    PeerStateChanged,
    Quality,
    Reception,
    ReceptionChanged,
    SendOffer,
    StreamSource,
    Which,
)
from hub.sfu.recording_tap import RecordingTap
from hub.sfu.room import SpeakerChanged
from hub.sfu.sdp import SdpError
from hub.tasks import Tasks

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 20.0  # a publish answer takes ~50 ms; a worker this late is as good as dead
PLACEMENT_TIMEOUT = 10.0  # how long a request waits for its meeting to find a live worker


class WorkerLost(ServiceUnavailable):
    """The worker holding the meeting's media stopped; the page reconnects."""


@dataclass(frozen=True)
class Load:
    """A worker's last `load` report."""

    pid: int
    forwarded_per_second: float
    packets_forwarded: int
    cpu_seconds: float
    meetings: int
    legs: int
    relay_streams: int  # streams it sends to other workers now (hub/sfu/relay.py)
    relay_packets: int  # packets sent on those relays' current connections


class WorkerLink:
    """One control connection to a worker; `run()` reads until it ends, then fails whatever
    still waits for a reply and calls `on_lost`."""

    def __init__(
        self,
        name: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_load: Callable[[Load], None],
    ) -> None:
        self.name = name
        self.rooms: dict[MeetingId, RemoteRoom] = {}
        self.alive = True
        self._reader = reader
        self._writer = writer
        self._on_load = on_load
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, object]]] = {}
        # Bytes of the taps' batches received on this connection, by event type (/metrics).
        self.tap_bytes = {"audio_packets": 0, "recording_packets": 0}

    def send(self, type_: str, **fields: object) -> int:
        """Write one request without waiting for its reply (it is logged if it is a refusal)."""
        id_ = next(self._ids)
        if self.alive and not self._writer.is_closing():
            self._writer.write(control.encode(type_, id_, **fields))
        return id_

    async def request(self, type_: str, **fields: object) -> dict[str, object]:
        if not self.alive:
            raise WorkerLost(text=_LOST)
        reply: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()
        id_ = self.send(type_, **fields)
        self._pending[id_] = reply
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                return await reply
        finally:
            self._pending.pop(id_, None)

    async def run(self) -> None:
        try:
            while True:
                body = await control.read_frame(self._reader)
                if body is None:
                    return
                message = control.parse(body, EVENTS, need_id=False)
                if message.type in self.tap_bytes:
                    self.tap_bytes[message.type] += frames.HEAD.size + len(body)
                self._dispatch(message)
        except (FrameError, ConnectionError, ssl.SSLError) as exc:  # ControlError is a FrameError
            log.error("SFU worker %s: control connection broken: %s", self.name, exc)
        finally:
            self.alive = False
            for reply in self._pending.values():
                if not reply.done():
                    reply.set_exception(WorkerLost(text=_LOST))
            self._writer.close()

    def close(self) -> None:
        self._writer.close()

    def _dispatch(self, message: Message) -> None:
        match message.type:
            case "reply":
                self._reply(message)
            case "load":
                self._on_load(_load_of(message))
            case _:
                room = self.rooms.get(message.meeting)
                if room is not None and room.link is self:
                    room.hear(message)

    def _reply(self, message: Message) -> None:
        id_ = message.maybe_integer("id")
        reply = self._pending.get(id_) if id_ is not None else None
        if message.flag("ok"):
            if reply is not None and not reply.done():
                reply.set_result(message.mapping("result") or {})
            return
        error = message.maybe_text("error") or "refused"
        if reply is None:
            log.warning("SFU worker %s refused a request: %s", self.name, error)
        elif not reply.done():
            kind = message.maybe_text("kind")
            reply.set_exception(
                SdpError(error) if kind == "sdp" else RuntimeError(f"SFU worker: {error}")
            )


_LOST = Text("error.media_server_lost")


def _load_of(message: Message) -> Load:
    return Load(
        pid=message.integer("pid"),
        forwarded_per_second=message.number("forwarded_per_second"),
        packets_forwarded=message.integer("packets_forwarded"),
        cpu_seconds=message.number("cpu_seconds"),
        meetings=message.integer("meetings"),
        legs=message.integer("legs"),
        relay_streams=message.integer("relay_streams"),
        relay_packets=message.integer("relay_packets"),
    )


@dataclass
class _Person:
    """What the hub said of one participant, to say it again to another worker."""

    on_state: PeerStateChanged | None = None
    on_reception: ReceptionChanged | None = None
    on_encodings: EncodingsChanged | None = None
    send_offer: SendOffer | None = None
    forwarding: tuple[bool, bool] | None = None
    view: dict[str, object] | None = None
    published: bool = False
    subscribed: bool = False  # has a subscribe connection on the current worker


class RemoteRoom:
    """A meeting's media on a worker: the `MediaRoom` calls as control requests, its events
    as the callbacks. Placed on a link by the pool (`move_to`); unplaced while its worker is
    replaced, requests wait for the next one."""

    def __init__(self, meeting_id: MeetingId) -> None:
        self.meeting_id = meeting_id
        self.on_speaker: SpeakerChanged | None = None
        self.link: WorkerLink | None = None
        self._placed = asyncio.Event()
        self._had_worker = False
        self._people: dict[ParticipantId, _Person] = {}
        self._owners: dict[ParticipantId, tuple[bool, bool]] = {}
        self._tasks = Tasks()
        # The hub's taps, fed with what the worker's taps took (hub/sfu/worker_taps.py).
        self.audio_tap: AudioTap | None = None
        self.recording_tap: RecordingTap | None = None

    def _person(self, participant_id: ParticipantId) -> _Person:
        return self._people.setdefault(participant_id, _Person())

    def _send(self, type_: str, **fields: object) -> None:
        if self.link is not None:
            self.link.send(type_, meeting=self.meeting_id, **fields)

    async def _request(self, type_: str, **fields: object) -> dict[str, object]:
        try:
            async with asyncio.timeout(PLACEMENT_TIMEOUT):
                await self._placed.wait()
        except TimeoutError:
            raise WorkerLost(text=_LOST) from None
        if self.link is None:  # closed meanwhile (the meeting ended): nothing to ask
            raise WorkerLost(text=_LOST)
        return await self.link.request(type_, meeting=self.meeting_id, **fields)

    # -- placement ----------------------------------------------------------------------------

    def unplace(self) -> None:
        """Its worker died: requests wait for `move_to`."""
        self.link = None
        self._placed.clear()
        for person in self._people.values():
            person.subscribed = False

    def move_to(self, link: WorkerLink) -> None:
        """Live on `link` from now on: what it knows of its people is told again (nothing for
        a new room) and, if it had media on a worker before, each person is told its
        connections failed (the page republishes and asks for a new subscribe connection,
        which `restart_subscriber` makes on this worker)."""
        self.link = link
        link.rooms[self.meeting_id] = self
        self._placed.set()
        had_media, self._had_worker = self._had_worker, True
        if self.audio_tap is not None or self.recording_tap is not None:
            self._send_taps()  # a new worker's taps start afresh (its tracks told again)
        for participant_id, person in self._people.items():
            self._send_watch(participant_id, person)
            if person.forwarding is not None:
                audio, video = person.forwarding
                self._send("set_forwarding", participant=participant_id, audio=audio, video=video)
            if person.view is not None:
                self._send("set_view", participant=participant_id, **person.view)
        for owner, (audio, video) in self._owners.items():
            self._send("set_owner_forwarding", owner=owner, audio=audio, video=video)
        for person in list(self._people.values()):
            if person.on_state is None or not had_media:
                continue  # (a room that waited for its first worker: nothing was lost)
            if person.published:
                person.on_state("publish", "failed")
            if person.send_offer is not None:
                person.on_state("subscribe", "failed")

    # -- the MediaRoom calls --------------------------------------------------------------------

    def watch(
        self,
        participant_id: ParticipantId,
        on_state: PeerStateChanged,
        on_reception: ReceptionChanged | None = None,
        on_encodings: EncodingsChanged | None = None,
    ) -> None:
        person = self._person(participant_id)
        person.on_state, person.on_reception, person.on_encodings = (
            on_state, on_reception, on_encodings
        )  # fmt: skip
        self._send_watch(participant_id, person)

    def _send_watch(self, participant_id: ParticipantId, person: _Person) -> None:
        if person.on_state is not None:
            self._send(
                "watch", participant=participant_id, reception=person.on_reception is not None,
                encodings=person.on_encodings is not None,
            )  # fmt: skip

    def set_forwarding(self, participant_id: ParticipantId, *, audio: bool, video: bool) -> None:
        self._person(participant_id).forwarding = (audio, video)
        self._send("set_forwarding", participant=participant_id, audio=audio, video=video)

    def set_view(
        self,
        participant_id: ParticipantId,
        tiles: dict[ParticipantId, tuple[int, int]],
        *,
        visible: bool,
        known: frozenset[ParticipantId],
    ) -> None:
        view: dict[str, object] = {
            "tiles": [[who, width, height] for who, (width, height) in tiles.items()],
            "visible": visible,
            "known": sorted(known),
        }
        self._person(participant_id).view = view
        self._send("set_view", participant=participant_id, **view)

    def set_taps(self, audio: AudioTap | None, recording: RecordingTap | None) -> None:
        """Have the worker tap this part's people into `audio` (subtitles) and `recording`."""
        if recording is not None and self.recording_tap not in (None, recording):
            self.recording_tap = None  # another recording: the worker's tap starts afresh
            self._send_taps()
        self.audio_tap, self.recording_tap = audio, recording
        self._send_taps()

    def _send_taps(self) -> None:
        self._send(
            "set_taps", audio=self.audio_tap is not None,
            recording=self.recording_tap is not None,
        )  # fmt: skip

    def set_owner_forwarding(self, owner: ParticipantId, *, audio: bool, video: bool) -> None:
        self._owners[owner] = (audio, video)
        self._send("set_owner_forwarding", owner=owner, audio=audio, video=video)

    async def publish(
        self,
        participant_id: ParticipantId,
        sdp: str,
        sources: dict[str, Source],
        owners: dict[str, ParticipantId] | None = None,
    ) -> str:
        self._person(participant_id).published = True
        result = await self._request(
            "publish", participant=participant_id, sdp=sdp, sources=sources, owners=owners
        )
        return str(result["sdp"])

    async def add_subscriber(self, participant_id: ParticipantId, send_offer: SendOffer) -> None:
        person = self._person(participant_id)
        person.send_offer, person.subscribed = send_offer, True
        await self._request("add_subscriber", participant=participant_id, restart=False)

    async def subscribe_answer(self, participant_id: ParticipantId, sdp: str) -> None:
        await self._request("subscribe_answer", participant=participant_id, sdp=sdp)

    async def add_candidate(
        self,
        participant_id: ParticipantId,
        which: str,
        candidate: str,
        sdp_mid: str | None,
        sdp_mline_index: int | None,
    ) -> None:
        await self._request(
            "add_candidate", participant=participant_id, which=which, candidate=candidate,
            sdp_mid=sdp_mid, sdp_mline_index=sdp_mline_index,
        )  # fmt: skip

    async def restart_subscriber(self, participant_id: ParticipantId) -> None:
        person = self._people.get(participant_id)
        if person is None or person.send_offer is None:
            return
        if person.subscribed:
            await self._request("restart_subscriber", participant=participant_id)
            return
        person.subscribed = True  # the first on a new worker: made afresh, offered as a restart
        await self._request("add_subscriber", participant=participant_id, restart=True)

    async def remove_participant(self, participant_id: ParticipantId) -> None:
        self._people.pop(participant_id, None)
        if self.link is not None and self.link.alive:
            with contextlib.suppress(WorkerLost):
                await self.link.request(
                    "remove_participant", meeting=self.meeting_id, participant=participant_id
                )

    async def snapshot(self) -> dict[str, object]:
        """What the worker forwarded for this meeting (tests and diagnostics)."""
        return cast(dict[str, object], (await self._request("snapshot"))["participants"])

    async def close(self) -> None:
        self._tasks.cancel()
        self._placed.clear()  # later requests fail at once as a lost worker's would
        link, self.link = self.link, None
        if link is not None:
            link.rooms.pop(self.meeting_id, None)
            if link.alive:
                with contextlib.suppress(WorkerLost, TimeoutError):
                    await link.request("close_room", meeting=self.meeting_id)

    # -- events from the worker -----------------------------------------------------------------

    def hear(self, message: Message) -> None:
        """An event of this meeting from its worker, handed to the callback it is for."""
        try:
            self._hear(message)
        except (ControlError, ValueError, TypeError) as exc:
            log.warning("SFU worker event %s refused: %s", message.type, exc)

    def _hear(self, message: Message) -> None:
        if message.type in ("audio_packets", "recording_packets"):
            self._hear_tap(message)
            return
        if message.type == "speaker":
            if self.on_speaker is not None:
                speaker = message.maybe_text("participant")
                who = ParticipantId(speaker) if speaker else None
                self._tasks.spawn(_call(self.on_speaker, who))
            return
        person = self._people.get(message.participant)
        if person is None:
            return  # gone meanwhile
        match message.type:
            case "offer" if person.send_offer is not None:
                streams = [_stream_of(item) for item in message.items("streams")]
                sdp, restart = message.text("sdp"), message.flag("restart")
                self._tasks.spawn(_call(person.send_offer, sdp, streams, restart))
            case "peer_state" if person.on_state is not None:
                which, state = message.text("which"), message.text("state")
                person.on_state(cast(Which, which), cast(PeerState, state))
            case "reception" if person.on_reception is not None:
                reception: Reception = {}
                for item in message.items("videos"):
                    person_id, source, quality = cast(list[str], item)
                    key = (ParticipantId(person_id), cast(Source, source))
                    reception[key] = cast(Quality, quality)
                person.on_reception(reception)
            case "encodings" if person.on_encodings is not None:
                person.on_encodings(message.text("mid"), control.strings_of(message, "rids"))

    def _hear_tap(self, message: Message) -> None:
        """A batch of the worker's taps, checked whole before any of it is kept."""
        if message.type == "audio_packets":
            counts = tap_wire.counts_of(message, ("taken", "dropped", "silent"))
            packets = tap_wire.audio_packets_of(message)
            if self.audio_tap is not None:  # (a batch sent just before subtitles stopped)
                self.audio_tap.absorb(packets, **counts)
            return
        counts = tap_wire.counts_of(message, ("taken", "dropped"))
        tracks = tap_wire.tracks_of(message)
        taken = tap_wire.recording_packets_of(message, time.monotonic())
        if self.recording_tap is not None:
            for info in tracks:
                self.recording_tap.add_track(info)
            self.recording_tap.absorb(taken, **counts)


async def _call(step: Callable[..., Awaitable[None]], *args: object) -> None:
    """Made inside the task: one cancelled before it starts leaves no coroutine unawaited."""
    await step(*args)


def _stream_of(item: object) -> StreamSource:
    match item:
        case [str(mid), str(owner), str(source), str(kind)]:
            return StreamSource(mid, ParticipantId(owner), cast(Source, source), cast(Kind, kind))
    raise ControlError("offer: a stream is not [mid, participant, source, kind]")
