"""Where the in-process Matrix bot runs: in this process for the app's lifetime (one node), or,
with `[redis] url`, only on the node holding the lease `bot`, so that one bot answers a room.

Each node competes for the lease; the holder runs the bot, and stops it the moment the lease is
lost (no renewal confirmed in time, or another node holds the key), before the key can expire,
so two bots never answer at once. When the holder dies its key expires (10 s) and another node
starts the bot from the same store folder (matrix.bot_store_dir, which every node mounts): the
same device, the same end-to-end encryption keys and the sync token the dead holder saved before
handling each batch, so no event is handled twice. A node stopping lets the lease go at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bridge.bot import running
from bridge.hub_port import HubPort
from bridge.session import BotConfig, BotError
from hub.nodes.homes import MeetingHomes, lease_holder
from hub.shared.lease import Lease
from hub.shared.port import SharedState
from hub.web.bot_desk import LiveDesk
from hub.web.bot_events import StreamOutlet
from hub.web.bot_reach import NodeReach
from hub.web.bridge import LocalHub, bot_config_of, local_hub
from hub.web.keys import CONFIG, LIVE, NODES, SHARED

log = logging.getLogger(__name__)

BOT_LEASE = "bot"
# How often a node without the lease asks for it: the bot is back at most this long after the
# dead holder's key expired.
RETRY_EVERY = 0.5


class BotHost:
    """Owns the bot's run on this node. `run()` runs it until cancelled: always (no shared
    state: one node), or during each hold of the lease `bot` in `shared`, taken in the name of
    `node`; a bot that stops by itself (a refused login, a session of another account: logged)
    is not started again on this node."""

    def __init__(
        self, config: BotConfig, hub: HubPort, shared: SharedState | None = None, node: str = ""
    ) -> None:
        self._config = config
        self._hub = hub
        self._lease: Lease | None = None
        if shared is not None:
            self._lease = Lease(shared, BOT_LEASE, holder=lease_holder(node), on_lost=self.stop_bot)
        self._bot: asyncio.Task[None] | None = None

    def stop_bot(self) -> None:
        """Stop the bot now (the lease is lost): from here on it sends nothing, and its sync
        token, saved before each batch, is where the next holder resumes."""
        if self._bot is not None:
            self._bot.cancel()

    async def run(self) -> None:
        if self._lease is None:
            await self._run_bot()
            return
        try:
            while await self._hold(self._lease):
                pass
        finally:
            await self._lease.release()  # another node takes over at once

    async def _hold(self, lease: Lease) -> bool:
        """Wait for the lease and run the bot while it is held. True: it was lost, compete
        again; False: the bot stopped by itself."""
        await lease.acquire(retry_every=RETRY_EVERY)
        log.info("matrix bot: starting on this node (it holds the lease %s)", BOT_LEASE)
        bot = self._bot = asyncio.create_task(self._run_bot(), name="matrix-bot")
        try:
            await asyncio.wait({bot})
        finally:
            self._bot = None
            bot.cancel()
            await asyncio.gather(bot, return_exceptions=True)
        if lease.lost.is_set():
            log.warning("matrix bot: stopped on this node (lease %s lost)", BOT_LEASE)
            return True
        return False

    async def _run_bot(self) -> None:
        try:
            async with running(self._config, self._hub):
                await asyncio.Event().wait()  # until stopped
        except BotError as exc:
            log.error("matrix bot stopped: %s", exc)


async def node_hub(
    app: web.Application, node: str, homes: MeetingHomes
) -> tuple[LocalHub, NodeReach]:
    """The bot's way into hub nodes, for the bot in process or run alone: this node sends the
    bot's events of its meetings to the stream and answers the bot's orders for them (its
    `NodeReach`, started; the caller closes it after the hub)."""
    reach = NodeReach(app[SHARED], node, homes, LiveDesk(app[LIVE]))
    await reach.start()
    return local_hub(app, StreamOutlet(app[SHARED], node), reach), reach


async def bridge_context(app: web.Application) -> AsyncIterator[None]:
    """Run the Matrix bot inside the hub process when [matrix] names a bot account and no
    bridge token (which means the bot runs alone, `hub bridge`: one account, one bot). The bot
    starts in the background: an unreachable homeserver or a refused login is logged and the
    hub serves meetings without it. With [redis] url it runs on one node at a time."""
    config = app[CONFIG]
    if not config.matrix.bot_in_process:  # not with a bridge token: that bot runs alone
        yield
        return
    relay = app.get(NODES)  # set with [redis] url: this node is one of several
    reach: NodeReach | None = None
    if relay is None:
        hub = local_hub(app)
        host = BotHost(bot_config_of(config), hub)
    else:
        hub, reach = await node_hub(app, relay.node, relay.homes)
        host = BotHost(bot_config_of(config), hub, app[SHARED], relay.node)
    task = asyncio.create_task(host.run(), name="matrix-bot-host")
    try:
        yield
    finally:
        await hub.close()  # while the bot still runs: the last events reach their rooms
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if reach is not None:
            await reach.close()
