"""The one table that maps problem codes to HTTP statuses, the problem every refusal is
answered with, and the refusals of a request that no context owns.

PROTOCOL.md §4.2: a rejection is an RFC 9457 problem with ``type`` ``urn:bx:problem:<code>``.
Every :class:`~gateway.protocol.errors.GatewayError` carries its code; nothing else in the
code base decides a status code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from gateway.protocol.errors import N_, GatewayError

#: code -> (HTTP status, English title). Titles are translated by the catalogs.
PROBLEMS: Final[dict[str, tuple[int, str]]] = {
    "malformed": (400, N_("Malformed message")),
    "unauthenticated": (401, N_("Not authenticated")),
    "bad-signature": (401, N_("Signature not accepted")),
    "unknown-sender": (403, N_("Unknown sender")),
    "not-permitted": (403, N_("Not permitted")),
    "conflict": (409, N_("Conflicting duplicate")),
    "too-large": (413, N_("Too large")),
    "wrong-recipient": (421, N_("Wrong recipient")),
    "stale": (422, N_("Message too old")),
    "future": (422, N_("Message from the future")),
    "unsupported-type": (422, N_("Unsupported document type")),
    "attachment-mismatch": (422, N_("Attachment mismatch")),
    "schema-invalid": (422, N_("Document not valid")),
    "rate-limited": (429, N_("Too many requests")),
    # Not on the wire: answers of the local API (/api) to this node's own users.
    "invalid-request": (422, N_("Request not valid")),
    "not-found": (404, N_("Not found")),
    "forbidden": (403, N_("Forbidden")),
    "state-conflict": (409, N_("Not allowed in the current state")),
    # Not on the wire either: the limits every request meets before any route (web.limits).
    "timeout": (408, N_("Request too slow")),
    "headers-too-large": (431, N_("Request headers too large")),
}

def status_of(code: str | None) -> int:
    """The HTTP status of a problem code: the one table decides, for the API and the console;
    an unknown code (or none: a fault) is a server error (fail closed)."""
    return PROBLEMS[code][0] if code is not None and code in PROBLEMS else 500


#: The codes of PROTOCOL.md §4.2; the others belong to the local API.
PROTOCOL_CODES: Final = frozenset(list(PROBLEMS)[:14])

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"


@dataclass(frozen=True)
class FieldError:
    """One validation error located in a document (line and column are 1-based)."""

    line: int
    column: int
    path: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The ``errors`` entry of a ``schema-invalid`` problem."""
        return {"line": self.line, "column": self.column, "path": self.path,
                "message": self.message}


class Problem(GatewayError):  # noqa: N818 - the protocol calls it a problem
    """A refusal with a BX/1 problem code of its own (one class, every code: the rejections of
    PROTOCOL.md §4.2 are made where the pipeline decides them); ``status`` and ``title`` come
    from :data:`PROBLEMS`. Also the body every refusal is answered with (:func:`problem_of`).
    """

    code: str

    def __init__(self, code: str, detail: str, errors: list[FieldError] | None = None,
                 retry_after: int | None = None) -> None:
        if code not in PROBLEMS:
            raise ValueError(f"unknown problem code {code!r}")
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.errors = list(errors or [])
        self.retry_after = retry_after
        #: The sender and id a refused message claimed, when the checks had parsed it
        #: (for the audit line; never parsed for it: PROTOCOL.md §4.1).
        self.claimed: tuple[str, str] | None = None

    @property
    def status(self) -> int:
        """The HTTP status of this problem code."""
        return PROBLEMS[self.code][0]

    @property
    def title(self) -> str:
        """The English title of this problem code."""
        return PROBLEMS[self.code][1]

    @property
    def type_uri(self) -> str:
        """``urn:bx:problem:<code>``."""
        return f"urn:bx:problem:{self.code}"

    def as_dict(self) -> dict[str, Any]:
        """The RFC 9457 body."""
        body: dict[str, Any] = {"type": self.type_uri, "title": self.title,
                                "status": self.status, "detail": self.detail}
        if self.code == "schema-invalid" or self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        return body

    def to_json(self) -> bytes:
        """The RFC 9457 body as UTF-8 JSON bytes."""
        return json.dumps(self.as_dict(), ensure_ascii=False).encode()


def problem_of(error: GatewayError) -> Problem:
    """The problem a refusal is answered with: its code, its detail and the field it names
    (:meth:`GatewayError.problem_detail`), its ``Retry-After``. Only for an error with a
    code: one without is a fault, not a refusal."""
    if isinstance(error, Problem):
        return error
    if error.code is None:
        raise ValueError(f"{type(error).__name__} carries no problem code")
    detail, field = error.problem_detail()
    errors = [FieldError(1, 1, field, detail)] if field else []
    return Problem(error.code, detail, errors=errors, retry_after=error.retry_after)


class UnauthenticatedError(GatewayError):
    """No credentials, or not the ones asked (a scraper's token, say): log in first."""

    code = "unauthenticated"


class ForbiddenError(GatewayError):
    """Who asks is known, and may not do this (a role, a missing CSRF token)."""

    code = "forbidden"


class NotFoundError(GatewayError):
    """Nothing of that name here (a partner not in the directory, say)."""

    code = "not-found"


class InvalidRequestError(GatewayError):
    """A request that does not say what it must (before any context is asked)."""

    code = "invalid-request"


class TooLargeError(GatewayError):
    """A body larger than this node accepts, refused before it is read whole."""

    code = "too-large"


class SlowBodyError(GatewayError):
    """A body that stopped arriving, or arrived too slowly."""

    code = "timeout"


class ClientGoneError(GatewayError):
    """The client went away before its body was whole."""

    code = "malformed"
