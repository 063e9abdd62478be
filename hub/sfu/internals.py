"""Finding, at start, the aiortc/aioice private names the SFU hooks that an install lacks.

The hooks (egress.py, guard.py, liveness.py, ice.py, room.py) read and replace attributes
aiortc 1.16 and aioice 0.13 set in their constructors; each module lists what it needs and
`ice.check_internals` refuses to start if any is missing, rather than fail mid-meeting.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def missing_attributes(wanted: Iterable[tuple[type, str]]) -> list[str]:
    """`Owner.name` for each instance attribute its constructor never sets."""
    return [
        f"{owner.__name__}.{name}"
        for owner, name in wanted
        if name not in vars(owner)["__init__"].__code__.co_names
    ]


def missing_methods(wanted: Iterable[tuple[type, str]]) -> list[str]:
    """`Owner.name` for each method (or property) the class does not have."""
    return [f"{owner.__name__}.{name}" for owner, name in wanted if not hasattr(owner, name)]


def ice_connection(dtls_transport: Any) -> Any:
    """The aioice `Connection` under an aiortc DTLS transport (checked by `check_internals`:
    `RTCIceGatherer._connection`)."""
    return dtls_transport.transport.iceGatherer._connection


# aiortc's receivers estimate the bandwidth of what they receive (REMB) with 1,000 one-
# millisecond buckets, one object each, per video receiver.
RECEIVE_ESTIMATOR = "_RTCRtpReceiver__remote_bitrate_estimator"


def drop_receive_estimators(transceivers: Iterable[Any]) -> None:
    """Free the estimators of the transceivers' receivers: the SFU reads every packet before
    aiortc's receivers could, so they never estimate anything, yet the garbage collector walked
    their buckets on each full collection with media stopped (90,000 objects in a 10-person
    meeting). aiortc's receiver skips the estimate when it is None, as for audio."""
    for transceiver in transceivers:
        if getattr(transceiver.receiver, RECEIVE_ESTIMATOR, None) is not None:
            setattr(transceiver.receiver, RECEIVE_ESTIMATOR, None)
