"""A meeting shared by two hubs, driven by aiortc participants through each hub's own socket.

Hub A ("Intérieur") hosts; hub B ("Finances") is an allow-listed partner whose people join
through their own hub (mirror, signed admission, cascade link). Both hubs run in this process
on real loopback ports with their own databases and keys; media crosses their two SFUs.
Covered: the host's lobby worked for a partner's person, media and chat both ways, a mute and a
removal by the host's moderator carried out by the partner's hub, the end of the meeting, and a
partner taken off the allow-list losing its link and its next join.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from hub.db.models import MeetingState
from hub.federation.cascade import CASCADE
from hub.ids import Identity, MeetingId, ServerName
from hub.meetings.invitations import parse_invitee
from hub.web.keys import FEDERATION, LIVE, MEETINGS, SFU
from hub.web.meeting_socket import say_farewell
from hub.web.ws import CLOSE_CODES
from tests.conftest import make_config
from tests.federation.conftest import partner_entry, serving, signed
from tests.support.hub_client import csrf_header
from tests.support.peer import Participant, wait_until
from tests.support.processes import free_port

A, B = "hub-a.test", "hub-b.test"


@dataclass
class Ministries:
    a: web.Application
    b: web.Application
    url_a: str
    url_b: str
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    async def browser(self, base_url: str) -> tuple[aiohttp.ClientSession, dict[str, str]]:
        """A new browser with a guest session on that hub, and its CSRF header."""
        http = aiohttp.ClientSession(base_url, cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.sessions.append(http)
        await http.get("/", headers={"Accept": "text/html"})
        app = self.a if base_url == self.url_a else self.b
        return http, csrf_header(app, http.cookie_jar, URL(base_url))

    @staticmethod
    async def socket(http: aiohttp.ClientSession, meeting_id: str, name: str) -> Participant:
        """`name`'s connection to the meeting, through the hub `http` talks to."""
        return Participant(await http.ws_connect(f"/api/v1/meetings/{meeting_id}/ws"), name)

    async def meeting_on_a(self, access_level: str) -> tuple[aiohttp.ClientSession, str]:
        http, csrf = await self.browser(self.url_a)
        created = await http.post(
            "/api/v1/meetings",
            json={"title": "Comité", "access_level": access_level},
            headers=csrf,
        )
        assert created.status == 201, await created.text()
        return http, (await created.json())["id"]

    async def person_on_b(self, meeting_id: str, name: str) -> Participant:
        """Someone of ministry B: B's link for A's meeting, then B's own socket."""
        http, _ = await self.browser(self.url_b)
        mirrored = await http.get(f"/f/{A}/{meeting_id}", headers={"Accept": "text/html"})
        assert mirrored.status == 200, await mirrored.text()
        return await self.socket(http, meeting_id, name)


@pytest.fixture
async def ministries(tmp_path: Path) -> AsyncIterator[Ministries]:
    port_a, port_b = free_port(), free_port()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    sfu = {"candidate_addresses": ["127.0.0.1"]}
    config_a = make_config(
        tmp_path / "a",
        server={"port": port_a},
        sfu=sfu,
        federation={"server_name": A, "allow_private_networks": True},
    )
    config_b = make_config(
        tmp_path / "b",
        server={"port": port_b},
        sfu=sfu,
        federation={
            "server_name": B,
            "allow_private_networks": True,
            "partners": [partner_entry(A, port_a, label="Intérieur", outbound_allowed=True)],
        },
    )
    async with serving(config_a) as app_a, serving(config_b) as app_b:
        # A lists B in its database, as `hub federation add` does: so it can be removed later.
        await app_a[FEDERATION].policy.add(B, f"http://127.0.0.1:{port_b}", label="Finances")
        setup = Ministries(app_a, app_b, f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}")
        try:
            yield setup
        finally:
            for http in setup.sessions:
                await http.close()


async def test_the_host_lobby_media_chat_and_moderation_cross_the_link(
    ministries: Ministries,
) -> None:
    owner_http, meeting_id = await ministries.meeting_on_a("restricted")
    anne = await ministries.socket(owner_http, meeting_id, "Anne")
    await anne.join()
    bruno = await ministries.person_on_b(meeting_id, "Bruno")
    try:
        # Restricted, not invited: Bruno waits in A's lobby, shown with his ministry.
        assert (await bruno.knock(message="Je remplace  Claire"))["type"] == "waiting"
        lobby = await anne.wait_for_any(("lobby",), after=1)
        while not lobby["entries"]:
            lobby = await anne.wait_for("lobby", after=anne.messages.index(lobby) + 1)
        [entry] = lobby["entries"]
        assert entry["name"] == "Bruno (Finances)" and entry["kind"] == "partner"
        assert entry["message"] == "Je remplace Claire"  # crossed with the admission request
        await anne.send({"type": "admit", "entry_id": entry["id"]})
        await bruno.admitted()
        joined = await anne.wait_for("participant_joined")
        assert joined["participant"]["name"] == "Bruno (Finances)"
        assert joined["participant"]["id"] == bruno.participant_id

        # Media both ways, through the two SFUs.
        await anne.publish()
        await bruno.publish()
        await wait_until(
            lambda: (
                anne.received.count(bruno.participant_id, "video") >= 10
                and bruno.received.count(anne.participant_id, "video") >= 10
                and bruno.received.count(anne.participant_id, "audio") >= 10
            ),
            20,
            "media did not cross the cascade both ways",
        )

        # Chat from B reaches A with the label.
        await bruno.send({"type": "chat", "text": "Bonjour de Bercy"})
        chat = await anne.wait_for("chat")
        assert (chat["name"], chat["text"]) == ("Bruno (Finances)", "Bonjour de Bercy")

        # A's owner mutes Bruno: B's hub tells him and stops his audio at B's SFU.
        seen = len(bruno.messages)
        await anne.send({"type": "mute", "participant_id": bruno.participant_id, "kind": "audio"})
        muted = await bruno.wait_for("muted", after=seen)
        assert muted == {"type": "muted", "kind": "audio", "by": "Anne (Intérieur)"}
        room_b = ministries.b[SFU].rooms[meeting_id]
        assert not room_b.participants[bruno.participant_id].audio
        # ... and A stops forwarding his audio at once, whatever B does with the order.
        room_a = ministries.a[SFU].rooms[meeting_id]
        bruno_on_a = [
            stream
            for member in room_a.participants.values()
            for stream in member.streams.values()
            if stream.participant_id == bruno.participant_id
        ]
        assert {(s.kind, s.forwarding) for s in bruno_on_a} == {("audio", False), ("video", True)}
        await wait_until(
            lambda: any(
                m["type"] == "participant_updated"
                and m["participant"]["id"] == bruno.participant_id
                and not m["participant"]["audio"]
                for m in anne.messages
            ),
            5,
            "A never heard that Bruno is muted",
        )

        # Removal: B's hub closes Bruno's socket; A sees him leave.
        seen = len(anne.messages)
        await anne.send({"type": "remove", "participant_id": bruno.participant_id})
        denied = await bruno.wait_for("denied")
        assert denied["reason"] == "removed"
        left = await anne.wait_for("participant_left", after=seen)
        assert left["participant_id"] == bruno.participant_id
    finally:
        await bruno.close()
        await anne.close()


async def test_the_end_reaches_the_partner_and_a_removed_partner_is_cut_off(
    ministries: Ministries,
) -> None:
    owner_http, meeting_id = await ministries.meeting_on_a("public")
    anne = await ministries.socket(owner_http, meeting_id, "Anne")
    await anne.join()
    bruno = await ministries.person_on_b(meeting_id, "Bruno")
    await bruno.join()
    await anne.wait_for("participant_joined")
    http_b, _ = await ministries.browser(ministries.url_b)

    # A takes B off its allow-list: B's link closes within the check interval, Bruno no longer
    # sees Anne, and a new person of B is refused with a clear reason.
    await ministries.a[FEDERATION].policy.remove(B)
    seen = len(bruno.messages)
    gone = await bruno.wait_for("participant_left", timeout=15, after=seen)
    assert gone["participant_id"] == anne.participant_id
    lost = await bruno.wait_for("cascade", after=seen)
    assert lost == {"type": "cascade", "state": "lost", "instance": "Intérieur"}
    # B's next attempt is refused (403): Bruno is told the meeting is closed to B, naming A,
    # and his socket closes with the code the page never reconnects on.
    ended = await bruno.wait_for("ended", timeout=10, after=seen)
    assert ended == {"type": "ended", "reason": "partner_removed", "instance": "Intérieur"}
    await wait_until(lambda: bruno.ws.closed, 5, "B did not close Bruno's socket")
    assert bruno.ws.close_code == CLOSE_CODES["ended"]
    assert ministries.b[LIVE].get(meeting_id) is None
    assert meeting_id not in ministries.b[CASCADE].outbound  # no reconnecting in the back
    # The page shows that final state with the host's label, in French or in English.
    for lang, heading, text in (
        ("fr", "Réunion fermée à notre ministère", "L'instance {instance}, qui accueille"),
        ("en", "Meeting closed to our ministry", "The {instance} instance, which hosts"),
    ):
        page = await (await http_b.get(f"/m/{meeting_id}?lang={lang}")).text()
        blob = re.search(r'<script type="application/json" id="i18n">(.*?)</script>', page, re.S)
        assert blob is not None
        strings = json.loads(blob.group(1))
        assert strings["meeting.partner_removed.heading"] == heading
        assert strings["meeting.partner_removed.text"].startswith(text)
    live_a = ministries.a[LIVE].get(meeting_id)
    assert live_a is not None and list(live_a.presences) == [anne.participant_id]
    http, _ = await ministries.browser(ministries.url_b)
    refused = await http.get(f"/f/{A}/{meeting_id}", headers={"Accept": "text/html"})
    assert refused.status == 403
    assert "L&#39;instance Intérieur refuse la nôtre" in await refused.text()
    # B still has its mirror from earlier: its page opens, and the join is refused.
    claire = await ministries.socket(http, meeting_id, "Claire")
    answer = await claire.knock()
    assert answer["type"] == "error" and answer["code"] == "forbidden", answer
    assert answer["message"] == "L'instance qui accueille la réunion refuse désormais la nôtre"
    await claire.close()
    await bruno.close()

    # With B back on the list, the end of A's meeting ends B's mirror for B's people.
    await ministries.a[FEDERATION].policy.add(B, ministries.url_b, label="Finances")
    dora = await ministries.person_on_b(meeting_id, "Dora")
    await dora.join()
    await anne.send({"type": "end_meeting"})
    assert (await dora.wait_for("ended"))["reason"] == "ended"
    mirror = await ministries.b[MEETINGS].get(meeting_id)
    assert mirror.state is MeetingState.ENDED and mirror.host_instance == A
    await dora.close()
    await anne.close()


async def test_a_host_that_restarts_tells_its_partners_people_who_come_back(
    ministries: Ministries,
) -> None:
    """SIGTERM on the host (its shutdown handler, run here in process): the host's own pages
    are told and closed with 1012; the partner's people see "<host> restarts", not a lost
    link, and the partner's link comes back by itself."""
    owner_http, meeting_id = await ministries.meeting_on_a("public")
    anne = await ministries.socket(owner_http, meeting_id, "Anne")
    await anne.join()
    bruno = await ministries.person_on_b(meeting_id, "Bruno")
    await bruno.join()
    await anne.wait_for("participant_joined")
    seen = len(bruno.messages)
    await say_farewell(ministries.a)
    assert (await anne.wait_for("restarting"))["type"] == "restarting"
    await wait_until(lambda: anne.ws.closed, 5, "A did not close Anne's socket")
    assert anne.ws.close_code == 1012
    told = await bruno.wait_for("cascade", timeout=10, after=seen)
    assert told == {"type": "cascade", "state": "restarting", "instance": "Intérieur"}
    back = await bruno.wait_for("cascade", timeout=15, after=bruno.messages.index(told) + 1)
    assert back == {"type": "cascade", "state": "restored", "instance": "Intérieur"}
    await bruno.close()
    await anne.close()


async def test_a_partners_person_who_left_while_the_host_restarted_is_out(
    ministries: Ministries,
) -> None:
    """The host hands its link over on SIGTERM (its people keep their presence rows for the
    link's return); Carla leaves during the gap. When the link is back, its roster has Bruno
    only: Carla's row is closed (attendance counts her out), Bruno's stays open."""
    owner_http, meeting_id = await ministries.meeting_on_a("public")
    anne = await ministries.socket(owner_http, meeting_id, "Anne")
    await anne.join()
    bruno = await ministries.person_on_b(meeting_id, "Bruno")
    await bruno.join()
    carla = await ministries.person_on_b(meeting_id, "Carla")
    await carla.join()
    await wait_until(lambda: sum(m["type"] == "participant_joined" for m in anne.messages) >= 2,
                     10, "Anne does not see both")  # fmt: skip
    meetings = ministries.a[MEETINGS]
    assert len(await meetings.open_presences_via(MeetingId(meeting_id), ServerName(B))) == 2
    seen = len(bruno.messages)
    await say_farewell(ministries.a)
    told = await bruno.wait_for("cascade", timeout=10, after=seen)
    assert told["state"] == "restarting", told
    await carla.close()
    back = await bruno.wait_for("cascade", timeout=15, after=bruno.messages.index(told) + 1)
    assert back["state"] == "restored", back

    async def open_rows() -> int:
        return len(await meetings.open_presences_via(MeetingId(meeting_id), ServerName(B)))

    deadline = asyncio.get_running_loop().time() + 5
    while await open_rows() != 1 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    assert await open_rows() == 1  # Bruno's
    await bruno.close()
    await anne.close()


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("partner:local:proconnect:AbC9@Hub-B.test", "partner:local:proconnect:AbC9@hub-b.test"),
        (
            "partner:matrix:@olga:other.test@hub-b.test:8443",
            "partner:matrix:@olga:other.test@hub-b.test:8443",
        ),
    ],
)
def test_a_partner_identity_can_be_invited_as_the_host_will_see_it(typed: str, stored: str) -> None:
    identity = Identity.vouched_by(typed.removeprefix("partner:").rsplit("@", 1)[0], ServerName(
        typed.rsplit("@", 1)[1].lower()))  # fmt: skip
    assert parse_invitee(typed) == stored == identity


async def test_a_partner_brings_only_people_we_admitted_and_only_their_streams(
    ministries: Ministries, caplog: pytest.LogCaptureFixture
) -> None:
    """A partner's link, spoken by hand. Knowing a meeting's id shows nothing of it; people
    we never admitted, people passed off as another hub's, streams and chat passed off as one
    of ours, and garbage are each refused with one log line; the link goes on, and opens
    once the partner brings someone we admitted."""
    owner_http, meeting_id = await ministries.meeting_on_a("public")
    anne = await ministries.socket(owner_http, meeting_id, "Anne")
    await anne.join()
    path = f"/_hub/federation/v1/meetings/{meeting_id}/link"
    keys = ministries.b[FEDERATION].keys
    http, _ = await ministries.browser(ministries.url_a)
    link = await http.ws_connect(path, headers=signed(keys, origin=B, destination=A, path=path))
    with pytest.raises(TimeoutError):  # no roster, no offer, no chat for a mere id
        await link.receive(timeout=1)

    def person(number: int, identity: str, name: str) -> dict[str, object]:
        return {
            "participant_id": f"4b0c1f0e-0000-4000-8000-00000000000{number}",
            "identity": identity, "name": name, "role": "owner", "audio": True, "video": True,
        }  # fmt: skip

    await link.send_str(json.dumps({"type": "joined", "presence": person(1, "local:x", "Mallory")}))
    third = person(2, "partner:local:boss@hub-c.test", "Boss")  # not B's to vouch for
    await link.send_str(json.dumps({"type": "joined", "presence": third}))
    await link.send_str("{not json")
    fake_sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    await link.send_str(json.dumps({"type": "offer", "sdp": fake_sdp, "streams": [
        {"mid": "0", "participant_id": anne.participant_id, "source": "camera", "kind": "video"}
    ]}))  # fmt: skip
    spoof = {"participant_id": anne.participant_id, "text": "je suis Anne", "at": "2026-11-22"}
    await link.send_str(json.dumps({"type": "chat", **spoof}))
    await wait_until(
        lambda: sum("cascade link:" in r.getMessage() for r in caplog.records) >= 4,
        5,
        "the refusals were not logged",
    )
    refusals = [r.getMessage() for r in caplog.records if "cascade link:" in r.getMessage()]
    assert refusals == [  # one line per kind of fault: the second "joined" adds none
        "cascade link: joined refused: this person was not admitted to the meeting",
        "cascade link: bad link message: link message is not JSON",
        "cascade link: offer refused: offer carries streams of people this link did not bring",
        "cascade link: chat refused: chat from someone this link did not bring",
    ]
    live = ministries.a[LIVE].get(meeting_id)
    assert live is not None and list(live.presences) == [anne.participant_id]
    assert not [m for m in anne.messages if m["type"] in ("participant_joined", "chat")]

    # B vouches for Zoé (a public meeting: she enters), then brings her: the link opens.
    admissions = f"/_hub/federation/v1/meetings/{meeting_id}/admissions"
    body = json.dumps({"identity": "local:zoe", "name": "Zoé", "authenticated": True}).encode()
    headers = signed(keys, origin=B, destination=A, method="POST", path=admissions, body=body)
    admitted = await http.post(admissions, data=body, headers=headers)
    assert (await admitted.json())["verdict"] == "enter"
    zoe = person(3, "local:zoe", "Zoé")
    await link.send_str(json.dumps({"type": "joined", "presence": zoe}))
    hello = json.loads((await link.receive(timeout=5)).data)
    assert hello["type"] == "hello" and [p["name"] for p in hello["presences"]] == ["Anne"]
    joined = await anne.wait_for("participant_joined")
    assert joined["participant"]["name"] == "Zoé (Finances)"
    assert joined["participant"]["role"] == "participant"  # our role, not the "owner" B sent
    await anne.send({"type": "chat", "text": "toujours là"})
    while (relayed := json.loads((await link.receive(timeout=5)).data))["type"] != "chat":
        pass
    assert relayed["text"] == "toujours là"
    await link.close()
    await anne.close()


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{", "admission: body: Invalid JSON"),
        (
            b'{"identity": "x", "name": "N", "authenticated": true}',
            "admission: identity: String should have at least 3 characters",
        ),
        (  # the partner may not choose the role: we do
            b'{"identity": "local:a", "name": "N", "authenticated": true, "role": "owner"}',
            "admission: role: Extra inputs are not permitted",
        ),
    ],
)
async def test_a_malformed_admission_is_refused_and_changes_nothing(
    ministries: Ministries, body: bytes, detail: str
) -> None:
    _, meeting_id = await ministries.meeting_on_a("restricted")
    path = f"/_hub/federation/v1/meetings/{meeting_id}/admissions"
    headers = signed(
        ministries.b[FEDERATION].keys, origin=B, destination=A, method="POST", path=path, body=body
    )
    http, _ = await ministries.browser(ministries.url_a)
    answer = await http.post(path, data=body, headers=headers)
    problem = await answer.json(content_type=None)
    assert (answer.status, problem["code"]) == (400, "bad_request"), problem
    assert problem["detail"].startswith(detail), problem["detail"]
    assert ministries.a[LIVE].get(meeting_id) is None  # nobody knocked, nothing opened


async def test_joining_a_mirror_of_a_meeting_the_host_ended_says_so(ministries: Ministries) -> None:
    owner_http, meeting_id = await ministries.meeting_on_a("public")
    http, _ = await ministries.browser(ministries.url_b)
    mirrored = await http.get(f"/f/{A}/{meeting_id}", headers={"Accept": "text/html"})
    assert mirrored.status == 200
    csrf = csrf_header(ministries.a, owner_http.cookie_jar, URL(ministries.url_a))
    ended = await owner_http.post(f"/api/v1/meetings/{meeting_id}/end", headers=csrf)
    assert ended.status == 200, await ended.text()
    # B never heard (nobody of B was in): its page opens, the join says why it cannot be.
    late = await ministries.socket(http, meeting_id, "Léa")
    answer = await late.knock()
    assert answer["type"] == "error" and answer["code"] == "not_found", answer
    assert answer["message"] == "Cette réunion est terminée chez l'instance qui l'accueille"
    await late.close()


async def test_a_partner_is_answered_in_the_language_its_person_reads(
    ministries: Ministries,
) -> None:
    """A refusal to a partner hub keeps its stable code and says its sentence in one language:
    the one the partner asks for (the person's, with Accept-Language), French by default."""
    client = ministries.b[FEDERATION].client
    path = "/_hub/federation/v1/meetings/zzz-zzzz-zzz"
    assert await client.request(A, "GET", path, None) == (404, {
        "status": 404, "code": "not_found", "title": "Introuvable",
        "detail": "Réunion introuvable"})  # fmt: skip
    status, answer = await client.request(A, "GET", path, None, "en")
    assert (status, answer["code"], answer["detail"]) == (404, "not_found", "No such meeting")


async def test_refusal_pages_speak_the_readers_language_and_name_the_partner(
    ministries: Ministries,
) -> None:
    """B's way into a partner's meeting (/f/…) when it cannot be: the page says why in French
    by default and in English when the browser or the language switch asks, naming the
    partner by its label (by its server name when it is no partner at all)."""
    _, meeting_id = await ministries.meeting_on_a("public")
    policy = ministries.b[FEDERATION].policy
    await policy.add("hub-c.test", f"http://127.0.0.1:{free_port()}", label="Justice",
                     outbound_allowed=True)  # fmt: skip
    await policy.add("hub-d.test", "http://127.0.0.1:9", label="Armées")  # not outbound
    http, _ = await ministries.browser(ministries.url_b)
    cases = [
        (f"/f/hub-x.test/{meeting_id}", 403, "Accès refusé", "Access denied",
         "hub-x.test n&#39;est pas une instance partenaire de la nôtre",
         "hub-x.test is not a partner of our instance"),
        (f"/f/hub-d.test/{meeting_id}", 403, "Accès refusé", "Access denied",
         "rejoindre les réunions de l&#39;instance Armées",
         "join the meetings of the Armées instance"),
        (f"/f/hub-c.test/{meeting_id}", 503, "Service indisponible", "Service unavailable",
         "L&#39;instance Justice, qui accueille cette réunion, ne répond pas correctement",
         "The Justice instance, which hosts this meeting, is not answering properly"),
        (f"/f/{A}/aaa-bbbb-ccc", 404, "Introuvable", "Not found",
         "L&#39;instance Intérieur n&#39;a pas de réunion à ce code",
         "The Intérieur instance has no meeting with this code"),
    ]  # fmt: skip
    for path, status, title_fr, title_en, french, english in cases:
        page = await http.get(path, headers={"Accept": "text/html"})
        text = await page.text()
        assert page.status == status, text
        assert f"<h1>{title_fr}</h1>" in text and french in text, text
        assert '<html lang="fr">' in text and english not in text
        asked = {"Accept": "text/html", "Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"}
        text = await (await http.get(path, headers=asked)).text()
        assert f"<h1>{title_en}</h1>" in text and english in text, text
        assert '<html lang="en">' in text and french not in text
    # The language switch (?lang=en, then its cookie) counts too, for JSON answers as well:
    # one language per answer, said in Content-Language, the code unchanged.
    await http.get(f"/f/hub-x.test/{meeting_id}?lang=en", headers={"Accept": "text/html"})
    text = await (await http.get(cases[0][0], headers={"Accept": "text/html"})).text()
    assert cases[0][5] in text
    answer = await http.get(cases[0][0], headers={"Accept": "application/json"})
    problem = await answer.json(content_type=None)
    assert (problem["code"], answer.headers["Content-Language"]) == ("forbidden", "en")
    assert (problem["title"], problem["detail"]) == ("Access denied", (
        "hub-x.test is not a partner of our instance: our people cannot join its meetings. If "
        "it should be one, ask your ministry's operations team to add it."
    ))  # fmt: skip
