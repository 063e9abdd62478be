"""What the hub's outgoing HTTP calls share (identity providers, Matrix homeservers): one
timeout, and a body reader that refuses answers past a size limit."""

from __future__ import annotations

import aiohttp

HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
CHUNK = 64 * 1024


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, however it arrives; ValueError past `limit` bytes (a trusted server is
    still not trusted blindly). aiohttp's errors pass through."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(CHUNK):
        size += len(chunk)
        if size > limit:
            raise ValueError(f"answer is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
