"""Simulcast that aiortc 1.16 does not negotiate: read it from a publish offer, answer it, and
read the RID of a packet (docs/simulcast.md).

aiortc's parser skips `a=rid` and `a=simulcast` and its answer leaves out the RID header
extensions, so Chromium would send only its first layer. The SFU itself tells the layers
apart by the RID extension of their first packets, so it may honestly answer that it
receives them: `add_simulcast_to_answer` puts those lines into aiortc's answer. Pure: text
in, text or `SdpError` out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.sfu.rtp import find_extension
from hub.sfu.sdp import SdpError

URI_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
URI_RID = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
URI_REPAIRED_RID = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
MAX_LAYERS = 3  # what a leg chooses from; more only costs the publisher's uplink
# RFC 8851 allows alphanumerics, '-' and '_'; libwebrtc caps a RID at 16 characters.
_RID = re.compile(r"[A-Za-z0-9_-]{1,16}")


@dataclass(frozen=True)
class SimulcastOffer:
    """The simulcast of one offered m-section: its RIDs in the offer's order (the page sends
    them lowest resolution first) and the header extension ids that carry them."""

    mid: str
    rids: tuple[str, ...]
    rid_ext: int
    repaired_ext: int | None
    mid_ext: int | None
    # RIDs beyond MAX_LAYERS: left out of the answer, so the publisher does not send them.
    clamped: tuple[str, ...] = ()


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").split("\n")


def _sections(lines: list[str]) -> list[list[str]]:
    """The m-sections of a description, each a list of its lines (session part dropped)."""
    sections: list[list[str]] = []
    for line in lines:
        if line.startswith("m="):
            sections.append([line])
        elif sections and line:
            sections[-1].append(line)
    return sections


def _value(line: str, attribute: str) -> str | None:
    prefix = f"a={attribute}:"
    return line[len(prefix) :].strip() if line.startswith(prefix) else None


def _extmaps(section: list[str]) -> dict[str, int]:
    """uri -> id of the section's a=extmap lines (the direction suffix, if any, dropped)."""
    found: dict[str, int] = {}
    for line in section:
        value = _value(line, "extmap")
        if value is None:
            continue
        parts = value.split()
        if len(parts) >= 2 and parts[0].split("/")[0].isdigit():
            found[parts[1]] = int(parts[0].split("/")[0])
    return found


def _parse_section(section: list[str], index: int) -> SimulcastOffer | None:
    where = f"offer: media section {index}"
    simulcast = [v for line in section if (v := _value(line, "simulcast")) is not None]
    if not simulcast:
        return None  # a=rid without a=simulcast is one stream: nothing to answer
    if len(simulcast) > 1:
        raise SdpError(f"{where} has {len(simulcast)} a=simulcast lines; at most one")
    if not section[0].startswith("m=video"):
        raise SdpError(f"{where}: a=simulcast is only accepted on video")
    parts = simulcast[0].split()
    if len(parts) != 2 or parts[0] != "send":
        raise SdpError(
            f"{where}: a=simulcast:{simulcast[0]} must be 'send <rid>;<rid>…' in a publish offer"
        )
    declared: dict[str, str] = {}
    for line in section:
        value = _value(line, "rid")
        if value is None:
            continue
        fields = value.split()
        if len(fields) < 2:
            raise SdpError(f"{where}: a=rid:{value} has no direction")
        declared.setdefault(fields[0], fields[1])
    rids: list[str] = []
    for item in parts[1].split(";"):
        if "," in item:
            raise SdpError(f"{where}: simulcast alternatives ({item!r}) are not supported")
        rid = item.removeprefix("~")  # a paused layer: it may start later
        if not _RID.fullmatch(rid):
            raise SdpError(f"{where}: RID {rid!r} is not 1-16 letters, digits, '-' or '_'")
        if rid in rids:
            raise SdpError(f"{where}: RID {rid!r} appears twice in a=simulcast")
        if declared.get(rid) != "send":
            raise SdpError(f"{where}: RID {rid!r} of a=simulcast has no 'a=rid:{rid} send' line")
        rids.append(rid)
    mid = next((v for line in section if (v := _value(line, "mid")) is not None), None)
    if not mid:
        raise SdpError(f"{where}: a simulcast section needs a mid")
    extensions = _extmaps(section)
    rid_ext = extensions.get(URI_RID)
    if rid_ext is None:
        raise SdpError(f"{where}: a=simulcast needs the {URI_RID} header extension")
    return SimulcastOffer(
        mid=mid,
        rids=tuple(rids[:MAX_LAYERS]),
        rid_ext=rid_ext,
        repaired_ext=extensions.get(URI_REPAIRED_RID),
        mid_ext=extensions.get(URI_MID),
        clamped=tuple(rids[MAX_LAYERS:]),
    )


def parse_simulcast_offer(text: str) -> dict[str, SimulcastOffer]:
    """The simulcast sections of a publish offer, by mid; SdpError if one is unusable."""
    offers: dict[str, SimulcastOffer] = {}
    for index, section in enumerate(_sections(_lines(text))):
        offer = _parse_section(section, index)
        if offer is not None:
            offers[offer.mid] = offer
    return offers


def add_simulcast_to_answer(answer: str, offers: dict[str, SimulcastOffer]) -> str:
    """aiortc's answer with, in each receiving section offered simulcast, the RID extmaps
    (the offer's ids), `a=rid:<rid> recv` and `a=simulcast:recv <rids>`."""
    if not offers:
        return answer
    newline = "\r\n" if "\r\n" in answer else "\n"
    out: list[str] = []
    section: list[str] = []

    def flush() -> None:
        out.extend(_answer_section(section, offers))
        section.clear()

    for line in _lines(answer):
        if line.startswith("m="):
            flush()
        (section if section or line.startswith("m=") else out).append(line)
    flush()
    return newline.join(out)


def _answer_section(section: list[str], offers: dict[str, SimulcastOffer]) -> list[str]:
    mid = next((v for line in section if (v := _value(line, "mid")) is not None), None)
    offer = offers.get(mid) if mid is not None else None
    receiving = any(line in ("a=recvonly", "a=sendrecv") for line in section)
    if offer is None or not receiving or section[0].split()[1:2] == ["0"]:
        return list(section)
    used = _extmaps(section)
    wanted = {URI_RID: offer.rid_ext}
    if offer.repaired_ext is not None:
        wanted[URI_REPAIRED_RID] = offer.repaired_ext
    for uri, ext_id in wanted.items():
        clash = next((u for u, i in used.items() if i == ext_id and u != uri), None)
        if clash is not None:
            raise SdpError(f"answer: extension id {ext_id} of {uri} is already used by {clash}")
    lines = [f"a=extmap:{ext_id} {uri}" for uri, ext_id in wanted.items() if uri not in used]
    lines += [f"a=rid:{rid} recv" for rid in offer.rids]
    lines.append(f"a=simulcast:recv {';'.join(offer.rids)}")
    at = next(i for i, line in enumerate(section) if line.startswith("a=mid:")) + 1
    return section[:at] + lines + section[at:]


def read_rid(data: bytes, ext_id: int) -> str | None:
    """The RID (or repaired RID) carried by an RTP packet in extension `ext_id`, None if it
    carries none; ValueError with the reason if the packet or the RID is malformed."""
    value = find_extension(data, ext_id)
    if value is None:
        return None
    try:
        rid = value.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError(f"RID extension is not ASCII: {value!r}") from None
    if not _RID.fullmatch(rid):
        raise ValueError(f"RID {rid!r} is not 1-16 letters, digits, '-' or '_'")
    return rid


def read_mid(data: bytes, ext_id: int) -> str | None:
    """The MID of an RTP packet (extension `ext_id`), None without one or if not ASCII."""
    value = find_extension(data, ext_id)
    if value is None:
        return None
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        return None
