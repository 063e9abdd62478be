"""A Tchap room spanning two ministries, each with its own homeserver and its own hub.

Hub A (ministry A, its bot in process) and hub B (ministry B) federate; homeserver "other" is
ministry B's, and A's config says hub B serves it. A room on A's homeserver with a member from
B's homeserver starts a meeting: the bot gives B's people B's own link; Olga (homeserver B)
proves her Matrix identity to hub B, follows that link, and hub B vouches for her to hub A,
which lets her in as a member of the room, without lobby, shown with her ministry's label.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path

import aiohttp

from hub.web.keys import LIVE, ROOM_ROSTERS
from tests.bridge.people import Person, moderated_room
from tests.conftest import make_config
from tests.federation.conftest import partner_entry, serving
from tests.support.peer import Participant
from tests.support.processes import free_port
from tests.support.synapse import Synapse


async def test_members_of_a_partner_homeserver_join_through_their_own_hub(
    tmp_path: Path, synapse_pair: tuple[Synapse, Synapse]
) -> None:
    home, other = synapse_pair
    port_a, port_b = free_port(), free_port()
    bot = home.register(f"visio{secrets.token_hex(3)}")
    overrides = {s.server_name: s.url for s in synapse_pair}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    config_a = make_config(
        tmp_path / "a",
        server={"port": port_a},
        sfu={"candidate_addresses": ["127.0.0.1"]},
        federation={
            "server_name": "hub-a.test",
            "allow_private_networks": True,
            "partners": [
                partner_entry(
                    "hub-b.test", port_b, label="Finances", inbound_trusted=True,
                    outbound_allowed=True, matrix_homeservers=[other.server_name],
                )
            ],
        },
        matrix={
            "allowed_homeservers": [home.server_name],
            "homeserver_overrides": overrides,
            "bot_user_id": bot.user_id,
            "bot_homeserver_url": home.url,
            "bot_password": bot.password,
        },
    )  # fmt: skip
    config_b = make_config(
        tmp_path / "b",
        server={"port": port_b},
        sfu={"candidate_addresses": ["127.0.0.1"]},
        federation={
            "server_name": "hub-b.test",
            "allow_private_networks": True,
            "partners": [
                partner_entry("hub-a.test", port_a, label="Intérieur", outbound_allowed=True)
            ],
        },
        matrix={"allowed_homeservers": [other.server_name], "homeserver_overrides": overrides},
    )
    alice_account = home.register(f"alice{secrets.token_hex(3)}")
    olga_account = other.register(f"olga{secrets.token_hex(3)}")
    alice, olga = Person(home, alice_account), Person(other, olga_account)
    async with serving(config_a) as hub_a, serving(config_b) as hub_b:
        room = await alice.create_room(
            [bot.user_id, olga_account.user_id], **moderated_room(bot.user_id)
        )
        await olga.join(room)
        await alice.wait_membership(room, bot.user_id, "join")

        async def olga_in_roster() -> bool:
            return await hub_a[ROOM_ROSTERS].power([room], olga_account.user_id) is not None

        await alice.wait_until(olga_in_roster, "hub A knows Olga is in the room")
        started = await alice.say(room, "!visio start Comité interministériel")
        status = await alice.wait_reply(room, bot.user_id, started)
        found = re.search(r"Agents Finances : (\S+)", status)
        assert found, status
        partner_url = found.group(1)
        assert partner_url.startswith(f"http://127.0.0.1:{port_b}/f/hub-a.test/")
        meeting_id = partner_url.rsplit("/", 1)[1]

        # Olga proves who she is to her own hub (B), then follows B's link.
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port_b}", cookie_jar=jar) as http:
            home_page = await (await http.get("/", headers={"Accept": "text/html"})).text()
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', home_page)
            assert csrf
            issued = await asyncio.to_thread(other.openid_token, olga_account)
            login = await http.post(
                "/auth/matrix",
                json={k: issued[k] for k in ("access_token", "matrix_server_name")},
                headers={"X-CSRF-Token": csrf.group(1)},
            )
            assert login.status == 200, await login.text()
            mirrored = await http.get(
                f"/f/hub-a.test/{meeting_id}", headers={"Accept": "text/html"}
            )
            assert mirrored.status == 200 and mirrored.url.path == f"/m/{meeting_id}"

            # The meeting is restricted: Olga enters only as a member of the room, which
            # hub A knows from its bot, for a Matrix user of a homeserver hub B serves.
            call = Participant(await http.ws_connect(f"/api/v1/meetings/{meeting_id}/ws"), "Olga")
            try:
                welcome = await call.knock(audio=False, video=False)
                assert welcome["type"] == "welcome", welcome

                async def seen_on_a() -> dict[str, str]:  # B tells A right after the welcome
                    live = hub_a[LIVE].get(meeting_id)
                    return {p.name: p.identity for p in live.presences.values()} if live else {}

                names = await alice.wait_until(seen_on_a, "Olga in hub A's meeting")
                assert names == {
                    "Olga (Finances)": f"partner:matrix:{olga_account.user_id}@hub-b.test"
                }
                live_b = hub_b[LIVE].get(meeting_id)
                assert live_b is not None and len(live_b.presences) == 1
            finally:
                await call.close()
