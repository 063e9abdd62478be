"""Per-subscriber rewriting of RTP sequence numbers and timestamps onto one outgoing stream.

An SFU sends each subscriber one outgoing SSRC per track, but what feeds it changes: a
publisher reconnects with a new SSRC, a simulcast layer switch picks another encoding, or
the SFU mutes the track and stops forwarding. The subscriber's jitter buffer and NACK logic
must still see one stream: sequence numbers that step by one per packet the SFU means to
send, and timestamps that keep moving forward. `StreamRewriter` maintains that illusion.

Design
------
*Extended numbers.* Incoming sequence numbers are unwrapped to unbounded integers relative
to the highest one seen from the current source (RFC 3550 appendix A.1), so 65535 -> 0 is
just +1. Outgoing numbers are unbounded too and masked to 16 bits only on output; the same
holds for timestamps modulo 2^32.

*Mapping.* Within one source, ``out = in + base - (number of closed drops below in)``. With
no drops this is a constant offset, so a late or retransmitted packet maps to the very slot
it would have had in order, and a packet lost upstream leaves a one-slot gap that the
subscriber NACKs; `incoming_sequence` turns that NACK back into the publisher's number.
Timestamps use a constant offset per source.

*Drops.* When the SFU decides not to forward a packet (muted track, filtered temporal
layer) it calls `drop`. If no later packet of the source has been sent yet, the drop is
"closed": every later packet moves down one slot, so the subscriber sees no gap and does
not NACK. If a later packet was already sent (the dropped one arrived late), its slot is
left empty; renumbering packets already sent is impossible. Timestamps are not adjusted:
they keep following the media clock, which is what receivers expect after a pause (DTX).

*Source switches.* A packet from another SSRC, or a forward jump of `max_dropout` or more
on the same SSRC (publisher restart), starts a new source whose first packet takes the
slot after the last one allocated, and whose timestamp offset is chosen so that its first
timestamp is the last sent one plus the wall-clock time elapsed since it was sent
(`now`, in seconds, passed by the caller: the class does no I/O and reads no clock), at
least one tick. A jump backwards beyond the reorder window is ambiguous (stray old packet
or restart with a lower number), so as in RFC 3550 it is only believed when the next
packet follows it in sequence; the first of the two then keeps its slot open so that a
retransmission can still fill it. The previous source is kept so its late packets (e.g.
retransmissions arriving after a simulcast switch) still map to their original slots.

*Window.* Late packets, duplicates and translations are honoured for the last
`reorder_window` incoming sequence numbers of a source; anything older is dropped.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import NamedTuple

__all__ = ["Rewritten", "StreamRewriter"]

_SEQ_MASK = 0xFFFF
_TS_MASK = 0xFFFFFFFF
# Largest timestamp jump made at a source switch: well inside half the 32-bit ring, so that
# receivers comparing timestamps modulo 2^32 still see time moving forward.
_MAX_TS_GAP = 1 << 30


def _seq_delta(seq: int, reference: int) -> int:
    """Signed distance from `reference` (extended) to 16-bit `seq`, in [-32768, 32767]."""
    return ((seq - reference + 0x8000) & _SEQ_MASK) - 0x8000


class Rewritten(NamedTuple):
    """Outgoing numbers for one packet; `duplicate` if that packet was already forwarded."""

    sequence_number: int
    timestamp: int
    duplicate: bool


class _Source:
    """Mapping state for one incoming source instance (one SSRC until it restarts)."""

    __slots__ = (
        "drops",
        "first_in",
        "first_out",
        "last_forwarded_in",
        "max_in",
        "seen",
        "seq_base",
        "ssrc",
        "ts_offset",
    )

    def __init__(
        self, ssrc: int, first_in: int, seq_base: int, ts_offset: int, ring_size: int
    ) -> None:
        self.ssrc = ssrc
        # Extended incoming number of the first packet; earlier ones would collide with the
        # slots of the previous source, so they are refused.
        self.first_in = first_in
        self.first_out = first_in + seq_base
        # Highest extended incoming number seen (sent or dropped) and highest one sent.
        self.max_in = first_in - 1
        self.last_forwarded_in = first_in - 1
        self.seq_base = seq_base
        # Sorted extended incoming numbers of closed drops inside the window; older ones
        # are folded into seq_base.
        self.drops: list[int] = []
        self.ts_offset = ts_offset
        # Ring indexed by extended number & mask holding ext * 2 + dropped, -1 when empty;
        # storing the full number makes stale entries from a previous lap never match.
        self.seen = [-1] * ring_size

    def out_of(self, in_ext: int) -> int:
        """Extended outgoing number for extended incoming number `in_ext`."""
        drops = self.drops
        if not drops or in_ext > drops[-1]:
            return in_ext + self.seq_base - len(drops)
        return in_ext + self.seq_base - bisect_left(drops, in_ext)

    def in_of(self, out_ext: int) -> int:
        """Inverse of `out_of` for a slot that is not a closed drop's."""
        in_ext = out_ext - self.seq_base
        # Each closed drop at or below the candidate pushes it one further.
        for dropped in self.drops:
            if dropped > in_ext:
                break
            in_ext += 1
        return in_ext

    def next_out(self) -> int:
        """Slot the next new packet of this source would take."""
        return self.out_of(self.max_in + 1)


class StreamRewriter:
    """Map packets of changing incoming sources onto one outgoing SSRC's number spaces.

    Call `rewrite` for each packet the SFU forwards to this subscriber and `drop` for each
    one it withholds; both must see the packets in arrival order. See the module docstring
    for the design. Pure: no I/O, no clock, no randomness (pass random `first_sequence` /
    `first_timestamp` if you want RFC 3550's random initial values).
    """

    def __init__(
        self,
        ssrc: int,
        clock_rate: int,
        *,
        first_sequence: int | None = None,
        first_timestamp: int | None = None,
        reorder_window: int = 1024,
        max_dropout: int = 3000,
    ) -> None:
        """Create a rewriter for outgoing `ssrc` at `clock_rate` Hz.

        `first_sequence` / `first_timestamp` are the outgoing values of the very first
        packet; None keeps the first source's own numbers. `reorder_window` is how far back
        (in packets) late packets, duplicates and translations are honoured; `max_dropout`
        is the forward jump on one SSRC treated as a publisher restart.
        """
        if not 0 <= ssrc <= _TS_MASK:
            raise ValueError(f"SSRC {ssrc} is out of range 0-{_TS_MASK}")
        if clock_rate <= 0:
            raise ValueError(f"clock rate {clock_rate} must be positive")
        if first_sequence is not None and not 0 <= first_sequence <= _SEQ_MASK:
            raise ValueError(f"first sequence number {first_sequence} is out of range 0-65535")
        if first_timestamp is not None and not 0 <= first_timestamp <= _TS_MASK:
            raise ValueError(f"first timestamp {first_timestamp} is out of range 0-{_TS_MASK}")
        if not 1 <= reorder_window <= 16384:
            raise ValueError(f"reorder window {reorder_window} is out of range 1-16384")
        if not 1 <= max_dropout <= 32768:
            raise ValueError(f"max dropout {max_dropout} is out of range 1-32768")
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self._first_sequence = first_sequence
        self._first_timestamp = first_timestamp
        self._window = reorder_window
        self._max_dropout = max_dropout
        self._ring_size = 1 << (reorder_window - 1).bit_length()
        self._mask = self._ring_size - 1
        self._current: _Source | None = None
        self._previous: _Source | None = None
        # Outgoing timestamp of the newest packet sent, and when: the anchor for switches.
        self._last_out_ts: int | None = None
        self._last_now = 0.0
        # Backward jump awaiting confirmation: (ssrc, seq, timestamp, now).
        self._probation: tuple[int, int, int, float] | None = None
        # Number of source switches so far, for stats and tests.
        self.switches = 0

    @property
    def source_ssrc(self) -> int | None:
        """SSRC of the source currently mapped, None before the first packet."""
        return None if self._current is None else self._current.ssrc

    def rewrite(
        self, ssrc: int, sequence_number: int, timestamp: int, now: float
    ) -> Rewritten | None:
        """Return outgoing numbers for a packet to forward, or None if it must not be sent.

        None means: older than the window, from before the current source's first packet,
        a copy of a packet that was dropped, or an unconfirmed backward jump. A packet
        already forwarded comes back with the same numbers and `duplicate=True`, so the
        caller can decide whether to send it again (e.g. it answers a NACK).
        """
        return self._process(ssrc, sequence_number, timestamp, now, True)

    def drop(self, ssrc: int, sequence_number: int, timestamp: int, now: float) -> None:
        """Record a packet the SFU withholds so that the outgoing numbering skips it."""
        self._process(ssrc, sequence_number, timestamp, now, False)

    def _process(
        self, ssrc: int, seq: int, timestamp: int, now: float, forward: bool
    ) -> Rewritten | None:
        src = self._current
        if src is not None and src.ssrc == ssrc:
            delta = _seq_delta(seq, src.max_in)
            if delta > 0:
                if delta < self._max_dropout:
                    if self._probation is not None:
                        # RFC 3550: a restart needs two packets in a row; this broke the run.
                        self._probation = None
                    return self._accept(src, src.max_in + delta, timestamp, now, forward, True)
                # A jump this far forward on one SSRC is a restarted publisher.
                src = self._switch(ssrc, seq, timestamp, now)
                return self._accept(src, src.first_in, timestamp, now, forward, True)
            if -delta < self._window:
                return self._accept(src, src.max_in + delta, timestamp, now, forward, True)
            probation = self._probation
            if (
                probation is not None
                and probation[0] == ssrc
                and probation[1] == ((seq - 1) & _SEQ_MASK)
            ):
                # Second packet in sequence after a backward jump: the source restarted.
                # It starts at the first of the two, whose slot stays open for a resend.
                _, first_seq, first_ts, first_now = probation
                src = self._switch(ssrc, first_seq, first_ts, first_now)
                return self._accept(src, src.first_in + 1, timestamp, now, forward, True)
            self._probation = (ssrc, seq, timestamp, now)
            return None
        previous = self._previous
        if src is not None and previous is not None and previous.ssrc == ssrc:
            delta = _seq_delta(seq, previous.max_in)
            if delta <= 0:
                # Late packet of the source we switched away from: keep its old slot.
                if -delta < self._window:
                    return self._accept(
                        previous, previous.max_in + delta, timestamp, now, forward, False
                    )
                return None
        src = self._switch(ssrc, seq, timestamp, now)
        return self._accept(src, src.first_in, timestamp, now, forward, True)

    def _switch(self, ssrc: int, first_seq: int, timestamp: int, now: float) -> _Source:
        """Start mapping a new source whose first packet has `first_seq` / `timestamp`."""
        current = self._current
        if current is not None:
            seq_base = current.next_out() - first_seq
        elif self._first_sequence is not None:
            seq_base = self._first_sequence - first_seq
        else:
            seq_base = 0
        if self._last_out_ts is not None:
            ticks = round((now - self._last_now) * self.clock_rate)
            ticks = min(max(ticks, 1), _MAX_TS_GAP)
            ts_offset = (self._last_out_ts + ticks - timestamp) & _TS_MASK
        elif self._first_timestamp is not None:
            ts_offset = (self._first_timestamp - timestamp) & _TS_MASK
        else:
            ts_offset = 0
        source = _Source(ssrc, first_seq, seq_base, ts_offset, self._ring_size)
        if current is not None:
            self.switches += 1
        self._previous = current
        self._current = source
        self._probation = None
        return source

    def _accept(
        self,
        src: _Source,
        in_ext: int,
        timestamp: int,
        now: float,
        forward: bool,
        is_current: bool,
    ) -> Rewritten | None:
        """Map (or drop) packet `in_ext` of `src`, which the caller placed in the window."""
        if in_ext < src.first_in:
            return None
        seen = src.seen
        slot = in_ext & self._mask
        tag = seen[slot]
        if tag >> 1 == in_ext:
            if tag & 1 or not forward:
                return None
            return Rewritten(
                src.out_of(in_ext) & _SEQ_MASK, (timestamp + src.ts_offset) & _TS_MASK, True
            )
        if in_ext > src.max_in:
            src.max_in = in_ext
        if not forward:
            seen[slot] = in_ext * 2 + 1
            # Close the slot only if nothing after it was sent yet; the previous source's
            # slots are frozen because the current source's numbering starts right after.
            if is_current and in_ext > src.last_forwarded_in:
                insort(src.drops, in_ext)
                self._prune_drops(src)
            return None
        seen[slot] = in_ext * 2
        out_ts = (timestamp + src.ts_offset) & _TS_MASK
        out = src.out_of(in_ext)
        if in_ext > src.last_forwarded_in:
            src.last_forwarded_in = in_ext
            if is_current:
                self._last_out_ts = out_ts
                self._last_now = now
        return Rewritten(out & _SEQ_MASK, out_ts, False)

    def _prune_drops(self, src: _Source) -> None:
        """Fold drops below the window into the base offset to bound the list."""
        low = src.max_in - self._window + 1
        drops = src.drops
        if drops and drops[0] < low:
            count = bisect_left(drops, low)
            del drops[:count]
            src.seq_base -= count

    def outgoing_sequence(self, ssrc: int, sequence_number: int) -> int | None:
        """Outgoing number of incoming packet (ssrc, sequence_number), None if it has none.

        Gives the reserved slot of a packet not received yet (lost upstream) too; None for
        dropped packets, packets outside the window and sources no longer mapped.
        """
        for src in (self._current, self._previous):
            if src is None or src.ssrc != ssrc:
                continue
            delta = _seq_delta(sequence_number, src.max_in)
            in_ext = src.max_in + delta
            if delta > 0 or -delta >= self._window or in_ext < src.first_in:
                continue
            if src.seen[in_ext & self._mask] == in_ext * 2 + 1:
                return None
            return src.out_of(in_ext) & _SEQ_MASK
        return None

    def incoming_sequence(self, sequence_number: int) -> tuple[int, int] | None:
        """Incoming (ssrc, sequence number) behind an outgoing number, e.g. a subscriber NACK.

        None for slots not allocated yet, slots older than the window, slots of dropped
        packets and slots of sources no longer mapped.
        """
        current = self._current
        if current is None:
            return None
        top = current.next_out()
        out_ext = top - 1 + _seq_delta(sequence_number, top - 1)
        if out_ext >= top:
            return None
        src = current
        if out_ext < current.first_out:
            if self._previous is None or out_ext < self._previous.first_out:
                return None
            src = self._previous
        in_ext = src.in_of(out_ext)
        if in_ext <= src.max_in - self._window or in_ext > src.max_in:
            return None
        if src.seen[in_ext & self._mask] == in_ext * 2 + 1:
            return None
        return src.ssrc, in_ext & _SEQ_MASK

    def translate_timestamp(self, timestamp: int, ssrc: int | None = None) -> int | None:
        """Outgoing RTP timestamp for an incoming one, e.g. to rewrite a sender report.

        Uses the current source, or the one with `ssrc` if given (current or previous);
        None if no such source is mapped.
        """
        for src in (self._current, self._previous):
            if src is not None and (ssrc is None or src.ssrc == ssrc):
                return (timestamp + src.ts_offset) & _TS_MASK
        return None
