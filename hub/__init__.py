"""Sovereign meeting hub: browser meetings on our own SFU, a Matrix bridge and federation."""

__version__ = "0.1.0"
