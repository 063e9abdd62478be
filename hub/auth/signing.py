"""Keys derived from security.secret_key, one per purpose, and HMAC-signed values.

A value signed for one purpose never verifies for another (session cookie, CSRF token,
login transaction, join token each derive their own key). Signed values are
`base64url(payload).base64url(HMAC-SHA256)`: readable, not secret, impossible to forge.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    """ValueError (binascii.Error is one) for text that is not base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive_key(secret_key: str, purpose: bytes) -> bytes:
    return hmac.new(secret_key.encode("utf-8"), purpose, hashlib.sha256).digest()


class Signer:
    """Signs payloads for one purpose and checks them back in constant time."""

    def __init__(self, secret_key: str, purpose: bytes) -> None:
        self._key = derive_key(secret_key, purpose)

    def mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def sign(self, payload: bytes) -> str:
        return f"{b64(payload)}.{b64(self.mac(payload))}"

    def unsign(self, value: str, max_length: int) -> bytes:
        """The payload of a value this signer made; ValueError saying why not otherwise."""
        payload_text, dot, mac_text = value.partition(".")
        if not dot or len(value) > max_length:
            raise ValueError("is malformed")
        try:
            payload, mac = unb64(payload_text), unb64(mac_text)
        except (binascii.Error, ValueError):
            raise ValueError("is malformed") from None
        if not hmac.compare_digest(mac, self.mac(payload)):
            raise ValueError("signature does not verify")
        return payload
