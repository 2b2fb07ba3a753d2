"""The checks of a partner's verifiable history (PROTOCOL.md §4.8), from what this node holds
of it (:mod:`gateway.exchange.probe.history`): its latest checkpoint is a note of its log,
signed by a key pinned for it and valid when the note arrived; a consistency proof between
two of its checkpoints verifies; no fork was seen; and this node, its witness, cosigned the
latest."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.checkpoints import origin_of
from gateway.exchange.probe.context import Probe
from gateway.exchange.probe.history import PartnerHistory, ReceivedCheckpoint
from gateway.exchange.probe.results import CHECKS, Check, Result, skipped, verdict
from gateway.protocol import tlog
from gateway.protocol.errors import N_, said


def _tree(p: Probe, found: ReceivedCheckpoint) -> tlog.Checkpoint:
    """The checkpoint a received note signs, checked against the partner's pinned Ed25519
    keys as they stood when it arrived (a key for checkpoints only included)."""
    verifiers = [tlog.Verifier(pin.kid, tlog.ED25519, pin.public_key)
                 for pin in p.setup.pinned.values()
                 if isinstance(pin.public_key, Ed25519PublicKey) and pin.valid_at(found.received)]
    note = tlog.parse_note(found.note)
    tlog.verify_note(note, verifiers)
    tree = tlog.parse_checkpoint(note.text)
    if tree.origin != origin_of(str(p.partner)) or found.origin != tree.origin:
        raise tlog.TlogError(f"the origin is {tree.origin}, not {origin_of(str(p.partner))}")
    if found.size != tree.size:
        raise tlog.TlogError(f"the document says {found.size} entries, the note {tree.size}")
    return tree


def history(p: Probe) -> list[Result]:
    """The four checks of §4.8, each skipped when there is nothing to look at."""
    checks = [CHECKS[c] for c in ("4.8-checkpoint", "4.8-consistency", "4.8-no-fork",
                                  "4.8-cosigned")]
    known: PartnerHistory | None = p.setup.history
    if known is None or not known.checkpoints:
        why = said(N_("this node holds no checkpoint of the partner (they come as messages, "
                      "to its witnesses)")) if known is not None else \
            said(N_("no partner file: this node holds no history of the partner"))
        results = [skipped(c, why) for c in checks]
        if known is not None and known.forks:
            results[2] = verdict(checks[2], False, said(N_("{count} forks of its log seen"),
                                                        count=known.forks))
        return results
    latest = known.checkpoints[-1]
    try:
        tree = _tree(p, latest)
        first = verdict(checks[0], True, said(N_("{origin}, {size} entries, received "
                                                 "{received}"), origin=tree.origin,
                                              size=tree.size,
                                              received=latest.received.isoformat()))
    except tlog.TlogError as exc:
        first = verdict(checks[0], False, said(N_("checkpoint {id}: {error}"),
                                               id=latest.message_id, error=exc))
    return [first, _consistency(p, known, checks[1]), _forks(known, checks[2]),
            _cosigned(known, latest, checks[3])]


def _consistency(p: Probe, known: PartnerHistory, check: Check) -> Result:
    """The newest checkpoint whose proof starts at the size of an earlier one held here
    proves that earlier tree is a prefix of its own."""
    by_size = {c.size: c for c in known.checkpoints}
    for later in reversed(known.checkpoints):
        earlier = by_size.get(later.old_size)
        if later.old_size == 0 or earlier is None or earlier is later:
            continue
        try:
            old, new = _tree(p, earlier), _tree(p, later)
            tlog.verify_consistency(old.size, old.root, new.size, new.root, later.proof)
        except tlog.TlogError as exc:
            return verdict(check, False, said(N_("from {old} to {size} entries: {error}"),
                                              old=later.old_size, size=later.size, error=exc))
        return verdict(check, True, said(N_("from {old} to {size} entries"),
                                         old=later.old_size, size=later.size))
    return skipped(check, said(N_("no two checkpoints of the partner linked by a proof are "
                                  "held here yet")))


def _forks(known: PartnerHistory, check: Check) -> Result:
    if known.forks:
        return verdict(check, False, said(N_("{count} forks of its log seen: it signed "
                                             "checkpoints inconsistent with each other"),
                                          count=known.forks))
    return verdict(check, True, said(N_("no fork seen")))


def _cosigned(known: PartnerHistory, latest: ReceivedCheckpoint, check: Check) -> Result:
    held = known.held[0] if known.held is not None else None
    if held is not None and held >= latest.size:
        return verdict(check, True, said(N_("cosigned at {size} entries"), size=held))
    return verdict(check, False, said(N_("this node holds {held} entries of its log, the "
                                         "latest checkpoint {size}"), held=held or 0,
                                      size=latest.size))
