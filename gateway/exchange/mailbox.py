"""The pull mailbox (PROTOCOL.md §4.4): partners that cannot be reached fetch their messages
and acknowledge each one with a receipt."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.exchange.delivery import store_receipt
from gateway.exchange.inbound import record_rejection, token_ledger
from gateway.exchange.outbox import find_outbound
from gateway.protocol.bearer import BearerClaims, verify_bearer
from gateway.protocol.envelope import mailbox_body
from gateway.protocol.problems import Problem
from gateway.protocol.receipts import verify_receipt
from gateway.runtime.node import Node
from gateway.store import messages as repo
from gateway.store.transactions import reads, writes

MAX_PULL = 500
DEFAULT_PULL = 50
#: PROTOCOL.md §4.4: an answer stops before the message that would pass 32 MiB.
MAX_PULL_BYTES = 32 * 1024 * 1024


async def authenticate(node: Node, bearer: str | None) -> BearerClaims:
    """Verify a caller's bearer token, spend it, and apply its rate limit."""
    ledger = token_ledger(node)
    try:
        claims = verify_bearer(bearer, node.node_id, node.partners.pinned, ledger, node.clock,
                               known=lambda caller: node.partners.get(caller) is not None)
        partner = node.partners.get(claims.issuer)
        assert partner is not None
        node.limiter.take(claims.issuer, partner.file.rate_per_minute)
        if ledger.token is not None:
            await _spend_token(node, *ledger.token)
    except Problem as problem:
        await record_rejection(node, problem, ledger, action="request.rejected")
        raise
    return claims


@writes
async def _spend_token(conn: AsyncConnection, node: Node, issuer: str, jti: str,
                       expires: int) -> None:
    """Remember a bearer token's id; a token already spent is a replay."""
    if not await repo.remember_token(conn, issuer, jti, expires, int(node.clock().timestamp())):
        raise Problem("unauthenticated", "bearer token replayed")


@reads
async def _waiting_for(conn: AsyncConnection, _node: Node, caller: str, limit: int) -> list[Any]:
    """The messages waiting for ``caller``, oldest first (capped in count and bytes)."""
    # sealed bytes are a little longer than the messages: the answer stays under the cap
    return await repo.mailbox(conn, caller, limit, MAX_PULL_BYTES - 64)


async def pull(node: Node, bearer: str | None, limit: int) -> bytes:
    """The messages waiting for the caller, oldest first, as ``{"messages": [...]}``."""
    claims = await authenticate(node, bearer)
    rows = await _waiting_for(node, claims.issuer, limit)
    if rows:
        await node.audit(claims.issuer, "mailbox.pulled", None, count=len(rows))
    return await asyncio.to_thread(
        lambda: mailbox_body([node.sealer.open(bytes(r.raw), repo.RAW_COLUMN) for r in rows]))


async def acknowledge(node: Node, bearer: str | None, raw_receipt: bytes) -> None:
    """Accept a puller's receipt for one message; repeating it changes nothing."""
    claims = await authenticate(node, bearer)
    caller = claims.issuer
    try:
        receipt = verify_receipt(raw_receipt, node.partners.pinned, node.clock(),
                                 signer=caller, recipient=node.node_id)
        row = await find_outbound(node, receipt.payload.message)
        if row is None or row.recipient != caller:
            raise Problem("conflict", f"no message {receipt.payload.message} was sent to "
                                      f"{caller}")
        if row.digest != receipt.payload.digest:
            raise Problem("conflict", "receipt digest does not match the message as sent")
    except Problem as problem:
        await record_rejection(node, problem, None, action="receipt.rejected")
        raise
    await store_receipt(node, row, receipt.raw, receipt.payload.received, None)

