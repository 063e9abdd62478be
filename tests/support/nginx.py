"""A real nginx in front of a hub, configured as the README tells operators to (TLS, WebSocket
upgrade, X-Forwarded-For and X-Forwarded-Proto), in its own prefix folder, stopped by its pid.

All of it stays on loopback. nginx connects to the hub from its own loopback address
(`proxy_bind`), so the hub can tell the proxy from a client on the same machine, and test
clients may bind to other 127.0.0.0/8 addresses to be told apart.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port, start, stop, wait_for_port
from tests.support.tls import self_signed_certificate


def nginx_binary() -> Path | None:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    return Path(found) if found else None


_CONFIG = """\
daemon off;
master_process off;  # one process: stopping its pid stops all of nginx
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log {root}/access.log;
  server_tokens off;
  client_body_temp_path {root}/temp/body;
  proxy_temp_path {root}/temp/proxy;
  fastcgi_temp_path {root}/temp/fastcgi;
  uwsgi_temp_path {root}/temp/uwsgi;
  scgi_temp_path {root}/temp/scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  upstream hub {{
    server 127.0.0.1:{upstream_port};{backups}
  }}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {certificate};
    ssl_certificate_key {key};
    location / {{
      proxy_pass http://hub;
      proxy_bind {bind};
      proxy_http_version 1.1;
      # $http_host keeps the port, which the browser's Origin has on this test port.
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
    }}
  }}
}}
"""


@dataclass
class Nginx:
    """nginx on https://127.0.0.1:<free port>, proxying to 127.0.0.1:`upstream_port` from
    `bind`; to the `backups` ports, in order, while that one refuses connections (a load
    balancer in front of hub nodes). `start()` writes its config and certificate under
    `root`; `stop()` ends it."""

    binary: Path
    root: Path
    upstream_port: int
    bind: str = "127.0.0.2"
    backups: tuple[int, ...] = ()
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if not self.port:
            self.port = free_port()
        self.certificate, self.key = self_signed_certificate(self.root)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15) -> Nginx:
        (self.root / "temp").mkdir(exist_ok=True)
        config = self.root / "nginx.conf"
        config.write_text(
            _CONFIG.format(
                root=self.root,
                port=self.port,
                certificate=self.certificate,
                key=self.key,
                upstream_port=self.upstream_port,
                backups="".join(f"\n    server 127.0.0.1:{port} backup;" for port in self.backups),
                bind=self.bind,
            )
        )
        args = [str(self.binary), "-p", str(self.root), "-c", str(config)]
        self.process = start(
            [*args, "-e", str(self.root / "error.log")], log_path=self.root / "nginx.out"
        )
        try:
            wait_for_port("127.0.0.1", self.port, timeout, self.process)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise RuntimeError(f"nginx did not start: {exc}\n{self.log()}") from None
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)  # SIGTERM: nginx's fast shutdown

    def log(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")
            for path in (self.root / "nginx.out", self.root / "error.log")
            if path.exists()
        )
