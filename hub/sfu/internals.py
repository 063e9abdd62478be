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
