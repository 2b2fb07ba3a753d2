"""The one exception handler: a :class:`Problem` becomes ``application/problem+json``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from gateway.cases.work import CaseError
from gateway.protocol.problems import PROBLEM_MEDIA_TYPE, FieldError, Problem


def problem_response(problem: Problem) -> Response:
    """The HTTP answer for a problem, with ``Retry-After`` when rate-limited."""
    headers = {"Retry-After": str(problem.retry_after)} if problem.retry_after else None
    return Response(problem.to_json(), status_code=problem.status,
                    media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def unicode_problem() -> Problem:
    """What text that cannot be stored or signed is: JSON may carry unpaired surrogates
    (``\\ud800``)."""
    return Problem("invalid-request", "text is not valid Unicode (an unpaired surrogate)")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem) -> Response:
        return problem_response(exc)

    @app.exception_handler(CaseError)
    async def _case(_request: Request, exc: CaseError) -> Response:
        errors = [FieldError(1, 1, exc.field, str(exc))] if exc.field else []
        return problem_response(Problem(exc.code, str(exc), errors=errors))

    @app.exception_handler(UnicodeError)
    async def _unicode(_request: Request, _exc: UnicodeError) -> Response:
        return problem_response(unicode_problem())

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        found = list(exc.errors()) or [{"loc": (), "msg": "invalid"}]
        errors = [FieldError(1, 1, ".".join(str(p) for p in e.get("loc", ())),
                             str(e.get("msg"))) for e in found]
        first = errors[0]
        return problem_response(Problem("invalid-request", f"{first.path}: {first.message}",
                                        errors=errors))
