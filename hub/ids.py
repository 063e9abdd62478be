"""Typed identifiers shared across modules (NewType: free at run time, checked by mypy), and
`Identity`, the one value object that knows what kind of person an identity names."""

from __future__ import annotations

import enum
import secrets
from typing import NewType

MeetingId = NewType("MeetingId", str)
ParticipantId = NewType("ParticipantId", str)
ServerName = NewType("ServerName", str)
MatrixUserId = NewType("MatrixUserId", str)
MatrixRoomId = NewType("MatrixRoomId", str)


class IdentityKind(enum.StrEnum):
    """Where a person's identity comes from; the identity's text starts with `<kind>:`."""

    LOCAL = "local"  # OIDC account on this instance: local:<provider>:<sub>
    GUEST = "guest"  # someone with only a link: guest:<random id>
    MATRIX = "matrix"  # verified by Matrix OpenID: matrix:@user:server
    PARTNER = "partner"  # vouched for by a partner instance: partner:<user>@<instance>


_KINDS = frozenset(kind.value for kind in IdentityKind)


class Identity(str):
    """Who a person is: a kind and a subject, written `<kind>:<subject>`.

    A `str` subclass so that the database, signed tokens, cookies and wire formats keep the
    text they always had; everything else asks it (`kind`, `matrix_user`, the constructors)
    instead of parsing the prefix. Made from text that names no known kind, it raises
    ValueError: an identity in the hub always has a kind.
    """

    __slots__ = ()

    def __new__(cls, value: str) -> Identity:
        kind, colon, subject = value.partition(":")
        if not colon or kind not in _KINDS or not subject:
            raise ValueError(f"identity {value!r} does not start with a known kind")
        return super().__new__(cls, value)

    @classmethod
    def read(cls, text: str) -> Identity | None:
        """The identity `text` names, or None if it names no known kind (someone else's
        words, such as a partner's message)."""
        try:
            return cls(text)
        except ValueError:
            return None

    @classmethod
    def of(cls, kind: IdentityKind, subject: str) -> Identity:
        return cls(f"{kind.value}:{subject}")

    @classmethod
    def new_guest(cls) -> Identity:
        """A fresh guest (someone with only a link), unguessable."""
        return cls.of(IdentityKind.GUEST, secrets.token_urlsafe(12))

    @classmethod
    def matrix(cls, user_id: str) -> Identity:
        return cls.of(IdentityKind.MATRIX, user_id)

    @classmethod
    def vouched_by(cls, identity: str, partner: ServerName) -> Identity:
        """How this hub names someone a partner vouches for: under that partner's name."""
        return cls.of(IdentityKind.PARTNER, f"{identity}@{partner}")

    @property
    def kind(self) -> IdentityKind:
        return IdentityKind(self.partition(":")[0])

    @property
    def subject(self) -> str:
        return self.partition(":")[2]

    @property
    def matrix_user(self) -> MatrixUserId | None:
        """The Matrix user id of a verified Matrix user (None for any other kind)."""
        if self.kind is not IdentityKind.MATRIX:
            return None
        return MatrixUserId(self.subject)

    def authenticates(self, *, trusted_partner: bool = False) -> bool:
        """Whether an identity of this kind proves who the person is (a guest's does not);
        a partner's person counts only when we trust that partner's sign-in."""
        if self.kind is IdentityKind.PARTNER:
            return trusted_partner
        return self.kind in (IdentityKind.LOCAL, IdentityKind.MATRIX)
