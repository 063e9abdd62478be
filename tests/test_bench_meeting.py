"""The meeting benchmark's pure parts: merging the workers' counts, and its table."""

from __future__ import annotations

import base64
from array import array
from typing import Any

from bench.sfu.meeting import lost_where, merge
from bench.sfu.person import AUDIO, SLOTS, VIDEO, slot
from bench.sfu.report import meeting_markdown


def _part(
    sent: dict[int, int], counts: dict[int, dict[int, int]], lat_us: list[int]
) -> dict[str, Any]:
    return {
        "sent": {str(i): n for i, n in sent.items()},
        "counts": {str(v): {str(i): n for i, n in row.items()} for v, row in counts.items()},
        "latencies_us": base64.b64encode(array("i", lat_us).tobytes()).decode(),
        "foreign": 1,
        "loop_lag_max_ms": 2.5,
    }


def test_merge_counts_every_pair_but_oneself_across_workers() -> None:
    # Three people: 0 and 2 in one worker, 1 in another. Each sends 10 audio, 20 video.
    sent = {slot(p, k): n for p in range(3) for k, n in ((AUDIO, 10), (VIDEO, 20))}

    def row(viewer: int) -> dict[int, int]:  # everything from everyone else
        return {i: n for i, n in sent.items() if i // SLOTS != viewer}

    lossy_row = row(2)
    lossy_row[slot(1, VIDEO)] = 15  # 2 lost 5 of 1's video packets
    first = _part(
        {i: n for i, n in sent.items() if i // SLOTS in (0, 2)},
        {0: row(0), 2: lossy_row},
        [1000, 3000],
    )
    second = _part({i: n for i, n in sent.items() if i // SLOTS == 1}, {1: row(1)}, [2000])

    merged = merge([first, second], people=3)

    assert merged["expected"] == 3 * 2 * 30  # each of 3 viewers, 2 publishers, 30 packets
    assert merged["forwarded"] == merged["expected"] - 5
    assert merged["video_loss_pct"] == round(100 * 5 / 120, 3)
    assert merged["audio_loss_pct"] == 0.0
    assert merged["worst_pair_loss_pct"] == 25.0
    assert merged["silent_pairs"] == 0
    assert merged["latency_p50_ms"] == 2.0
    assert merged["foreign_packets"] == 2


def test_merge_of_two_meetings_expects_only_pairs_within_each() -> None:
    # Four people in two meetings (one per SFU worker): 0 and 2 in one, 1 and 3 in the other.
    sent = {slot(p, k): n for p in range(4) for k, n in ((AUDIO, 10), (VIDEO, 20))}
    counts = {v: {i: n for i, n in sent.items() if i // SLOTS % 2 == v % 2 and i // SLOTS != v}
              for v in range(4)}  # fmt: skip
    part = _part(sent, counts, [1000])

    merged = merge([part], people=4, groups=2)

    assert merged["expected"] == 4 * 1 * 30  # each viewer, the one other person of its meeting
    assert merged["loss_pct"] == 0.0 and merged["silent_pairs"] == 0
    assert merge([part], people=4)["silent_pairs"] == 4 * 2 * 2  # one meeting: all missing


def test_merge_reports_a_pair_that_got_nothing() -> None:
    sent = {slot(0, AUDIO): 50, slot(0, VIDEO): 100, slot(1, AUDIO): 50, slot(1, VIDEO): 100}
    part = _part(sent, {0: {slot(1, AUDIO): 50, slot(1, VIDEO): 100}, 1: {slot(0, AUDIO): 50}}, [])

    merged = merge([part], people=2)

    assert merged["silent_pairs"] == 1
    assert merged["worst_pair_loss_pct"] == 100.0
    assert merged["loss_pct"] == round(100 * 100 / 300, 3)


def test_table_marks_where_an_sfu_collapsed() -> None:
    step = {
        "people": 4, "cpu_us_per_packet": 30.0, "loss_pct": 0.0, "latency_p50_ms": 1.0,
        "latency_p99_ms": 9.0, "sfu_cores": 0.2, "forwarded_pps": 2000.0,
        "audio_loss_pct": 0.0, "video_loss_pct": 0.0, "worst_pair_loss_pct": 0.0,
        "connect_s": 3.0, "sfu_kernel_pct": 20.0, "sfu_wait_cores": 0.1,
        "client_wait_cores": 0.0, "client_cores": 0.3, "client_worker_cores": [0.15, 0.15],
        "other_cores": 0.1, "sfu_udp_drops": 0, "client_udp_drops": 0, "latency_max_ms": 20.0,
    }  # fmt: skip
    data = {
        "meta": {
            "date": "2026-12-01 05:00",
            "quick": True,
            "cpu": "cpu",
            "cores": 2,
            "kernel": "k",
            "python": "3.11",
            "aiortc": "1.16",
            "address": "192.0.2.2",
            "clip": {"kbps": 1000, "pps": 115},
            "load_start": (1, 1, 1),
            "plan": {
                "people": [4, 8],
                "workers": 2,
                "window": 4.0,
                "max_other_cores": 0.25,
                "retries": 0,
            },
        },
        "hub": {
            "steps": [step, {"people": 8, "connect_error": "joins failed"}],
            "collapsed_at": 8,
            "collapse_reason": "joins failed",
        },
        "janus": {"steps": [step, {**step, "people": 8, "cpu_us_per_packet": 20.0}]},
    }

    table = meeting_markdown(data)

    assert "| 4 | 30.0 | 30.0 | 1.00 |" in table
    assert "| 8 | collapsed | 20.0 | – | collapsed | 0.00 |" in table
    assert "hub: collapsed at 8 people (joins failed)." in table


def test_losses_are_placed_where_the_sockets_dropped_them() -> None:
    step = {"expected": 1000, "forwarded": 400, "sfu_udp_drops": 0, "client_udp_drops": 0}
    assert lost_where(step).startswith("no socket overflow")
    at_client = {**step, "client_udp_drops": 500, "sfu_udp_drops": 20}
    assert lost_where(at_client).endswith("mostly the load generator fell behind, not the SFU")
    both = {**step, "client_udp_drops": 100, "sfu_udp_drops": 20}
    assert lost_where(both) == (
        "20 datagrams dropped at the SFU's sockets and 100 at the client's, "
        "the rest queued too long"
    )
