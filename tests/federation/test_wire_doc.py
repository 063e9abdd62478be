"""docs/federation.md's worked example, recomputed from the document's own blocks with the code
that signs and verifies: if the wire format changes, the document must change with it."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from hub.federation import keys
from hub.federation.signing import (
    AuthorizationParams,
    format_authorization,
    parse_authorization,
    signing_payload,
    unpadded_b64decode,
)
from hub.ids import ServerName
from tests.conftest import REPO

DOC = REPO / "docs" / "federation.md"
DAY_MS = 24 * 3600 * 1000


def example(name: str) -> str:
    """The fenced block right after `<!-- example:NAME -->` in the document."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example:{name} -->\n```[a-z]*\n(.*?)\n```", text, re.S)
    assert match is not None, f"docs/federation.md has no example:{name} block"
    return match.group(1)


@pytest.fixture
def documented_keys(tmp_path: Path) -> keys.InstanceKeys:
    path = tmp_path / "signing.key"
    path.write_text(example("key-file") + "\n", encoding="utf-8")
    path.chmod(0o600)
    return keys.load(path)


def test_the_documented_request_is_signed_as_the_code_signs(
    documented_keys: keys.InstanceKeys,
) -> None:
    head, _, body_text = example("request").partition("\n\n")
    request_line, *header_lines = head.splitlines()
    method, uri, _ = request_line.split(" ")
    headers = dict(line.split(": ", 1) for line in header_lines)
    body = body_text.encode("utf-8")
    params = parse_authorization(headers["Authorization"])
    assert headers["Host"] == params.destination
    assert params.key_id == documented_keys.key_id

    payload = signing_payload(
        method, uri, params.origin, params.destination, params.timestamp_ms, params.nonce, body
    )
    assert payload.decode("utf-8") == example("signed")
    assert json.loads(payload)["body_sha256"] == hashlib.sha256(body).hexdigest()
    # ed25519 is deterministic: the same seed over the same bytes gives the documented sig.
    assert documented_keys.sign(payload) == params.signature
    # ... and the header is exactly what the hub writes for these values.
    recomputed = AuthorizationParams(
        origin=params.origin,
        destination=params.destination,
        key_id=documented_keys.key_id,
        timestamp_ms=params.timestamp_ms,
        nonce=params.nonce,
        signature=documented_keys.sign(payload),
    )
    assert format_authorization(recomputed) == headers["Authorization"]


def test_the_documented_keys_document_is_the_published_one_and_verifies_the_request(
    documented_keys: keys.InstanceKeys,
) -> None:
    document = json.loads(example("keys-document"))
    params = parse_authorization(example("request").split("Authorization: ", 1)[1].split("\n")[0])
    issued = document["valid_until_ts"] - DAY_MS
    assert issued == params.timestamp_ms  # published when the request was signed
    assert keys.published_keys(documented_keys, params.origin, issued, DAY_MS) == document
    published = keys.verify_published(document, ServerName(params.origin), now=issued)
    key = published.key(params.key_id)
    assert key is not None
    assert key.public_base64 == documented_keys.current.verify_key.public_base64
    assert key.verifies(example("signed").encode("utf-8"), params.signature, issued)
    # The seed line of the key file decodes to 32 bytes, as the format says.
    seed = example("key-file").splitlines()[-1].split()[2]
    assert len(unpadded_b64decode(seed)) == keys.SEED_SIZE
