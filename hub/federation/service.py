"""The `Federation` object: what one hub needs to talk with its partners, in one place.

An app holds it under `hub.web.keys.FEDERATION` while `[federation] server_name` is set
(hub/federation/server.py builds and closes it in the app's cleanup context); the CLI builds
its own for `hub federation list --check`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import HubConfig
from hub.errors import StartupError
from hub.ids import ServerName
from hub.shared.port import SharedState

from .client import FederationClient
from .keyring import Keyring
from .keys import HOUR_MS, Clock, InstanceKeys, KeyFileError, generate, load, system_clock
from .keys import published_keys as publish
from .nonces import Nonces
from .policy import PartnerPolicy

log = logging.getLogger(__name__)


def instance_keys(config: HubConfig, now: int) -> InstanceKeys:
    """This hub's keys from its key file; in dev mode the file is created when missing.

    StartupError (one line naming the file) when they cannot be read.
    """
    path = config.federation_key_file
    try:
        if config.dev and not path.exists():
            keys = generate(path, now)
            log.info("federation: generated signing key %s in %s (dev mode)", keys.key_id, path)
            return keys
        return load(path)
    except KeyFileError as exc:
        raise StartupError(str(exc)) from None
    except OSError as exc:
        raise StartupError(f"{path}: cannot write: {exc.strerror}") from None


@dataclass(eq=False)
class Federation:
    """Owns this hub's keys, its partner policy, the outbound client (one aiohttp session),
    the keyring of partners' keys and the nonces (claimed in the shared state). Built by
    `start()` inside the event loop; `close()` ends the client session."""

    server_name: ServerName
    keys: InstanceKeys
    policy: PartnerPolicy
    client: FederationClient
    keyring: Keyring
    nonces: Nonces
    key_validity_ms: int
    clock: Clock = system_clock

    @classmethod
    async def start(
        cls,
        config: HubConfig,
        sessions: async_sessionmaker[AsyncSession],
        shared: SharedState,
        *,
        clock: Clock = system_clock,
    ) -> Federation:
        """Load the keys, give the file's partners their rows, open the client session."""
        server_name = config.federation.server_name
        if server_name is None:
            raise StartupError("federation.server_name: is empty; federation is off")
        keys = instance_keys(config, clock())
        policy = PartnerPolicy(config, sessions)
        await policy.sync_config()
        client = FederationClient(
            server_name,
            keys,
            policy,
            allow_private_networks=config.federation.allow_private_networks,
            clock=clock,
        )
        return cls(
            server_name=server_name,
            keys=keys,
            policy=policy,
            client=client,
            keyring=Keyring(client, clock=clock),
            nonces=Nonces(shared),
            key_validity_ms=config.federation.key_validity_hours * HOUR_MS,
            clock=clock,
        )

    def published_keys(self) -> dict[str, object]:
        """Our signed public keys document, valid from now."""
        return publish(self.keys, self.server_name, self.clock(), self.key_validity_ms)

    async def close(self) -> None:
        await self.client.close()
