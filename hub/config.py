"""Typed hub configuration: a TOML file, overridden by HUB_SECTION__KEY environment variables.

Loading fails with one `ConfigError` line naming the key and where its value came from
(the file, or the environment variable), so an operator can fix it without reading code.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    SecretStr,
    ValidationError,
    model_validator,
)

from hub.config_recording import RecordingConfig, StorageConfig
from hub.config_sections import (
    AuthConfig,
    DatabaseConfig,
    FederationConfig,
    LimitsConfig,
    LoggingConfig,
    MatrixConfig,
    MetricsConfig,
    RedisConfig,
    SecurityConfig,
    ServerConfig,
    SpeechConfig,
    _Section,
)
from hub.config_sfu import SfuConfig
from hub.config_summary import SummaryConfig
from hub.errors import ConfigError, StartupError
from hub.shared.address import is_loopback, redis_password

ENV_PREFIX = "HUB_"
ENV_SEPARATOR = "__"
MIN_SECRET_LENGTH = 32
# Values shipped in config.example.toml or commonly pasted from documentation. A production
# hub refuses to start with any of them, because anyone who read the docs would know them.
EXAMPLE_SECRET_MARKERS = ("change-me", "changeme", "example", "secret-key-here", "xxxxxxxx")
DEV_SECRETS_FILE = "secrets.toml"


class HubConfig(_Section):
    """The whole configuration; built only by `load_config`."""

    server: ServerConfig = ServerConfig()
    database: DatabaseConfig = DatabaseConfig()
    redis: RedisConfig = RedisConfig()
    security: SecurityConfig = SecurityConfig()
    logging: LoggingConfig = LoggingConfig()
    metrics: MetricsConfig = MetricsConfig()
    sfu: SfuConfig = SfuConfig()
    auth: AuthConfig = AuthConfig()
    limits: LimitsConfig = LimitsConfig()
    matrix: MatrixConfig = MatrixConfig()
    federation: FederationConfig = FederationConfig()
    speech: SpeechConfig = SpeechConfig()
    recording: RecordingConfig = RecordingConfig()
    storage: StorageConfig = StorageConfig()
    transcript_summary: SummaryConfig = SummaryConfig()

    @model_validator(mode="after")
    def _bot_store_shared(self) -> HubConfig:
        matrix = self.matrix
        if self.redis.url.get_secret_value() and matrix.bot_in_process and not matrix.bot_store_dir:
            raise ValueError(
                "matrix.bot_store_dir: required with redis.url (several nodes take turns "
                "running the bot): a folder every node mounts, holding its device and keys"
            )
        return self

    @model_validator(mode="after")
    def _node_reachable_by_nodes(self) -> HubConfig:
        federating = self.federation.server_name is not None
        if self.redis.url.get_secret_value() and federating and not self.server.node_url:
            raise ValueError(
                "server.node_url: required with redis.url and federation.server_name (a "
                "partner's request for a meeting at home on another node is passed there)"
            )
        return self

    @property
    def guests_can_create(self) -> bool:
        if self.auth.guest_meetings != "auto":
            return self.auth.guest_meetings == "allowed"
        return self.dev and not self.auth.providers

    @property
    def dev(self) -> bool:
        return self.server.dev

    @property
    def database_url(self) -> str:
        """The configured URL, or SQLite under the data folder (the embedded default)."""
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{(self.server.data_dir / 'hub.sqlite3').as_posix()}"

    @property
    def public_url(self) -> str:
        if self.server.public_url:
            return self.server.public_url
        return f"http://{self.server.host}:{self.server.port}"

    @property
    def recordings_dir(self) -> Path:
        """The local storage folder; also where the recorder writes tracks as they arrive."""
        return self.storage.path or self.server.data_dir / "recordings"

    @property
    def federation_key_file(self) -> Path:
        """Where this hub's federation signing keys are kept."""
        configured = self.federation.signing_key_file
        return configured or self.server.data_dir / "federation" / "signing.key"

    @property
    def bridge_hub_url(self) -> str:
        """Where a bot run alone reaches the hub."""
        return self.matrix.hub_url or self.public_url


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _apply_environment(
    data: dict[str, Any], environ: Mapping[str, str]
) -> dict[tuple[str, ...], str]:
    """Fold HUB_A__B=value variables into `data`; returns which key came from which variable."""
    sources: dict[tuple[str, ...], str] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or ENV_SEPARATOR not in name:
            continue
        path = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split(ENV_SEPARATOR))
        if any(not part for part in path):
            raise ConfigError(f"{name}: malformed variable name (use HUB_SECTION__KEY)")
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: {'.'.join(path)} is not inside a section")
            node = child
        node[path[-1]] = _env_value(value)
        sources[path] = name
    return sources


def _env_value(value: str) -> Any:
    """Environment values are strings; a TOML array or inline table may be given as-is."""
    if value.startswith(("[", "{")):
        try:
            return tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            return value
    return value


def _describe(error: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    loc = tuple(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return loc, "unknown key"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return loc, message


def _source_of(
    loc: tuple[str, ...], sources: Mapping[tuple[str, ...], str], path: Path | None
) -> str:
    for length in range(len(loc), 0, -1):
        if loc[:length] in sources:
            return sources[loc[:length]]
    return str(path) if path else "built-in defaults"


def is_example_secret(value: str) -> bool:
    lowered = value.lower()
    return any(marker in lowered for marker in EXAMPLE_SECRET_MARKERS)


def load_config(
    path: Path | None,
    *,
    dev: bool = False,
    environ: Mapping[str, str] | None = None,
    for_bridge: bool = False,
    need_keys: bool = True,
) -> HubConfig:
    """Read, override and validate the configuration; raise ConfigError with one clear line.
    `for_bridge`: for a bot run alone (`hub bridge`), which signs nothing and so needs no
    security.secret_key, nor server.public_url when given matrix.hub_url.
    `need_keys` false: for commands that sign nothing (`hub keys generate` makes the key file
    that a production hub with federation on otherwise requires)."""
    data: dict[str, Any] = _read_toml(path) if path else {}
    sources = _apply_environment(data, os.environ if environ is None else environ)
    if dev:
        server = data.setdefault("server", {})
        if isinstance(server, dict):
            server["dev"] = True
    try:
        config = HubConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        loc, message = _describe(errors[0])
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        where = _source_of(loc, sources, path)
        raise ConfigError(f"{where}: {'.'.join(loc) or 'top level'}: {message}{more}") from None
    if not config.dev:
        _check_production(config, sources, path, for_bridge=for_bridge, need_keys=need_keys)
    return config


def _check_production(
    config: HubConfig,
    sources: Mapping[tuple[str, ...], str],
    path: Path | None,
    *,
    for_bridge: bool = False,
    need_keys: bool = True,
) -> None:
    """Outside dev mode, refuse what is only acceptable on a developer's laptop."""

    def fail(loc: tuple[str, ...], message: str) -> ConfigError:
        return ConfigError(f"{_source_of(loc, sources, path)}: {'.'.join(loc)}: {message}")

    def check_secret(key: tuple[str, ...], value: str, *, required: bool) -> None:
        if not value:
            if required:
                raise fail(key, "is empty; set a random value (hub prints one with `hub secret`)")
            return
        if is_example_secret(value):
            raise fail(key, "is an example value; replace it with a random one (`hub secret`)")
        if len(value) < MIN_SECRET_LENGTH:
            raise fail(key, f"is shorter than {MIN_SECRET_LENGTH} characters")

    # The bridge signs nothing: it may go without a secret key.
    secret = config.security.secret_key.get_secret_value()
    check_secret(("security", "secret_key"), secret, required=not for_bridge)
    if not config.server.public_url and not (for_bridge and config.matrix.hub_url):
        raise fail(("server", "public_url"), "is required outside dev mode")
    matrix = config.matrix
    if matrix.bot_enabled and not matrix.bot_homeserver_url:
        raise fail(("matrix", "bot_homeserver_url"), "is required when matrix.bot_user_id is set")
    check_secret(("matrix", "bridge_token"), matrix.bridge_token.get_secret_value(), required=False)
    worker_secret = config.sfu.worker_secret.get_secret_value()
    check_secret(("sfu", "worker_secret"), worker_secret, required=False)
    for index, provider in enumerate(config.auth.providers):
        client_secret = provider.client_secret.get_secret_value()
        where = ("auth", "providers", str(index), "client_secret")
        if not client_secret or is_example_secret(client_secret):
            raise fail(where, "is empty or an example value; use the secret the provider gave")
    _check_federation(config, fail, need_keys=need_keys)
    _check_redis(config.redis.url.get_secret_value(), fail)
    summary_url = config.transcript_summary.url
    if summary_url.startswith("http://") and not is_loopback(summary_url):
        # It carries the transcripts and the key: plain HTTP only to this very machine.
        raise fail(
            ("transcript_summary", "url"),
            "must be an https:// URL outside dev mode (http:// only to a loopback host)",
        )
    service_keys = (
        (config.speech, "speech", ("kyutai_api_key", "openai_api_key"), "the key the service gave"),
        (config.transcript_summary, "transcript_summary", ("api_key",), "the service's key"),
        (config.storage, "storage", ("access_key", "secret_key"), "the store's own key"),
    )
    for section, name, keys, whose in service_keys:
        for key in keys:
            value = getattr(section, key).get_secret_value()
            if value and is_example_secret(value):
                raise fail((name, key), f"is an example value; use {whose}")


def _check_federation(
    config: HubConfig, fail: Callable[[tuple[str, ...], str], ConfigError], *, need_keys: bool
) -> None:
    federation = config.federation
    if federation.allow_private_networks:
        raise fail(
            ("federation", "allow_private_networks"),
            "must be false outside dev mode (partners on private addresses are for tests)",
        )
    for index, partner in enumerate(federation.partners):
        if not partner.base_url.startswith("https://"):
            raise fail(
                ("federation", "partners", str(index), "base_url"),
                "must be an https:// URL outside dev mode",
            )
    if federation.server_name is not None and need_keys:
        key_file = config.federation_key_file
        if not key_file.is_file():
            raise fail(
                ("federation", "signing_key_file"),
                f"{key_file} does not exist; create it with `hub keys generate --config FILE`",
            )


def _check_redis(url: str, fail: Callable[[tuple[str, ...], str], ConfigError]) -> None:
    """A Redis off this machine must ask for a password: whoever reaches it could otherwise
    read and forge what the nodes share (Redis itself refuses such clients by default)."""
    if not url:
        return
    password = redis_password(url)
    if password and is_example_secret(password):
        raise fail(("redis", "url"), "its password is an example value; use Redis's own")
    if not password and not is_loopback(url):
        raise fail(
            ("redis", "url"),
            "reaches another machine without a password; set one (redis://:PASSWORD@HOST)",
        )


def ensure_data_dir(data_dir: Path) -> None:
    """Create the data folder (mode 0700: it holds the database, keys and the bot's store) if
    it is missing; an existing one is left as the operator made it. StartupError with one
    line saying what to do when it cannot be made."""
    if data_dir.is_dir():
        return
    try:
        data_dir.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        if not data_dir.is_dir():
            raise StartupError(
                f"server.data_dir: {data_dir} exists and is not a folder; "
                "set server.data_dir to a folder"
            ) from None
    except OSError as exc:
        raise StartupError(
            f"server.data_dir: cannot create {data_dir}: {exc.strerror}; create it for the "
            "hub's user (mode 0700) or set server.data_dir to a folder it may write"
        ) from None
    else:
        data_dir.chmod(0o700)  # whatever the umask: the folder holds secrets


def with_dev_secrets(config: HubConfig) -> HubConfig:
    """In dev mode, fill empty secrets from the data folder, generating them on first start."""
    if not config.dev or config.security.secret_key.get_secret_value():
        return config
    data_dir = config.server.data_dir
    ensure_data_dir(data_dir)
    store = data_dir / DEV_SECRETS_FILE
    stored = _read_toml(store).get("secret_key", "") if store.exists() else ""
    if not isinstance(stored, str) or len(stored) < MIN_SECRET_LENGTH:
        stored = secrets.token_urlsafe(48)
        fd = os.open(store, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("# Generated by `hub serve --dev`; dev mode only, never for production.\n")
            handle.write(f'secret_key = "{stored}"\n')
    security = config.security.model_copy(update={"secret_key": SecretStr(stored)})
    return config.model_copy(update={"security": security})
