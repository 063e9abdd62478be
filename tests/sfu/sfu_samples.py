"""Hand-assembled packets shaped like Chrome's, shared by the SFU codec tests.

Extension ids follow Chrome's default offer: 1 ssrc-audio-level, 2 abs-send-time,
3 transport-wide-cc, 4 sdes:mid. Each packet is spelled out field by field so a reader can
check it against the RFC diagrams.
"""

from __future__ import annotations


def h(text: str) -> bytes:
    """Bytes from hex with spaces, line breaks and # comments allowed."""
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return bytes.fromhex("".join(lines))


OPUS_SSRC = 0x5C4A3F12
OPUS = h(
    """
    90 6f 12 34             # V=2 X=1 CC=0, M=0 PT=111, seq 0x1234
    00 01 e2 40             # timestamp 123456
    5c 4a 3f 12             # SSRC
    be de 00 03             # one-byte extensions, 3 words
    10 aa                   # id 1 len 1: audio level V=1 level 42
    22 12 34 56             # id 2 len 3: abs-send-time
    31 00 2a                # id 3 len 2: transport-wide seq 42
    40 30                   # id 4 len 1: mid "0"
    00                      # padding to the word boundary
    78 0b e4 c1 36 ec c5 80 8f 2d 3a 51 9e 07 bc 11   # Opus TOC 0x78 + frame
    """
)
OPUS_HEADER_LENGTH = 12 + 4 + 12

VP8_SSRC = 0x1A2B3C4D
VP8_KEY = h(
    """
    90 60 01 00             # V=2 X=1, M=0 PT=96, seq 256
    9a 3f 00 00             # timestamp
    1a 2b 3c 4d             # SSRC
    be de 00 03             # one-byte extensions, 3 words
    22 ab cd ef             # abs-send-time
    31 01 02                # transport-wide seq 258
    40 31                   # mid "1"
    00 00 00                # padding
    90 80 81 2c             # VP8 descriptor: X=1 S=1 PID=0; I=1; M=1 picture id 300
    b0 2a 00 9d 01 2a 80 02 e0 01   # VP8 frame tag P=0 (key), start code, 640x480
    34 25 a4 00 03 70 00 fe fb 94 00 00
    """
)
VP8_HEADER_LENGTH = 28

# Same stream, a delta frame: picture id 301, P=1 in the frame tag.
VP8_DELTA = h(
    """
    90 60 01 01 9a 3f 0b b8 1a 2b 3c 4d
    be de 00 03 22 ab cd f0 31 01 03 40 31 00 00 00
    90 80 81 2d             # X=1 S=1 PID=0; I=1; picture id 301
    31 0c 00 04 1a 6c 22 80 00 ff
    """
)

# Simulcast layer with temporal scalability: I, L, T and K all present, 7-bit picture id.
VP8_TEMPORAL = h(
    """
    80 e0 02 00 00 00 10 00 0a 0b 0c 0d   # M=1 PT=96
    90 f0 45 07 a3          # X S PID=0; I L T K; picture id 69; TL0PICIDX 7; TID=2 Y=1 KEYIDX=3
    b0 2a 00 9d 01 2a
    """
)

H264_STAP_A_KEY = h(
    """
    80 66 00 10 00 00 00 00 00 00 00 2a   # PT=102
    78                      # STAP-A, NRI=3
    00 0a 67 42 c0 1f 8c 8d 40 50 1e 90   # SPS (type 7)
    00 04 68 ce 3c 80       # PPS (type 8)
    """
)
H264_FU_A_IDR_START = h("80 66 00 11 00 00 00 00 00 00 00 2a 7c 85 88 84 00 33")
H264_FU_A_IDR_MIDDLE = h("80 66 00 12 00 00 00 00 00 00 00 2a 7c 05 ff ee dd")
H264_SINGLE_NON_IDR = h("80 66 00 13 00 00 00 00 00 00 00 2a 41 9a 02 04")
H264_SINGLE_IDR = h("80 66 00 14 00 00 00 00 00 00 00 2a 65 88 80 40")

# --- RTCP -------------------------------------------------------------------------------

SR = h(
    """
    81 c8 00 0c             # V=2 RC=1 PT=200 SR, length 12 words
    5c 4a 3f 12             # sender SSRC
    e6 0b 3a 1c 4f 5c 28 f5 # NTP timestamp
    00 01 e2 40             # RTP timestamp
    00 00 01 2c             # packet count 300
    00 00 9c 40             # octet count 40000
    1a 2b 3c 4d             # report block: source
    05 00 00 03             # fraction lost 5/256, cumulative lost 3
    00 01 01 0f             # extended highest seq (1 cycle, 0x010f)
    00 00 00 12             # jitter
    3a 1c 4f 5c             # LSR
    00 00 80 00             # DLSR (0.5 s)
    """
)
SDES = h(
    """
    81 ca 00 06             # V=2 SC=1 PT=202 SDES, length 6 words
    5c 4a 3f 12
    01 10 4a 6b 36 64 39 74 2f 50 71 77 2b 30 65 4c 31 7a   # CNAME "Jk6d9t/Pqw+0eL1z"
    00 00                   # end of items and alignment
    """
)
CHROME_SR_SDES = SR + SDES

RR = h(
    """
    81 c9 00 07             # V=2 RC=1 PT=201 RR, length 7
    00 00 00 01             # receiver SSRC (Chrome uses 1 for receive-only)
    5c 4a 3f 12 00 ff ff ff 00 00 12 40 00 00 00 3c 00 00 00 00 00 00 00 00
    """
)
REMB = h(
    """
    8f ce 00 06             # V=2 FMT=15 PT=206 PSFB, length 6
    00 00 00 01             # sender SSRC
    00 00 00 00             # media SSRC (unused)
    52 45 4d 42             # "REMB"
    02 0e dc 6c             # 2 SSRCs, exp 3, mantissa 187500 -> 1.5 Mbit/s
    5c 4a 3f 12 1a 2b 3c 4d
    """
)
CHROME_RR_REMB = RR + REMB

NACK = h(
    """
    81 cd 00 03             # V=2 FMT=1 PT=205 RTPFB, length 3
    00 00 00 01             # sender SSRC
    1a 2b 3c 4d             # media SSRC
    01 05 00 05             # PID 261, BLP 0b101: 261, 262, 264
    """
)
PLI = h("81 ce 00 02 00 00 00 01 1a 2b 3c 4d")
FIR = h("84 ce 00 04 00 00 00 01 00 00 00 00 1a 2b 3c 4d 07 00 00 00")
BYE = h("81 cb 00 03 5c 4a 3f 12 06 63 6c 6f 73 65 64 00")  # reason "closed"
TRANSPORT_CC = h(
    """
    8f cd 00 05 00 00 00 01 1a 2b 3c 4d   # RTPFB FMT=15, not interpreted
    00 2a 00 02 00 01 fb 07 20 02 08 0c
    """
)
