"""SFU benchmark: the hub's packet-forwarding SFU side by side with Janus, same load, one run.

Entry point: ``python -m bench.sfu`` (see bench/README.md). Modules:

- ``system``: processes started and stopped by pid, CPU time from /proc, load, addresses.
- ``media``: the pre-encoded VP8 clip, the injecting publisher and the counting subscribers.
- ``hub``: the hub as a subprocess, its JSON API and WebSocket signaling.
- ``janus``: Janus as a subprocess with its own configuration, and its videoroom HTTP API.
- ``scenarios``: the measured cases, run identically against either SFU.
- ``browser``: join → first remote frame in Chromium (and with a decoding aiortc peer).
- ``profiling``: py-spy on the hub process, summarised into hot spots.
- ``report``: JSON and Markdown output.
"""
