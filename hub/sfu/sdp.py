"""Checks on session descriptions from browsers, before any live connection sees them.

aiortc's own parser raises assorted exceptions on bad input and `setRemoteDescription` may
leave a connection half-changed, so an offer or answer is first parsed here, on its own, and
refused with a precise message unless it is something the SFU can use. Pure: text in, summary
or `SdpError` out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiortc import sdp as aiortc_sdp

from hub.errors import first_line

MAX_MEDIA_SECTIONS = 8
MAX_RELAYED_SECTIONS = 256  # subscribe answers and cascade offers: one per relayed stream
REQUIRED_CODEC = {"audio": "opus", "video": "vp8"}


class SdpError(ValueError):
    """An offer or answer the SFU cannot use; the message says why, for the sender."""


@dataclass(frozen=True)
class SdpSummary:
    """What the SFU needs to know about a checked description."""

    ice_ufrag: str
    mids: tuple[str, ...]
    kinds: tuple[str, ...]


def check_description(
    text: str, kind: Literal["offer", "answer"], max_sections: int = MAX_MEDIA_SECTIONS
) -> SdpSummary:
    """Parse `text` and raise SdpError unless it is a usable WebRTC audio/video description.

    `max_sections` bounds what a browser publishes; answers to our own offers and a cascade
    link's offers (one m-line per stream of the other instance) are allowed more."""
    if not text.startswith("v=0"):
        raise SdpError(f"{kind}: SDP must start with v=0")
    try:
        description = aiortc_sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc raises assertion, value and index errors alike
        raise SdpError(f"{kind}: SDP could not be parsed ({first_line(exc)})") from None
    media = description.media
    if not media:
        raise SdpError(f"{kind}: SDP has no media section")
    if len(media) > max_sections:
        raise SdpError(f"{kind}: SDP has {len(media)} media sections; at most {max_sections}")
    ufrags: set[str] = set()
    mids: list[str] = []
    for index, section in enumerate(media):
        where = f"{kind}: media section {index}"
        if section.kind not in REQUIRED_CODEC:
            raise SdpError(f"{where} is {section.kind!r}; only audio and video are accepted")
        mid = section.rtp.muxId
        if not mid:
            raise SdpError(f"{where} has no a=mid")
        if mid in mids:
            raise SdpError(f"{where} repeats mid {mid!r}")
        mids.append(mid)
        if section.ice is None or not section.ice.usernameFragment or not section.ice.password:
            raise SdpError(f"{where} has no ICE credentials (a=ice-ufrag, a=ice-pwd)")
        ufrags.add(section.ice.usernameFragment)
        if section.dtls is None or not section.dtls.fingerprints:
            raise SdpError(f"{where} has no DTLS fingerprint")
        if not section.rtcp_mux:
            raise SdpError(f"{where} does not multiplex RTCP (a=rtcp-mux)")
        if section.direction in ("sendrecv", "sendonly", "recvonly") or section.direction is None:
            wanted = REQUIRED_CODEC[section.kind]
            names = {codec.mimeType.split("/", 1)[1].lower() for codec in section.rtp.codecs}
            if wanted not in names:
                raise SdpError(
                    f"{where} offers no {wanted.upper() if wanted == 'vp8' else wanted} codec; "
                    "the hub forwards Opus audio and VP8 video"
                )
    if len(ufrags) != 1:
        raise SdpError(f"{kind}: media sections must share one ICE transport (BUNDLE)")
    # aiortc gives the sections of a BUNDLE group the transport of its first mid: a group
    # naming a missing section would leave them with none (and a connection that cannot close).
    for group in description.group:
        if group.semantic == "BUNDLE":
            absent = [mid for mid in group.items if mid not in mids]
            if absent:
                raise SdpError(
                    f"{kind}: a=group:BUNDLE names mids that have no media section: {absent}"
                )
    return SdpSummary(
        ice_ufrag=ufrags.pop(),
        mids=tuple(mids),
        kinds=tuple(section.kind for section in media),
    )
