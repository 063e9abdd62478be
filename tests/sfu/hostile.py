"""Hostile datagrams for the media plane tests: every class a stranger or a broken client can
send to the SFU's ports, and the tools to send them from anywhere or from an honest peer's own
socket (its ICE-validated address)."""

from __future__ import annotations

import random
import re
import socket
import struct
from collections.abc import Callable, Iterator
from typing import Any

from aiortc import RTCPeerConnection

from hub.sfu.internals import ice_connection, nominated_pairs

CANDIDATE = re.compile(r"^a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host", re.MULTILINE)
MAGIC = b"\x21\x12\xa4\x42"


def media_ports(sdp: str) -> list[tuple[str, int]]:
    """The host candidates an SDP names: where anybody can send to the SFU."""
    return sorted({(host, int(port)) for host, port in CANDIDATE.findall(sdp)})


def stun(method: int, attributes: bytes, *, length: int | None = None) -> bytes:
    size = len(attributes) if length is None else length
    return struct.pack("!HH", method, size) + MAGIC + random.randbytes(12) + attributes


def garbage_attributes(rng: random.Random) -> bytes:
    """STUN attributes with random types, lengths that lie, and random values."""
    out = b""
    for _ in range(rng.randint(1, 6)):
        kind = rng.choice([0x0006, 0x0008, 0x8028, 0x0020, 0x0009, 0x8029, 0x802A, 0x0025,
                           0x0001, 0x0024, rng.randrange(0x10000)])  # fmt: skip
        value = rng.randbytes(rng.randint(0, 40))
        declared = rng.choice([len(value), rng.randint(0, 80)])
        out += struct.pack("!HH", kind, declared) + value + b"\0" * (-len(value) % 4)
    return out


def dtls_record(rng: random.Random) -> bytes:
    content = rng.choice([20, 21, 22, 23, rng.randint(20, 63)])
    body = rng.randbytes(rng.randint(0, 300))
    epoch = rng.choice([0, 1, rng.randrange(0x10000)])
    header = struct.pack("!BHH", content, 0xFEFD, epoch) + rng.randbytes(6)
    return header + struct.pack("!H", rng.choice([len(body), rng.randrange(0x10000)])) + body


def rtp_like(rng: random.Random, size: int) -> bytes:
    return bytes([0x80 | rng.randrange(64), rng.randrange(256)]) + rng.randbytes(size - 2)


def rtcp_like(rng: random.Random, size: int) -> bytes:
    return bytes([0x80 | rng.randrange(32), rng.choice([200, 201, 205, 206])]) + rng.randbytes(
        size - 2
    )


CLASSES: dict[str, Callable[[random.Random], bytes]] = {
    "empty": lambda rng: b"",
    "one_byte": lambda rng: bytes([rng.randrange(256)]),
    "oversized_rtp": lambda rng: rtp_like(rng, rng.randint(1501, 2100)),
    "oversized_rtcp": lambda rng: rtcp_like(rng, rng.randint(1501, 2100)),
    "truncated_rtp": lambda rng: rtp_like(rng, rng.randint(2, 11)),
    "truncated_rtcp": lambda rng: rtcp_like(rng, rng.randint(2, 11)),
    "srtp_garbage": lambda rng: rtp_like(rng, rng.randint(12, 1500)),
    "srtcp_garbage": lambda rng: rtcp_like(rng, rng.randint(12, 1500)),
    "stun_truncated": lambda rng: bytes([0, 1]) + rng.randbytes(rng.randint(0, 17)),
    "stun_lying_length": lambda rng: stun(0x0001, rng.randbytes(8), length=rng.randint(9, 400)),
    "stun_garbage_attributes": lambda rng: stun(
        rng.choice([0x0001, 0x0101, 0x0111, 0x0011, rng.randrange(0x4000)]),
        garbage_attributes(rng),
    ),
    "dtls_truncated": lambda rng: bytes([rng.randint(20, 63)]) + rng.randbytes(rng.randint(0, 11)),
    "dtls_garbage": dtls_record,
    "unknown_protocol": lambda rng: (
        bytes([rng.choice([4, 19, 64, 100, 127, 192, 255])]) + rng.randbytes(rng.randint(0, 200))
    ),
}


def mutate(rng: random.Random, datagram: bytes) -> bytes:
    """A captured real datagram, changed the ways a broken network or client changes them."""
    data = bytearray(datagram)
    match rng.randrange(5):
        case 0:  # flip a few bits
            for _ in range(rng.randint(1, 8)):
                if data:
                    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        case 1:  # cut it
            del data[rng.randrange(len(data) + 1) :]
        case 2:  # extend it
            data += rng.randbytes(rng.randint(1, 1200))
        case 3:  # replay it as it is
            pass
        case _:  # change its length field or first bytes
            if len(data) >= 4:
                data[2:4] = rng.randbytes(2)
    return bytes(data)


def hostile_stream(rng: random.Random, captured: list[bytes]) -> Iterator[tuple[str, bytes]]:
    """Endless (class, datagram): every class in turn, and mutations of real datagrams."""
    names = sorted(CLASSES)
    while True:
        for name in names:
            yield name, CLASSES[name](rng)
            if captured:
                yield "mutated_capture", mutate(rng, rng.choice(captured))


def _nominated(pc: RTCPeerConnection) -> Any:
    for transceiver in pc.getTransceivers():
        transport = transceiver.sender.transport
        if transport is None:
            continue
        pair = nominated_pairs(ice_connection(transport)).get(1)
        if pair is not None:
            return pair
    raise AssertionError("no nominated ICE pair yet")


def ice_path(pc: RTCPeerConnection) -> tuple[socket.socket, tuple[str, int]]:
    """A socket bound to the honest peer's own nominated port, and the SFU address it talks
    to: datagrams sent this way come from an address the SFU's ICE has validated. (A
    duplicate of the file descriptor: asyncio's transport would silently skip empty ones.)"""
    pair = _nominated(pc)
    fd = pair.protocol.transport.get_extra_info("socket").fileno()
    own = socket.fromfd(fd, socket.AF_INET, socket.SOCK_DGRAM)
    own.setblocking(False)
    return own, pair.remote_addr


def capture_sent(pc: RTCPeerConnection, keep: list[bytes], limit: int = 200) -> None:
    """Keep copies of what the honest peer really sends (SRTP, SRTCP, STUN consent)."""
    transport = _nominated(pc).protocol.transport
    original = transport.sendto

    def sendto(data: bytes, addr: Any = None) -> None:
        if len(keep) < limit:
            keep.append(bytes(data))
        elif random.random() < 0.05:
            keep[random.randrange(limit)] = bytes(data)
        original(data, addr)

    transport.sendto = sendto


def stranger_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock
