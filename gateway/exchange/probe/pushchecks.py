"""The checks of a partner's ``POST /messages`` (PROTOCOL.md §4.2, §4.3, §3.3, and the
algorithms of §2): a valid test message of each type is accepted with a receipt that
verifies and names its digest; the same message again gets the same receipt byte for byte;
another under the same id is a conflict; each message wrong in one way is refused with its
problem; and a refused message leaves nothing stored, which shows when its id is sent again,
valid: a partner that kept it answers 200 (the same bytes) or 409 (other bytes), not 202.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from gateway.exchange.probe import forge as made
from gateway.exchange.probe.context import Probe, problem_verdict, shown
from gateway.exchange.probe.forge import STRANGER, UNKNOWN_TYPE, Forged
from gateway.exchange.probe.results import CHECKS, Result, accept_check, skipped, verdict
from gateway.exchange.probe.wire import Answer, json_of
from gateway.protocol.errors import N_, Message, said
from gateway.protocol.problems import Problem
from gateway.protocol.receipts import verify_receipt

#: The answers that say a type is not for this sender, or not known: the check is skipped.
NOT_FOR_US = {(403, "not-permitted"), (422, "unsupported-type")}


async def accept(p: Probe, doc_type: str) -> Result:
    """A valid test message of ``doc_type`` is accepted (202, a receipt in the body); a type
    the partner does not take from this node (403 ``not-permitted``) or does not know (422
    ``unsupported-type``) is skipped."""
    check = accept_check(doc_type)
    samples = p.setup.samples
    forged = p.forge.message(doc_type, samples.example(doc_type), p.setup.clock(),
                             version=samples.version(doc_type))
    answer = await p.post(forged)
    if answer.status == 202:
        p.keep(forged, answer)
        p.carrier = p.carrier or doc_type
        return verdict(check, True, said(N_("accepted: 202, message {id}"), id=forged.message_id))
    for status, code in NOT_FOR_US:
        ok, _ = problem_verdict(answer, status, code)
        if ok:
            return skipped(check, said(N_("the partner does not take {type} from this "
                                          "node: {status} {code}"), type=doc_type,
                                       status=status, code=code))
    return verdict(check, False, said(N_("expected 202, got {got}"), got=shown(answer)))


def receipts(p: Probe) -> Result:
    """§4.3: every receipt the partner answered with verifies under a pinned key, is from
    it to this node, and names the message and the SHA-256 of its signing input."""
    check = CHECKS["4.3-receipts"]
    assert p.partner is not None
    for kept in p.accepted:
        forged = kept.forged
        try:
            verify_receipt(kept.answer.content, p.setup.pinned_key, p.setup.clock(),
                           signer=p.partner, recipient=p.setup.me,
                           message_id=forged.message_id, digest=forged.digest)
        except Problem as problem:
            refused = verdict(check, False, said(N_("the receipt of {id} is refused: {code}: "
                                                    "{detail}"), id=forged.message_id,
                                                 code=problem.code, detail=problem.detail))
            refused.sent.append(kept.exchange.sent)
            refused.received.append(kept.exchange.received)
            return refused
    return verdict(check, True, said(N_("{count} receipts verify"), count=len(p.accepted)))


async def duplicate(p: Probe) -> Result:
    """§4.2: the first accepted message sent again: 200 and the original receipt, byte for
    byte."""
    check = CHECKS["4.2-duplicate"]
    forged, first = p.accepted[0].forged, p.accepted[0].answer
    answer = await p.post(forged)
    if answer.status != 200:
        return verdict(check, False, said(N_("expected 200 and the original receipt, got "
                                             "{got}"), got=shown(answer)))
    if answer.content != first.content:
        return verdict(check, False, said(N_("answered 200 with a receipt other than the "
                                             "original ({size} bytes, not {original})"),
                                          size=len(answer.content),
                                          original=len(first.content)))
    return verdict(check, True, said(N_("200 and the original receipt, byte for byte")))


async def conflict(p: Probe) -> Result:
    """§4.2: another message (one second later) under the id of the first accepted: 409."""
    forged = p.accepted[0].forged
    doc_type = p.carrier_type
    samples = p.setup.samples
    other = p.forge.message(doc_type, samples.example(doc_type),
                            p.setup.clock() + timedelta(seconds=1),
                            version=samples.version(doc_type), message_id=forged.message_id)
    answer = await p.post(other)
    ok, detail = problem_verdict(answer, 409, "conflict")
    return verdict(CHECKS["4.2-conflict"], ok, detail)


def wrong_messages(p: Probe) -> list[tuple[str, int, str, Callable[[], Forged]]]:
    """Each message wrong in one way, with the answer it must get: check id, status,
    problem code, and how it is made (when it is sent: its ``created`` is then)."""
    setup = p.setup
    forge = p.forge
    carrier = p.carrier_type
    example = setup.samples.example(carrier)
    version = setup.samples.version(carrier)

    def carried(document: bytes = example, doc_type: str = carrier, to: str | None = None,
                created: datetime | None = None) -> Forged:
        return forge.message(doc_type, document, setup.clock(), version=version, to=to,
                             created=created)

    return [
        ("4.2-malformed", 400, "malformed", lambda: forge.not_a_jws(carried())),
        ("3.3-json-depth", 400, "malformed", lambda: forge.nested(carried())),
        ("3.3-too-large", 413, "too-large", lambda: carried(made.oversized(example))),
        ("4.2-alg-none", 401, "bad-signature",
         lambda: forge.resigned(carried(), alg="none")),
        ("4.2-alg-hs256", 401, "bad-signature",
         lambda: forge.resigned(carried(), alg="HS256")),
        ("4.2-kid-other-node", 401, "bad-signature",
         lambda: forge.resigned(carried(), kid=f"{STRANGER}#probe")),
        ("4.2-bad-signature", 401, "bad-signature", lambda: forge.bad_signature(carried())),
        ("4.2-unsupported-type", 422, "unsupported-type",
         lambda: carried(doc_type=UNKNOWN_TYPE)),
        ("4.2-wrong-recipient", 421, "wrong-recipient", lambda: carried(to=setup.me)),
        ("4.2-future", 422, "future", lambda: carried(created=made.future(setup.clock()))),
        ("4.2-stale", 422, "stale", lambda: carried(created=made.stale(setup.clock()))),
        ("4.2-attachment-mismatch", 422, "attachment-mismatch",
         lambda: forge.without_attachment(carrier, example, setup.clock())),
        ("4.2-schema-invalid", 422, "schema-invalid",
         lambda: forge.message(setup.samples.invalid_type, setup.samples.invalid,
                               setup.clock(),
                               version=setup.samples.version(setup.samples.invalid_type))),
        ("3.3-doctype", 422, "schema-invalid", lambda: carried(made.with_doctype(example))),
        ("3.3-utf16", 422, "schema-invalid", lambda: carried(made.in_utf16(example))),
    ]


async def wrong(p: Probe, check_id: str, status: int, code: str,
                make: Callable[[], Forged]) -> Result:
    """One message wrong in one way is refused with ``status`` and ``code`` (and, for
    ``schema-invalid``, the located ``errors``)."""
    forged = make()
    answer = await p.post(forged)
    ok, detail = problem_verdict(answer, status, code)
    if answer.status != 202:
        p.refused.append((check_id, forged, False))
    if ok and code == "schema-invalid" and check_id == "4.2-schema-invalid":
        ok, detail = _located(answer, detail)
    return verdict(CHECKS[check_id], ok, detail)


def _located(answer: Answer, detail: Message) -> tuple[bool, Message]:
    """A ``schema-invalid`` problem lists its errors, each with line, column, path and
    message (PROTOCOL.md §4.2)."""
    body = json_of(answer)
    errors = body.get("errors") if isinstance(body, dict) else None
    wanted = ("line", "column", "path", "message")
    if not isinstance(errors, list) or not errors or not all(
            isinstance(e, dict) and all(k in e for k in wanted) for e in errors):
        return False, said(N_("schema-invalid without an errors array of line, column, path "
                              "and message"))
    return True, detail


async def not_stored(p: Probe) -> Result:
    """§4.2: "a rejected message leaves nothing in the store": each refused message's id,
    sent again in a valid message (a message refused for its token: the same bytes), is
    accepted as new (202)."""
    check = CHECKS["4.2-refused-not-stored"]
    if not p.refused:
        return skipped(check, said(N_("the partner refused nothing to look for")))
    kept: list[Message] = []
    for check_id, forged, same_bytes in p.refused:
        again = forged if same_bytes else p.carrier_message(message_id=forged.message_id)
        answer = await p.post(again)
        if answer.status != 202:
            kept.append(said(N_("{check}: its id {id} sent again got {got}"), check=check_id,
                             id=forged.message_id, got=shown(answer)))
        else:
            p.keep(again, answer)
    if kept:
        return verdict(check, False, said(N_("refused messages were kept: {first} (and {more} "
                                             "more)"), first=kept[0], more=len(kept) - 1))
    return verdict(check, True, said(N_("{count} refused messages, none kept"),
                                     count=len(p.refused)))
