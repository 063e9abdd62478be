"""Our key file (create, rotate, private), the signed keys document, the keyring's cache and
fetch limits, and the nonce cache's bounds."""

from __future__ import annotations

import asyncio
import copy
import stat

import pytest

from hub.federation.keyring import Keyring, KeyUnavailable
from hub.federation.keys import (
    DAY_MS,
    HOUR_MS,
    KeyDocumentError,
    KeyFileError,
    PublishedKeys,
    generate,
    load,
    published_keys,
    verify_published,
)
from hub.federation.nonces import KEEP_MS, Nonces
from hub.federation.signing import unpadded_b64encode
from hub.ids import ServerName
from hub.shared.memory import MemoryState
from hub.shared.port import ClaimVerdict

NOW = 1_763_800_000_000
A = ServerName("a.example")
B = ServerName("b.example")


def test_generate_creates_a_private_file_in_a_private_folder(tmp_path):
    path = tmp_path / "federation" / "signing.key"
    keys = generate(path, NOW)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert keys.retired == ()
    assert keys.key_id.startswith("ed25519:")
    assert load(path) == keys
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    assert lines == [f"ed25519 {keys.key_id.split(':')[1]} {keys.current.seed_base64}"]
    assert keys.current.seed_base64 not in repr(keys)  # a repr never shows a private key


def test_rotation_keeps_the_old_key_verifiable_for_earlier_signatures_only(tmp_path):
    path = tmp_path / "signing.key"
    first = generate(path, NOW)
    second = generate(path, NOW + HOUR_MS)
    assert second.key_id != first.key_id
    assert [key.key_id for key in second.retired] == [first.key_id]
    assert load(path) == second
    old = second.retired[0].verify_key
    assert old.expired_ts == NOW + HOUR_MS
    signature = first.sign(b"payload")
    assert old.verifies(b"payload", signature, at_ts=NOW + HOUR_MS - 1)
    assert not old.verifies(b"payload", signature, at_ts=NOW + HOUR_MS)
    assert not old.verifies(b"tampered", signature, at_ts=NOW)
    # Retired keys go 30 days after they stopped signing; younger ones stay.
    third = generate(path, NOW + 20 * DAY_MS)
    assert [key.key_id for key in third.retired] == [second.key_id, first.key_id]
    fourth = generate(path, NOW + 31 * DAY_MS + HOUR_MS + 1)
    assert [key.key_id for key in fourth.retired] == [third.key_id, second.key_id]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", ": holds no key; create one with `hub keys generate`"),
        ("ed25519 k1\n", ":1: expected `ed25519 <version> <seed>`"),
        ("rsa k1 AAAA\n", ":1: unknown algorithm (only ed25519)"),
        ("ed25519 k-1 " + "A" * 43 + "\n", ":1: key version must be 1-64 letters"),
        ("ed25519 k1 AAAA=\n", ":1: seed is not unpadded base64"),
        ("ed25519 k1 AAAA\n", ":1: seed is not 32 bytes"),
        ("ed25519 k1 SEED expired_ts=1\n", ":1: the first key is the current one"),
        ("ed25519 k1 SEED\ned25519 k2 SEED\n", ":2: a retired key (any key after the first)"),
        ("ed25519 k1 SEED\ned25519 k2 SEED expired=1\n", ":2: expected expired_ts=<milliseconds>"),
        (
            "# c\ned25519 k1 SEED\ned25519 k1 SEED expired_ts=5\n",
            ":3: key id ed25519:k1 is used twice",
        ),
    ],
)
def test_malformed_key_files_are_refused_with_the_line(tmp_path, content, message):
    path = tmp_path / "signing.key"
    path.write_text(content.replace("SEED", unpadded_b64encode(bytes(32))))
    path.chmod(0o600)
    with pytest.raises(KeyFileError) as error:
        load(path)
    assert str(error.value).startswith(f"{path}{message}"), str(error.value)
    # A broken file is never overwritten by a rotation: it may be the only copy.
    with pytest.raises(KeyFileError):
        generate(path, NOW)
    assert path.read_text() == content.replace("SEED", unpadded_b64encode(bytes(32)))


def test_missing_and_too_open_files_are_refused(tmp_path):
    path = tmp_path / "signing.key"
    with pytest.raises(KeyFileError, match=r"file not found; create it with `hub keys generate`"):
        load(path)
    generate(path, NOW)
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match=r"other users may access it \(mode 0644\); run `chmod"):
        load(path)


def test_published_document_is_signed_and_verifies(tmp_path):
    path = tmp_path / "signing.key"
    generate(path, NOW - HOUR_MS)
    keys = generate(path, NOW)
    document = published_keys(keys, A, NOW, 24 * HOUR_MS)
    assert document["valid_until_ts"] == NOW + 24 * HOUR_MS
    assert set(document["signatures"][A]) == {keys.key_id}  # type: ignore[index]
    published = verify_published(document, A, NOW + 1)
    assert published.valid_until_ts == NOW + 24 * HOUR_MS
    assert set(published.verify_keys) == {keys.key_id}
    old = published.old_verify_keys[keys.retired[0].key_id]
    assert old.expired_ts == NOW
    payload = b"request"
    assert published.key(keys.key_id).verifies(payload, keys.sign(payload), NOW)
    # The validity asked for is capped at 7 days when published...
    assert published_keys(keys, A, NOW, 30 * DAY_MS)["valid_until_ts"] == NOW + 7 * DAY_MS


def _resigned(document, keys, **changes):
    """The document with changes, signed again properly by `keys` (a partner lying)."""
    from hub.federation.signing import canonical_json

    changed = {k: v for k, v in copy.deepcopy(document).items() if k != "signatures"}
    changed.update(changes)
    signature = unpadded_b64encode(keys.sign(canonical_json(changed)))
    changed["signatures"] = {document["server_name"]: {keys.key_id: signature}}
    return changed


def test_bad_documents_are_refused(tmp_path):
    keys = generate(tmp_path / "signing.key", NOW)
    document = published_keys(keys, A, NOW, 24 * HOUR_MS)

    def refused(doc, message, server=A, now=NOW):
        with pytest.raises(KeyDocumentError, match=message):
            verify_published(doc, server, now)

    refused([], "not a JSON object")
    refused(document, "is not b.example's", server=B)
    refused(document, r"has expired", now=NOW + 24 * HOUR_MS)
    tampered = copy.deepcopy(document)
    tampered["valid_until_ts"] += 1
    refused(tampered, f"signature by {keys.key_id} does not verify")
    other = generate(tmp_path / "other.key", NOW)
    swapped = copy.deepcopy(document)
    swapped["verify_keys"] = {keys.key_id: {"key": other.current.verify_key.public_base64}}
    refused(swapped, "does not verify")
    unsigned = {k: v for k, v in document.items() if k != "signatures"}
    refused(unsigned, "is not signed by a.example")
    refused(_resigned(document, keys, verify_keys={}), "has no verify_keys")
    current = document["verify_keys"][keys.key_id]
    refused(_resigned(document, keys, valid_until_ts="soon"), "no integer valid_until_ts")
    refused({**document, "valid_until_ts": NOW + 0.5}, "no integer valid_until_ts")
    refused({**document, "extra": 0.5}, "floats are not allowed")
    refused(
        _resigned(document, keys, old_verify_keys={keys.key_id: {**current, "expired_ts": 1}}),
        "both current and old",
    )
    refused(
        _resigned(document, keys, old_verify_keys={"ed25519:x": {"key": "AAAA"}}),
        r"old_verify_keys\.ed25519:x has no expired_ts",
    )
    refused(_resigned(document, keys, verify_keys={"rsa:1": {"key": "x"}}), "a key id is not")


def test_a_validity_beyond_seven_days_is_capped_when_verified(tmp_path):
    keys = generate(tmp_path / "signing.key", NOW)
    document = _resigned(
        published_keys(keys, A, NOW, HOUR_MS), keys, valid_until_ts=NOW + 365 * DAY_MS
    )
    assert verify_published(document, A, NOW).valid_until_ts == NOW + 7 * DAY_MS


class Partner:
    """A partner's keys served to the keyring, counting fetches; its clock is the test's."""

    def __init__(self, tmp_path, clock):
        self.path = tmp_path / "partner.key"
        self.keys = generate(self.path, clock.now)
        self.clock = clock
        self.fetches = 0
        self.delay = 0.0
        self.down = False

    def rotate(self):
        self.keys = generate(self.path, self.clock.now)

    async def fetch_keys(self, server_name: ServerName) -> PublishedKeys:
        self.fetches += 1
        await asyncio.sleep(self.delay)
        if self.down:
            raise OSError("connection refused")
        return verify_published(
            published_keys(self.keys, A, self.clock.now, HOUR_MS), server_name, self.clock.now
        )


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self) -> int:
        return self.now


async def test_keyring_caches_until_valid_until_and_fetches_once_at_a_time(tmp_path):
    clock = Clock()
    partner = Partner(tmp_path, clock)
    keyring = Keyring(partner, clock=clock)
    partner.delay = 0.05
    keys = await asyncio.gather(
        *(keyring.verification_key(A, partner.keys.key_id, NOW) for _ in range(20))
    )
    assert {key.key_id for key in keys} == {partner.keys.key_id}
    assert partner.fetches == 1  # one fetch in flight, the others waited for it
    clock.now += HOUR_MS - 1
    await keyring.verification_key(A, partner.keys.key_id, clock.now)
    assert partner.fetches == 1  # still valid
    clock.now += 1
    await keyring.verification_key(A, partner.keys.key_id, clock.now)
    assert partner.fetches == 2  # the document expired: asked again


async def test_forged_key_ids_do_not_make_us_hammer_the_partner(tmp_path):
    clock = Clock()
    partner = Partner(tmp_path, clock)
    keyring = Keyring(partner, clock=clock)
    await keyring.verification_key(A, partner.keys.key_id, NOW)
    for index in range(50):
        with pytest.raises(KeyUnavailable, match=f"unknown key ed25519:forged{index} of a.example"):
            await keyring.verification_key(A, f"ed25519:forged{index}", NOW)
        clock.now += 100
    assert partner.fetches == 1  # none in the first 30 s after a fetch
    clock.now = NOW + 30_000
    with pytest.raises(KeyUnavailable):
        await keyring.verification_key(A, "ed25519:forged", clock.now)
    assert partner.fetches == 2  # then at most once every 30 s


async def test_keyring_follows_a_rotation_and_retired_keys_verify_only_before(tmp_path):
    clock = Clock()
    partner = Partner(tmp_path, clock)
    keyring = Keyring(partner, clock=clock)
    old_id = partner.keys.key_id
    await keyring.verification_key(A, old_id, NOW)
    clock.now += 60_000
    rotated_at = clock.now
    partner.rotate()
    # A new key id is fetched (30 s have passed since the last fetch).
    new = await keyring.verification_key(A, partner.keys.key_id, clock.now)
    assert new.expired_ts is None
    old = await keyring.verification_key(A, old_id, rotated_at - 1)
    assert old.expired_ts == rotated_at
    with pytest.raises(KeyUnavailable, match=f"key {old_id} of a.example was retired before"):
        await keyring.verification_key(A, old_id, rotated_at)


async def test_unreachable_partner_is_asked_at_most_every_30_s(tmp_path):
    clock = Clock()
    partner = Partner(tmp_path, clock)
    partner.down = True
    keyring = Keyring(partner, clock=clock)
    with pytest.raises(KeyUnavailable, match="could not be fetched: connection refused"):
        await keyring.verification_key(A, partner.keys.key_id, NOW)
    with pytest.raises(KeyUnavailable, match="unknown key"):
        await keyring.verification_key(A, partner.keys.key_id, NOW)
    assert partner.fetches == 1


async def test_nonces_are_refused_when_replayed_and_forgotten_after_ten_minutes():
    now = [1000.0]  # the memory state's clock: seconds, never going back (monotonic)
    nonces = Nonces(MemoryState(lambda: now[0]))
    assert (await nonces.admit(A, "n" * 22)).verdict is ClaimVerdict.FRESH
    now[0] = 1000.0 + KEEP_MS / 1000 - 0.25
    assert (await nonces.admit(A, "n" * 22)).verdict is ClaimVerdict.TAKEN
    assert (await nonces.admit(B, "n" * 22)).verdict is ClaimVerdict.FRESH  # per origin
    now[0] = 1000.0 + KEEP_MS / 1000
    assert (await nonces.admit(A, "n" * 22)).verdict is ClaimVerdict.FRESH


async def test_a_full_nonce_memory_refuses_instead_of_forgetting():
    now = [1000.0]
    nonces = Nonces(MemoryState(lambda: now[0], max_claims=3))
    for index in range(3):
        now[0] = 1000.0 + index / 4
        assert (await nonces.admit(A, f"nonce{index}")).verdict is ClaimVerdict.FRESH
    now[0] = 1001.0
    full = await nonces.admit(A, "nonce3")
    assert (full.verdict, full.retry_after_ms) == (ClaimVerdict.FULL, KEEP_MS - 1000)
    assert (await nonces.admit(A, "nonce0")).verdict is ClaimVerdict.TAKEN  # none forgotten
    now[0] = 1000.0 + KEEP_MS / 1000
    assert (await nonces.admit(A, "nonce3")).verdict is ClaimVerdict.FRESH  # room again
