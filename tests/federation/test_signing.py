"""The HubSignature header, canonical JSON and server names: pure functions, exact errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.federation.names import parse_base_url
from hub.federation.signing import (
    AuthorizationParams,
    SignatureError,
    canonical_json,
    format_authorization,
    parse_authorization,
    parse_server_name,
    signing_payload,
    unpadded_b64decode,
    unpadded_b64encode,
)
from hub.ids import ServerName
from hub.log import redact

SIG = bytes(range(64))
SIG_TEXT = unpadded_b64encode(SIG)
NONCE = "AbCdEfGhIjKlMnOpQrStUv"
PARAMS = AuthorizationParams(
    origin=ServerName("a.example"),
    destination=ServerName("b.example:8448"),
    key_id="ed25519:k1",
    timestamp_ms=1763800000000,
    nonce=NONCE,
    signature=SIG,
)
GOOD = (
    f'HubSignature origin="a.example",destination="b.example:8448",key="ed25519:k1",'
    f'ts="1763800000000",nonce="{NONCE}",sig="{SIG_TEXT}"'
)


def test_round_trip():
    header = format_authorization(PARAMS)
    assert header == GOOD
    assert parse_authorization(header) == PARAMS


def test_case_whitespace_tokens_and_unknown_fields_are_tolerated():
    header = (
        f'  hubsignature  ORIGIN = a.example ,\tDestination="b.example:8448" , '
        f'KEY="ed25519:k1", ts=1763800000000,nonce={NONCE} , sig="{SIG_TEXT}", '
        'future="ignored \\" value"  '
    )
    assert parse_authorization(header) == PARAMS


def test_server_names_are_compared_in_lower_case():
    header = GOOD.replace('origin="a.example"', 'origin="A.Example"')
    assert parse_authorization(header).origin == "a.example"


def test_escaped_quotes_are_unescaped():
    header = GOOD.replace('key="ed25519:k1"', 'key="ed25519:\\k1"')
    with pytest.raises(SignatureError, match=r'^field "key" has an escape other than'):
        parse_authorization(header)
    header = GOOD.replace('key="ed25519:k1"', 'key="ed25519:k\\"1"')
    with pytest.raises(SignatureError, match=r'^field "key": is not an ed25519 key id'):
        parse_authorization(header)


def _without(field: str) -> str:
    parts = GOOD.removeprefix("HubSignature ").split(",")
    return "HubSignature " + ",".join(p for p in parts if not p.startswith(f"{field}="))


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("", "Authorization header is empty"),
        ("   ", "Authorization header is empty"),
        ("HubSignature " + "x" * 5000, "Authorization header is longer than 4096 characters"),
        (GOOD + "\r\nX-Injected: 1", "Authorization header contains a control character"),
        (f"Bearer {SIG_TEXT}", "authorization scheme is not HubSignature"),
        ("X-Matrix origin=a.example", "authorization scheme is not HubSignature"),
        ('HubSignature,origin="a"', "authorization scheme is not HubSignature"),
        ("HubSignature", "HubSignature header has no fields"),
        ("HubSignature   ", "HubSignature header has no fields"),
        ('HubSignature origin"a.example"', 'field "origin" has no "=" after its name'),
        ("HubSignature =x", "expected a field name at character 14"),
        ('HubSignature origin="a.example",,key=x', "empty field at character 33"),
        ('HubSignature origin="a.example",', "empty field at character 33"),
        ("HubSignature origin=", 'field "origin" has no value'),
        ('HubSignature origin="a.example', 'field "origin" has an unterminated quoted value'),
        ('HubSignature origin="a.example\\', 'field "origin" ends with a lone backslash'),
        ('HubSignature other="x', "a field has an unterminated quoted value"),
        (
            'HubSignature origin="a.example" key="x"',
            'expected "," after field "origin" at character 33',
        ),
        (GOOD + ',ORIGIN="c.example"', 'field "origin" appears twice'),
        (_without("origin"), 'missing field "origin"'),
        (_without("destination"), 'missing field "destination"'),
        (_without("key"), 'missing field "key"'),
        (_without("ts"), 'missing field "ts"'),
        (_without("nonce"), 'missing field "nonce"'),
        (_without("sig"), 'missing field "sig"'),
        (GOOD.replace('"a.example"', '""'), 'field "origin": server name is empty'),
        (GOOD.replace('"a.example"', '"a_b.example"'), 'field "origin": server name host must'),
        (
            GOOD.replace('"b.example:8448"', '"b.example:0"'),
            'field "destination": server name has an invalid port',
        ),
        (GOOD.replace("ed25519:k1", "rsa:k1"), 'field "key": is not an ed25519 key id'),
        (GOOD.replace("1763800000000", "-1"), 'field "ts": is not a time in milliseconds'),
        (GOOD.replace("1763800000000", "01763800000000"), 'field "ts": is not a time'),
        (GOOD.replace("1763800000000", "9" * 16), 'field "ts": is not a time'),
        (GOOD.replace(NONCE, "short"), 'field "nonce": must be 22-128 URL-safe base64'),
        (GOOD.replace(NONCE, NONCE + "+/"), 'field "nonce": must be 22-128 URL-safe base64'),
        (GOOD.replace(SIG_TEXT, SIG_TEXT + "=="), 'field "sig": is not unpadded base64'),
        (GOOD.replace(SIG_TEXT, SIG_TEXT.replace("+", "-")), 'field "sig": is not unpadded base64'),
        (GOOD.replace(SIG_TEXT, SIG_TEXT[:-1] + "x"), 'field "sig": is not canonical unpadded'),
        (GOOD.replace(SIG_TEXT, SIG_TEXT[:40]), 'field "sig": is not a 64-byte ed25519 signature'),
    ],
)
def test_malformed_headers_have_precise_errors(header, message):
    with pytest.raises(SignatureError) as error:
        parse_authorization(header)
    assert str(error.value).startswith(message), str(error.value)
    assert "\n" not in str(error.value)


def test_errors_never_echo_values():
    secret = "ya29.very-secret-bearer-token"
    for header in (f"Bearer {secret}", f'HubSignature origin="{secret}', f"HubSignature {secret}"):
        with pytest.raises(SignatureError) as error:
            parse_authorization(header)
        assert secret not in str(error.value)
        assert "ya29" not in str(error.value)


@given(st.text(max_size=300))
def test_any_text_raises_only_signature_error(text):
    try:
        parse_authorization(text)
    except SignatureError as exc:
        assert "\n" not in str(exc)


@given(
    st.lists(
        st.sampled_from(
            [
                "HubSignature",
                " ",
                ",",
                "=",
                '"',
                "\\",
                "origin",
                "key",
                "ts",
                "sig",
                "nonce",
                "destination",
                "a.example",
                "ed25519:k1",
                "1",
                NONCE,
                SIG_TEXT,
                "\t",
                "é",
            ]
        ),
        max_size=40,
    )
)
def test_header_like_text_raises_only_signature_error(parts):
    try:
        params = parse_authorization("".join(parts))
    except SignatureError:
        return
    assert parse_authorization(format_authorization(params)) == params


def test_canonical_json_is_sorted_compact_utf8_and_refuses_floats():
    assert canonical_json({"b": [1, True, None], "a": "é", "c": {"z": 1, "y": "x"}}) == (
        '{"a":"é","b":[1,true,null],"c":{"y":"x","z":1}}'.encode()
    )
    for bad, message in (
        ({"x": 1.5}, r"value\.x: floats are not allowed"),
        ({"x": float("nan")}, "floats are not allowed"),
        ([2**53], r"integer outside"),
        ({1: "x"}, "object keys must be strings"),
        ({"x": object()}, "object is not JSON"),
        ({"x": "\ud800"}, "lone surrogates"),
    ):
        with pytest.raises(ValueError, match=message):
            canonical_json(bad)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_canonical_json_reads_back_to_the_same_value(value):
    try:
        encoded = canonical_json(value)
    except ValueError:  # only strings with lone surrogates
        return
    assert json.loads(encoded) == value
    assert canonical_json(json.loads(encoded)) == encoded


def test_payload_changes_with_each_field():
    base = (
        "post",
        "/_hub/federation/v1/ping?x=1",
        ServerName("a.example"),
        ServerName("b.example"),
        1763800000000,
        NONCE,
        b'{"x":1}',
    )
    payload = signing_payload(*base)
    assert json.loads(payload)["method"] == "POST"
    assert signing_payload("POST", *base[1:]) == payload  # the method's case does not matter
    variants = [
        ("GET", *base[1:]),
        (base[0], "/_hub/federation/v1/ping?x=2", *base[2:]),
        (*base[:2], ServerName("c.example"), *base[3:]),
        (*base[:3], ServerName("c.example"), *base[4:]),
        (*base[:4], 1763800000001, *base[5:]),
        (*base[:5], NONCE[::-1], base[6]),
        (*base[:6], b'{"x":2}'),
    ]
    payloads = {signing_payload(*variant) for variant in variants}
    assert len(payloads) == len(variants)
    assert payload not in payloads


def test_unpadded_base64_has_one_spelling():
    for data in (b"", b"a", b"ab", b"abc", bytes(range(256))):
        assert unpadded_b64decode(unpadded_b64encode(data)) == data
    for bad in ("YQ==", "Y", "YR", "Y-", "Y Q"):
        with pytest.raises(ValueError):
            unpadded_b64decode(bad)


def test_server_names():
    assert parse_server_name("Visio.Finances.GOUV.fr") == "visio.finances.gouv.fr"
    assert parse_server_name("10.0.0.5:8443") == "10.0.0.5:8443"
    assert parse_server_name("[2001:DB8::1]:443") == "[2001:db8::1]:443"
    for bad, message in (
        ("", "server name is empty"),
        ("a" * 256, "longer than 255"),
        ("a.example:", "invalid port"),
        ("a.example:70000", "outside 1-65535"),
        ("[::1", "unclosed"),
        ("300.1.1.1", "looks like an IPv4 address"),
        ("-a.example", "DNS labels"),
        (" a.example", "spaces around it"),
        ("https://a.example", "invalid port"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_server_name(bad)


def test_base_urls():
    assert parse_base_url("https://Visio.Example/") == "https://visio.example"
    assert parse_base_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    for bad, message in (
        ("ftp://a.example", "must start with https://"),
        ("https://a.example/hub", "without a path"),
        ("https://a.example?x=1", "without a path"),
        ("https://user:pw@a.example", "user or password"),
        ("https://a.example:99999", "is not a URL"),
        ("https://", "server name is empty"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_base_url(bad)
    with pytest.raises(ValueError, match=r"must use https://"):
        parse_base_url("http://a.example", allow_http=False)


def test_log_lines_never_show_a_signature_header():
    header = format_authorization(PARAMS)
    line = redact(f"refused a request with Authorization: {header} from a.example")
    assert SIG_TEXT not in line and NONCE not in line
    assert line == "refused a request with Authorization: HubSignature [redacted] from a.example"
