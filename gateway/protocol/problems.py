"""The one error type of the protocol and the one table that maps its codes to HTTP statuses.

PROTOCOL.md §4.2: a rejection is an RFC 9457 problem with ``type`` ``urn:bx:problem:<code>``.
Nothing else in the code base decides a status code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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

def status_of(code: str) -> int:
    """The HTTP status of a problem code: the one table decides, for the API and the console;
    an unknown code is a server error (fail closed)."""
    return PROBLEMS[code][0] if code in PROBLEMS else 500


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


@dataclass
class Problem(GatewayError):  # noqa: N818 - the protocol calls it a problem
    """A refusal with a BX/1 problem code; ``status`` and ``title`` come from :data:`PROBLEMS`."""

    code: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    retry_after: int | None = None

    def __post_init__(self) -> None:
        if self.code not in PROBLEMS:
            raise ValueError(f"unknown problem code {self.code!r}")
        super().__init__(f"{self.code}: {self.detail}")

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
