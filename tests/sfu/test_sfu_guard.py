"""The datagram classifier and the drop log of hub/sfu/guard.py, as pure functions."""

from __future__ import annotations

import logging

from hypothesis import given
from hypothesis import strategies as st

from hub.sfu.guard import LOG_KEYS, MAX_DATAGRAM, DropLog, classify

STUN_BINDING = bytes.fromhex("000100002112a442") + bytes(12)


@given(st.binary(max_size=MAX_DATAGRAM + 100))
def test_classify_never_raises_and_passes_only_what_the_stack_can_take(data: bytes) -> None:
    reason = classify(data)
    if reason is None:
        assert 0 < len(data) <= MAX_DATAGRAM
        first = data[0]
        assert first < 4 or 19 < first < 64 or 127 < first < 192
        if first < 4:
            assert len(data) >= 20 and data[4:8] == b"\x21\x12\xa4\x42"
        elif first < 64:
            assert len(data) >= 13
        else:
            assert len(data) >= 12


def test_classify_names_each_reason() -> None:
    assert classify(b"") == "empty"
    assert classify(b"\x80" * (MAX_DATAGRAM + 1)) == "oversized"
    assert classify(STUN_BINDING) is None
    assert classify(STUN_BINDING[:19]) == "stun_truncated"
    assert classify(STUN_BINDING[:2] + b"\x00\x04" + STUN_BINDING[4:]) == "stun_malformed"
    assert classify(bytes(2) + bytes(2) + b"\x21\x12\xa4\x43" + bytes(12)) == "stun_malformed"
    assert classify(bytes([22]) + bytes(11)) == "dtls_truncated"
    assert classify(bytes([22]) + bytes(12)) is None
    assert classify(bytes([0x80, 96]) + bytes(9)) == "rtp_truncated"
    assert classify(bytes([0x80, 96]) + bytes(10)) is None
    assert classify(bytes([0x80, 200]) + bytes(9)) == "rtcp_truncated"
    assert classify(bytes([0x80, 200]) + bytes(10)) is None
    assert classify(b"\x80") == "rtp_truncated"
    for first in (4, 19, 64, 127, 192, 255):
        assert classify(bytes([first]) + bytes(30)) == "unknown_protocol"


def test_drops_are_counted_always_and_logged_once_per_reason_and_host_a_minute(caplog) -> None:
    now = [0.0]
    drops = DropLog(clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="hub.sfu.guard"):
        for _ in range(100):
            drops.drop("empty", ("192.0.2.1", 4000))
            drops.drop("empty", ("192.0.2.1", 4001))  # another port of the same host
        drops.drop("oversized", ("192.0.2.1", 4000))
        drops.drop("empty", ("192.0.2.2", 4000))
        now[0] = 59.0
        drops.drop("empty", ("192.0.2.1", 4000))
        now[0] = 61.0
        drops.drop("empty", ("192.0.2.1", 4000))
    assert drops.counts == {"empty": 203, "oversized": 1}
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4, lines
    assert all("Traceback" not in line for line in lines)
    assert lines[0].startswith("media datagram dropped: empty (from 192.0.2.1;")


def test_a_flood_from_many_hosts_is_counted_but_logs_a_bounded_number_of_lines(caplog) -> None:
    now = [0.0]
    drops = DropLog(clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="hub.sfu.guard"):
        for index in range(LOG_KEYS * 3):
            host = f"10.{index // 65536}.{index // 256 % 256}.{index % 256}"
            drops.drop("unknown_source", (host, 1))
        assert drops.counts["unknown_source"] == LOG_KEYS * 3
        assert len(caplog.records) == LOG_KEYS
        now[0] = 120.0  # the old entries are forgotten: a new host is logged again
        drops.drop("unknown_source", ("198.51.100.1", 1))
    assert len(caplog.records) == LOG_KEYS + 1
    assert "198.51.100.1" in caplog.records[-1].getMessage()


def test_a_full_log_table_is_not_rebuilt_for_every_new_host() -> None:
    """The reviewer's stall: with the table full, each datagram from a new host rebuilt it
    (888 µs each); now it is pruned at most once a second."""
    import time as clock

    now = [0.0]
    drops = DropLog(clock=lambda: now[0])
    for index in range(LOG_KEYS):
        drops.drop("unknown_source", (f"10.0.{index // 256}.{index % 256}", 1))
    now[0] = 1.5  # nothing old enough to forget: the table stays full
    started = clock.perf_counter()
    for index in range(5000):
        drops.drop("unknown_source", (f"10.1.{index // 256}.{index % 256}", 1))
    per_drop_us = (clock.perf_counter() - started) / 5000 * 1e6
    assert drops.counts["unknown_source"] == LOG_KEYS + 5000
    assert per_drop_us < 50, per_drop_us


def test_a_routine_drop_is_logged_at_info_and_an_odd_one_at_warning(caplog):
    drops = DropLog(clock=lambda: 0.0)
    with caplog.at_level(logging.INFO, logger="hub.sfu.guard"):
        drops.drop("srtp_without_dtls", ("192.0.2.7", 4000))  # a peer sending after a close
        drops.drop("unknown_source", ("192.0.2.8", 4000))
    levels = {
        record.getMessage().split(":")[1].split()[0]: record.levelname for record in caplog.records
    }
    assert levels == {"srtp_without_dtls": "INFO", "unknown_source": "WARNING"}
    assert drops.counts == {"srtp_without_dtls": 1, "unknown_source": 1}
