"""Two aiortc participants meet on a running hub, as a program of its own.

Used by tests that must run the hub and its peers somewhere the test process is not, such as
inside a network namespace that has nothing but loopback. Prints one JSON line: what each
participant decoded from the other. Exit code 0 when video and audio crossed both ways.

    python -m tests.support.standalone_meeting http://127.0.0.1:8080 [--address 127.0.0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys

import aiohttp

from tests.support.peer import Participant, wait_until


async def meet(base_url: str, addresses: list[str], seconds: float) -> dict[str, int]:
    # unsafe=True: keep cookies from an IP-address host such as 127.0.0.1.
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=base_url, cookie_jar=jar) as http:
        home = await (await http.get("/", headers={"Accept": "text/html"})).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', home)
        if token is None:
            raise SystemExit("no CSRF token on the home page")
        created = await http.post(
            "/api/v1/meetings",
            json={"title": "Boucle locale", "access_level": "public"},
            headers={"X-CSRF-Token": token.group(1)},
        )
        meeting_id = (await created.json())["id"]
        people = []
        for name in ("Anne", "Bruno"):
            ws = await http.ws_connect(f"/api/v1/meetings/{meeting_id}/ws")
            person = Participant(ws, name, addresses)
            await person.join()
            await person.publish()
            people.append(person)
        anne, bruno = people
        counts = {
            "anne_video": lambda: anne.received.count(bruno.participant_id, "video"),
            "anne_audio": lambda: anne.received.count(bruno.participant_id, "audio"),
            "bruno_video": lambda: bruno.received.count(anne.participant_id, "video"),
            "bruno_audio": lambda: bruno.received.count(anne.participant_id, "audio"),
        }
        with contextlib.suppress(AssertionError):
            await wait_until(
                lambda: all(count() >= 10 for count in counts.values()),
                seconds,
                "media did not cross both ways",
            )
        result = {name: count() for name, count in counts.items()}
        for person in people:
            await person.close()
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument(
        "--address",
        action="append",
        default=[],
        help="host candidate address for the peers (default: aioice's choice)",
    )
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    result = asyncio.run(meet(args.base_url, args.address, args.seconds))
    print(json.dumps(result))
    return 0 if all(value >= 10 for value in result.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
