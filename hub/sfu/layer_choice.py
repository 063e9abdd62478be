"""Which layer of a published track a viewer should get (docs/simulcast.md): the smallest
that fills its tile, no higher than its bandwidth allows, and which layers some viewer
would take. Pure: the stream (hub/sfu/forwarder.py) applies the choice to its legs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from hub.sfu.reception import Layer


class Viewer(Protocol):
    """What the choice reads of a leg: its viewer's tile and what it may take."""

    tile: tuple[int, int] | None  # device pixels, if the page said
    shown: bool  # the page displays this stream
    paused: bool  # the viewer lacks the bandwidth for any layer
    ceiling: Layer | None  # the highest layer the viewer's bandwidth allows (None: any)


def fitting(flowing: Sequence[Layer], tile: tuple[int, int] | None) -> Layer:
    """The smallest flowing layer that fills `tile` (width by height, in device pixels)
    in at least one dimension, as a picture fitted inside it would be; else the highest."""
    if tile is not None:
        width, height = tile
        for layer in flowing:
            if layer.width >= width or layer.height >= height:
                return layer
    return flowing[-1]


def allowed(layers: Sequence[Layer], viewer: Viewer) -> Layer:
    """The layer of `layers` (lowest first) that fits the viewer's tile, no higher than its
    bandwidth allows (its `ceiling`; the lowest if none is that low)."""
    layer = fitting(layers, viewer.tile)
    ceiling = viewer.ceiling
    if ceiling is not None and layer.index > ceiling.index:
        below = [candidate for candidate in layers if candidate.index <= ceiling.index]
        layer = below[-1] if below else layers[0]
    return layer


def wished(layers: Sequence[Layer], viewers: Iterable[Viewer]) -> set[Layer]:
    """The layers some viewer would take if they were all flowing: its tile's (among
    layers whose size a keyframe showed), no higher than its bandwidth allows, and the
    next one up for a viewer held below its tile's (its next trial step)."""
    sized = [layer for layer in layers if layer.width] or list(layers)
    wanted: set[Layer] = set()
    for viewer in viewers:
        if not viewer.shown:
            continue
        if viewer.paused:  # its trial step is the lowest layer
            wanted.add(layers[0])
            continue
        layer = allowed(sized, viewer)
        wanted.add(layer)
        if layer is not fitting(sized, viewer.tile):  # held below its tile's layer
            wanted.add(layers[layer.index + 1])
    return wanted
