"""Matrix OpenID verification against real Synapse homeservers: real tokens prove their user,
anything else is refused with the right error, and the token never reaches the log."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from hub.auth.matrix_openid import (
    ParsedServerName,
    federation_url,
    parse_server_name,
    parse_user_id,
    parse_well_known,
)
from hub.auth.matrix_openid import verify_openid as real_verify_openid
from hub.config import HubConfig, load_config
from hub.errors import BadRequest, ConfigError, Forbidden, ServiceUnavailable, Unauthorized
from tests.conftest import make_config
from tests.support.processes import free_port
from tests.support.synapse import Synapse

QUICK = aiohttp.ClientTimeout(total=1)


class CountingSession:
    """An aiohttp session that counts the requests it starts (to prove none were made)."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def __aenter__(self) -> aiohttp.ClientSession:
        trace = aiohttp.TraceConfig()

        async def on_start(
            session: object, context: object, params: aiohttp.TraceRequestStartParams
        ) -> None:
            self.requests.append(str(params.url.with_query(None)))

        trace.on_request_start.append(on_start)
        self.session = aiohttp.ClientSession(trace_configs=[trace])
        return self.session

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def verify_openid(http, token: str, server_name: str, **options):
    """The real check, with the claimed server allowed unless a test says otherwise."""
    options.setdefault("allowed_homeservers", (server_name,))
    return await real_verify_openid(http, token, server_name, **options)


async def test_no_homeserver_is_contacted_unless_the_operator_listed_it(http):
    with pytest.raises(Forbidden):
        await real_verify_openid(
            http, "sometoken", "localhost:1", overrides={"localhost:1": "http://127.0.0.1:1"},
            allowed_homeservers=(),
        )  # fmt: skip


def overrides_for(*servers: Synapse) -> dict[str, str]:
    return {server.server_name: server.url for server in servers}


async def test_real_token_proves_its_user(synapse: Synapse, http, caplog):
    caplog.set_level(logging.DEBUG)
    user = synapse.register(f"alice{secrets.token_hex(3)}")
    issued = synapse.openid_token(user)
    assert issued["matrix_server_name"] == synapse.server_name

    began = time.perf_counter()
    user_id = await verify_openid(
        http, issued["access_token"], synapse.server_name, overrides=overrides_for(synapse)
    )
    elapsed = time.perf_counter() - began

    assert user_id == user.user_id
    assert user_id.endswith(f":localhost:{synapse.port}")
    assert elapsed < 2, f"verification took {elapsed:.3f} s"
    assert issued["access_token"] not in caplog.text


async def test_forged_token_is_refused_and_not_logged(synapse: Synapse, http, caplog):
    caplog.set_level(logging.DEBUG)
    forged = secrets.token_urlsafe(18)
    with pytest.raises(Unauthorized) as caught:
        await verify_openid(http, forged, synapse.server_name, overrides=overrides_for(synapse))
    assert caught.value.said("en") == "Matrix OpenID token refused or expired"
    assert caught.value.detail == "Jeton Matrix OpenID refusé ou expiré"  # what the log says
    assert forged not in caplog.text
    assert forged not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


async def test_client_access_token_is_not_an_openid_token(synapse: Synapse, http):
    user = synapse.register(f"bob{secrets.token_hex(3)}")
    with pytest.raises(Unauthorized):
        await verify_openid(
            http, user.access_token, synapse.server_name, overrides=overrides_for(synapse)
        )


async def test_token_of_one_server_presented_as_the_other_is_refused(
    synapse_pair: tuple[Synapse, Synapse], http
):
    first, second = synapse_pair
    user = first.register(f"carol{secrets.token_hex(3)}")
    token = first.openid_token(user)["access_token"]
    overrides = overrides_for(first, second)

    assert await verify_openid(http, token, first.server_name, overrides=overrides) == user.user_id
    # The second server does not know the token.
    with pytest.raises(Unauthorized, match="Jeton Matrix OpenID refusé ou expiré"):
        await verify_openid(http, token, second.server_name, overrides=overrides)
    # A route to the wrong server (bad DNS, hostile override) answers for the first server's
    # user: the `sub` does not belong to the server name claimed, so it is refused.
    crossed = {second.server_name: first.url}
    with pytest.raises(Unauthorized, match="ne correspond pas au serveur"):
        await verify_openid(http, token, second.server_name, overrides=crossed)


async def test_server_outside_allowed_homeservers_is_refused_without_a_request(
    synapse: Synapse,
):
    user = synapse.register(f"dave{secrets.token_hex(3)}")
    token = synapse.openid_token(user)["access_token"]
    counter = CountingSession()
    async with counter as session:
        with pytest.raises(Forbidden):
            await verify_openid(
                session,
                token,
                synapse.server_name,
                overrides=overrides_for(synapse),
                allowed_homeservers=("agent.tchap.gouv.fr",),
            )
        assert (
            await verify_openid(
                session,
                token,
                synapse.server_name,
                overrides=overrides_for(synapse),
                allowed_homeservers=(synapse.server_name,),
            )
            == user.user_id
        )
    assert len(counter.requests) == 1


@pytest.mark.parametrize(
    "server_name",
    [
        "",
        "evil.example/path",
        "user@evil.example",
        "evil.example:443@victim.example",
        "https://evil.example",
        "evil.example:0",
        "evil.example:08448",
        "evil.example:65536",
        "evil.example:80a",
        "evil.example?x=1",
        "evil.example#frag",
        "evil example",
        "a" * 256,
        "[::1",
        "[not-ipv6]:8448",
        "[fe80::1%eth0]",
        "[::1]x",
        "1.2.3",
        "-leading.example",
        "double..dot",
        "évian.example",
    ],
)
async def test_malformed_server_name_is_refused_before_any_request(server_name):
    counter = CountingSession()
    async with counter as session:
        with pytest.raises(BadRequest, match="matrix_server_name: "):
            await verify_openid(
                session,
                "sometoken",
                server_name,
                overrides={server_name: "http://127.0.0.1:1"},
            )
    assert counter.requests == []


@pytest.mark.parametrize("token", ["", "with space", "a" * 1025, "new\nline", "é"])
async def test_malformed_token_is_refused_before_any_request(token):
    counter = CountingSession()
    async with counter as session:
        with pytest.raises(Unauthorized):
            await verify_openid(session, token, "localhost:1", overrides={})
    assert counter.requests == []


async def test_unreachable_homeserver_is_unavailable(http):
    closed = free_port()
    with pytest.raises(ServiceUnavailable, match="injoignable : localhost:1234") as caught:
        await verify_openid(
            http,
            "sometoken",
            "localhost:1234",
            overrides={"localhost:1234": f"http://127.0.0.1:{closed}"},
        )
    # aiohttp's error (which may quote the URL, hence the token) is not chained.
    assert caught.value.__suppress_context__ and caught.value.__cause__ is None


async def test_silent_homeserver_times_out_as_unavailable(http):
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(30)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    began = time.monotonic()
    try:
        with pytest.raises(ServiceUnavailable):
            await verify_openid(
                http,
                "sometoken",
                "localhost:1234",
                overrides={"localhost:1234": f"http://127.0.0.1:{port}"},
                http_timeout=QUICK,
            )
    finally:
        server.close()
    assert time.monotonic() - began < 5


def _fake_homeserver(handler) -> web.Application:
    app = web.Application()
    app.router.add_get("/_matrix/federation/v1/openid/userinfo", handler)
    return app


async def test_redirect_is_not_followed(aiohttp_server, http):
    hits: list[str] = []

    async def target(request: web.Request) -> web.Response:
        hits.append(request.query_string)
        return web.json_response({"sub": "@x:localhost:1234"})

    target_server = await aiohttp_server(_fake_homeserver(target))

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(str(target_server.make_url(request.path_qs)))

    redirecting = await aiohttp_server(_fake_homeserver(redirect))
    with pytest.raises(ServiceUnavailable):
        await verify_openid(
            http,
            "sometoken",
            "localhost:1234",
            overrides={"localhost:1234": str(redirecting.make_url(""))},
        )
    assert hits == []


@pytest.mark.parametrize(
    "answer",
    [
        {"sub": "not-a-user-id"},
        {"sub": 42},
        {},
        {"sub": "@:localhost:1234"},
        {"sub": "@x:bad/host"},
    ],
)
async def test_nonsense_answer_is_unavailable(aiohttp_server, http, answer):
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(answer)

    fake = await aiohttp_server(_fake_homeserver(handler))
    with pytest.raises(ServiceUnavailable, match="Réponse invalide du serveur Matrix"):
        await verify_openid(
            http,
            "sometoken",
            "localhost:1234",
            overrides={"localhost:1234": str(fake.make_url(""))},
        )


# --- Pure parsing -------------------------------------------------------------------------

_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_dns = st.lists(_label, min_size=1, max_size=4).map(".".join).filter(lambda h: not _all_ipv4(h))
_ipv4 = st.ip_addresses(v=4).map(str)
_ipv6 = st.ip_addresses(v=6).map(lambda a: f"[{a}]")
_port = st.none() | st.integers(1, 65535)


def _all_ipv4(host: str) -> bool:
    return all(ch.isdigit() or ch == "." for ch in host)


@given(host=_dns | _ipv4 | _ipv6, port=_port)
def test_valid_server_names_round_trip(host, port):
    text = host if port is None else f"{host}:{port}"
    parsed = parse_server_name(text)
    assert str(parsed) == text
    assert parsed.port == port
    assert parsed.is_ip == (_all_ipv4(host) or host.startswith("["))


@given(st.text(max_size=300) | st.from_regex(r"[a-z0-9.:\[\]%@/-]{1,30}", fullmatch=True))
def test_any_text_parses_or_gives_value_error(text):
    try:
        parsed = parse_server_name(text)
    except ValueError as exc:
        assert str(exc).startswith("server name ")
        return
    # Whatever passes cannot redirect a request elsewhere.
    assert str(parsed) == text
    assert len(text) <= 255
    for forbidden in "/@?#\\ \t\r\n%":
        assert forbidden not in text


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=40))
def test_url_syntax_never_passes(suffix):
    for text in (f"evil.example/{suffix}", f"x@evil.example{suffix}"):
        with pytest.raises(ValueError):
            parse_server_name(text)


def test_user_id_parsing():
    assert parse_user_id("@alice:localhost:8448") == ("alice", "localhost:8448")
    assert parse_user_id("@a=b/c:[::1]:80") == ("a=b/c", "[::1]:80")
    for bad, message in [
        ("alice:example.org", "does not start with '@'"),
        ("@alice", "no ':server' part"),
        ("@:example.org", "empty or invalid localpart"),
        ("@al ice:example.org", "empty or invalid localpart"),
        ("@alice:exa mple.org", "server name host"),
        ("@" + "a" * 250 + ":example.org", "longer than 255"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_user_id(bad)


def test_well_known_and_federation_url():
    assert parse_well_known(b'{"m.server": "matrix.example.org:443"}') == ParsedServerName(
        "matrix.example.org", 443, False
    )
    delegated = parse_well_known(b'{"m.server": "matrix.example.org"}')
    assert federation_url(delegated) == "https://matrix.example.org:8448"
    assert federation_url(parse_server_name("[::1]:9000")) == "https://[::1]:9000"
    for body, message in [
        (b"<html>", "not JSON"),
        # The homeserver is whichever the client names: its answer may be a bomb.
        (b"[" * 100_000, "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"m.server": 1}', '"m.server" string'),
        (b'{"m.server": "https://evil"}', "server name"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_well_known(body)


def _matrix_config(tmp_path, section: str) -> HubConfig:
    path = tmp_path / "matrix.toml"
    path.write_text(f"[server]\ndev = true\n[matrix]\n{section}\n", encoding="utf-8")
    return load_config(path, environ={})


def test_matrix_config_validates_overrides_and_allowed_servers(tmp_path):
    config = _matrix_config(
        tmp_path,
        'homeserver_overrides = {"localhost:8481" = "http://127.0.0.1:8480/"}\n'
        'allowed_homeservers = ["agent.tchap.gouv.fr"]',
    )
    assert config.matrix.homeserver_overrides == {"localhost:8481": "http://127.0.0.1:8480"}
    assert config.matrix.allowed_homeservers == ("agent.tchap.gouv.fr",)
    for bad, message in [
        ('homeserver_overrides = {"a/b" = "http://x"}', "matrix.homeserver_overrides: server"),
        ('homeserver_overrides = {"a.example" = "ftp://x"}', "not an http"),
        ('allowed_homeservers = ["user@evil"]', "matrix.allowed_homeservers: server name"),
    ]:
        with pytest.raises(ConfigError, match=message):
            _matrix_config(tmp_path, bad)


def test_defaults_allow_any_server_without_overrides(tmp_path):
    config = make_config(tmp_path)
    assert config.matrix.homeserver_overrides == {}
    assert config.matrix.allowed_homeservers == ()
