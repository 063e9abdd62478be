"""/metrics for `sfu.workers = N`: each worker's last load report, labelled by worker."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.sfu.workers import WorkerPool


class WorkersCollector(Collector):
    """Reads the pool's slots when /metrics is read; nothing is kept between reads."""

    def __init__(self, pool: WorkerPool) -> None:
        self._pool = pool

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        labels = ["worker"]
        up = GaugeMetricFamily("hub_sfu_worker_up", "1 while the worker answers.", labels=labels)
        rate = GaugeMetricFamily(
            "hub_sfu_worker_forwarded_packets_per_second",
            "RTP packets the worker forwarded per second (its last report).",
            labels=labels,
        )
        forwarded = CounterMetricFamily(
            "hub_sfu_worker_packets_forwarded",
            "RTP packets forwarded by the worker's current process.",
            labels=labels,
        )
        cpu = CounterMetricFamily(
            "hub_sfu_worker_cpu_seconds",
            "CPU time used by the worker's current process.",
            labels=labels,
        )
        meetings = GaugeMetricFamily(
            "hub_sfu_worker_meetings", "Meetings placed on the worker.", labels=labels
        )
        legs = GaugeMetricFamily(
            "hub_sfu_worker_legs", "Subscriber legs (streams sent to viewers) on the worker.",
            labels=labels,
        )  # fmt: skip
        relay_streams = GaugeMetricFamily(
            "hub_sfu_worker_relay_streams",
            "Streams the worker sends to other workers for meetings spread over several "
            "(each once, whatever the number of its viewers there).",
            labels=labels,
        )
        relay_packets = GaugeMetricFamily(
            "hub_sfu_worker_relay_packets",
            "RTP packets sent to other workers on the relays' current connections.",
            labels=labels,
        )
        restarts = CounterMetricFamily(
            "hub_sfu_worker_restarts", "Times the worker died and was started again.",
            labels=labels,
        )  # fmt: skip
        taps = CounterMetricFamily(
            "hub_sfu_worker_tap_bytes",
            "Bytes of tapped packets (subtitles: audio, recording: every track) the worker "
            "sent to the hub on its current control connection.",
            labels=["worker", "tap"],
        )
        for slot in self._pool.slots:
            name = [str(slot.index)]
            if slot.link is not None:
                taps.add_metric([*name, "audio"], slot.link.tap_bytes["audio_packets"])
                taps.add_metric([*name, "recording"], slot.link.tap_bytes["recording_packets"])
            up.add_metric(name, 1 if slot.up else 0)
            meetings.add_metric(name, len(slot.meetings))
            restarts.add_metric(name, slot.restarts)
            if slot.load is not None:
                rate.add_metric(name, slot.load.forwarded_per_second)
                forwarded.add_metric(name, slot.load.packets_forwarded)
                cpu.add_metric(name, slot.load.cpu_seconds)
                legs.add_metric(name, slot.load.legs)
                relay_streams.add_metric(name, slot.load.relay_streams)
                relay_packets.add_metric(name, slot.load.relay_packets)
        yield from (up, rate, forwarded, cpu, meetings, legs, relay_streams, relay_packets)
        yield restarts
        yield taps
