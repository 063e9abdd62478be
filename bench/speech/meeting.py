"""The meeting the speech benchmark runs: a hub (its own process) with the embedded engine,
its owner in the call turning subtitles on and off and reading the `subtitle` lines on its
WebSocket (as the page does), and aiortc speakers whose microphones say espeak-ng phrases.

A round has N speakers say phrases at once (staggered, with pauses) while the CPU of the hub
and of its speech worker is measured; the same round with subtitles off gives the hub's
cost without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription

from bench.sfu import hub as hubapi
from bench.sfu.media import CountingSubscriber, rtc_config
from bench.sfu.meeting import HubMeeting, children
from bench.sfu.person import opus_only
from bench.sfu.system import (
    BenchError,
    CpuWindow,
    eventually,
    process_cpu_seconds,
    runqueue_wait_seconds,
)
from bench.speech.score import Line, figures, match
from bench.speech.voice import PHRASES, RATE, Spoken, Voice, speak
from hub.sfu.ice import gather_on

STAGGER = 0.7  # seconds between speakers' first phrases
PAUSE = (1.0, 1.5)  # seconds of silence between one speaker's phrases (uniform)
# After the last phrase ends: the round ends once every phrase is shown, or no line came for
# QUIET seconds, or after DRAIN seconds.
QUIET = 4.0
DRAIN = 20.0


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


@dataclass
class Speaker:
    """One person with a microphone: their WebSocket, publish connection and voice; what
    the hub sends them (the others' audio) is counted and dropped."""

    number: int
    voice: Voice
    participant: hubapi.HubParticipant
    publish: RTCPeerConnection
    view: CountingSubscriber

    async def close(self) -> None:
        await self.participant.close()
        await self.publish.close()
        await self.view.close()


@dataclass
class Viewer:
    """The final subtitle lines the owner's WebSocket got, timed on arrival."""

    speaker_of: dict[str, int] = field(default_factory=dict)  # participant id → number
    lines: list[Line] = field(default_factory=list)
    unavailable: int = 0  # `subtitles_state: unavailable` messages

    def on_message(self, message: dict[str, Any]) -> None:
        now = time.perf_counter()
        kind = message.get("type")
        if kind == "subtitle" and message.get("final"):
            speaker = self.speaker_of.get(str(message.get("participant_id")), -1)
            self.lines.append(Line(speaker, str(message.get("text", "")), now))
        elif kind == "subtitles_state" and message.get("state") == "unavailable":
            self.unavailable += 1


class SpeechMeeting:
    """Owns the meeting on `server` (which must run the embedded engine), its owner and
    speakers; `open` joins everyone, `close` leaves."""

    def __init__(self, server: hubapi.HubServer, seed: int = 16) -> None:
        self.server = server
        self.target = HubMeeting(server, moderator=True)
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.viewer = Viewer()
        self.speakers: list[Speaker] = []
        self.speech = {phrase: speak(phrase) for phrase in PHRASES}
        self.random = random.Random(seed)
        self.subtitles = False
        self.worker_pid = 0

    async def open(self, speakers: int) -> None:
        await self.target.setup(0)
        assert self.target.owner is not None
        self.target.owner.on_message = self.viewer.on_message
        await hubapi.guest_session(self.http, self.server.base_url)
        for number in range(speakers):
            self.speakers.append(await self._join(number))

    async def _join(self, number: int) -> Speaker:
        address = self.server.address
        view = CountingSubscriber(address, None)

        async def answer(offer: dict[str, Any]) -> str:
            return await view.answer(offer["sdp"])

        participant = hubapi.HubParticipant(
            self.http, self.server.base_url, self.target.meeting_ids[0], f"Speaker {number + 1}",
            answer, audio=True, video=False,
        )  # fmt: skip
        await participant.join()
        self.viewer.speaker_of[participant.participant_id] = number
        voice = Voice(number)
        pc = RTCPeerConnection(rtc_config())
        microphone = pc.addTransceiver(voice, direction="sendonly")
        microphone.setCodecPreferences(opus_only())
        await gather_on(pc, [address])
        await pc.setLocalDescription(await pc.createOffer())
        sdp = await participant.publish(pc.localDescription.sdp, None, microphone.mid)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        return Speaker(number, voice, participant, pc, view)

    async def switch(self, on: bool) -> None:
        """The owner turns subtitles on or off and is told so."""
        owner = self.target.owner
        assert owner is not None
        state = owner.expect("subtitles_state")
        await owner.send({"type": "subtitles", "on": on})
        await owner.wait(state, "subtitles_state")
        self.subtitles = on
        if on and not self.worker_pid:
            await eventually(self._found_worker, "the speech worker process", within=15,
                             interval=0.1)  # fmt: skip

    async def _found_worker(self) -> bool:
        self.worker_pid = speech_worker_of(self.server.pid)
        return bool(self.worker_pid)

    def _phrases(self, speaker: int) -> Iterator[str]:
        """Each speaker goes through the phrases from their own place in the list."""
        start = speaker * 3
        while True:
            for index in range(len(PHRASES)):
                yield PHRASES[(start + index) % len(PHRASES)]

    def script(self, people: int, each: int) -> list[Spoken]:
        """The first `people` speakers each say `each` phrases, staggered, with pauses."""
        spoken: list[Spoken] = []
        for speaker in self.speakers[:people]:
            phrases = self._phrases(speaker.number + self.random.randrange(len(PHRASES)))
            for index in range(each):
                after = STAGGER * speaker.number if index == 0 else self.random.uniform(*PAUSE)
                phrase = next(phrases)
                spoken.append(speaker.voice.say(phrase, self.speech[phrase], after))
        return spoken

    async def round(self, people: int, each: int) -> dict[str, Any]:
        """One round: CPU of the hub and its speech worker over it; with subtitles on, the
        latency and accuracy of what was shown."""
        first_line = len(self.viewer.lines)
        unavailable = self.viewer.unavailable
        pids = (self.worker_pid,) if self.worker_pid else ()
        window = CpuWindow(self.server.pid, sfu_worker_pids=pids)
        hub_before = process_cpu_seconds(self.server.pid)
        worker_before = process_cpu_seconds(self.worker_pid) if self.worker_pid else 0.0
        worker_waited = runqueue_wait_seconds(self.worker_pid) if self.worker_pid else 0.0
        window.begin()
        spoken = self.script(people, each)
        voices = [s.voice for s in self.speakers[:people]]

        async def said() -> bool:
            return all(v.quiet for v in voices)

        await eventually(said, "the speakers' phrases", within=300, interval=0.1)
        last_end = max(s.end for s in spoken)
        if self.subtitles:
            await self._drain(spoken, first_line, last_end)
        else:
            await asyncio.sleep(max(0.0, last_end + 0.5 - time.perf_counter()))
        window.end()
        hub_cpu = process_cpu_seconds(self.server.pid) - hub_before
        worker_cpu = process_cpu_seconds(self.worker_pid) - worker_before if pids else 0.0
        if pids:
            worker_waited = runqueue_wait_seconds(self.worker_pid) - worker_waited
        usage = window.summary()
        result: dict[str, Any] = {
            "speakers": people,
            "subtitles": self.subtitles,
            "window_s": usage["wall_s"],
            "hub_cores": round(hub_cpu / window.wall, 3),
            "worker_cores": round(worker_cpu / window.wall, 3),
            "worker_cpu_s": round(worker_cpu, 2),
            "bench_client_cores": usage["client_cores"],
            "other_cores": usage["other_cores"],
            # Runnable but waiting for a CPU (other processes had it), hub and worker together
            # and the worker alone: 0.5 means half a core's worth of waiting.
            "waiting_cores": usage["sfu_wait_cores"],
            "worker_waiting_cores": round(worker_waited / window.wall, 3) if pids else None,
        }
        if self.subtitles:
            shown, stray = match(spoken, self.viewer.lines[first_line:])
            scores = figures(shown, stray)
            result.update(scores)
            speech = float(scores["speech_s"] or 0.0)
            result["worker_cpu_per_speech_s"] = round(worker_cpu / speech, 3) if speech else None
            result["unavailable"] = self.viewer.unavailable - unavailable
            result["unmatched"] = [x.text for x in stray][:5]
        else:
            result["speech_s"] = round(sum(s.seconds for s in spoken), 2)
        return result

    async def _drain(self, spoken: list[Spoken], first_line: int, last_end: float) -> None:
        """Until every phrase has a line (counted, not matched), QUIET s without one, or DRAIN."""
        while True:
            now = time.perf_counter()
            lines = self.viewer.lines[first_line:]
            latest = max([last_end, *(line.arrived for line in lines)])
            if len(lines) >= len(spoken) and now > last_end + 0.5:
                return
            if now - latest > QUIET or now - last_end > DRAIN:
                return
            await asyncio.sleep(0.1)

    async def warm_up(self) -> dict[str, Any]:
        """One phrase through the whole path (the engine's first decode is slower)."""
        first_line = len(self.viewer.lines)
        phrase = PHRASES[0]
        spoken = self.speakers[0].voice.say(phrase, self.speech[phrase], 0.2)
        with contextlib.suppress(BenchError):
            await eventually(self._line_after(first_line), "a first subtitle line", within=30,
                             interval=0.1)  # fmt: skip
        lines = self.viewer.lines[first_line:]
        if not lines:
            raise BenchError("no subtitle line within 30 s of the first phrase: see the hub log")
        return {"phrase": phrase, "text": lines[0].text,
                "from_end_s": round(lines[0].arrived - spoken.end, 3)}  # fmt: skip

    def _line_after(self, index: int) -> Any:
        async def check() -> bool:
            return len(self.viewer.lines) > index

        return check

    async def close(self) -> None:
        for speaker in self.speakers:
            with contextlib.suppress(Exception):
                await speaker.close()
        await self.target.close()
        await self.http.close()


def speech_worker_of(hub_pid: int) -> int:
    """The pid of the hub's `python -m hub.speech.worker` child, 0 if none yet."""
    for pid in children(hub_pid):
        with contextlib.suppress(OSError):
            if b"hub.speech.worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
    return 0


def speech_seconds(meeting: SpeechMeeting) -> dict[str, float]:
    """How long each phrase is, as spoken (for the report)."""
    return {phrase: round(len(pcm) / RATE, 2) for phrase, pcm in meeting.speech.items()}
