"""The checks of what a partner holds for this node: its pull mailbox (PROTOCOL.md §4.4) and a
bundle it exported for this node (§4.6). The messages are verified as this node would import
them (every check of §4.2 but the JWT) and nothing is kept or acknowledged: they still wait
for the node's own pull or import. What they say is never shown (it may be casework): only
their ids and the problems found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from gateway.exchange.bundles import MEMBER, BundleError, open_bundle
from gateway.exchange.inbound import peek_message
from gateway.exchange.probe.context import Probe, shown
from gateway.exchange.probe.results import CHECKS, Result, skipped, verdict
from gateway.protocol import ids
from gateway.protocol.bearer import MemoryReplayCache
from gateway.protocol.encoding import EncodingError
from gateway.protocol.envelope import mailbox_messages
from gateway.protocol.errors import N_, Message, said
from gateway.protocol.inbound import InboundContext, verify_message
from gateway.protocol.problems import Problem
from gateway.protocol.receipts import verify_receipt

#: How many waiting messages one pull of the probe asks for.
PULL_LIMIT: Final = 5


def _context(p: Probe) -> InboundContext | None:
    """This node's checks of §4.2, for the partner only, remembering nothing."""
    setup, policy = p.setup, p.setup.policy
    if policy is None:
        return None
    return InboundContext(node_id=setup.me, documents=setup.registry, clock=setup.clock,
                          partners=lambda node: policy if node == policy.node_id else None,
                          replay=MemoryReplayCache(setup.clock))


def _refusal(message_id: str | None, problem: Problem) -> Message:
    """Why a partner's message for this node fails: a document error by where it is, never
    by what the schema's message quotes of it (the message is casework: a name, a phone)."""
    if problem.errors:
        first = problem.errors[0]
        return said(N_("message {id}: {code} at line {line}, {path} (what the document "
                       "holds there is not shown: it is casework)"), id=message_id or "?",
                    code=problem.code, line=first.line, path=first.path)
    return said(N_("message {id}: {code}: {detail}"), id=message_id or "?", code=problem.code,
                detail=problem.detail)


async def pull(p: Probe) -> tuple[Result, list[bytes]]:
    """§4.4: ``GET /messages?limit=5`` answers ``{"messages": [...]}`` of at most 5 (a
    partner that serves no pull to this node, 404 or 405, is skipped)."""
    check = CHECKS["4.4-pull"]
    answer = await p.wire.request("GET", "/messages", token=p.now_token,
                                  params={"limit": str(PULL_LIMIT)}, keep_body=False)
    if answer.status in (404, 405):
        return skipped(check, said(N_("the partner serves no pull: {got}"),
                                   got=shown(answer))), []
    if answer.status != 200:
        return verdict(check, False, said(N_("expected 200, got {got}"), got=shown(answer))), []
    try:
        listed = mailbox_messages(answer.content)
    except (EncodingError, UnicodeDecodeError, ValueError) as exc:
        return verdict(check, False, said(N_("the answer is not {{\"messages\": [...]}}: "
                                             "{error}"), error=exc)), []
    p.pull_answers = True
    if len(listed) > PULL_LIMIT:
        return verdict(check, False, said(N_("{count} messages for a limit of {limit}"),
                                          count=len(listed), limit=PULL_LIMIT)), listed
    return verdict(check, True, said(N_("{count} messages wait for this node"),
                                     count=len(listed))), listed


def pulled(p: Probe, listed: list[bytes]) -> Result:
    """§4.4: each waiting message passes this node's checks (not acknowledged)."""
    check = CHECKS["4.4-pull-messages"]
    if not listed:
        return skipped(check, said(N_("no message waits for this node")))
    context = _context(p)
    if context is None:
        return skipped(check, said(N_("no partner file pins the partner's keys")))
    for raw in listed:
        try:
            verify_message(raw, None, context, bundle=True)
        except Problem as problem:
            return verdict(check, False, _refusal(peek_message(raw)[1], problem))
    return verdict(check, True, said(N_("{count} messages verify; none acknowledged: they "
                                        "wait for this node's own pull"), count=len(listed)))


def bundle(p: Probe) -> list[Result]:
    """§4.6: the bundle given (``--bundle``) is one from the partner for this node, and each
    message of it passes §4.2 but the JWT (each receipt of a reply bundle verifies)."""
    archive_check, messages_check = CHECKS["4.6-bundle"], CHECKS["4.6-bundle-messages"]
    path = p.setup.bundle
    if path is None:
        no = said(N_("no bundle given (--bundle FILE)"))
        return [skipped(archive_check, no), skipped(messages_check, no)]
    try:
        archive, manifest, members = open_bundle(path)
    except BundleError as exc:
        return [verdict(archive_check, False, exc.message()),
                skipped(messages_check, said(N_("the bundle cannot be read")))]
    with archive:
        sender, created = manifest.get("from"), manifest.get("created")
        if sender != p.partner or manifest.get("to") != p.setup.me or not (
                isinstance(created, str) and ids.RFC3339_UTC.fullmatch(created)):
            return [verdict(archive_check, False, said(N_(
                "the manifest says from {sender} to {to}, created {created}: expected from "
                "{partner} to {me} and an RFC 3339 time"), sender=sender,
                to=manifest.get("to"), created=created, partner=p.partner, me=p.setup.me)),
                skipped(messages_check, said(N_("the bundle is not for this node")))]
        found = verdict(archive_check, True, said(N_("{count} files from {sender}, created "
                                                     "{created}"), count=len(members),
                                                  sender=sender, created=created))
        context = _context(p)
        if context is None:
            return [found, skipped(messages_check, said(N_("no partner file pins the "
                                                           "partner's keys")))]
        refusals: list[Message] = []
        for info in members:
            match = MEMBER.fullmatch(info.filename)
            assert match is not None  # checked when the bundle was opened
            refusal = _member(p, context, match[1], match[2], archive.read(info))
            if refusal is not None:
                refusals.append(refusal)
    if refusals:
        return [found, verdict(messages_check, False, said(N_("{first} (and {more} more)"),
                                                           first=refusals[0],
                                                           more=len(refusals) - 1))]
    return [found, verdict(messages_check, True, said(N_("{count} files pass"),
                                                      count=len(members)))]


def _member(p: Probe, context: InboundContext, kind: str, member_id: str, data: bytes
            ) -> Message | None:
    """The problem of one file of a bundle, or None."""
    if kind == "receipts":
        try:
            verify_receipt(data, p.setup.pinned_key, _now(p), signer=str(p.partner),
                           recipient=p.setup.me, message_id=member_id)
        except Problem as problem:
            return _refusal(member_id, problem)
        return None
    claimed_from, claimed_id = peek_message(data)
    if claimed_id is not None and claimed_id != member_id:
        return said(N_("messages/{id}.json holds the message {claimed}"), id=member_id,
                    claimed=claimed_id)
    if claimed_from is not None and claimed_from != p.partner:
        return said(N_("message {id} is from {sender}, in a bundle from {partner}"),
                    id=member_id, sender=claimed_from, partner=p.partner)
    try:
        verify_message(data, None, context, bundle=True)
    except Problem as problem:
        return _refusal(member_id, problem)
    return None


def _now(p: Probe) -> datetime:
    return p.setup.clock()
