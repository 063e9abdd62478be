"""The OpenAPI document tells the truth: schemathesis drives a real `hub serve` from
GET /api/v1/openapi.json, as a stranger, as a guest and as a meeting's owner, and every answer
must be documented (status, content type, schema, headers) and none a server error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import jsonschema_rs
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hub.errors import BadRequest
from hub.meetings.invitations import INVITEE_PATTERN, parse_invitee
from hub.web.api import API_PREFIX, ENDPOINTS
from tests.support.served_hub import ServedHub, served_hub

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedHub]:
    # Limits high enough that the rate limiter answers only when a test means it to.
    with served_hub(
        tmp_path_factory.mktemp("openapi"),
        limits={"meetings_per_hour": 10_000, "lobby_per_minute": 10_000},
    ) as served:
        yield served


@pytest.fixture(scope="module")
def api_schema(hub: ServedHub) -> BaseSchema:
    return schemathesis.openapi.from_url(f"{hub.url}{API_PREFIX}/openapi.json")


@pytest.fixture(scope="module")
def guest(hub: ServedHub) -> Iterator[tuple[requests.Session, dict[str, str], str]]:
    """A browser's guest session (from the home page), its CSRF header and a meeting it owns."""
    with requests.Session() as http:
        page = http.get(f"{hub.url}/", headers={"Accept": "text/html"}, timeout=10)
        assert page.status_code == 200
        csrf = hub.csrf_header(http.cookies[hub.codec.cookie_name])
        created = http.post(
            f"{hub.url}{API_PREFIX}/meetings", json={"title": "Cible"}, headers=csrf, timeout=10
        )
        assert created.status_code == 201, created.text
        yield http, csrf, created.json()["id"]


BOUNDED = settings(
    max_examples=30,
    derandomize=True,  # the same cases every run
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
# Invalid data can be made only for a body: every path parameter is any string.
OPERATIONS = [
    (f"{endpoint.method} {API_PREFIX}{endpoint.path}", mode)
    for endpoint in ENDPOINTS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if endpoint.request is not None or mode is GenerationMode.POSITIVE
]


# In each role, the answers that must come back at least once (else the run tested nothing).
MUST_SEE = {
    "stranger": {"GET": {401}, "POST": {401}, "DELETE": {401}},
    "guest": {"GET": {404}, "POST": {404}, "DELETE": {404}},
    "owner": {"GET": {200}, "POST": {200, 201}, "DELETE": {404}},
}


@pytest.mark.parametrize("who", ["stranger", "guest", "owner"])
@pytest.mark.parametrize(("label", "mode"), OPERATIONS, ids=[f"{o}-{m}" for o, m in OPERATIONS])
def test_every_answer_is_documented(
    api_schema: BaseSchema,
    hub: ServedHub,
    guest: tuple[requests.Session, dict[str, str], str],
    label: str,
    mode: GenerationMode,
    who: str,
) -> None:
    """A stranger sends no session (or the random cookie schemathesis makes up); a guest sends
    its session and CSRF header with generated ids; an owner, the id of the meeting it owns."""
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label
    http, csrf, meeting = guest
    path_parameters = None
    if who == "owner" and "{meeting_id}" in label:
        if label.endswith("/end"):  # its own meeting, so the others' stays open
            meeting = http.post(
                f"{hub.url}{API_PREFIX}/meetings", json={"title": "Fin"}, headers=csrf, timeout=10
            ).json()["id"]
        path_parameters = {"meeting_id": meeting}
    statuses: set[int] = set()

    @BOUNDED
    @given(case=operation.as_strategy(mode, path_parameters=path_parameters))
    def answers_as_documented(case: Case) -> None:
        with requests.Session() as client:
            if who != "stranger":
                client.cookies.update(http.cookies)
                case.cookies.pop(hub.codec.cookie_name, None)
                case.headers.update(csrf)
            response = case.call(base_url=hub.url, session=client)
            statuses.add(response.status_code)
            case.validate_response(response, checks=CHECKS)

    answers_as_documented()
    method = label.split()[0]
    owned_or_none = who == "owner" or "{meeting_id}" not in label
    expected = MUST_SEE["owner" if who == "guest" and owned_or_none else who][method]
    if label.endswith("/ws"):
        expected = {400} if who == "owner" else {404}  # no upgrade asked; no such meeting
    if "{recording_id}" in label and who == "owner":
        expected = {404}  # its meeting, but no recording of that id
    if label.endswith(("/subtitles", "/recording")) and who == "owner":
        expected = {403}  # only someone in the live meeting may, and nobody is in it here
    if ("/transcript." in label or "/summary." in label) and who == "owner":
        expected = {404}  # subtitles never ran in that meeting: no transcript, no summary
    if mode is GenerationMode.NEGATIVE and who != "stranger":
        expected = {400, 404}
        if label.endswith(("/subtitles", "/recording")) and who == "owner":
            expected = {403}  # who may act is checked before the body is read
    assert statuses & expected, (label, who, statuses)


# Strings near the invitee forms, with the characters on which Python's and ECMA-262's
# regular expressions disagree (schemathesis generated "partner:\x85…" from the first pattern).
_near = st.text(alphabet="aZ0.@:-_ \t\n\x1c\x1f\x85\xa0\u2028\ufeffé\U0001f600", max_size=30)
invitee_candidates = st.one_of(
    st.from_regex(INVITEE_PATTERN, fullmatch=True),
    st.tuples(st.sampled_from(["", "email:", "matrix:", "partner:", "@"]), _near, _near).map(
        lambda parts: f"{parts[0]}{parts[1]}@{parts[2]}.fr"
    ),
    _near,
)
_invitee_schema = jsonschema_rs.validator_for({"type": "string", "pattern": INVITEE_PATTERN})


@given(invitee_candidates)
@settings(max_examples=500, deadline=None)
def test_every_invitee_the_document_describes_is_accepted(invitee: str) -> None:
    """What the document's pattern allows (as a JSON Schema validator reads it), the hub
    accepts; and Python reads the pattern the same way."""
    documented = _invitee_schema.is_valid(invitee)
    assert documented == (re.fullmatch(INVITEE_PATTERN, invitee) is not None), repr(invitee)
    if documented:
        assert parse_invitee(invitee).split(":", 1)[0] in {"email", "matrix", "partner"}


def test_the_invitee_pattern_means_the_same_in_python_and_in_json_schema() -> None:
    """Regression: schemathesis made "partner:\x85\xdbY@6ZeJ" from a pattern written with \\S,
    which ECMA-262 reads as allowing \x85 and Python as refusing it (and \ufeff the other way
    round): the hub refused an invitee its document allowed."""
    for space in " \t\x1c\x1f\x85\xa0\u2028\ufeff":
        for invitee in (f"partner:a{space}b@hub.example", f"a{space}b@example.org"):
            assert re.fullmatch(INVITEE_PATTERN, invitee) is None, repr(invitee)
            assert not _invitee_schema.is_valid(invitee), repr(invitee)
            with pytest.raises(BadRequest):
                parse_invitee(invitee)


def test_the_document_asks_for_the_csrf_header_only_where_the_hub_does(
    hub: ServedHub, tmp_path: Path
) -> None:
    document = requests.get(f"{hub.url}{API_PREFIX}/openapi.json", timeout=10).json()
    assert document["components"]["securitySchemes"]["session"]["name"] == "visio_session"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            security = operation.get("security", document["security"])
            if path.endswith("/ws"):
                assert security == [], path  # the join message brings who is asking
            elif method == "get":
                assert security == [{"session": []}], path
            else:
                assert security == [{"session": [], "csrf": []}], (method, path)
                assert "403" in operation["responses"]
    invitee = document["components"]["schemas"]["CreateInvitation"]["properties"]["invitee"]
    assert "e-mail address" in invitee["description"]
    assert "Matrix user id" in invitee["description"]
    assert invitee["pattern"] == INVITEE_PATTERN


def test_a_method_a_path_lacks_answers_405_with_the_methods_it_has(hub: ServedHub) -> None:
    document = requests.get(f"{hub.url}{API_PREFIX}/openapi.json", timeout=10).json()
    assert "405 (code method_not_allowed)" in document["info"]["description"]
    for path, operations in document["paths"].items():
        if path.endswith("/ws"):
            continue  # the socket's GET is an upgrade
        concrete = re.sub(r"\{[a-z_]+\}", "abc-defg-hij", path)
        documented = {method.upper() for method in operations}
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - documented:
            answer = requests.request(method, f"{hub.url}{concrete}", timeout=10)
            assert answer.status_code == 405, (method, path, answer.status_code)
            assert answer.headers["Content-Type"].startswith("application/problem+json")
            assert answer.json()["code"] == "method_not_allowed"
            assert set(answer.headers["Allow"].split(",")) == documented, (method, path)
