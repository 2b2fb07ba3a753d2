"""What a probe finds: every check of a partner's BX/1 endpoint, named by its section of
PROTOCOL.md, with its outcome and its evidence (what was sent and what came back, secrets
cut). The list of checks (:data:`CHECKS`) is the one the command runs, the reports show and
docs/probe.md explains.

A check is a MUST or a SHOULD of the protocol: a MUST not met is ``FAIL``, a SHOULD not met
``WARN``; a check that cannot be made (read-only, no bundle given, nothing to look at) is
``SKIP`` with the reason. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from gateway.protocol.errors import N_, Message, said

Level = Literal["MUST", "SHOULD"]
Status = Literal["PASS", "FAIL", "WARN", "SKIP"]
STATUSES: Final[tuple[Status, ...]] = ("PASS", "FAIL", "WARN", "SKIP")


@dataclass(frozen=True)
class Check:
    """One check: its id (the section first), section, what it asks (English, a message of
    the catalogs) and level."""

    id: str
    section: str
    name: str
    level: Level = "MUST"


def _checks(*checks: Check) -> dict[str, Check]:
    return {check.id: check for check in checks}


#: The document types one check each (``4.2-accept:<type>``) is made for; its name says which.
ACCEPT_PREFIX: Final = "4.2-accept:"
ACCEPT_NAME: Final = N_("a valid {type} test message is accepted: 202 and a receipt")

#: Every check, in the order a probe runs them (the acceptance of each type, one check each,
#: comes before ``4.2-duplicate``).
CHECKS: Final = _checks(
    Check("4.7-health", "4.7", N_("GET /health answers status ok, the partner's node id and "
                                  "protocol 1")),
    Check("2-jwks", "2", N_("the JWK Set is served at /.well-known/jwks.json")),
    Check("2-jwks-members", "2", N_("every key has a kid of the partner's node, use \"sig\" "
                                    "and the alg of its key (EdDSA or ES256)")),
    Check("2-jwks-no-private", "2", N_("no key of the JWK Set carries a private member")),
    Check("2-jwks-pinned", "2", N_("the published keys match the thumbprints pinned for the "
                                   "partner")),
    Check("2-jwks-signed", "2", N_("the signed key set /.well-known/jwks.jws verifies under "
                                   "a pinned key and lists the same keys")),
    Check("2-checkpoint-key", "2", N_("an Ed25519 key signs the checkpoints; a key for "
                                      "checkpoints only is marked key_ops [\"verify\"] and "
                                      "bx_use \"checkpoints\"")),
    Check("4.1-clock", "4.1", N_("the partner's clock (its Date header) is within 60 s of "
                                 "this node's"), "SHOULD"),
    Check("4.4-pull", "4.4", N_("GET /messages answers {\"messages\": [...]}, no more than "
                                "the limit asked")),
    Check("4.4-pull-messages", "4.4", N_("the messages waiting for this node verify: from the "
                                         "partner, to this node, signed by a pinned key, "
                                         "valid documents")),
    Check("4.2-duplicate", "4.2", N_("the same message again is answered 200 with the "
                                     "original receipt, byte for byte")),
    Check("4.2-conflict", "4.2", N_("another message under an id accepted before is refused: "
                                    "409 conflict")),
    Check("4.1-no-token", "4.1", N_("a request without a bearer token is refused: 401 "
                                    "unauthenticated")),
    Check("4.1-expired", "4.1", N_("an expired token is refused: 401 unauthenticated")),
    Check("4.1-not-yet-valid", "4.1", N_("a token before its nbf is refused: 401 "
                                         "unauthenticated")),
    Check("4.1-too-long", "4.1", N_("a token that lives more than 300 s is refused: 401 "
                                    "unauthenticated")),
    Check("4.1-replayed", "4.1", N_("a token used before (its jti) is refused: 401 "
                                    "unauthenticated")),
    Check("4.1-wrong-audience", "4.1", N_("a token for another node (aud) is refused: 401 "
                                          "unauthenticated")),
    Check("4.1-alg-none", "4.1", N_("a token with alg none is refused: 401 unauthenticated")),
    Check("4.1-stranger", "4.1", N_("a token of an unknown node is refused exactly as one "
                                    "whose signature does not verify: 401, the same words")),
    Check("4.2-malformed", "4.2", N_("a body that is not a flattened JWS is refused: 400 "
                                     "malformed")),
    Check("3.3-json-depth", "3.3", N_("JSON nested deeper than 32 levels is refused: 400 "
                                      "malformed")),
    Check("3.3-too-large", "3.3", N_("a document larger than 1 MiB is refused: 413 "
                                     "too-large")),
    Check("4.2-alg-none", "4.2", N_("a message with alg none is refused (PROTOCOL.md §2): "
                                    "401 bad-signature")),
    Check("4.2-alg-hs256", "4.2", N_("a message with alg HS256, keyed with the sender's "
                                     "public key, is refused (§2): 401 bad-signature")),
    Check("4.2-kid-other-node", "4.2", N_("a message whose kid names another node than its "
                                          "sender is refused (§2): 401 bad-signature")),
    Check("4.2-bad-signature", "4.2", N_("a message whose signature does not verify is "
                                         "refused: 401 bad-signature")),
    Check("4.2-unsupported-type", "4.2", N_("a document type the partner does not know is "
                                            "refused: 422 unsupported-type")),
    Check("4.2-wrong-recipient", "4.2", N_("a message addressed to another node is refused: "
                                           "421 wrong-recipient")),
    Check("4.2-future", "4.2", N_("a message created an hour ahead is refused: 422 future")),
    Check("4.2-stale", "4.2", N_("a message created 400 days ago is refused: 422 stale")),
    Check("4.2-attachment-mismatch", "4.2", N_("a declared attachment that is not sent is "
                                               "refused: 422 attachment-mismatch")),
    Check("4.2-schema-invalid", "4.2", N_("a document that breaks its schema is refused: 422 "
                                          "schema-invalid, with the errors' line, column, "
                                          "path and message")),
    Check("3.3-doctype", "3.3", N_("a document with a DOCTYPE is refused: 422 "
                                   "schema-invalid")),
    Check("3.3-utf16", "3.3", N_("a document in UTF-16 is refused: 422 schema-invalid")),
    Check("4.2-refused-not-stored", "4.2", N_("a refused message leaves nothing stored: its "
                                              "id sent again, valid, is accepted as new "
                                              "(202)")),
    Check("4.3-receipts", "4.3", N_("every receipt verifies under a pinned key and names the "
                                    "message and the SHA-256 of its signing input")),
    Check("4.6-bundle", "4.6", N_("the bundle is a ZIP with a manifest from the partner to "
                                  "this node and one file per message")),
    Check("4.6-bundle-messages", "4.6", N_("every message of the bundle passes the checks of "
                                           "§4.2 but the JWT; every receipt verifies")),
    Check("4.8-checkpoint", "4.8", N_("the partner's latest checkpoint is a signed note of "
                                      "its log bx/<node id>/audit, signed by a pinned "
                                      "Ed25519 key")),
    Check("4.8-consistency", "4.8", N_("a consistency proof between two of the partner's "
                                       "checkpoints verifies")),
    Check("4.8-no-fork", "4.8", N_("the partner never signed two checkpoints inconsistent "
                                   "with each other (no fork seen by this node)")),
    Check("4.8-cosigned", "4.8", N_("this node, its witness, cosigned the partner's latest "
                                    "checkpoint"), "SHOULD"),
)

#: The checks that send a refused request to the partner's POST /messages (or, read-only, to
#: its GET /messages): what a partner that answers 202 to everything fails.
TOKEN_CHECKS: Final = ("4.1-no-token", "4.1-expired", "4.1-not-yet-valid", "4.1-too-long",
                       "4.1-replayed", "4.1-wrong-audience", "4.1-alg-none", "4.1-stranger")
MESSAGE_CHECKS: Final = ("4.2-malformed", "3.3-json-depth", "3.3-too-large", "4.2-alg-none",
                         "4.2-alg-hs256", "4.2-kid-other-node", "4.2-bad-signature",
                         "4.2-unsupported-type", "4.2-wrong-recipient", "4.2-future",
                         "4.2-stale", "4.2-attachment-mismatch", "4.2-schema-invalid",
                         "3.3-doctype", "3.3-utf16")


def accept_check(doc_type: str) -> Check:
    """The check that a valid message of ``doc_type`` is accepted."""
    return Check(f"{ACCEPT_PREFIX}{doc_type}", "4.2", ACCEPT_NAME)


@dataclass
class Result:
    """A check made: its outcome, why (English, speakable in the reader's language), and
    its evidence: each request as sent and its answer as received, secrets cut."""

    check: Check
    status: Status
    detail: Message
    sent: list[str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def doc_type(self) -> str | None:
        """The document type of an acceptance check, else None."""
        return self.check.id.removeprefix(ACCEPT_PREFIX) \
            if self.check.id.startswith(ACCEPT_PREFIX) else None


def verdict(check: Check, ok: bool, detail: Message) -> Result:
    """PASS, or what not meeting the check is: FAIL for a MUST, WARN for a SHOULD."""
    status: Status = "PASS" if ok else ("FAIL" if check.level == "MUST" else "WARN")
    return Result(check, status, detail)


def skipped(check: Check, detail: Message) -> Result:
    """A check that could not be made, and why."""
    return Result(check, "SKIP", detail)


@dataclass
class ProbeRun:
    """A probe of one partner's endpoint, as a whole."""

    me: str
    base: str
    partner: str | None
    read_only: bool
    started: datetime
    finished: datetime | None = None
    results: list[Result] = field(default_factory=list)

    def counts(self) -> dict[Status, int]:
        """How many checks ended in each status."""
        return {status: sum(r.status == status for r in self.results) for status in STATUSES}

    @property
    def failed(self) -> list[Result]:
        """The MUSTs not met."""
        return [r for r in self.results if r.status == "FAIL"]

    @property
    def passed(self) -> bool:
        """Every MUST that was checked was met (exit status 0)."""
        return not self.failed

    def summary(self) -> Message:
        """One line: how many passed, failed, warned and were skipped."""
        counts = self.counts()
        return said(N_("{passed} passed, {failed} failed, {warned} warnings, {skipped} "
                       "skipped"), passed=counts["PASS"], failed=counts["FAIL"],
                    warned=counts["WARN"], skipped=counts["SKIP"])
