"""OpenID Connect login against a real provider (npm oidc-provider set up like ProConnect).

The hub runs in-process (aiohttp test client); the provider runs as a node process whose login
form the tests fill in as a browser would. Every refused login is checked for the same three
things: a clear page with the right status, no session cookie, no auth_sessions row. The pure
checks (transaction cookie, callback, discovery, claims, keys) have unit and property tests.
"""

from __future__ import annotations

import html
import logging
import re
import time
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import func, select

from hub.auth.oidc import (
    LoginError,
    LoginRefused,
    LoginTransaction,
    ProviderMetadata,
    SpentStates,
    TransactionCodec,
    check_id_token_claims,
    check_userinfo_claims,
    import_signing_keys,
    local_next,
    parse_callback,
)
from hub.db.models import AuthSession
from hub.shared.memory import MemoryState
from hub.web.app import create_app
from hub.web.keys import DATABASE, SESSION_CODEC
from hub.web.login import LOGINS
from tests.conftest import make_config
from tests.support import oidc
from tests.support.oidc import (
    CLIENT_ID,
    HUB_URL,
    OidcProviderProcess,
    ProviderBrowser,
    parse_form,
)
from tests.support.processes import free_port

oidc_provider = oidc.oidc_provider  # the session's provider, a fixture

HTML = {"Accept": "text/html"}
SESSION_COOKIE = "visio_session"
LOGIN_COOKIE = "visio_login"
ISSUER = "https://idp.example.gouv.fr/api/v2"
NOW = 1_800_000_000


# --- pure pieces --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/m/abc-defg-hij", "/m/abc-defg-hij"),
        ("/?lang=en", "/?lang=en"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("m/abc", "/"),
        ("", "/"),
        (None, "/"),
        ("/a\r\nSet-Cookie: x=y", "/"),
    ],
)
def test_next_is_a_local_path(value, expected):
    assert local_next(value) == expected


def test_transactions_are_random_long_and_pkce_s256():
    one = LoginTransaction.start("test", "/m/abc-defg-hij", NOW)
    two = LoginTransaction.start("test", "/", NOW)
    assert len(one.state) >= 32 and len(one.nonce) >= 32 and 43 <= len(one.code_verifier) <= 128
    assert len({one.state, one.nonce, two.state, two.nonce}) == 4
    # RFC 7636 appendix B's example
    example = LoginTransaction("p", "s", "n", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "/", 0)
    assert example.code_challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_transaction_cookie_round_trip_and_refusals():
    codec = TransactionCodec("k" * 40)
    transaction = LoginTransaction.start("test", "/m/abc-defg-hij", NOW)
    value = codec.encode(transaction)
    assert codec.decode(value, NOW + 10) == transaction
    with pytest.raises(ValueError, match="expired"):
        codec.decode(value, NOW + 600)
    with pytest.raises(ValueError, match="signature"):
        TransactionCodec("other" * 8).decode(value, NOW)
    payload, mac = value.split(".")
    with pytest.raises(ValueError, match="signature"):
        codec.decode(f"{payload[:-2]}AA.{mac}", NOW)
    with pytest.raises(ValueError, match="malformed"):
        codec.decode("no-dot-here", NOW)


@given(st.text(max_size=300))
def test_the_transaction_cookie_reader_only_says_value_error(value):
    with pytest.raises(ValueError):
        TransactionCodec("k" * 40).decode(value, NOW)


@given(st.dictionaries(st.sampled_from(["code", "state", "error", "iss", "x"]), st.text()))
def test_the_callback_parser_only_accepts_our_state(query):
    state = "s" * 43
    try:
        code = parse_callback(query, state=state, issuer=ISSUER)
    except LoginError:
        return
    assert query["state"] == state and "error" not in query and code == query["code"]
    assert query.get("iss", ISSUER) == ISSUER


@pytest.mark.parametrize(
    ("query", "error", "reason"),
    [
        ({"code": "c", "state": "x" * 43}, LoginError, "state does not match"),
        ({"code": "c"}, LoginError, "state does not match"),
        ({"state": "s" * 43}, LoginError, "without a usable code"),
        ({"state": "s" * 43, "error": "access_denied"}, LoginRefused, "error=access_denied"),
        ({"state": "s" * 43, "error": "x\ny"}, LoginRefused, "error=(malformed)"),
        ({"code": "c", "state": "s" * 43, "iss": "https://evil"}, LoginRefused, "iss"),
    ],
)
def test_callback_refusals(query, error, reason):
    with pytest.raises(error) as raised:
        parse_callback(query, state="s" * 43, issuer=ISSUER)
    assert reason in raised.value.reason and type(raised.value) is error
    assert (
        parse_callback(
            {"code": "c", "state": "s" * 43, "iss": ISSUER}, state="s" * 43, issuer=ISSUER
        )
        == "c"
    )


def discovery(**changes):
    document = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/authorize",
        "token_endpoint": f"{ISSUER}/token",
        "userinfo_endpoint": f"{ISSUER}/userinfo",
        "jwks_uri": f"{ISSUER}/jwks",
        "end_session_endpoint": f"{ISSUER}/session/end",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "HS256", "none"],
        "userinfo_signing_alg_values_supported": ["ES256", "HS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


def test_discovery_keeps_only_asymmetric_algorithms():
    metadata = ProviderMetadata.parse(discovery(), ISSUER)
    assert metadata.id_token_algorithms == ("RS256", "ES256")
    assert metadata.userinfo_algorithms == ("ES256",)
    assert metadata.end_session_endpoint == f"{ISSUER}/session/end"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"issuer": "https://other.example"}, "issuer is not the configured issuer"),
        ({"jwks_uri": None}, "jwks_uri"),
        ({"token_endpoint": "http://idp.example.gouv.fr/token"}, "https"),
        ({"id_token_signing_alg_values_supported": ["HS256", "none"]}, "RS256"),
        ({"token_endpoint_auth_methods_supported": ["client_secret_basic"]}, "client_secret_post"),
        ({"code_challenge_methods_supported": ["plain"]}, "S256"),
    ],
)
def test_discovery_refusals(changes, message):
    with pytest.raises(ValueError, match=message):
        ProviderMetadata.parse(discovery(**changes), ISSUER)
    with pytest.raises(ValueError, match="JSON object"):
        ProviderMetadata.parse(["not", "an", "object"], ISSUER)


def id_claims(**changes):
    claims = {
        "iss": ISSUER,
        "sub": "marie",
        "aud": CLIENT_ID,
        "exp": NOW + 60,
        "iat": NOW,
        "nonce": "n" * 43,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def check_id(claims, now=NOW, leeway=5):
    return check_id_token_claims(
        claims, issuer=ISSUER, client_id=CLIENT_ID, nonce="n" * 43, now=now, leeway=leeway
    )


def test_id_token_claims_accepted():
    assert check_id(id_claims()) == "marie"
    assert check_id(id_claims(aud=[CLIENT_ID, "api"], azp=CLIENT_ID)) == "marie"
    assert check_id(id_claims(), now=NOW + 64) == "marie"  # within the 5 s leeway


@pytest.mark.parametrize(
    ("claims", "now", "reason"),
    [
        (id_claims(iss="https://evil.example"), NOW, "iss"),
        (id_claims(aud="another-client"), NOW, "aud"),
        (id_claims(aud=[CLIENT_ID, "api"]), NOW, "azp"),
        (id_claims(azp="another-client"), NOW, "azp"),
        (id_claims(nonce="m" * 43), NOW, "nonce"),
        (id_claims(nonce=None), NOW, "nonce"),
        (id_claims(exp=None), NOW, "exp"),
        (id_claims(), NOW + 66, "expired"),  # stale: Authlib's 60 s default would accept it
        (id_claims(iat=NOW + 30), NOW, "future"),
        (id_claims(sub=""), NOW, "sub"),
        (id_claims(sub="a\nb"), NOW, "sub"),
    ],
)
def test_id_token_claims_refused(claims, now, reason):
    with pytest.raises(LoginRefused) as raised:
        check_id(claims, now=now)
    assert reason in raised.value.reason


def test_userinfo_claims_and_display_names():
    def user(signed=False, **claims):
        return check_userinfo_claims(
            {"sub": "marie", **claims}, subject="marie", issuer=ISSUER, client_id=CLIENT_ID,
            signed=signed,
        )  # fmt: skip

    assert user(given_name="Marie", usual_name="CURIE", name="x").display_name == "Marie CURIE"
    assert user(name="  Marie   Curie ").display_name == "Marie Curie"
    assert user(email="marie@agents.test").display_name == "marie@agents.test"
    assert user().display_name == "marie"
    assert user(signed=True, iss=ISSUER, aud=CLIENT_ID).sub == "marie"
    with pytest.raises(LoginRefused) as raised:
        user(signed=True, iss=ISSUER)  # a signed userinfo must be meant for this client
    assert "userinfo JWT" in raised.value.reason and "aud" in raised.value.reason
    with pytest.raises(LoginRefused) as raised:
        check_userinfo_claims(
            {"sub": "pierre"}, subject="marie", issuer=ISSUER, client_id=CLIENT_ID, signed=False
        )
    assert "sub" in raised.value.reason


def test_only_public_signature_keys_are_imported():
    signing = RSAKey.generate_key(2048, {"kid": "sig", "use": "sig"})
    encryption = RSAKey.generate_key(2048, {"kid": "enc", "use": "enc"})
    keys = import_signing_keys(
        {"keys": [signing.as_dict(private=False), encryption.as_dict(private=False),
                  {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}, signing.as_dict(private=True),
                  {"kty": "RSA", "kid": "broken"}]}
    )  # fmt: skip
    assert [key.kid for key in keys] == ["sig"]
    token = jwt.encode({"alg": "RS256", "kid": "sig"}, {"sub": "x"}, signing)
    assert jwt.decode(token, keys.get_by_kid("sig")).claims == {"sub": "x"}
    with pytest.raises(ValueError, match="no usable"):
        import_signing_keys({"keys": [encryption.as_dict(private=False)]})


async def test_spent_states_are_forgotten_only_after_expiry():
    now = [1000.0]
    spent = SpentStates(MemoryState(lambda: now[0]), lambda: now[0])
    assert await spent.spend("a", 1600)
    assert not await spent.spend("a", 1600)
    now[0] = 1599
    assert not await spent.spend("a", 1600)
    now[0] = 1601
    assert await spent.spend("a", 2200)


# --- through the hub and the real provider --------------------------------------------------


@pytest.fixture(autouse=True)
def _provider_behaves(request):
    if "oidc_provider" in request.fixturenames:
        request.getfixturevalue("oidc_provider").set_faults()


def hub_config(tmp_path, provider: OidcProviderProcess, *extra, **sections):
    providers = [provider.hub_provider(), *extra]
    return make_config(
        tmp_path,
        server={"public_url": HUB_URL},
        auth={"providers": providers, **sections.pop("auth", {})},
        **sections,
    )


class Flow:
    """One person: the hub's test client (hub cookies) and a browser at the provider."""

    def __init__(self, app, client, provider: OidcProviderProcess, browser: aiohttp.ClientSession):
        self.app = app
        self.client = client
        self.provider = provider
        self.at_provider = ProviderBrowser(browser, provider.issuer)

    async def start(self, name: str = "test", next_path: str = "/") -> str:
        answer = await self.client.get(
            f"/auth/login/{name}", params={"next": next_path}, headers=HTML, allow_redirects=False
        )
        assert answer.status == 302, await answer.text()
        self.login_set_cookie = answer.headers["Set-Cookie"]
        return answer.headers["Location"]

    async def back_at_hub(self, url: str):
        assert url.startswith(HUB_URL), url
        return await self.client.get(url[len(HUB_URL) :], headers=HTML, allow_redirects=False)

    async def login(self, login: str = "marie.curie", next_path: str = "/"):
        callback = await self.at_provider.log_in(await self.start(next_path=next_path), login)
        return await self.back_at_hub(callback)

    async def rows(self) -> int:
        async with self.app[DATABASE].sessions() as db:
            return int(await db.scalar(select(func.count()).select_from(AuthSession)))

    def session(self):
        codec = self.app[SESSION_CODEC]
        cookies = self.client.session.cookie_jar.filter_cookies(self.client.make_url("/"))
        return codec.decode(cookies[SESSION_COOKIE].value) if SESSION_COOKIE in cookies else None

    async def assert_refused(self, answer, status: int, text: str) -> None:
        body = html.unescape(await answer.text())
        assert answer.status == status, body
        assert "La connexion a échoué" in body or status == 404, body
        assert text in body
        assert SESSION_COOKIE not in answer.cookies  # no session, not even a guest one
        assert answer.cookies[LOGIN_COOKIE].value == ""  # the transaction is gone
        assert await self.rows() == 0


@pytest.fixture
async def flow(tmp_path, aiohttp_client, oidc_provider):
    app = create_app(hub_config(tmp_path, oidc_provider))
    client = await aiohttp_client(app)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        yield Flow(app, client, oidc_provider, browser)


async def test_login_opens_a_session_and_logout_ends_it_here_and_at_the_provider(flow, caplog):
    caplog.set_level(logging.DEBUG, logger="hub")
    authorize = await flow.start(next_path="/m/abc-defg-hij")
    params = parse_qs(urlsplit(authorize).query)
    assert params["response_type"] == ["code"] and params["client_id"] == [CLIENT_ID]
    assert params["redirect_uri"] == [f"{HUB_URL}/auth/callback/test"]
    assert params["code_challenge_method"] == ["S256"] and len(params["code_challenge"][0]) == 43
    assert len(params["state"][0]) >= 32 and len(params["nonce"][0]) >= 32
    assert params["scope"] == ["openid email given_name usual_name uid"]
    assert params["acr_values"] == ["eidas1"]
    cookie = SimpleCookie(flow.login_set_cookie)[LOGIN_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["max-age"] == "600"
    assert cookie["path"] == "/"

    callback = await flow.at_provider.log_in(authorize, "marie.curie")
    code = parse_qs(urlsplit(callback).query)["code"][0]
    answer = await flow.back_at_hub(callback)
    assert answer.status == 303 and answer.headers["Location"] == "/m/abc-defg-hij"
    assert answer.cookies[LOGIN_COOKIE].value == ""
    set_cookie = answer.cookies[SESSION_COOKIE]
    assert set_cookie["httponly"] and set_cookie["samesite"] == "Lax"
    session = flow.session()
    assert session.identity == "local:test:marie.curie"
    assert session.display_name == "Marie CURIE"
    assert session.provider == "test" and session.email == "marie.curie@agents.test"
    assert await flow.rows() == 1
    async with flow.app[DATABASE].sessions() as db:
        row = await db.get(AuthSession, session.session_id)
    assert row.identity == session.identity and row.ended_at is None and row.id_token

    home = await (await flow.client.get("/", headers=HTML)).text()
    assert "Connecté en tant que Marie CURIE" in home and 'action="/auth/logout"' in home
    assert "/auth/login/test" not in home
    old_cookie = set_cookie.value
    secret = flow.provider.client_secret
    # The hub's own log lines (production logs nothing else below WARNING, and its access log
    # drops query strings; the test server's access log here is aiohttp's default).
    logged = "\n".join(
        r.getMessage() + repr(r.__dict__) for r in caplog.records if r.name.startswith("hub")
    )
    assert "login through test" in logged
    for sensitive in (code, row.id_token, secret, params["state"][0], params["nonce"][0]):
        assert sensitive not in logged

    # Logout: CSRF first, then the row ends, the cookie goes, the provider is told.
    refused = await flow.client.post("/auth/logout", data={"csrf_token": "forged"}, headers=HTML)
    assert refused.status == 403 and await flow.rows() == 1
    token = re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)
    out = await flow.client.post(
        "/auth/logout", data={"csrf_token": token}, headers=HTML, allow_redirects=False
    )
    # A page that forwards at once (a form's redirect may not leave the hub: CSP form-action).
    page = await out.text()
    assert out.status == 200 and "Déconnexion en cours" in page
    refresh = re.search(r'<meta http-equiv="refresh" content="0; url=([^"]+)">', page)
    link = re.search(r'<a class="button button-primary" id="continue" href="([^"]+)">', page)
    end_session_url = html.unescape(refresh.group(1))
    assert html.unescape(link.group(1)) == end_session_url
    end_session = urlsplit(end_session_url)
    assert f"{end_session.scheme}://{end_session.netloc}{end_session.path}" == (
        f"{flow.provider.issuer}/session/end"
    )
    query = parse_qs(end_session.query)
    assert query["id_token_hint"] == [row.id_token]
    assert query["post_logout_redirect_uri"] == [f"{HUB_URL}/auth/logged-out"]
    assert len(query["state"][0]) >= 32
    assert out.cookies[SESSION_COOKIE].value == ""
    async with flow.app[DATABASE].sessions() as db:
        assert (await db.get(AuthSession, session.session_id)).ended_at is not None

    # The old cookie, replayed, no longer counts: the person is a guest again.
    flow.client.session.cookie_jar.update_cookies({SESSION_COOKIE: old_cookie})
    again = await flow.client.get("/", headers=HTML)
    text = await again.text()
    assert "Connecté en tant que" not in text and "/auth/login/test?next=/" in text
    assert flow.session().is_guest

    # At the provider: confirm the logout, come back to the hub's logged-out page.
    kind, page = await flow.at_provider.follow(end_session_url)
    assert kind == "page"
    form = parse_form(page)
    kind, back = await flow.at_provider.follow(
        f"{flow.provider.issuer}{urlsplit(form.action).path}", data={**form.fields, "logout": "yes"}
    )
    assert kind == "hub" and back.startswith(f"{HUB_URL}/auth/logged-out?state=")
    bye = await flow.back_at_hub(back)
    assert bye.status == 200 and "Déconnexion effectuée" in await bye.text()
    # ...and the provider asks for a password again instead of logging in silently.
    kind, page = await flow.at_provider.follow(await flow.start())
    assert kind == "page" and 'name="password"' in page


@pytest.mark.parametrize(
    "fault",
    [
        "id_token_signature",
        "id_token_nonce",
        "id_token_aud",
        "id_token_iss",
        "id_token_expired",
        "userinfo_other_key",
        "userinfo_unknown_kid",
        "userinfo_sub",
    ],
)
async def test_a_provider_answer_that_does_not_check_out_opens_no_session(flow, fault, caplog):
    flow.provider.set_faults(fault)
    answer = await flow.login()
    await flow.assert_refused(answer, 401, "n'a pas pu confirmer votre identité")
    failures = [r for r in caplog.records if r.getMessage().startswith("login through test failed")]
    assert len(failures) == 1, caplog.text  # logged once


async def test_userinfo_as_plain_json_is_accepted(flow):
    flow.provider.set_faults("userinfo_json")
    answer = await flow.login("jean.dupont")
    assert answer.status == 303
    assert flow.session().display_name == "Jean DUPONT"


async def test_a_rotated_key_is_fetched_once(flow):
    assert (await flow.login("a.b")).status == 303
    before = flow.provider.stats()["jwks"]
    flow.provider.set_faults("rotate")
    assert (await flow.login("c.d")).status == 303  # unknown kid: the JWKS is fetched again
    assert flow.provider.stats()["jwks"] == before + 1
    flow.provider.set_faults("userinfo_unknown_kid")  # another unknown kid within the minute
    refused = await flow.login("e.f")
    assert refused.status == 401 and SESSION_COOKIE not in refused.cookies
    assert flow.provider.stats()["jwks"] == before + 1  # no refetch for it


async def test_a_forged_state_is_refused(flow):
    callback = await flow.at_provider.log_in(await flow.start(), "marie.curie")
    forged = callback.replace("state=", "state=x")
    await flow.assert_refused(await flow.back_at_hub(forged), 400, "recommencez la connexion")


async def test_a_replayed_callback_is_refused(flow):
    authorize = await flow.start()
    cookie = flow.client.session.cookie_jar.filter_cookies(flow.client.make_url("/"))[LOGIN_COOKIE]
    callback = await flow.at_provider.log_in(authorize, "marie.curie")
    assert (await flow.back_at_hub(callback)).status == 303
    flow.client.session.cookie_jar.clear()
    flow.client.session.cookie_jar.update_cookies({LOGIN_COOKIE: cookie.value})
    before = await flow.rows()
    replay = await flow.back_at_hub(callback)
    assert replay.status == 400 and SESSION_COOKIE not in replay.cookies
    assert await flow.rows() == before == 1


async def test_an_expired_login_is_refused(flow, monkeypatch):
    callback = await flow.at_provider.log_in(await flow.start(), "marie.curie")
    logins = flow.app[LOGINS]
    monkeypatch.setattr(logins, "clock", lambda: time.time() + 601)
    await flow.assert_refused(await flow.back_at_hub(callback), 400, "a expiré")


async def test_a_callback_without_the_login_cookie_is_refused(flow):
    callback = await flow.at_provider.log_in(await flow.start(), "marie.curie")
    flow.client.session.cookie_jar.clear()
    await flow.assert_refused(await flow.back_at_hub(callback), 400, "recommencez la connexion")


async def test_cancelling_at_the_provider_is_explained(flow):
    callback = await flow.at_provider.cancel(await flow.start())
    assert "error=access_denied" in callback
    await flow.assert_refused(await flow.back_at_hub(callback), 401, "annulée ou refusée")


async def test_an_unknown_provider_is_refused(flow):
    for path in ("/auth/login/nobody", "/auth/callback/nobody?code=c&state=s"):
        answer = await flow.client.get(path, headers=HTML, allow_redirects=False)
        body = html.unescape(await answer.text())
        assert answer.status == 404 and "Ce moyen de connexion n'existe pas" in body
        assert SESSION_COOKIE not in answer.cookies
    assert await flow.rows() == 0


async def test_an_unreachable_provider_is_a_502(tmp_path, aiohttp_client, oidc_provider):
    down = {**oidc_provider.hub_provider("other"), "issuer": f"http://127.0.0.1:{free_port()}"}
    app = create_app(hub_config(tmp_path, oidc_provider, down))
    client = await aiohttp_client(app)
    answer = await client.get("/auth/login/other", headers=HTML, allow_redirects=False)
    body = await answer.text()
    assert answer.status == 502 and "ne répond pas correctement" in body
    assert SESSION_COOKIE not in answer.cookies
    assert LOGIN_COOKIE not in client.session.cookie_jar.filter_cookies(client.make_url("/"))


async def test_logins_are_rate_limited(tmp_path, aiohttp_client, oidc_provider):
    config = hub_config(tmp_path, oidc_provider, limits={"login_per_minute": 3})
    client = await aiohttp_client(create_app(config))
    for _ in range(3):
        answer = await client.get("/auth/login/test", headers=HTML, allow_redirects=False)
        assert answer.status == 302
    limited = await client.get("/auth/callback/test?code=c&state=s", headers=HTML)
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    assert "Trop de" in await limited.text()


async def test_guests_cannot_create_meetings_when_a_provider_is_configured(flow):
    home = await flow.client.get("/", headers=HTML)
    text = await home.text()
    assert "Connectez-vous pour créer une réunion." in text and 'action="/meetings"' not in text
    guest = flow.session()
    token = flow.app[SESSION_CODEC].csrf_token(guest)
    data = {"csrf_token": token, "title": "Point", "access_level": "trusted"}
    refused = await flow.client.post("/meetings", data=data, headers=HTML, allow_redirects=False)
    body = await refused.text()
    assert refused.status == 403 and "Connexion nécessaire" in body
    assert "/auth/login/test?next=/" in body

    assert (await flow.login()).status == 303
    token = flow.app[SESSION_CODEC].csrf_token(flow.session())
    data["csrf_token"] = token
    created = await flow.client.post("/meetings", data=data, headers=HTML, allow_redirects=False)
    assert created.status == 303 and created.headers["Location"].startswith("/m/")
    page = await (await flow.client.get(created.headers["Location"], headers=HTML)).text()
    assert 'class="login-block"' not in page  # logged in: no login buttons


async def test_a_guest_on_a_meeting_page_is_offered_the_login(flow):
    assert (await flow.login()).status == 303
    token = flow.app[SESSION_CODEC].csrf_token(flow.session())
    data = {"csrf_token": token, "title": "Point", "access_level": "trusted"}
    created = await flow.client.post("/meetings", data=data, headers=HTML, allow_redirects=False)
    path = created.headers["Location"]
    flow.client.session.cookie_jar.clear()
    page = await (await flow.client.get(path, headers=HTML)).text()
    assert 'class="login-block"' in page
    assert f'href="/auth/login/test?next={path}"' in page


async def test_a_guest_logging_out_just_goes_home(flow):
    await flow.client.get("/", headers=HTML)
    assert flow.session().is_guest
    out = await flow.client.post("/auth/logout", data={}, headers=HTML, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/"
    assert out.cookies[SESSION_COOKIE].value == ""
