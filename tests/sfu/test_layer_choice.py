"""The layer choice on its own: plain layers and viewers, no stream or packets."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from hub.sfu.layer_choice import allowed, fitting, wished
from hub.sfu.reception import Layer


def layers(*sizes: tuple[int, int]) -> list[Layer]:
    made = []
    for index, (width, height) in enumerate(sizes):
        layer = Layer(rid="qhf"[index], clock_rate=90000, ssrc=None, rtx_ssrc=None)
        layer.index, layer.width, layer.height = index, width, height
        made.append(layer)
    return made


@dataclass
class Viewer:
    tile: tuple[int, int] | None = None
    shown: bool = True
    paused: bool = False
    ceiling: Layer | None = None


Q, H, F = CHROMIUM = layers((320, 180), (640, 360), (1280, 720))


def test_the_smallest_layer_that_fills_the_tile_in_one_dimension() -> None:
    assert fitting(CHROMIUM, (300, 300)) is Q  # as wide as the tile: a fitted picture fills it
    assert fitting(CHROMIUM, (400, 200)) is H
    assert fitting(CHROMIUM, (2000, 1000)) is F  # nothing fills it: the highest
    assert fitting(CHROMIUM, None) is F  # the page said nothing
    assert fitting([Q, H], (1000, 600)) is H  # among those given (flowing) only


def test_the_bandwidth_ceiling_caps_the_tile() -> None:
    assert allowed(CHROMIUM, Viewer(tile=(1280, 720), ceiling=H)) is H
    assert allowed(CHROMIUM, Viewer(tile=(320, 180), ceiling=H)) is Q  # below it: untouched
    assert allowed([H, F], Viewer(tile=(1280, 720), ceiling=Q)) is H  # none that low: lowest


def test_what_viewers_would_take() -> None:
    big, held, paused = Viewer(tile=(1280, 720)), Viewer(tile=(1280, 720), ceiling=Q), Viewer()
    paused.paused = True
    assert wished(CHROMIUM, [big]) == {F}
    assert wished(CHROMIUM, [held]) == {Q, H}  # its own, and its next trial step
    assert wished(CHROMIUM, [paused]) == {Q}
    assert wished(CHROMIUM, [Viewer(tile=(1280, 720), shown=False)]) == set()


@given(
    st.lists(st.integers(1, 4000), min_size=1, max_size=3, unique=True),
    st.tuples(st.integers(1, 4000), st.integers(1, 4000)),
    st.integers(0, 2),
)
def test_allowed_never_exceeds_the_ceiling_nor_leaves_the_layers(
    widths: list[int], tile: tuple[int, int], ceiling: int
) -> None:
    given_layers = layers(*[(width, width * 9 // 16) for width in sorted(widths)])
    top = given_layers[min(ceiling, len(given_layers) - 1)]
    chosen = allowed(given_layers, Viewer(tile=tile, ceiling=top))
    assert chosen in given_layers and chosen.index <= top.index
    assert chosen.index <= fitting(given_layers, tile).index
