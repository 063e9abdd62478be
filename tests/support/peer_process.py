"""One aiortc participant in a process of its own, so a test can kill or freeze it:

    python -m tests.support.peer_process BASE_URL MEETING_ID NAME

It opens a guest session, joins, publishes, prints its participant id on the first line of
its output, and stays until it is stopped."""

from __future__ import annotations

import asyncio
import sys

import aiohttp

from tests.support.peer import Participant


async def main(base_url: str, meeting_id: str, name: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await http.get(f"{base_url}/", headers={"Accept": "text/html"})
        ws = await http.ws_connect(
            f"{base_url}/api/v1/meetings/{meeting_id}/ws", headers={"Origin": base_url}
        )
        person = Participant(ws, name)
        await person.join()
        await person.publish()
        print(person.participant_id, flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
