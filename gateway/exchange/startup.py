"""Opening a node that exchanges messages: its parts assembled
(:func:`gateway.runtime.node.assemble_node`) and the exchange's own inbound handlers
installed (the system documents: checkpoints and cosignatures), whatever else handles
messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from gateway.exchange import witnessing
from gateway.runtime.node import Node, assemble_node, utc_now
from gateway.settings import Settings


async def open_node(settings: Settings, clock: Callable[[], datetime] = utc_now) -> Node:
    """Build a node (files checked, fail closed; database migrated) ready to exchange."""
    node = await assemble_node(settings, clock)
    witnessing.install(node)
    return node
