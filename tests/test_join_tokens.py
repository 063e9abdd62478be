"""Join tokens: one meeting, one role, at most an hour; every forgery is refused, precisely."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.auth.tokens import JoinTokens
from hub.db.models import Role
from hub.errors import Unauthorized
from hub.ids import Identity, MeetingId

SECRET = "q8V0s3kQ2m9x7Lr4Tn1Bz6Hc5Jd0Wp2Ya8Ue3Rf7Gi"
HUB = "https://visio.interieur.gouv.fr"
A, B = MeetingId("abc-defg-hij"), MeetingId("xyz-wxyz-xyz")
NOW = 1_800_000_000


def tokens() -> JoinTokens:
    return JoinTokens(SECRET, HUB)


def issue(meeting: MeetingId = A, **options: object) -> str:
    options = {"role": Role.MODERATOR} | options
    return tokens().issue(
        meeting_id=meeting,
        identity=Identity("local:pc:anne"),
        display_name="Anne",
        now=NOW,
        **options,  # type: ignore[arg-type]
    )


def refused(token: str, meeting: MeetingId = A, now: int = NOW + 10) -> str:
    with pytest.raises(Unauthorized) as caught:
        tokens().verify(token, meeting_id=meeting, now=now)
    return caught.value.said("en")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict, claims: dict, key: bytes) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}.get(
        header.get("alg"), hashlib.sha256
    )
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def derived_key() -> bytes:
    return hmac.new(SECRET.encode(), b"hub join token v1", hashlib.sha256).digest()


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_token_opens_its_meeting_with_its_role():
    grant = tokens().verify(issue(), meeting_id=A, now=NOW + 10)
    assert (grant.meeting_id, grant.identity, grant.role) == (A, "local:pc:anne", Role.MODERATOR)


def test_an_identity_token_proves_who_but_grants_no_role():
    token = tokens().issue(
        meeting_id=A, identity=Identity("local:pc:anne"), display_name="Anne", role=None, now=NOW
    )
    assert claims_of(token)["role"] is None
    grant = tokens().verify(token, meeting_id=A, now=NOW + 10)
    assert (grant.identity, grant.role) == ("local:pc:anne", None)
    assert refused(token, meeting=B).endswith("issued for another meeting")


def test_a_token_for_meeting_a_never_opens_meeting_b():
    assert refused(issue(A), meeting=B).endswith("issued for another meeting")


def test_expired_and_premature_tokens_are_refused():
    assert refused(issue(lifetime=60), now=NOW + 120).endswith("expired")
    assert refused(issue(), now=NOW - 600).endswith("not valid yet")


def test_lifetime_is_at_most_an_hour():
    with pytest.raises(ValueError, match="lifetime"):
        issue(lifetime=3601)
    claims = claims_of(issue())
    claims["exp"] = claims["iat"] + 7200
    assert refused(forge({"alg": "HS256", "typ": "JWT"}, claims, derived_key())).endswith(
        "lifetime longer than an hour"
    )


def test_alg_none_and_algorithm_swaps_are_refused():
    claims = claims_of(issue())
    none_header = b64(json.dumps({"alg": "none"}).encode())
    unsigned = f"{none_header}.{b64(json.dumps(claims).encode())}."
    assert "not a valid signed token" in refused(unsigned)
    for alg in ("HS512", "RS256", "ES256"):
        assert "not a valid signed token" in refused(forge({"alg": alg}, claims, derived_key()))


def test_a_token_signed_with_another_key_or_tampered_is_refused():
    other = JoinTokens("another-secret-of-sufficient-length-123456", HUB)
    foreign = other.issue(
        meeting_id=A,
        identity=Identity("local:pc:eve"),
        display_name="Eve",
        role=Role.OWNER,
        now=NOW,
    )
    assert "not a valid signed token" in refused(foreign)
    header, _payload, signature = issue().split(".")
    claims = claims_of(issue())
    claims["role"] = "owner"
    tampered = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert "not a valid signed token" in refused(tampered)


def test_another_hubs_token_is_refused():
    theirs = JoinTokens(SECRET, "https://visio.finances.gouv.fr").issue(
        meeting_id=A,
        identity=Identity("local:pc:anne"),
        display_name="Anne",
        role=Role.PARTICIPANT,
        now=NOW,
    )
    assert refused(theirs).endswith("issued by another hub")


def test_missing_or_malformed_claims_are_refused():
    claims = claims_of(issue())
    del claims["role"]
    assert refused(forge({"alg": "HS256"}, claims, derived_key())).endswith(
        "a required claim is missing or malformed"
    )


@given(st.text(max_size=200))
def test_any_string_is_a_grant_or_a_precise_refusal(text):
    try:
        tokens().verify(text, meeting_id=A, now=NOW)
    except Unauthorized as exc:
        assert exc.said("en").startswith("Join token refused: ")


def test_a_rejoin_ticket_is_marked_grants_no_role_and_cannot_be_forged_into_one():
    ticket = issue(role=None, rejoin=True)
    assert claims_of(ticket)["rejoin"] is True
    grant = tokens().verify(ticket, meeting_id=A, now=NOW + 10)
    assert (grant.rejoin, grant.role) == (True, None)
    assert tokens().verify(issue(), meeting_id=A, now=NOW + 10).rejoin is False
    with pytest.raises(ValueError, match="grants no role"):
        issue(rejoin=True)  # role=MODERATOR
    # Signed by us but saying both: refused as malformed, never read as either.
    claims = claims_of(ticket) | {"role": "moderator"}
    forged = forge({"alg": "HS256", "typ": "JWT"}, claims, derived_key())
    assert refused(forged).endswith("a required claim is missing or malformed")
    odd = forge(
        {"alg": "HS256", "typ": "JWT"}, claims_of(ticket) | {"rejoin": "yes"}, derived_key()
    )
    assert refused(odd).endswith("a required claim is missing or malformed")
