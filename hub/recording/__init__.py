"""Recordings: each published track written as it arrives (no transcoding), a manifest, the
stores they are kept in, their expiry, and the offline composition into one file."""
