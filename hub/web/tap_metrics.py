"""What the SFU's taps for subtitles and recording counted, kept across taps and shown in
/metrics: packets by outcome (taken, dropped, ...), and batches the child process behind the
tap (speech worker, recorder) did not keep up with."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

Tap = TypeVar("Tap")


class TapCounts(Generic[Tap]):
    """The packets counted by a relay's taps, by outcome; a stopped tap's counts are kept so
    the counters never go back."""

    def __init__(self, outcomes: Iterable[str], counts_of: Callable[[Tap], Mapping[str, int]]):
        self._retired = Counter(dict.fromkeys(outcomes, 0))
        self._counts_of = counts_of

    def retire(self, tap: Tap) -> None:
        self._retired.update(self._counts_of(tap))

    def total(self, live: Iterable[Tap]) -> dict[str, int]:
        counts = Counter(self._retired)
        for tap in live:
            counts.update(self._counts_of(tap))
        return dict(counts)


@dataclass(frozen=True)
class TapCollector(Collector):
    """`<prefix>_packets_total{outcome}` and `<prefix>_batches_dropped_total`."""

    prefix: str
    packets_help: str
    batches_help: str
    packet_counts: Callable[[], Mapping[str, int]]
    batches_dropped: Callable[[], int]

    def collect(self) -> Iterator[CounterMetricFamily]:
        packets = CounterMetricFamily(
            f"{self.prefix}_packets", self.packets_help, labels=["outcome"]
        )
        for outcome, count in sorted(self.packet_counts().items()):
            packets.add_metric([outcome], count)
        yield packets
        yield CounterMetricFamily(
            f"{self.prefix}_batches_dropped", self.batches_help, value=self.batches_dropped()
        )
