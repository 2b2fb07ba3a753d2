"""The node's own checkpoints (PROTOCOL.md §4.8), made on a schedule: every
:data:`gateway.audit.checkpoints.EVERY` the log is looked at, a checkpoint is signed if it
has grown, and the latest is sent to the partners that have not cosigned it
(:mod:`gateway.exchange.witnessing`). An ES256 node signs them with its separate Ed25519
checkpoint key; without one it makes none (said once in the log). A tree that is not
consistent with the latest checkpoint is never signed: the refusal is logged as an error
and audited, and the node keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import checkpoints
from gateway.exchange import witnessing
from gateway.runtime.node import Node
from gateway.store.transactions import reads, writes

log = logging.getLogger("gateway.audit")


@writes
async def checkpoint_now(conn: AsyncConnection, node: Node, force: bool = False
                         ) -> checkpoints.Stored | None:
    """Sign a checkpoint if one is due (``force``: whenever the log has grown)."""
    return await checkpoints.make(conn, node.node_id, node.checkpoint_key(), node.clock(),
                                  force=force)


async def checkpoint_and_send(node: Node) -> None:
    """Sign a checkpoint of the log as it is now (if it has grown) and send it to every
    partner that has not cosigned it, at once: for a proof that waits for one, or an
    operator asking (``gateway audit checkpoint --new``)."""
    await checkpoint_now(node, force=True)
    await witnessing.send_checkpoints(node, force=True)


@reads
async def latest_cosigned(conn: AsyncConnection, node: Node
                          ) -> tuple[checkpoints.Stored | None, list[tuple[str, int]]]:
    """The latest checkpoint and which partners' keys cosigned it, when (None: none yet):
    the cosignatures that count (:func:`witnessing.cosigned_by`)."""
    stored = await checkpoints.latest(conn)
    if stored is None:
        return None, []
    return stored, witnessing.cosigned_by(node, [p.node_id for p in node.partners.all()],
                                          stored)


class Checkpointer:
    """Signs checkpoints while the node serves."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._stopping = asyncio.Event()
        self._said_no_key = False
        self._last_refusal = ""

    def stop(self) -> None:
        """Ask the loop to end."""
        self._stopping.set()

    async def run(self) -> None:
        """The loop, a round every ``BX_CHECKPOINT_EVERY_S`` (the first one interval after
        start: a node restarting does not burst); a failed round is logged and the next one
        tried."""
        every = self.node.settings.checkpoint_every_s
        lease = timedelta(seconds=2 * every)
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), every)
            if self._stopping.is_set():
                return
            try:
                # one replica at a time; another takes over when this one's lease lapses
                if await self.node.holds("checkpoints", lease):
                    made = await checkpoint_now(self.node)
                    if made is not None:
                        log.info("checkpoint signed", extra={"size": made.size})
                    await witnessing.send_checkpoints(self.node)
            except checkpoints.CheckpointKeyError as exc:
                if not self._said_no_key:
                    log.warning("no checkpoints: %s", exc)
                    self._said_no_key = True
            except checkpoints.CheckpointError as exc:
                if str(exc) != self._last_refusal:  # said and audited once, not every minute
                    self._last_refusal = str(exc)
                    log.error("checkpoint refused: %s", exc)  # noqa: TRY400 - said, no trace
                    await self.node.audit("system", "checkpoint.refused", None,
                                          reason=str(exc))
            except Exception:
                log.exception("checkpoint round failed")
