"""A real Synapse homeserver for tests: our own homeserver.yaml in a temp dir, keys generated,
`python -m synapse.app.homeserver` on free loopback ports, ready when /health answers, users
registered through the shared-secret admin API, stopped by its own pid.

A plain listener (client, federation, openid) serves the tests. With `tls=True`, a second
federation listener with a self-signed certificate sits on the port named in `server_name`
(`localhost:<port>`): Synapse federates only over HTTPS, and an explicit port skips
.well-known and SRV lookups, so two instances federate over loopback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.support.processes import free_port, start, stop
from tests.support.tls import self_signed_certificate

# Rate limits raised so tests never wait on them (Synapse's Complement config does the same).
_UNLIMITED = {"per_second": 10_000, "burst_count": 10_000}
_RATE_LIMITS = {
    "rc_message": _UNLIMITED,
    "rc_registration": _UNLIMITED,
    "rc_login": {"address": _UNLIMITED, "account": _UNLIMITED, "failed_attempts": _UNLIMITED},
    "rc_admin_redaction": _UNLIMITED,
    "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
    "rc_joins_per_room": _UNLIMITED,
    "rc_invites": {"per_room": _UNLIMITED, "per_user": _UNLIMITED, "per_issuer": _UNLIMITED},
    "rc_3pid_validation": _UNLIMITED,
    "rc_federation": {
        "window_size": 1000,
        "sleep_limit": 10_000,
        "sleep_delay": 1,
        "reject_limit": 10_000,
        "concurrent": 10_000,
    },
    "rc_presence": {"per_user": _UNLIMITED},
    "rc_delayed_event_mgmt": _UNLIMITED,
    "rc_room_creation": _UNLIMITED,
    "rc_reports": _UNLIMITED,
}


def synapse_available() -> bool:
    try:
        import synapse  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class MatrixUser:
    """A registered account and its access token on one homeserver."""

    user_id: str
    password: str
    access_token: str
    device_id: str


@dataclass
class Synapse:
    """One Synapse process: `start()` writes its config and waits for /health, `stop()` ends it.

    `port` is the plain listener (client, federation, openid resources); with `tls`,
    `federation_port` carries HTTPS federation and names the server (`localhost:<port>`).
    """

    tls: bool = False
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hub-synapse-")))
    port: int = field(default_factory=free_port)
    federation_port: int = field(default_factory=free_port)
    registration_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    process: subprocess.Popen[bytes] | None = None
    startup_seconds: float = 0.0
    # Settings laid over ours (a test's own homeserver: a small max_upload_size, say).
    overrides: dict[str, Any] = field(default_factory=dict)
    _began: float = 0.0

    @property
    def server_name(self) -> str:
        return f"localhost:{self.federation_port if self.tls else self.port}"

    @property
    def url(self) -> str:
        """Base URL of the plain listener (client-server API, federation, openid)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.root / "homeserver.yaml"

    @property
    def log_path(self) -> Path:
        return self.root / "synapse.out"

    def config(self) -> dict[str, Any]:
        plain = {
            "port": self.port,
            "bind_addresses": ["127.0.0.1"],
            "type": "http",
            "tls": False,
            "x_forwarded": False,
            "resources": [{"names": ["client", "federation", "openid"], "compress": False}],
        }
        listeners: list[dict[str, Any]] = [plain]
        config: dict[str, Any] = {
            "server_name": self.server_name,
            "pid_file": str(self.root / "homeserver.pid"),
            "listeners": listeners,
            "database": {"name": "sqlite3", "args": {"database": str(self.root / "hs.db")}},
            "log_config": str(self.root / "log.config"),
            "media_store_path": str(self.root / "media"),
            "signing_key_path": str(self.root / "signing.key"),
            "registration_shared_secret": self.registration_secret,
            "enable_registration": False,
            "report_stats": False,
            "bcrypt_rounds": 4,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "presence": {"enabled": False},
            # The default blocks 127.0.0.0/8, where the other test homeserver lives.
            "ip_range_blacklist": [],
            "url_preview_enabled": False,
            "enable_metrics": False,
            "caches": {"global_factor": 0.5},
            **_RATE_LIMITS,
        }
        config.update(self.overrides)
        if self.tls:
            cert, key = self.root / "tls.crt", self.root / "tls.key"
            listeners.append(
                {
                    "port": self.federation_port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": True,
                    "resources": [{"names": ["federation"], "compress": False}],
                }
            )
            config["tls_certificate_path"] = str(cert)
            config["tls_private_key_path"] = str(key)
            # Peers present self-signed certificates for "localhost": trust nothing else.
            config["federation_verify_certificates"] = False
        return config

    def _write_config(self) -> None:
        if self.tls:
            self_signed_certificate(self.root)
        # JSON is YAML: no need for a YAML writer.
        self.config_path.write_text(json.dumps(self.config(), indent=1), encoding="utf-8")
        log_config = {
            "version": 1,
            "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "plain",
                    "filename": str(self.root / "homeserver.log"),
                }
            },
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }
        (self.root / "log.config").write_text(json.dumps(log_config), encoding="utf-8")

    def _write_signing_key(self) -> None:
        """What `--generate-keys` writes, without paying a second interpreter importing Synapse
        (~8 s on a loaded machine): `ed25519 <version> <unpadded base64 seed>`."""
        seed = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        encoded = base64.b64encode(seed).decode().rstrip("=")
        path = self.root / "signing.key"
        path.write_text(f"ed25519 a_{secrets.token_hex(2)} {encoded}\n", encoding="utf-8")
        path.chmod(0o600)

    def start(self, timeout: float = 60) -> Synapse:
        """Launch and wait until healthy."""
        return self.launch().wait_ready(timeout)

    def launch(self) -> Synapse:
        """Start the process without waiting (so that two servers boot side by side)."""
        self._began = time.monotonic()
        self._write_config()
        self._write_signing_key()
        command = [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)]
        self.process = start(command, log_path=self.log_path, cwd=self.root)
        return self

    def wait_ready(self, timeout: float = 60) -> Synapse:
        """Poll /health until it answers 200; fail early with the logs if Synapse died."""
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"synapse exited with {self.process.returncode}:\n{self.logs()}")
            if self._healthy():
                self.startup_seconds = time.monotonic() - self._began
                return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"synapse not healthy within {timeout} s:\n{self.logs()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def logs(self) -> str:
        parts = []
        for path in (self.log_path, self.root / "homeserver.log"):
            if path.exists():
                parts.append(path.read_text(encoding="utf-8", errors="replace")[-4000:])
        return "\n".join(parts)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        access_token: str | None = None,
    ) -> dict[str, Any]:
        """One blocking JSON request to the plain listener (for fixtures, not the code tested)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if access_token:
            request.add_header("Authorization", f"Bearer {access_token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def register(self, localpart: str, *, admin: bool = False) -> MatrixUser:
        """Create an account through the shared-secret admin API and log it in."""
        password = secrets.token_urlsafe(16)
        nonce = self.request("GET", "/_synapse/admin/v1/register")["nonce"]
        signed = "\x00".join((nonce, localpart, password, "admin" if admin else "notadmin"))
        mac = hmac.new(self.registration_secret.encode(), signed.encode(), hashlib.sha1)
        answer = self.request(
            "POST",
            "/_synapse/admin/v1/register",
            {
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            },
        )
        return MatrixUser(
            user_id=answer["user_id"],
            password=password,
            access_token=answer["access_token"],
            device_id=answer["device_id"],
        )

    def openid_token(self, user: MatrixUser) -> dict[str, Any]:
        """What a widget gets from the client: {access_token, matrix_server_name, ...}."""
        quoted = urllib.parse.quote(user.user_id, safe="")
        return self.request(
            "POST",
            f"/_matrix/client/v3/user/{quoted}/openid/request_token",
            {},
            access_token=user.access_token,
        )


def ensure_federation(first: Synapse, second: Synapse, timeout: float = 60) -> None:
    """Make each server join a room of the other, so both have fetched the other's keys and
    opened their federation connections before a test relies on them (a cold first request
    can otherwise leave one direction in Synapse's retry back-off)."""
    for host, guest in ((first, second), (second, first)):
        owner = host.register(f"warm{secrets.token_hex(3)}")
        visitor = guest.register(f"warm{secrets.token_hex(3)}")
        room = host.request(
            "POST", "/_matrix/client/v3/createRoom", {"invite": [visitor.user_id]},
            owner.access_token,
        )["room_id"]  # fmt: skip
        path = (
            f"/_matrix/client/v3/join/{urllib.parse.quote(room, safe='')}"
            f"?server_name={urllib.parse.quote(host.server_name, safe='')}"
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                guest.request("POST", path, {}, visitor.access_token)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
