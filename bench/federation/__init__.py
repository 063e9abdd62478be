"""`python -m bench.federation [--rounds N]`: what one cascade hop costs a meeting (issue 6).

Two real hubs on loopback (`python -m hub serve --dev`, each in its own folder with its own
SQLite database and signing key, partners both ways, SFU candidates 127.0.0.1): A hosts a
public meeting, B mirrors it for its own people and cascades it from A's SFU. Every person is
an aiortc peer speaking the hub's WebSocket protocol (tests/support/peer.py), all in this one
process and on one clock. Anne, on A, publishes a tone and a 640×480 30 fps VP8 clip encoded
once at start (≈ 1 Mbit/s, ≈ 110 packets/s) that her sender replays without an encoder,
restarting at its keyframe on every PLI/FIR as an encoder would.

1. Join → first remote frame. Each round a new guest opens the meeting's page (on B:
   GET /f/<A>/<id>, which mirrors the meeting by a signed request to A), connects its
   WebSocket and joins; the clock runs from sending `join` to the first frame of Anne's video
   that aiortc decodes. Paths, side by side in one run: directly on A (one SFU: the
   reference); through B as B's only person (the cascade link opens with the join and closes
   when they leave: B's log counts the openings); through B while one of B's people stays
   in (the link is up already). Direct and cold rounds alternate, after one unmeasured
   warm-up round of each; every guest leaves, the hubs are back to their previous
   participants and 0.5 s pass before the next round. p50/p99 per path, ratios to direct, the
   p50 of each step, and where the time went in each path's median and slowest round: the
   guest's own marks (welcome, subscribe offer, connection up, first RTP), B's log (link up)
   and Anne's sender (each keyframe request it got, each keyframe it sent).
2. One cascade hop per packet. RA joins on A, RB through B. The RTP receiver of Anne's video
   at each (aiortc's `RTCRtpReceiver._handle_rtp_packet`: decrypted, parsed, before the
   jitter buffer) is wrapped to note time.perf_counter() per payload hash, and so is Anne's
   DTLS transport (`_send_rtp`: just before SRTP). SFUs rewrite headers, never payloads, so
   one payload is one packet everywhere. Over ≥ 2000 of Anne's video packets: t_RB − t_RA
   (the hop: A's link leg, loopback, B's SFU), and for context t_RA − t_sent (one SFU) and
   t_RB − t_sent (two). Target (issue 6): hop p50 < 5 ms on loopback.

Prints a Markdown report and writes it to bench/results/federation.md; both hubs are stopped
by pid at the end, whatever happened. With 20 rounds, p99 is the slowest round.

Entry point: ``python -m bench.federation`` (see bench/README.md). Modules:

- ``hubs``: the two hub processes, their folders, keys and partner configuration.
- ``clip``: Anne's pre-encoded VP8 clip and the track and sender that publish it.
- ``timing``: the timing hooks (Anne's sender, the guests' receivers and messages), the
  join rounds, the cascade hop and the cores used: the measured figures.
- ``report``: the Markdown report.

Its modules import each other relatively: bench/ has no ``__init__.py``, and with absolute
imports ``mypy --strict bench/federation`` would see each file under two module names.
"""
