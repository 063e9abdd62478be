"""The opening of a remote worker's control connection (hub/sfu/handshake.py, pure), and the
`hub sfu-worker --listen` refusals an operator meets before it listens."""

from __future__ import annotations

import asyncio
import json
import os
import struct
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.sfu import handshake
from hub.sfu.handshake import HandshakeRefused, check_answer, check_hello
from hub.sfu.tcp import read_opening
from tests.conftest import REPO
from tests.support.tls import certificate_authority

SECRET = "s" * 40


def body(frame: bytes) -> bytes:
    (length,) = struct.unpack(">I", frame[:4])
    assert length == len(frame) - 4
    return frame[4:]


def test_a_hello_with_the_secret_is_let_in_and_says_which_hub():
    assert check_hello(body(handshake.hello(SECRET, "a1b2c3")), SECRET).hub == "a1b2c3"
    assert check_answer(body(handshake.welcome(4242))) == 4242


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (handshake.hello("s" * 39, "h"), "wrong secret"),
        (handshake.hello(SECRET + "x", "h"), "wrong secret"),
        (handshake.hello("", "h"), "wrong secret"),
        (handshake.hello(SECRET, ""), "hello: 'hub' is empty or too long"),
        (handshake.hello(SECRET, "h" * 65), "hello: 'hub' is empty or too long"),
        (b"xxxxGET / HTTP/1.1", "not a hello: not JSON"),
        (handshake.welcome(1), "not a hello: unknown message type 'welcome'"),
    ],
)
def test_what_is_not_a_valid_hello_is_refused_in_one_line(frame, error):
    with pytest.raises(HandshakeRefused) as caught:
        check_hello(frame[4:], SECRET)
    assert str(caught.value).startswith(error)
    assert SECRET not in str(caught.value) and "\n" not in str(caught.value)


def test_another_protocol_version_is_named():
    other = json.dumps({"type": "hello", "secret": SECRET, "hub": "h", "version": 99}).encode()
    with pytest.raises(HandshakeRefused, match="the hub speaks control protocol 99, this worker 1"):
        check_hello(other, SECRET)


async def test_the_answer_says_why_we_were_refused_and_a_hello_is_small():
    with pytest.raises(HandshakeRefused, match="refused by the worker: wrong secret"):
        check_answer(body(handshake.refusal("wrong secret")))
    for length, data in ((4096, b"x" * 4096), (4097, b"")):
        reader = asyncio.StreamReader()
        reader.feed_data(struct.pack(">I", length) + data)
        reader.feed_eof()
        if length == 4096:
            assert await read_opening(reader) == data
            continue
        with pytest.raises(HandshakeRefused, match="4097 bytes announced, over the 4096-byte"):
            await read_opening(reader)


@given(st.text(max_size=80), st.text(max_size=80))
def test_secrets_match_only_when_equal(given_secret, expected):
    assert handshake.secret_matches(given_secret, expected) == (given_secret == expected)


def worker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "hub", "sfu-worker", *args],
        cwd=REPO, env=full, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_worker_refuses_to_listen_without_tls_or_a_real_secret(tmp_path):
    _ca, certificate, key = certificate_authority(tmp_path, "127.0.0.1")
    tls = ["--tls-certificate", str(certificate), "--tls-key", str(key)]
    listen = ["--listen", "127.0.0.1:7799"]
    good = {"HUB_SFU__WORKER_SECRET": "q8V0s3kQ2m9x7Lr4Tn1Bz6Hc5Jd0Wp2Ya8Ue3Rf7Gi"}
    cases = [
        ([*listen, *tls], {}, "no secret: set $HUB_SFU__WORKER_SECRET or --secret-file"),
        ([*listen, *tls], {"HUB_SFU__WORKER_SECRET": "change-me" * 5}, "an example value"),
        ([*listen, *tls], {"HUB_SFU__WORKER_SECRET": "short"}, "shorter than 32 characters"),
        ([*listen, *tls, "--secret-file", str(tmp_path / "none")], {}, "--secret-file: cannot"),
        ([*listen], good, "--listen needs --tls-certificate and --tls-key"),
        (["--listen", "7799", *tls], good, "--listen: '7799' is not host:port"),
        ([*listen, "--tls-certificate", str(key), "--tls-key", str(key)], good, "TLS certificate"),
    ]
    for args, env, message in cases:
        result = worker(*args, env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("hub sfu-worker: ") and message in result.stderr, args
        assert result.stderr.count("\n") == 1 and "change-me" not in result.stderr
