"""The base URL of a service the operator names (speech, summary): checked once when the
configuration is read. Pure; the messages never repeat the URL, which may carry credentials."""

from __future__ import annotations

from yarl import URL


def service_base_url(value: str, *, before: str) -> str:
    """`value` without its trailing slash: an http(s) URL with a host, no user or password (a
    key goes in its own setting, never in the URL, which is logged), no query or fragment.
    ValueError with one line otherwise; an empty value (the service off) passes."""
    if not value:
        return value
    example = (
        f"must be an http(s) base URL ending before {before}, e.g. https://ai.example.gouv.fr/v1"
    )
    try:
        url = URL(value)
        url.port  # noqa: B018 (an impossible port raises here)
    except (ValueError, TypeError):
        raise ValueError(example) from None
    if (
        url.scheme not in ("http", "https")
        or not url.host
        or "?" in value
        or "#" in value
        or any(c.isspace() for c in value)
    ):
        raise ValueError(example)
    if url.user is not None or url.password is not None:
        raise ValueError("must not carry a user or password (the key goes in api_key)")
    return value.rstrip("/")
