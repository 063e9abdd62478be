"""The meeting's load generator, split over worker processes that each own some people.

`python -m bench.sfu.crowd --address IP --clip FILE` is one worker: it connects its people
(a `PersonPublisher` and a counting subscribe connection each) to the hub or to Janus when
told, and counts what they receive. It takes one JSON request per line on stdin and answers
one JSON line per request on its own copy of stdout (anything else printed goes to its log).
`Workers` is the benchmark's side: it starts the workers by pid (system.PROCESSES) and talks
to them. Send times are `perf_counter_ns` (CLOCK_MONOTONIC, one clock for the machine), so a
window given as send times means the same packets in every process.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import logging
import os
import sys
import time
from array import array
from pathlib import Path
from typing import Any

import aiohttp

from bench.sfu import hub as hubapi
from bench.sfu import janus as janusapi
from bench.sfu.layered import SimulcastPublisher
from bench.sfu.media import Clip, CountingSubscriber
from bench.sfu.person import AUDIO, SLOTS, VIDEO, PairMeter, PersonPublisher, slot
from bench.sfu.system import Managed, start_piped

JOIN_CONCURRENCY = 3  # per worker
LINE_LIMIT = 256 * 1024 * 1024  # a window's latencies travel in one line


# -- the clip, encoded once by the benchmark and read by every worker --------------------------


def save_clip(path: Path, clip: Clip) -> None:
    path.write_text(
        json.dumps(
            {
                "width": clip.width,
                "height": clip.height,
                "bitrate": clip.bitrate,
                "pps": clip.packets_per_second,
                "frames": [[base64.b64encode(p).decode() for p in f] for f in clip.frames],
            }
        )
    )


def load_clip(path: Path) -> Clip:
    data = json.loads(path.read_text())
    frames = [[base64.b64decode(p) for p in f] for f in data["frames"]]
    return Clip(frames, data["width"], data["height"], data["bitrate"], data["pps"])


# -- one person --------------------------------------------------------------------------------


class Person:
    """A publisher and a subscribe connection, and how they are signalled (hub or Janus).
    Several clips (lowest first) make the camera a simulcast one, and then only a `speaking`
    person's microphone sends."""

    def __init__(
        self, number: int, address: str, clips: list[Clip], meter: PairMeter, speaking: bool
    ) -> None:
        self.number = number
        self.publisher: PersonPublisher = (
            SimulcastPublisher(address, clips, number, meter, speaking)
            if len(clips) > 1
            else PersonPublisher(address, clips[0], number, meter)
        )
        self.address = address
        self.meter = meter
        self.subscriber = self._new_subscriber()
        self.socket: hubapi.HubParticipant | None = None
        self.errors: list[str] = []
        self.subscribe_handle = 0
        self.subscribed: set[int] = set()  # Janus feeds this person's subscriber has
        self._subscribing = asyncio.Lock()
        self.started_ns = 0  # when this person began to join (perf_counter_ns)
        self.signalled_ns = 0  # when the SFU had answered their join (before any media)

    def _new_subscriber(self) -> CountingSubscriber:
        return CountingSubscriber(
            self.address, None, self.meter.receiver(self.number), lenient_consent=True
        )

    async def join_hub(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        meeting: str,
        *,
        hidden: bool = False,
        publish: bool = True,
    ) -> None:
        """Join, then publish; `hidden`: first say the screen is hidden (`view`), so that
        no video comes until a `view` shows someone; `publish=False`: a listener who joins with
        camera and microphone off (the hub still sends them everybody's media)."""

        async def on_offer(offer: dict[str, Any]) -> str:
            if offer.get("restart"):  # a fresh connection, as the page makes one
                self.errors.append("the hub restarted a subscribe connection")
                old, self.subscriber = self.subscriber, self._new_subscriber()
                await old.close()
            return await self.subscriber.answer(offer["sdp"])

        self.started_ns = time.perf_counter_ns()
        self.socket = hubapi.HubParticipant(
            http, base_url, meeting, f"person{self.number}", on_offer, audio=publish, video=publish
        )
        if isinstance(self.publisher, SimulcastPublisher):
            self.socket.on_encodings = self.publisher.set_active
        await self.socket.join()
        self.signalled_ns = time.perf_counter_ns()
        if hidden:
            await self.socket.view([], visible=False)
        if not publish:
            return
        offer = await self.publisher.offer()
        camera, microphone = self.publisher.mids
        answer = await self.socket.publish(offer, camera, microphone)
        await self.publisher.accept(answer)

    async def publish_janus(self, session: janusapi.JanusSession, room: int) -> int:
        handle = await session.attach()
        # Our RIDs are lowest first; Janus assumes highest first unless told.
        order = "lmh" if isinstance(self.publisher, SimulcastPublisher) else None
        offer = await self.publisher.offer()
        feed, answer = await janusapi.publish(session, handle, room, offer, rid_order=order)
        await self.publisher.accept(answer)
        await session.wait_up(handle)
        return feed

    async def subscribe_janus(
        self, session: janusapi.JanusSession, room: int, feeds: dict[int, int]
    ) -> None:
        """Add every feed but this person's own to the one multistream subscriber handle."""
        if not self.started_ns:
            self.started_ns = time.perf_counter_ns()
        async with self._subscribing:
            new = sorted(
                f for p, f in feeds.items() if p != self.number and f not in self.subscribed
            )
            if not new:
                return
            joined = bool(self.subscribe_handle)
            if not joined:
                self.subscribe_handle = await session.attach()
            handle = self.subscribe_handle
            offer = await janusapi.subscribe_feeds(session, handle, room, new, joined=joined)
            answer = await self.subscriber.answer(offer)
            await janusapi.subscribe_start(session, handle, room, answer)
            self.subscribed.update(new)
            self.signalled_ns = self.signalled_ns or time.perf_counter_ns()

    async def subscribe_janus_streams(
        self, session: janusapi.JanusSession, room: int, streams: list[dict[str, Any]]
    ) -> None:
        """One subscriber handle for exactly `streams` (feed, mid, and a simulcast
        substream for video), as a page showing some tiles would ask."""
        self.started_ns = self.started_ns or time.perf_counter_ns()
        self.subscribe_handle = await session.attach()
        offer = await janusapi.subscribe_streams(session, self.subscribe_handle, room, streams)
        answer = await self.subscriber.answer(offer)
        await janusapi.subscribe_start(session, self.subscribe_handle, room, answer)
        self.signalled_ns = self.signalled_ns or time.perf_counter_ns()

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        await self.publisher.close()
        await self.subscriber.close()


# -- the worker --------------------------------------------------------------------------------


class Crowd:
    """One worker's people, its meter and its signaling sessions; `close()` ends them all."""

    def __init__(self, address: str, clips: list[Clip]) -> None:
        self.address = address
        self.clips = clips
        self.speakers: set[int] = set()  # with simulcast clips, only they send audio
        self.meter = PairMeter()
        self.people: dict[int, Person] = {}
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.janus: janusapi.JanusSession | None = None
        self.gate = asyncio.Semaphore(JOIN_CONCURRENCY)
        self.lag_max = 0.0
        self._lag_task = asyncio.get_running_loop().create_task(self._watch_lag())

    async def _watch_lag(self, period: float = 0.005) -> None:
        """How late this event loop wakes up inside the window: its stalls inflate latency."""
        while True:
            before = time.perf_counter()
            await asyncio.sleep(period)
            after = time.perf_counter_ns()
            if self.meter.start_ns <= after < self.meter.end_ns:
                self.lag_max = max(self.lag_max, time.perf_counter() - before - period)

    def _new(self, numbers: list[int]) -> list[Person]:
        added = [
            Person(n, self.address, self.clips, self.meter, n in self.speakers) for n in numbers
        ]
        self.people.update((p.number, p) for p in added)
        return added

    async def hub_join(
        self,
        base_url: str,
        meeting: str,
        people: list[int],
        hidden: bool = False,
        publish: bool = True,
        at_once: bool = False,
    ) -> None:
        """Join `people` (`at_once`: all together, as in a join storm; otherwise a few at a
        time, as the ladder grows)."""
        if not self.http.cookie_jar:  # one guest session per worker, like one browser
            await hubapi.guest_session(self.http, base_url)
        gate = contextlib.nullcontext() if at_once else self.gate

        async def one(person: Person) -> None:
            async with gate:
                await person.join_hub(self.http, base_url, meeting, hidden=hidden, publish=publish)

        await asyncio.gather(*(one(p) for p in self._new(people)))

    async def janus_session(self, base_url: str) -> None:
        if self.janus is None:
            self.janus = janusapi.JanusSession(self.http, base_url)
            await self.janus.create()

    async def janus_listen(self, room: int, feeds: dict[int, int], people: list[int]) -> None:
        """`people` join all together as subscribers only (camera and microphone off)."""
        assert self.janus is not None
        session = self.janus
        await asyncio.gather(*(p.subscribe_janus(session, room, feeds) for p in self._new(people)))

    def join_times(self, publishers: list[int]) -> dict[str, dict[str, float | None]]:
        """Per person of this worker who joined: milliseconds from the start of their join
        to the SFU's answer, and to the first packet of each kind from every publisher."""
        out: dict[str, dict[str, float | None]] = {}
        for number, person in self.people.items():
            if not person.started_ns:
                continue
            firsts = self.meter.firsts.get(number, {})
            arrivals = [
                firsts.get(slot(p, kind))
                for p in publishers
                if p != number
                for kind in (AUDIO, VIDEO)
            ]
            complete = [a for a in arrivals if a is not None]
            last = max(complete) if complete and len(complete) == len(arrivals) else None
            out[str(number)] = {
                "signalled_ms": (person.signalled_ns - person.started_ns) / 1e6
                if person.signalled_ns
                else None,
                "media_ms": (last - person.started_ns) / 1e6 if last else None,
            }
        return out

    async def janus_publish(self, base_url: str, room: int, people: list[int]) -> dict[int, int]:
        await self.janus_session(base_url)
        assert self.janus is not None
        session = self.janus

        async def one(person: Person) -> tuple[int, int]:
            async with self.gate:
                return person.number, await person.publish_janus(session, room)

        return dict(await asyncio.gather(*(one(p) for p in self._new(people))))

    async def janus_subscribe(self, room: int, feeds: dict[int, int]) -> None:
        assert self.janus is not None
        session = self.janus

        async def one(person: Person) -> None:
            async with self.gate:
                await person.subscribe_janus(session, room, feeds)

        await asyncio.gather(*(one(p) for p in self.people.values()))

    def participant_ids(self) -> dict[str, str]:
        """Person number -> the id the hub gave them (for views naming other people)."""
        return {
            str(number): person.socket.participant_id
            for number, person in self.people.items()
            if person.socket is not None
        }

    async def view(self, views: dict[str, list[dict[str, Any]]]) -> None:
        """Each person numbered in `views` says which tiles their screen displays."""
        for number, tiles in views.items():
            socket = self.people[int(number)].socket
            if socket is None:
                raise ValueError(f"person {number} has not joined the hub")
            await socket.view(tiles)

    async def janus_subscribe_streams(self, room: int, streams: dict[str, Any]) -> None:
        """Each person numbered in `streams` subscribes to exactly those streams."""
        assert self.janus is not None
        session = self.janus

        async def one(number: str, wanted: list[dict[str, Any]]) -> None:
            async with self.gate:
                await self.people[int(number)].subscribe_janus_streams(session, room, wanted)

        await asyncio.gather(*(one(n, w) for n, w in streams.items()))

    def missing_expected(self, expected: dict[str, Any]) -> list[tuple[int, int, str]]:
        """(viewer, publisher, kind) pairs of `expected` ({viewer: [[publisher, "audio" |
        "video"], …]}) with nothing yet; video counts on any layer."""
        out = []
        for viewer, pairs in expected.items():
            totals = self.meter.totals.get(int(viewer))
            for publisher, kind in pairs:
                kinds = (AUDIO,) if kind == "audio" else range(VIDEO, SLOTS)
                if totals is None or not any(totals[slot(publisher, k)] for k in kinds):
                    out.append((int(viewer), publisher, kind))
        return out

    def missing(self, everyone: list[int], groups: int = 1) -> list[tuple[int, int, str]]:
        """(viewer, publisher, kind) pairs of this worker's viewers that got nothing yet;
        with `groups` meetings, person n is in meeting n mod groups and sees only its own."""
        out = []
        for viewer in self.people:
            totals = self.meter.totals.get(viewer)
            for publisher, kind in itertools.product(everyone, (AUDIO, VIDEO)):
                if publisher % groups != viewer % groups:
                    continue
                if publisher != viewer and (totals is None or not totals[slot(publisher, kind)]):
                    out.append((viewer, publisher, "audio" if kind == AUDIO else "video"))
        return out

    def open(self, start_ns: int, end_ns: int) -> None:
        self.meter.open(start_ns, end_ns)
        self.lag_max = 0.0

    def collect(self) -> dict[str, Any]:
        """The window's counts: sent per own (publisher, kind), received per viewer."""
        meter = self.meter
        latencies = array("i", (min(v // 1000, 2**31 - 1) for v in meter.latencies))  # µs
        return {
            "sent": {str(i): n for i, n in enumerate(meter.sent) if n},
            "counts": {
                str(viewer): {str(i): n for i, n in enumerate(meter.counts[viewer]) if n}
                for viewer in self.people
                if viewer in meter.counts
            },
            "latencies_us": base64.b64encode(latencies.tobytes()).decode(),
            "audio_latencies_us": base64.b64encode(
                array("i", (min(v // 1000, 2**31 - 1) for v in meter.audio_latencies)).tobytes()
            ).decode(),
            # Per simulcast publisher of this worker: keyframe requests in the window, by layer.
            "keyframe_requests": {
                str(number): [
                    sum(
                        1
                        for at, i in person.publisher.request_times
                        if i == layer and meter.start_ns <= at < meter.end_ns
                    )
                    for layer in range(3)
                ]
                for number, person in self.people.items()
                if isinstance(person.publisher, SimulcastPublisher)
            },
            "foreign": meter.foreign,
            "loop_lag_max_ms": round(self.lag_max * 1000, 2),
        }

    def diagnostics(self) -> dict[str, Any]:
        errors = [e for p in self.people.values() for e in p.errors]
        errors += [
            json.dumps(e)[:300]
            for p in self.people.values()
            if p.socket is not None
            for e in p.socket.errors
        ]
        consent: dict[str, int] = {}
        for person in self.people.values():
            for name, states in (
                ("publish", person.publisher.consent_states),
                ("subscribe", person.subscriber.consent_states),
            ):
                for state in states:
                    consent[f"{name}_{state}"] = consent.get(f"{name}_{state}", 0) + 1
        layered = [
            p.publisher for p in self.people.values() if isinstance(p.publisher, SimulcastPublisher)
        ]
        return {
            "keyframe_requests": sum(p.publisher.keyframe_requests for p in self.people.values()),
            # Per simulcast layer, lowest first: publishers sending it, keyframe requests.
            "layers_sending": [sum(p.active[i] for p in layered) for i in range(3)]
            if layered
            else [],
            "layer_keyframe_requests": [
                sum(p.layer_keyframe_requests[i] for p in layered) for i in range(3)
            ]
            if layered
            else [],
            # What the people's own consent checks saw of the SFU (suspect: 5 s unanswered).
            "client_consent": consent,
            "signaling_errors": errors[:10],
            "janus_events": dict(self.janus.events) if self.janus is not None else {},
        }

    async def close(self) -> None:
        self._lag_task.cancel()
        await asyncio.gather(*(p.close() for p in self.people.values()), return_exceptions=True)
        if self.janus is not None:
            await self.janus.close()
        await self.http.close()


async def serve(crowd: Crowd, reader: asyncio.StreamReader, out: asyncio.StreamWriter) -> None:
    """Requests run concurrently; each answer carries its request's id."""

    async def handle(request: dict[str, Any]) -> None:
        answer: dict[str, Any] = {"id": request["id"]}
        try:
            answer["result"] = await _dispatch(crowd, request)
        except Exception as exc:  # reported to the benchmark, which decides
            answer["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        out.write(json.dumps(answer).encode() + b"\n")
        await out.drain()

    tasks: set[asyncio.Task[None]] = set()
    while line := await reader.readline():
        request = json.loads(line)
        if request["do"] == "close":
            await crowd.close()
            out.write(json.dumps({"id": request["id"], "result": None}).encode() + b"\n")
            await out.drain()
            return
        task = asyncio.get_running_loop().create_task(handle(request))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await crowd.close()  # the benchmark went away


async def _dispatch(crowd: Crowd, request: dict[str, Any]) -> Any:
    do = request["do"]
    if do == "hub_join":
        return await crowd.hub_join(
            request["base_url"],
            request["meeting"],
            request["people"],
            request.get("hidden", False),
            request.get("publish", True),
            request.get("at_once", False),
        )
    if do == "janus_session":
        return await crowd.janus_session(request["base_url"])
    if do == "janus_listen":
        feeds = {int(p): f for p, f in request["feeds"].items()}
        return await crowd.janus_listen(request["room"], feeds, request["people"])
    if do == "join_times":
        return crowd.join_times(request["publishers"])
    if do == "janus_publish":
        return await crowd.janus_publish(request["base_url"], request["room"], request["people"])
    if do == "janus_subscribe":
        feeds = {int(p): f for p, f in request["feeds"].items()}
        return await crowd.janus_subscribe(request["room"], feeds)
    if do == "speakers":
        crowd.speakers = set(request["people"])
        return None
    if do == "janus_subscribe_streams":
        return await crowd.janus_subscribe_streams(request["room"], request["streams"])
    if do == "missing_expected":
        return crowd.missing_expected(request["expected"])
    if do == "participant_ids":
        return crowd.participant_ids()
    if do == "view":
        return await crowd.view(request["views"])
    if do == "missing":
        return crowd.missing(request["everyone"], request.get("groups", 1))
    if do == "open":
        return crowd.open(request["start_ns"], request["end_ns"])
    if do == "collect":
        return crowd.collect()
    if do == "diagnostics":
        return crowd.diagnostics()
    raise ValueError(f"unknown request {do!r}")


async def _worker(address: str, clip_paths: list[Path]) -> None:
    loop = asyncio.get_running_loop()
    # The answers get a private copy of stdout; fd 1 goes to the log (stderr) for stray prints.
    answers = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, answers)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    crowd = Crowd(address, [load_clip(path) for path in clip_paths])
    await serve(crowd, reader, writer)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sfu.crowd")
    parser.add_argument("--address", required=True)
    parser.add_argument(
        "--clip",
        type=Path,
        required=True,
        action="append",
        help="the camera's clip; several: simulcast layers, lowest first",
    )
    args = parser.parse_args()
    # Into the worker's log: aioice says when it closes a connection (consent expired).
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("aioice.ice").setLevel(logging.INFO)
    try:
        import uvloop
    except ImportError:
        asyncio.run(_worker(args.address, args.clip))
    else:
        uvloop.run(_worker(args.address, args.clip))


# -- the benchmark's side ----------------------------------------------------------------------


class WorkerError(RuntimeError):
    """A worker refused or failed a request (its message says which and why)."""


class Worker:
    """One worker process and its request/answer pipe."""

    def __init__(self, managed: Managed) -> None:
        self.managed = managed
        self.people: list[int] = []
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.managed.pid

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        process = self.managed.process
        assert process.stdin is not None and process.stdout is not None
        reader = asyncio.StreamReader(limit=LINE_LIMIT)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), process.stdout)
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, process.stdin
        )
        self._writer = asyncio.StreamWriter(transport, protocol, None, loop)
        self._reader_task = loop.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            answer = json.loads(line)
            future = self._waiting.pop(answer["id"], None)
            if future is None or future.done():
                continue
            if "error" in answer:
                future.set_exception(WorkerError(f"worker {self.pid}: {answer['error']}"))
            else:
                future.set_result(answer.get("result"))
        for future in self._waiting.values():  # the worker exited
            if not future.done():
                future.set_exception(
                    WorkerError(f"worker {self.pid} exited:\n{self.managed.tail(15)}")
                )

    async def call(self, do: str, within: float = 120.0, **arguments: Any) -> Any:
        """Send one request; its result, or WorkerError / TimeoutError after `within` s."""
        assert self._writer is not None
        number = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[number] = future
        self._writer.write(json.dumps({"id": number, "do": do, **arguments}).encode() + b"\n")
        await self._writer.drain()
        try:
            async with asyncio.timeout(within):
                return await future
        finally:
            self._waiting.pop(number, None)

    async def close(self) -> None:
        if self.managed.alive() and self._writer is not None:
            with contextlib.suppress(Exception):
                await self.call("close", within=15)
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task
        if self._writer is not None:
            self._writer.close()


REPO = Path(__file__).resolve().parents[2]


async def start_workers(
    count: int, address: str, clip: Path | list[Path], folder: Path
) -> list[Worker]:
    """`count` workers, logging into `folder` (which exists), each connected; several clips
    make every camera a simulcast one (lowest layer first)."""
    clips = clip if isinstance(clip, list) else [clip]
    clip_arguments = [a for path in clips for a in ("--clip", str(path))]
    paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    workers = []
    for number in range(count):
        managed = start_piped(
            f"crowd worker {number}",
            [sys.executable, "-m", "bench.sfu.crowd", "--address", address, *clip_arguments],
            log_path=folder / f"crowd-{number}.log",
            cwd=REPO,
            env=env,
        )
        worker = Worker(managed)
        await worker.connect()
        workers.append(worker)
    return workers


if __name__ == "__main__":
    main()
