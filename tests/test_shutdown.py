"""SIGTERM with a live meeting: every page is told, its socket closes with a code that makes
it come back, the process exits within `server.shutdown_timeout`, and what was stored stays."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import aiohttp
from yarl import URL

from tests.support.hub_client import codec_csrf_header
from tests.support.served_hub import served_hub

SHUTDOWN_TIMEOUT = 5.0


async def test_sigterm_tells_every_page_and_exits_within_the_shutdown_timeout(tmp_path):
    with served_hub(tmp_path, server={"shutdown_timeout": SHUTDOWN_TIMEOUT}) as hub:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            await http.get(f"{hub.url}/", headers={"Accept": "text/html"})
            csrf = codec_csrf_header(hub.codec, jar, URL(hub.url))
            created = await http.post(
                f"{hub.url}/api/v1/meetings",
                json={"title": "Réunion du matin", "access_level": "public"},
                headers=csrf,
            )
            assert created.status == 201, await created.text()
            meeting_id = (await created.json())["id"]
            sockets = []
            for name in ("Anne", "Bruno"):
                ws = await http.ws_connect(f"{hub.url}/api/v1/meetings/{meeting_id}/ws")
                await ws.send_str(json.dumps({"type": "join", "name": name, "audio": False,
                                              "video": False}))  # fmt: skip
                welcome = json.loads((await ws.receive(timeout=10)).data)
                assert welcome["type"] == "welcome"
                sockets.append(ws)
            process = hub.process
            asked = time.monotonic()
            process.send_signal(signal.SIGTERM)
            for ws in sockets:
                seen = []
                while True:
                    frame = await ws.receive(timeout=SHUTDOWN_TIMEOUT)
                    if frame.type != aiohttp.WSMsgType.TEXT:
                        break
                    seen.append(json.loads(frame.data)["type"])
                assert "restarting" in seen, seen
                assert ws.close_code == 1012  # "service restart": the page comes back
            while process.poll() is None and time.monotonic() - asked < SHUTDOWN_TIMEOUT + 5:
                await asyncio.sleep(0.05)
            exited_after = time.monotonic() - asked
            print(f"\nexited {exited_after:.2f} s after SIGTERM, code {process.returncode}")
            assert process.returncode == 0
            assert exited_after < SHUTDOWN_TIMEOUT
    assert "restarts" in hub.log_path.read_text()
    with served_hub(tmp_path) as again:  # the same folder: the meeting is still there
        async with aiohttp.ClientSession() as http:
            page = await http.get(f"{again.url}/m/{meeting_id}", headers={"Accept": "text/html"})
            assert page.status == 200
            assert "Réunion du matin" in await page.text()
