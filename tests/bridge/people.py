"""Matrix people for the bridge tests: a user driving the client-server API over plain HTTP,
and one with a real end-to-end encrypting client (matrix-nio with vodozemac), as in Tchap."""

from __future__ import annotations

import asyncio
import secrets
import time
import urllib.parse
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    RoomMessageNotice,
    RoomSendResponse,
    SyncResponse,
)

from tests.support.synapse import MatrixUser, Synapse


def quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class Person:
    """A Matrix user driving the client-server API (blocking calls run in a thread)."""

    def __init__(self, server: Synapse, user: MatrixUser) -> None:
        self.server = server
        self.user = user

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return await asyncio.to_thread(
            self.server.request, method, path, body, self.user.access_token
        )

    async def create_room(self, invite: list[str], **options: Any) -> str:
        body = {"invite": invite, **options}
        answer = await self.call("POST", "/_matrix/client/v3/createRoom", body)
        return str(answer["room_id"])

    async def join(self, room_id: str) -> None:
        await self.call("POST", f"/_matrix/client/v3/join/{quoted(room_id)}", {})

    async def say(self, room_id: str, body: str) -> str:
        txn = secrets.token_hex(8)
        answer = await self.call(
            "PUT",
            f"/_matrix/client/v3/rooms/{quoted(room_id)}/send/m.room.message/{txn}",
            {"msgtype": "m.text", "body": body},
        )
        return str(answer["event_id"])

    async def notices_from(self, room_id: str, sender: str) -> list[dict[str, Any]]:
        answer = await self.call(
            "GET", f"/_matrix/client/v3/rooms/{quoted(room_id)}/messages?dir=b&limit=100"
        )
        return [
            event
            for event in answer["chunk"]
            if event["type"] == "m.room.message"
            and event["sender"] == sender
            and event["content"].get("msgtype") == "m.notice"
        ]

    async def replies(self, room_id: str, sender: str, event_id: str) -> list[str]:
        return [
            event["content"]["body"]
            for event in await self.notices_from(room_id, sender)
            if event["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
            == event_id
        ]

    async def wait_reply(self, room_id: str, sender: str, event_id: str) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = await self.replies(room_id, sender, event_id)
            if found:
                return found[0]
            await asyncio.sleep(0.1)
        raise AssertionError(f"no reply to {event_id} within 20 s")

    async def membership(self, room_id: str, user_id: str) -> str | None:
        try:
            answer = await self.call(
                "GET",
                f"/_matrix/client/v3/rooms/{quoted(room_id)}/state/m.room.member/{quoted(user_id)}",
            )
        except OSError:  # urllib's HTTPError (404 until there is a member event)
            return None
        return str(answer.get("membership"))

    async def wait_membership(self, room_id: str, user_id: str, expected: str) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if await self.membership(room_id, user_id) == expected:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{user_id} not {expected} in {room_id} within 20 s")

    async def events(self, room_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The room's latest events, newest first."""
        answer = await self.call(
            "GET", f"/_matrix/client/v3/rooms/{quoted(room_id)}/messages?dir=b&limit={limit}"
        )
        return list(answer["chunk"])

    async def state(self, room_id: str, event_type: str, key: str = "") -> dict[str, Any]:
        path = f"/_matrix/client/v3/rooms/{quoted(room_id)}/state/{event_type}/{quoted(key)}"
        return dict(await self.call("GET", path))

    async def wait_until(self, check: Any, what: str, timeout: float = 20) -> Any:
        """Poll `check()` (async) until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.1)
        raise AssertionError(f"{what}: not within {timeout:.0f} s")


def moderated_room(bot: str) -> dict[str, Any]:
    """createRoom options: the bot is a moderator (it needs 50 to embed widgets). The creator
    is not listed: in room version 12 creators outrank every level and may not appear."""
    return {"power_level_content_override": {"users": {bot: 50}}}


class EncryptedPerson:
    """A Matrix user whose client encrypts, as Element and Tchap do."""

    def __init__(self, server: Synapse, user: MatrixUser, store: Path) -> None:
        store.mkdir(parents=True, exist_ok=True)
        self.user = user
        self.client = AsyncClient(
            server.url,
            user.user_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
        )
        self.client.restore_login(user.user_id, user.device_id, user.access_token)
        self._since: str | None = None

    async def close(self) -> None:
        await self.client.close()

    async def sync(self) -> SyncResponse:
        response = await self.client.sync(timeout=500, since=self._since, full_state=True)
        assert isinstance(response, SyncResponse), response
        self._since = response.next_batch
        await self.client.send_to_device_messages()
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())
        return response

    async def say(self, room_id: str, body: str) -> str:
        await self.sync()
        response = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": body},
            ignore_unverified_devices=True,
        )
        assert isinstance(response, RoomSendResponse), response
        return str(response.event_id)

    async def wait_reply(self, room_id: str, sender: str, event_id: str) -> RoomMessageNotice:
        """The bot's notice answering `event_id`, decrypted by this client."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            response = await self.sync()
            room = response.rooms.join.get(room_id)
            for event in room.timeline.events if room else []:
                relation = event.source.get("content", {}).get("m.relates_to", {})
                if (
                    isinstance(event, RoomMessageNotice)
                    and event.sender == sender
                    and relation.get("m.in_reply_to", {}).get("event_id") == event_id
                ):
                    assert event.decrypted, "the bot answered in clear in an encrypted room"
                    return event
        raise AssertionError(f"no decrypted reply to {event_id} within 20 s")
