"""A probe in progress: its setup, its wire, the partner's node id once known, and what the
checks hand on to each other (the messages accepted, with their receipts; the messages
refused, to be sent again valid). Also how an answer is judged against a problem of
PROTOCOL.md §4.2 (RFC 9457, ``urn:bx:problem:<code>``)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from gateway.exchange.probe.forge import Forge, Forged, token
from gateway.exchange.probe.results import Check, Result, skipped, verdict
from gateway.exchange.probe.setup import ProbeSetup
from gateway.exchange.probe.wire import Answer, Exchange, Wire, json_of
from gateway.protocol.envelope import MEDIA_TYPE
from gateway.protocol.errors import N_, Message, said
from gateway.protocol.problems import PROBLEM_MEDIA_TYPE

#: The members every problem carries (PROTOCOL.md §4.2, RFC 9457).
_PROBLEM_MEMBERS: Final = ("type", "title", "status", "detail")


def shown(answer: Answer) -> str:
    """An answer in a few words: its status and problem code (``401 bad-signature``)."""
    if answer.error is not None:
        return f"no answer ({answer.error})"
    body = json_of(answer)
    kind = body.get("type") if isinstance(body, dict) else None
    code = kind.removeprefix("urn:bx:problem:") if isinstance(kind, str) else None
    return f"{answer.status} {code}" if code else str(answer.status)


def problem_verdict(answer: Answer, status: int, code: str) -> tuple[bool, Message]:
    """Whether ``answer`` is the problem ``code`` with ``status``, and what it was."""
    if answer.status != status:
        return False, said(N_("expected {status} {code}, got {got}"), status=status, code=code,
                           got=shown(answer))
    if answer.media_type != PROBLEM_MEDIA_TYPE:
        return False, said(N_("answered {status}, as {media_type} instead of "
                              "application/problem+json"), status=status,
                           media_type=answer.media_type or "-")
    body = json_of(answer)
    if not isinstance(body, dict):
        return False, said(N_("answered {status}; the problem is not a JSON object"),
                           status=status)
    if body.get("type") != f"urn:bx:problem:{code}":
        return False, said(N_("answered {status} with the problem type {type}, not "
                              "urn:bx:problem:{code}"), status=status,
                           type=body.get("type"), code=code)
    missing = [m for m in _PROBLEM_MEMBERS if m not in body]
    if missing or body.get("status") != status:
        return False, said(N_("the problem lacks {members}, or its status is not {status}"),
                           members=", ".join(missing) or "-", status=status)
    return True, said(N_("refused as it must be: {status} {code}"), status=status, code=code)


@dataclass(frozen=True)
class Accepted:
    """A message the partner accepted, its answer, and the exchange as the report shows it."""

    forged: Forged
    answer: Answer
    exchange: Exchange


@dataclass
class Probe:
    """A probe in progress (see the module's text)."""

    setup: ProbeSetup
    wire: Wire
    partner: str | None
    #: Messages the partner accepted (202), in order, with their answers.
    accepted: list[Accepted] = field(default_factory=list)
    #: Messages the partner refused, by the check that sent them: each is sent again, valid,
    #: to show that nothing of it was stored.
    refused: list[tuple[str, Forged, bool]] = field(default_factory=list)
    #: The first type the partner accepted: what the other checks' messages are.
    carrier: str | None = None
    #: Whether GET /messages answered a valid token (read-only: where tokens are checked).
    pull_answers: bool = False
    #: Called with each result as it is made.
    on_result: Callable[[Result], None] | None = None
    results: list[Result] = field(default_factory=list)

    @property
    def forge(self) -> Forge:
        """Messages from this node to the partner."""
        assert self.partner is not None
        return Forge(self.setup.key, self.setup.me, self.partner)

    def now_token(self) -> str:
        """A fresh valid bearer token for the partner."""
        assert self.partner is not None
        return token(self.setup.key, self.setup.me, self.partner, self.setup.clock())

    @property
    def carrier_type(self) -> str:
        """The type of the messages the other checks send (the first accepted, else the
        first the probe knows)."""
        return self.carrier or self.setup.samples.types[0]

    def carrier_message(self, message_id: str | None = None) -> Forged:
        """A valid test message of the carrier type (under ``message_id``, if given)."""
        doc_type = self.carrier_type
        samples = self.setup.samples
        return self.forge.message(doc_type, samples.example(doc_type), self.setup.clock(),
                                  version=samples.version(doc_type), message_id=message_id)

    async def post(self, forged: Forged, bearer: Callable[[], str | None] | None = None
                   ) -> Answer:
        """Push a message (``POST /messages``) with a fresh valid token, or ``bearer``'s."""
        return await self.wire.request("POST", "/messages", body=forged.raw,
                                       token=bearer or self.now_token, media_type=MEDIA_TYPE)

    def keep(self, forged: Forged, answer: Answer) -> None:
        """Keep a message the partner accepted (the last exchange is its push)."""
        self.accepted.append(Accepted(forged, answer, self.wire.log[-1]))

    async def run(self, check: Check, work: Callable[[], Awaitable[Result] | Result],
                  about: Sequence[Exchange] = ()) -> Result:
        """Make one check, keeping the requests it sent as its evidence (and, when it is
        not met, the earlier exchanges it judged: ``about``). A check that breaks on what
        the partner answered fails, saying so; the probe goes on."""
        mark, started = self.wire.mark(), time.monotonic()
        try:
            made = work()
            result = await made if inspect.isawaitable(made) else made
        except Exception as exc:  # noqa: BLE001 - an answer no check foresaw is a failure
            result = verdict(check, False, said(N_("the check broke on the answer: {error}"),
                                                error=f"{type(exc).__name__}: {exc}"[:300]))
        assert isinstance(result, Result)
        result.seconds = round(time.monotonic() - started, 3)
        shown = [*(about if result.status in ("FAIL", "WARN") else ()), *self.wire.since(mark)]
        for exchange in shown:
            result.sent.append(exchange.sent)
            result.received.append(exchange.received)
        self.add(result)
        return result

    def add(self, result: Result) -> None:
        """Keep a result (and tell whoever follows the probe)."""
        self.results.append(result)
        if self.on_result is not None:
            self.on_result(result)

    def skip(self, check: Check, detail: Message) -> None:
        """Keep a check that could not be made."""
        self.add(skipped(check, detail))
