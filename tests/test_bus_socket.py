"""A page relayed from another node is read as a local socket is: one frame at a time, with a
bound on what may wait (hub/web/bus_socket.py)."""

from __future__ import annotations

from aiohttp import WSMsgType

from hub.web.bus_socket import MAX_WAITING, BusSocket


async def test_a_relayed_page_that_floods_the_home_ends_its_own_session():
    async def send(message: object) -> int:
        return 1

    socket = BusSocket("session", "node-b", send)
    for number in range(MAX_WAITING):
        socket.feed(f'{{"type":"ping","n":{number}}}')
    assert not socket.closed
    socket.feed('{"type":"ping"}')  # one more than the home has read
    assert socket.closed
    texts = []
    async for message in socket:
        assert message.type is WSMsgType.TEXT
        texts.append(message.data)
    assert len(texts) == MAX_WAITING  # what was waiting is still handled, then the end
    assert (await socket.receive()).type is WSMsgType.CLOSED
