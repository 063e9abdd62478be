"""Live subtitles measured end to end: spoken → shown latency, words found, and what the
speech worker and the hub cost per person speaking (`python -m bench.speech`)."""
