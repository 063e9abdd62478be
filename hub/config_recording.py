"""The [recording] and [storage] sections: whether moderators may record, how long
recordings are kept, and where they are stored (a local folder, or an S3-compatible store)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from hub.config_sections import _Section

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class RecordingConfig(_Section):
    """Recordings of meetings: nothing is recorded until a moderator starts it."""

    # false: the operator disables recording (moderators see no control).
    enabled: bool = True
    # A recording, its tracks and its manifest are deleted this many days after it ended.
    retention_days: int = Field(default=30, ge=1, le=3650)
    # How often the retention task looks for expired recordings.
    retention_check_seconds: float = Field(default=3600.0, ge=1.0, le=86400.0)


class StorageConfig(_Section):
    """Where recordings are kept. "local": a folder (default <server.data_dir>/recordings,
    files 0600); "s3": any S3-compatible store (Outscale OOS, Garage, MinIO, Ceph RGW)."""

    backend: Literal["local", "s3"] = "local"
    path: Path | None = None
    endpoint: str = ""  # e.g. https://oos.eu-west-2.outscale.com
    bucket: str = ""
    region: str = Field(default="us-east-1", min_length=1, max_length=64)
    prefix: str = Field(default="recordings/", max_length=200)
    access_key: SecretStr = SecretStr("")
    secret_key: SecretStr = SecretStr("")

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        plain = value.startswith(("https://", "http://")) and "?" not in value and "#" not in value
        if value and not plain:
            raise ValueError("must be an http(s) URL, e.g. https://oos.eu-west-2.outscale.com")
        return value.rstrip("/")

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if value and not _BUCKET.match(value):
            raise ValueError("must be an S3 bucket name: 3-63 of a-z, 0-9, '.', '-'")
        return value

    @model_validator(mode="after")
    def _s3_settings(self) -> StorageConfig:
        if self.backend == "s3":
            missing = [
                name
                for name, present in (
                    ("endpoint", bool(self.endpoint)),
                    ("bucket", bool(self.bucket)),
                    ("access_key", bool(self.access_key.get_secret_value())),
                    ("secret_key", bool(self.secret_key.get_secret_value())),
                )
                if not present
            ]
            if missing:
                raise ValueError(f'backend = "s3" needs {" and ".join(missing)}')
        return self
