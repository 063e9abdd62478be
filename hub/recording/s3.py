"""An S3-compatible store for recordings (Outscale OOS, Garage, MinIO, Ceph RGW…).

Through aiobotocore: botocore's own request signing (SigV4), retries and error model, on the
hub's asyncio loop and aiohttp (no thread per request, downloads streamed chunk by chunk).
It is maintained by aio-libs in step with botocore; boto3 in a thread would work too but
would hold a thread for the whole of every streamed download. Path-style addressing, so any
endpoint works without wildcard DNS. Only the configured endpoint is ever contacted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from hub.config_recording import StorageConfig
from hub.errors import NotFound
from hub.i18n import Text
from hub.recording.storage import CHUNK, check_key

PART = 8 * 1024 * 1024  # multipart upload past this size (S3's minimum part is 5 MiB)
_MISSING = ("NoSuchKey", "404", "NotFound")


class StoreError(RuntimeError):
    """The store refused or failed a request; the message names the operation and S3's code."""


class S3Store:
    """One client for the hub's life: `open` makes it, `close` ends its connections."""

    def __init__(self, config: StorageConfig) -> None:
        self._config = config
        self._bucket = config.bucket
        self._prefix = config.prefix
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None

    async def open(self) -> None:
        session = get_session()
        self._client = await self._stack.enter_async_context(
            session.create_client(
                "s3",
                endpoint_url=self._config.endpoint,
                region_name=self._config.region,
                aws_access_key_id=self._config.access_key.get_secret_value(),
                aws_secret_access_key=self._config.secret_key.get_secret_value(),
                config=AioConfig(
                    s3={"addressing_style": "path"},
                    connect_timeout=10,
                    read_timeout=60,
                    retries={"max_attempts": 3, "mode": "standard"},
                ),
            )
        )

    async def close(self) -> None:
        await self._stack.aclose()

    def _key(self, key: str) -> str:
        return self._prefix + check_key(key)

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return await getattr(self._client, operation)(Bucket=self._bucket, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise NotFound(text=Text("error.file.missing")) from None
            raise StoreError(f"S3 {operation} failed: {code or exc}") from None
        except BotoCoreError as exc:
            raise StoreError(f"S3 {operation} failed: {exc}") from None

    async def put_bytes(self, key: str, data: bytes) -> None:
        await self._call("put_object", Key=self._key(key), Body=data)

    async def put_file(self, key: str, source: Path) -> None:
        size = (await asyncio.to_thread(source.stat)).st_size
        if size <= PART:
            await self.put_bytes(key, await asyncio.to_thread(source.read_bytes))
        else:
            await self._multipart(self._key(key), source)
        await asyncio.to_thread(source.unlink)

    async def _multipart(self, key: str, source: Path) -> None:
        upload = (await self._call("create_multipart_upload", Key=key))["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            with source.open("rb") as handle:
                while data := await asyncio.to_thread(handle.read, PART):
                    number = len(parts) + 1
                    answer = await self._call(
                        "upload_part", Key=key, UploadId=upload, PartNumber=number, Body=data
                    )
                    parts.append({"ETag": answer["ETag"], "PartNumber": number})
            await self._call(
                "complete_multipart_upload", Key=key, UploadId=upload,
                MultipartUpload={"Parts": parts},
            )  # fmt: skip
        except BaseException:
            with contextlib.suppress(StoreError, NotFound):
                await self._call("abort_multipart_upload", Key=key, UploadId=upload)
            raise

    async def read(self, key: str) -> bytes:
        answer = await self._call("get_object", Key=self._key(key))
        async with answer["Body"] as body:
            data: bytes = await body.read()
        return data

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        answer = await self._call("get_object", Key=self._key(key))
        async with answer["Body"] as body:
            while chunk := await body.read(CHUNK):
                yield chunk

    async def size(self, key: str) -> int:
        answer = await self._call("head_object", Key=self._key(key))
        return int(answer["ContentLength"])

    async def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = await self._call("list_objects_v2", Prefix=self._prefix + prefix, **extra)
            found.extend(item["Key"][len(self._prefix) :] for item in page.get("Contents", []))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return sorted(found)

    async def delete(self, key: str) -> None:
        with contextlib.suppress(NotFound):
            await self._call("delete_object", Key=self._key(key))
