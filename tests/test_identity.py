"""The Identity value object: its kind is read in one place, never parsed by callers."""

from __future__ import annotations

import pytest

from hub.ids import Identity, IdentityKind, ServerName


def test_an_identity_knows_its_kind_and_subject() -> None:
    identity = Identity("matrix:@anne:example.org")
    assert identity.kind is IdentityKind.MATRIX
    assert identity.subject == "@anne:example.org"
    assert identity.matrix_user == "@anne:example.org"
    assert identity == "matrix:@anne:example.org"  # stored and sent as the same text


@pytest.mark.parametrize("text", ["", "anne", "email:anne@example.org", "guest:", ":x"])
def test_text_naming_no_known_kind_is_no_identity(text: str) -> None:
    with pytest.raises(ValueError, match="does not start with a known kind"):
        Identity(text)
    assert Identity.read(text) is None


def test_a_partners_person_is_named_under_that_partner() -> None:
    identity = Identity.vouched_by("local:pc:anne", ServerName("b.example"))
    assert identity == "partner:local:pc:anne@b.example"
    assert identity.kind is IdentityKind.PARTNER
    assert identity.matrix_user is None


def test_only_signed_in_kinds_authenticate() -> None:
    assert Identity("local:pc:anne").authenticates()
    assert Identity("matrix:@anne:example.org").authenticates()
    assert not Identity.new_guest().authenticates()
    partner = Identity.vouched_by("local:pc:anne", ServerName("b.example"))
    assert not partner.authenticates()
    assert partner.authenticates(trusted_partner=True)
    assert Identity.new_guest() != Identity.new_guest()
