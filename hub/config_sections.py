"""The sections of the hub's configuration file, as typed, validated models.

Each section checks its own values (ports, URLs, names, limits) and says precisely what is
wrong; hub/config.py assembles them into `HubConfig`, applies the environment and the
production checks.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from hub.auth.matrix_openid import parse_server_name
from hub.config_url import service_base_url
from hub.federation.names import parse_base_url
from hub.federation.names import parse_server_name as parse_federation_server_name
from hub.ids import ServerName
from hub.nodes.homes import node_origin
from hub.shared.address import check_redis_url
from hub.web.proxies import ForwardedHeader

NODE_NAME = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class _Section(BaseModel):
    """Base for every config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class ServerConfig(_Section):
    """Where the hub listens and how it is reached from outside."""

    dev: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = ""
    data_dir: Path = Path("data")
    shutdown_timeout: float = Field(default=10.0, ge=0, le=300)
    # Networks of the reverse proxies in front of the hub: only a request whose TCP peer is in
    # one of them has its forwarding header believed (hub/web/proxies.py).
    trusted_proxies: tuple[str, ...] = ()
    forwarded_header: ForwardedHeader = "x-forwarded-for"
    # This node's name in /health, /metrics (hub_node_info) and `hub drain`'s report; empty:
    # the machine's host name. Give each `hub serve` behind one load balancer its own.
    node_name: str = ""
    # This node's own address, as the other nodes reach it directly (not through the load
    # balancer), e.g. "http://10.0.0.5:8080": a partner hub's request for a meeting at home on
    # another node is passed there (hub/federation/forward.py). Required with [redis] url and
    # [federation] server_name both set.
    node_url: str = ""

    @field_validator("node_name")
    @classmethod
    def _node_name_is_a_label(cls, value: str) -> str:
        if value and not NODE_NAME.fullmatch(value):
            raise ValueError("must be 1-64 letters, digits, '.', '_', ':' or '-'")
        return value

    @field_validator("node_url")
    @classmethod
    def _node_url_is_an_origin(cls, value: str) -> str:
        return node_origin(value) if value else value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                network = ipaddress.ip_network(item)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP network: {exc}") from None
            if network.prefixlen == 0:
                raise ValueError(f"{item!r} trusts every address: anyone could claim any address")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// in dev mode)")
        return value.rstrip("/")


class DatabaseConfig(_Section):
    """Which database holds meetings and how the hub treats its schema."""

    url: str = ""
    auto_migrate: bool = True
    connect_timeout: float = Field(default=5.0, gt=0, le=120)
    pool_size: int = Field(default=5, ge=1, le=100)
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _supported_driver(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
                "(the hub needs an async driver)"
            )
        return value


class RedisConfig(_Section):
    """Where hub nodes share rate limits, nonces, leases and meeting messages; empty: in this
    process's memory (one node). The URL may hold a password: SecretStr keeps it out of logs."""

    url: SecretStr = SecretStr("")

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: SecretStr) -> SecretStr:
        check_redis_url(value.get_secret_value())
        return value


class SecurityConfig(_Section):
    """Secrets the hub signs cookies and tokens with; never logged (SecretStr hides them)."""

    secret_key: SecretStr = SecretStr("")


class LoggingConfig(_Section):
    """How much the hub logs and in which shape."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "text", "json"] = "auto"
    access_log: bool = True


class MetricsConfig(_Section):
    """Who may read /metrics: only clients from these networks (loopback by default)."""

    allow_from: tuple[str, ...] = ("127.0.0.0/8", "::1/128")

    @field_validator("allow_from")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP network") from exc
        return value


_PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class OidcProviderConfig(_Section):
    """One OpenID Connect provider people may log in with (ProConnect, a ministry's Keycloak)."""

    # Short name used in the login and callback URLs: /auth/login/<name>.
    name: str
    # Text on the login button.
    label: str
    # The issuer URL; its /.well-known/openid-configuration is read at first use.
    issuer: str
    client_id: str
    client_secret: SecretStr
    scopes: tuple[str, ...] = ("openid", "email", "given_name", "usual_name")
    # Asked for as acr_values when set (ProConnect: "eidas1").
    acr_values: str | None = None
    # Seconds of clock difference tolerated on ID tokens. ProConnect's tokens live 60 s,
    # so a leeway as large as Authlib's default (60 s) would accept stale ones.
    leeway: int = Field(default=5, ge=0, le=30)

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _PROVIDER_NAME.match(value):
            raise ValueError("must be 1-32 lower-case letters, digits or dashes")
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer_url(cls, value: str) -> str:
        value = value.rstrip("/")
        if value.startswith("https://"):
            return value
        host = value.removeprefix("http://").split("/", 1)[0].rsplit(":", 1)[0]
        if value.startswith("http://") and host in _LOOPBACK_HOSTS:
            return value  # a provider on this very machine (tests, a local Keycloak)
        raise ValueError("must be an https:// URL (http:// only for a loopback provider)")

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "openid" not in value:
            raise ValueError('must contain "openid"')
        return value


class AuthConfig(_Section):
    """How people prove who they are, and what a guest (someone with only a link) may do."""

    providers: tuple[OidcProviderConfig, ...] = ()
    # May a guest create meetings? "auto": only in dev mode when no provider is configured
    # (so a laptop without an identity provider can still be tried out).
    guest_meetings: Literal["auto", "allowed", "refused"] = "auto"
    session_lifetime: int = Field(default=12 * 3600, ge=300, le=7 * 24 * 3600)

    @field_validator("providers")
    @classmethod
    def _unique_names(cls, value: tuple[OidcProviderConfig, ...]) -> tuple[OidcProviderConfig, ...]:
        names = [provider.name for provider in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"provider name {duplicates[0]!r} is used twice")
        return value


class LimitsConfig(_Section):
    """Requests one client address may make before getting 429 Too Many Requests."""

    login_per_minute: int = Field(default=10, ge=1, le=10_000)
    lobby_per_minute: int = Field(default=10, ge=1, le=10_000)
    meetings_per_hour: int = Field(default=30, ge=1, le=100_000)


class MatrixConfig(_Section):
    """Which Matrix homeservers may vouch for users (OpenID), and how to reach private ones."""

    # Server name -> base URL, used instead of Matrix server discovery (tests, private
    # deployments): {"localhost:8481" = "http://127.0.0.1:8480"}.
    homeserver_overrides: dict[str, str] = Field(default_factory=dict)
    # Server names whose users may join as themselves (the hub contacts no other homeserver);
    # empty: Matrix identities are off.
    allowed_homeservers: tuple[str, ...] = ()
    # The meeting bot's account (a normal user, not an appservice). Empty: no bot.
    bot_user_id: str = ""
    # Client-server API base URL of the bot's homeserver.
    bot_homeserver_url: str = ""
    # Used once, for the first login; the bot then keeps its device in the data folder.
    bot_password: SecretStr = SecretStr("")
    # Where the bot keeps its device, sync position and encryption keys. Empty:
    # <server.data_dir>/matrix-bot. With [redis] url (several nodes), a folder every node
    # mounts (a shared volume): the node that takes the bot over resumes from it.
    bot_store_dir: Path | None = None
    # Messages starting with this word are commands for the bot.
    command_prefix: str = Field(default="!visio", pattern=r"^\S{1,32}$")
    # Whether the end-of-meeting summary in the room names the participants.
    summary_names: bool = True
    # Shared secret of the bridge API (/api/v1/bridge) that a bot run alone (`hub bridge`)
    # calls with `Authorization: Bearer <token>`. Empty: that API is off (404).
    bridge_token: SecretStr = SecretStr("")
    # The hub's base URL as `hub bridge` reaches it. Empty: server.public_url.
    hub_url: str = ""
    # Origins of the Matrix web clients that may show the meeting page as a widget (its only
    # frame-ancestors), e.g. ("https://www.tchap.gouv.fr",). Empty: nobody may frame it.
    widget_parent_origins: tuple[str, ...] = ()

    @property
    def bot_enabled(self) -> bool:
        return bool(self.bot_user_id)

    @property
    def bot_in_process(self) -> bool:
        """A bridge token means the bot runs alone (`hub bridge`), never also in the hub."""
        return self.bot_enabled and not self.bridge_token.get_secret_value()

    @field_validator("bot_user_id")
    @classmethod
    def _bot_user(cls, value: str) -> str:
        if value:
            local, sep, server = value.partition(":")
            if not local.startswith("@") or len(local) < 2 or not sep:
                raise ValueError("must be a Matrix user id, @name:server")
            parse_server_name(server)
        return value

    @field_validator("bot_store_dir", mode="before")
    @classmethod
    def _store_dir(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("bot_homeserver_url", "hub_url")
    @classmethod
    def _base_urls(cls, value: str) -> str:
        if value and (not value.startswith(("https://", "http://")) or "?" in value):
            raise ValueError("must be an http(s) base URL, e.g. https://visio.example.gouv.fr")
        return value.rstrip("/")

    @field_validator("homeserver_overrides")
    @classmethod
    def _override_urls(cls, value: dict[str, str]) -> dict[str, str]:
        for name, url in value.items():
            parse_server_name(name)
            if not url.startswith(("https://", "http://")) or "?" in url or "#" in url:
                raise ValueError(f"{name!r}: {url!r} is not an http(s) base URL")
        return {name: url.rstrip("/") for name, url in value.items()}

    @field_validator("allowed_homeservers")
    @classmethod
    def _server_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            parse_server_name(name)
        return value

    @field_validator("widget_parent_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(parse_origin(origin) for origin in value)


_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def parse_origin(value: str) -> str:
    """A web origin, `https://host[:port]` (http only on loopback), in canonical lower case.

    It goes into a Content-Security-Policy header as it is, so nothing but a scheme, a host
    and a port may pass (no path, wildcard, quote, space or ';').
    """
    scheme, sep, rest = value.strip().removesuffix("/").partition("://")
    scheme, rest = scheme.lower(), rest.lower()
    if not sep or scheme not in ("https", "http"):
        raise ValueError(f"{value!r} is not an origin like https://www.tchap.gouv.fr")
    try:
        server = parse_server_name(rest)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an origin (scheme://host[:port]): {exc}") from None
    if scheme == "http" and server.host not in _LOOPBACK_HOSTS:
        raise ValueError(f"{value!r}: only https:// origins, or http:// on loopback")
    return f"{scheme}://{rest}"


class FederationPartnerConfig(_Section):
    """One partner hub declared in the file (more may be added with `hub federation add`)."""

    # The name the partner signs with, e.g. "visio.finances.gouv.fr".
    server_name: ServerName
    # Where it is reached: https://host[:port], no path.
    base_url: str
    # Shown after the names of its people, e.g. "Finances". Empty: the server name.
    label: str = Field(default="", max_length=120)
    # Its authenticated people join our TRUSTED meetings without waiting.
    inbound_trusted: bool = False
    # Our people may join meetings it hosts.
    outbound_allowed: bool = False
    # Matrix homeservers whose users belong to that instance.
    matrix_homeservers: tuple[str, ...] = ()

    @field_validator("server_name", mode="before")
    @classmethod
    def _server_name(cls, value: object) -> ServerName:
        if not isinstance(value, str):
            raise ValueError('must be a server name in quotes, e.g. "visio.finances.gouv.fr"')
        return parse_federation_server_name(value)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return parse_base_url(value)

    @field_validator("matrix_homeservers")
    @classmethod
    def _homeservers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(parse_federation_server_name(name) for name in value))

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        return value.strip()


class FederationConfig(_Section):
    """Server-to-server requests with partner hubs, signed with this hub's ed25519 key."""

    # This hub's name for its partners; None (empty in the file): federation is off.
    server_name: ServerName | None = None
    # The private signing keys; None: <server.data_dir>/federation/signing.key.
    signing_key_file: Path | None = None
    # Hours partners may cache our public keys before asking again (at most 7 days).
    key_validity_hours: int = Field(default=24, ge=1, le=168)
    # Allow connecting to partners on private, loopback or link-local addresses (tests, a lab).
    allow_private_networks: bool = False
    partners: tuple[FederationPartnerConfig, ...] = ()

    @field_validator("server_name", mode="before")
    @classmethod
    def _server_name(cls, value: object) -> ServerName | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ValueError('must be a server name in quotes, e.g. "visio.interieur.gouv.fr"')
        return parse_federation_server_name(value)

    @field_validator("signing_key_file", mode="before")
    @classmethod
    def _key_file(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _partners(self) -> FederationConfig:
        owners: dict[str, str] = {}
        names: set[str] = set()
        for partner in self.partners:
            if partner.server_name in names:
                raise ValueError(f"partner {partner.server_name} is declared twice")
            if partner.server_name == self.server_name:
                raise ValueError(f"partner {partner.server_name} is this hub's own server_name")
            names.add(partner.server_name)
            for homeserver in partner.matrix_homeservers:
                if homeserver in owners:
                    raise ValueError(
                        f"Matrix homeserver {homeserver} belongs to two partners "
                        f"({owners[homeserver]} and {partner.server_name})"
                    )
                owners[homeserver] = partner.server_name
        return self


_LANGUAGE = re.compile(r"^[a-z]{2}$")


class SpeechConfig(_Section):
    """Speech to text for subtitles and transcripts (hub/speech/): which backend, where it is,
    how long the hub waits for it, whether moderators may turn live subtitles on, and how long
    transcripts are kept."""

    # "off", "kyutai" (moshi-server's streaming /api/asr-streaming), "openai" (an
    # OpenAI-compatible /v1/audio/transcriptions) or "embedded" (faster-whisper in process).
    backend: Literal["off", "kyutai", "openai", "embedded"] = "off"
    # Live subtitles, started by a moderator (never on by default); false: the operator
    # disables them even with a backend configured.
    subtitles: bool = True
    # What people speak, as an ISO 639-1 code; sent to the OpenAI-compatible server and to
    # the embedded engine (Kyutai's model finds English or French itself).
    language: str = "fr"
    connect_timeout: float = Field(default=5.0, gt=0, le=60)
    # Longest wait for an answer: Kyutai's Ready, its answer to audio and to an end of
    # utterance (more than the model's 0.48 s delay); one transcription request.
    answer_timeout: float = Field(default=10.0, gt=0, le=120)
    kyutai_url: str = ""
    kyutai_api_key: SecretStr = SecretStr("")
    openai_url: str = ""
    openai_model: str = Field(default="whisper-1", min_length=1, max_length=200)
    openai_api_key: SecretStr = SecretStr("")
    embedded_model_dir: Path | None = None
    embedded_workers: int = Field(default=1, ge=1, le=16)
    # What was said while subtitles ran is kept as the meeting's transcript for this many
    # days, then deleted (hub/meetings/transcripts.py).
    transcript_retention_days: int = Field(default=90, ge=1, le=3650)
    # A transcript is complete when its meeting ends, or once the meeting has stayed empty
    # this long (a reload or a dropped network comes back well within it): then it goes to
    # the linked Matrix rooms, and to the summary service if one is set.
    transcript_empty_seconds: float = Field(default=300.0, ge=1.0, le=86400.0)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if not _LANGUAGE.match(value):
            raise ValueError('must be a two-letter ISO 639-1 code such as "fr" or "en"')
        return value

    @field_validator("kyutai_url")
    @classmethod
    def _kyutai_url(cls, value: str) -> str:
        if value and (not value.startswith(("wss://", "ws://")) or "?" in value or "#" in value):
            raise ValueError(
                "must be a WebSocket URL without query, e.g. wss://stt.example.gouv.fr/api/asr-streaming"
            )
        return value

    @field_validator("openai_url")
    @classmethod
    def _openai_url(cls, value: str) -> str:
        return service_base_url(value, before="/audio")

    @field_validator("embedded_model_dir", mode="before")
    @classmethod
    def _model_dir(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _backend_settings(self) -> SpeechConfig:
        needed = {
            "kyutai": {
                "kyutai_url": bool(self.kyutai_url),
                # moshi-server answers 401 to any connection without one of its keys.
                "kyutai_api_key": bool(self.kyutai_api_key.get_secret_value()),
            },
            "openai": {"openai_url": bool(self.openai_url)},
            "embedded": {"embedded_model_dir": self.embedded_model_dir is not None},
        }.get(self.backend, {})
        missing = [key for key, present in needed.items() if not present]
        if missing:
            raise ValueError(f'backend = "{self.backend}" needs {" and ".join(missing)}')
        return self
