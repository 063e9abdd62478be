"""Selective forwarding unit: forwards RTP/RTCP between meeting participants without decoding."""
