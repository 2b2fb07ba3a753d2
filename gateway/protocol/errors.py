"""The one family of the gateway's errors, with its tree written down here (as httpx does).

Every error the gateway raises on purpose derives from :class:`GatewayError`; each says in one
line what was refused and why, and carries no personal data. A refusal carries its meaning:
its ``code``, a problem code of ``protocol.problems.PROBLEMS`` (a class attribute; per
instance only where one class has several meanings, as :class:`Problem` and ``CaseError``),
and, where one input was wrong, its ``field``. The code alone decides the HTTP status
(:func:`gateway.protocol.problems.status_of`), through one handler for the API and one for
the console (``web.problems``); an error without a code is a fault, answered 500. Codes
are drawn in brackets.

    GatewayError
    ├── Problem              protocol.problems   a rejection on the wire         [any]
    ├── UnauthenticatedError protocol.problems   no credentials, or wrong ones   [unauthenticated]
    ├── ForbiddenError       protocol.problems   who asks may not do this        [forbidden]
    ├── NotFoundError        protocol.problems   nothing of that name here       [not-found]
    ├── InvalidRequestError  protocol.problems   a request not as it must be     [invalid-request]
    ├── TooLargeError        protocol.problems   a body larger than accepted     [too-large]
    ├── SlowBodyError        protocol.problems   a body stopped or trickling     [timeout]
    ├── ClientGoneError      protocol.problems   gone before its body was whole  [malformed]
    ├── EncodingError        protocol.encoding   bytes not the JSON or base64url asked
    ├── JwkError             protocol.jose       a JWK that is not a usable public key
    ├── TlogError            protocol.tlog       a Merkle proof, signed note or checkpoint
    │                                            that does not hold
    ├── CaseError            cases.work          a refused case operation (field)
    │                                            [not-found, forbidden, invalid-request,
    │                                            state-conflict: per instance]
    ├── TransitionRefused    cases.lifecycle     a move the lifecycle does not allow
    ├── CalendarError        cases.calendars     a calendar that cannot be used  [invalid-request]
    ├── ReportError          reports.periods     a report not made as asked (field)
    │                                            [per instance; invalid-request by default]
    ├── CheckpointError      audit.checkpoints   a checkpoint this node will not sign
    │   └── CheckpointKeyError                   no Ed25519 key to sign it with
    ├── UserError            access.users        a refused account operation     [invalid-request]
    │   ├── UnknownUserError                     no account of that name         [not-found]
    │   └── LoginRefused                         a wrong name or password        [unauthenticated]
    │       └── LoginThrottled                   too many failures here: wait    [rate-limited]
    ├── SessionError         access.sessions     no valid session                [unauthenticated]
    ├── OutboundError        exchange.outbound   a message this node will not send
    │   │                                                                        [invalid-request]
    │   └── MessageTooLargeError                 larger than a partner accepts
    ├── BundleError          exchange.bundles    a bundle refused whole
    ├── KeyRefreshError      exchange.keyrefresh a partner's signed key set not read or refused
    │   │                                                                        [invalid-request]
    │   └── KeyDecisionError                     no such key waiting for a decision
    │                                                                        [state-conflict]
    ├── WitnessDocumentError documents.witness a cosignature that says neither or both
    ├── PeriodicReportError  documents.periodic_report a report document that is not one
    ├── PushFailedError      exchange.pushing    no answer to a push (the worker retries)
    ├── ProofError           exchange.proofs     a proof bundle that cannot be made
    │   │                                                                        [state-conflict]
    │   └── ProofPendingError                    its checkpoint is not cosigned yet: retry
    ├── ProbeSetupError      exchange.probe      a probe that cannot start (its usage, keys,
    │                                            partner file): exit code 2
    ├── PersonError          matching.person     a PERSON not as the contract says (field)
    │                                                                        [invalid-request]
    ├── MrzError             matching.mrz        a machine-readable zone not read, or a check
    │                                            digit that does not hold    [invalid-request]
    ├── NodeError            runtime.node        the node cannot start
    ├── KeyStoreError        trust.keys          this node's keys
    ├── PartnerFileError     trust.partners      a partner file
    ├── UnitNamesError       trust.names         a unit's names that cannot be kept
    ├── RegistryError        documents.registry  the schemas on disk
    ├── Refused              web.console.pages   a page the user may not see     [forbidden]
    ├── DatabaseError        store.database      a database this gateway cannot use
    ├── TransactionLostError store.groupcommit   a batch the database rolled back whole
    ├── SecretKeyError       store.crypto        the secret key file
    └── SealError            store.crypto        a sealed value that does not open
    (SettingsError in gateway.settings stays apart: settings import nothing of ours; so does
    CheckError in gateway.bxproof, the standalone proof checker. Apart too, as control flow
    and not an error: the console's ``Redirect`` in ``web.console.pages``, which sends the
    browser elsewhere, and ``_HookFailedError`` in ``exchange.attach``, which runs a round of
    attaching again with a savepoint per hook.)

An error raised with a template and its values (``KeyStoreError(N_("no published key
{kid}"), kid=kid)``) reads in English as ``str(error)`` (logs, the wire) and in the reader's
language as ``error.speak(gettext)`` (the command line, the console): the template is the
catalogs' message id.
"""

from __future__ import annotations

from collections.abc import Callable


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "extract, do not translate here"
    """Mark a string for the catalogs; it is translated where it is shown."""
    return message


class Code(str):
    """A value of an error that is itself a code (a state, a role, a document type): said in
    the reader's words where the reader's code labels are at hand (:meth:`GatewayError.speak`
    with ``code``)."""

    __slots__ = ()


class Message(str):
    """An error's message as text (English; JSON takes it as a string) that keeps its
    template and values, so that a page can still say it in the reader's language."""

    __slots__ = ("error",)
    error: GatewayError

    def __new__(cls, error: GatewayError) -> Message:
        made = super().__new__(cls, str(error))
        made.error = error
        return made


def from_record(record: object) -> GatewayError | None:
    """A message kept with :meth:`GatewayError.record`, to be spoken again; None for anything
    that is not one."""
    if not isinstance(record, dict) or not isinstance(record.get("template"), str):
        return None
    values = record.get("values")
    codes = record.get("codes")
    if not isinstance(values, dict) or not isinstance(codes, list):
        return None
    return GatewayError(record["template"], **{
        str(k): Code(str(v)) if k in codes else str(v) for k, v in values.items()})


def said(template: str, **values: object) -> Message:
    """A message (one line of several a refusal lists) that can still be spoken."""
    return GatewayError(template, **values).message()


class GatewayError(Exception):
    """Something the gateway refused on purpose; the message says what and why."""

    #: The problem code a request refused with this error is answered with (its HTTP
    #: status comes from ``protocol.problems.PROBLEMS``); None: not a refusal but a fault.
    code: str | None = None
    #: The input that was wrong, where one was: the problem lists it in its ``errors``.
    field: str | None = None
    #: Seconds to wait before asking again, where waiting is the answer (``Retry-After``).
    retry_after: int | None = None

    def __init__(self, message: str = "", /, **values: object) -> None:
        self.template = message
        self.values = values
        super().__init__(message.format(**values) if values else message)

    def message(self) -> Message:
        """The message as text that can still be spoken (:class:`Message`)."""
        return Message(self)

    def record(self) -> dict[str, object]:
        """The message as data to keep (a task's words): its template and its values, the
        codes among them marked, so that :func:`from_record` can speak it later in any
        language. Values are kept as text."""
        return {"template": self.template,
                "values": {k: str(v) for k, v in self.values.items()},
                "codes": sorted(k for k, v in self.values.items() if isinstance(v, Code))}

    def speak(self, translate: Callable[[str], str],
              code: Callable[[str], str] | None = None) -> str:
        """The message in the reader's language (``translate``: a catalog's gettext; ``code``:
        its labels of codes, for the values marked :class:`Code`)."""
        if not self.template:
            return str(self)
        try:
            spoken = translate(self.template)
            values = {k: v.speak(translate, code) if isinstance(v, GatewayError)
                      else v.error.speak(translate, code) if isinstance(v, Message)
                      else code(v) if code is not None and isinstance(v, Code) else v
                      for k, v in self.values.items()}
            return spoken.format(**values) if values else spoken
        except (KeyError, IndexError, ValueError):  # a translation that lost a placeholder
            return str(self)

    def problem_detail(self) -> tuple[str, str | None]:
        """What an API's problem says of this refusal: its ``detail``, and the field its
        ``errors`` name (None: no ``errors``). Here the message, and :attr:`field`."""
        return str(self), self.field
