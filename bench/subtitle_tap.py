"""What live subtitles cost the forwarding path: one speaker's Opus packets (with the
audio-level extension, as Chrome sends them) through `receive_publisher_rtp` to ten
subscribers' legs, with the subtitle tap off and on. No sockets: each leg's send is a stub.

Run from the repository root: ``python -m bench.subtitle_tap``. Prints microseconds per
packet for each case and the difference; the tap is emptied every 2 packets' worth of 40 ms
(as the speech worker's pump does), so the "queue full" path is not what is measured.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from aiortc.rtcrtpparameters import (
    RTCRtcpParameters,
    RTCRtpCodecParameters,
    RTCRtpEncodingParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpReceiveParameters,
    RTCRtpSendParameters,
)

from hub.ids import ParticipantId
from hub.sfu.audio_tap import AudioTap
from hub.sfu.counters import SfuCounters
from hub.sfu.forwarder import InboundStream, Leg
from hub.sfu.media import URI_AUDIO_LEVEL
from hub.sfu.packets import receive_publisher_rtp
from hub.sfu.participant import MediaParticipant

SSRC = 0x0A0B0C0D
SUBSCRIBERS = 10
PACKETS = 20_000
OPUS = [RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, payloadType=111)]


def packet(sequence: int, level: int) -> bytes:
    """RTP with one one-byte extension (id 1, audio level: V bit set, -`level` dBov), 80 B of
    Opus payload."""
    header = struct.pack("!BBHII", 0x90, 111, sequence & 0xFFFF, sequence * 960, SSRC)
    extension = struct.pack("!HH", 0xBEDE, 1) + bytes([0x10, 0x80 | level, 0, 0])
    return header + extension + bytes(80)


class Transport:
    async def _send_rtp(self, data: bytes) -> None:
        pass


class Egress:
    """Stands for SRTP protection and the socket send (the same work whether subtitles are
    on or off), so that what is measured is the hub's own per-packet code."""

    def send(self, packet: bytes) -> bool:
        return True


def meeting() -> tuple[MediaParticipant, SfuCounters, InboundStream]:
    counters = SfuCounters()

    async def send_rtcp(data: bytes) -> None:
        pass

    stream = InboundStream(
        participant_id=ParticipantId("speaker"),
        mid="0",
        kind="audio",
        source="microphone",
        params=RTCRtpReceiveParameters(
            codecs=OPUS,
            headerExtensions=[RTCRtpHeaderExtensionParameters(id=1, uri=URI_AUDIO_LEVEL)],
            muxId="0",
            encodings=[RTCRtpEncodingParameters(ssrc=SSRC, payloadType=111)],
        ),
        rtcp_ssrc=0x33333333,
        send_rtcp=send_rtcp,
        counters=counters,
    )
    for number in range(SUBSCRIBERS):
        sender = SimpleNamespace(_ssrc=0x1000 + number, _rtx_ssrc=None, transport=Transport())
        leg = Leg(
            participant_id=ParticipantId(f"viewer{number}"),
            kind="audio",
            transceiver=SimpleNamespace(mid=str(number), sender=sender),
        )
        leg.attach(stream)
        leg.negotiated(
            RTCRtpSendParameters(
                codecs=OPUS,
                headerExtensions=[RTCRtpHeaderExtensionParameters(id=1, uri=URI_AUDIO_LEVEL)],
                muxId=str(number),
                rtcp=RTCRtcpParameters(cname=f"viewer{number}"),
            )
        )
        leg.egress = Egress()  # type: ignore[assignment]
    publisher = MediaParticipant(ParticipantId("speaker"), counters)
    publisher.streams["0"] = stream
    publisher.by_ssrc = {SSRC: stream}
    return publisher, counters, stream


def listen(stream: InboundStream, tap: Any) -> None:
    stream.tap = tap


async def run(tap: Any, install: Callable[[InboundStream, Any], None] = listen) -> float:
    """CPU microseconds per packet (process time, so other load on the machine counts less),
    with `tap` installed on the stream by `install` (None: no tap)."""
    publisher, counters, stream = meeting()
    if tap is not None:
        install(stream, tap)
    packets = [packet(number, 20) for number in range(PACKETS)]
    start = time.process_time()
    for number, data in enumerate(packets):
        receive_publisher_rtp(publisher, counters, data, 100.0 + number / 50)
        if tap is not None and number % 2 == 1:
            tap.take()
        if number % 200 == 199:
            await asyncio.sleep(0)  # let the legs' scheduled sends run, as the loop would
    await asyncio.sleep(0)
    return (time.process_time() - start) / PACKETS * 1e6


async def compare(
    make_tap: Callable[[], Any], install: Callable[[InboundStream, Any], None], label: str
) -> None:
    """Off and on, interleaved, best of five (the machine is shared); printed."""
    rounds = []
    for _ in range(5):
        off = await run(None, install)
        tap = make_tap()
        on = await run(tap, install)
        rounds.append((off, on, tap.taken))
    off = min(r[0] for r in rounds)
    on = min(r[1] for r in rounds)
    print(f"{SUBSCRIBERS} subscribers, {PACKETS} packets per run, best of 5:")
    print(f"  {label} off: {off:.2f} us/packet")
    print(f"  {label} on:  {on:.2f} us/packet ({rounds[-1][2]} packets taken by the tap)")
    print(f"  difference:    {on - off:+.2f} us/packet ({(on - off) / off * 100:+.1f} %)")


async def main() -> None:
    await compare(AudioTap, listen, "subtitles")


if __name__ == "__main__":
    asyncio.run(main())
